//! persevere's tonic layer between a tonic-health `HealthClient` and its
//! `Channel`, against a real tonic server on 127.0.0.1, on tokio's paused
//! clock. Every test is bounded by its policy's attempts.

mod support;

use persevere::budget::GrpcThrottle;
use persevere::tonic::{
    GrpcCodes, GrpcResponses, GrpcRetryLayer, RetryPolicyConfig, ServiceConfig,
};
use persevere::tower::RetryLayer;
use std::sync::Arc;
use std::time::Duration;
use support::{Fail, Server};
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tower::Layer;

const CONFIG: &str = r#"{
    "methodConfig": [{
        "name": [{"service": "grpc.health.v1.Health"}],
        "retryPolicy": {
            "maxAttempts": 4,
            "initialBackoff": "1s",
            "maxBackoff": "10s",
            "backoffMultiplier": 2,
            "retryableStatusCodes": ["UNAVAILABLE", "RESOURCE_EXHAUSTED"]
        }
    }],
    "retryThrottling": {"maxTokens": 4, "tokenRatio": 0.1}
}"#;

fn health_policy() -> RetryPolicyConfig {
    ServiceConfig::from_json(CONFIG)
        .unwrap()
        .retry_policy("grpc.health.v1.Health", "Check")
        .unwrap()
}

fn check() -> HealthCheckRequest {
    HealthCheckRequest {
        service: String::new(),
    }
}

#[tokio::test(start_paused = true)]
async fn unavailable_with_pushback_is_retried_at_the_pushback_time() {
    let busy = Fail(Code::Unavailable, Some("300"));
    let server = Server::start(vec![busy, busy], None).await;
    let channel = GrpcRetryLayer::from_config(&health_policy()).layer(server.channel().await);
    let mut client = HealthClient::new(channel);
    let reply = client.check(check()).await.unwrap().into_inner();
    assert_eq!(reply.status, ServingStatus::Serving as i32);
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 3);
    for pair in arrivals.windows(2) {
        // Exactly the pushback (not the 0..1 s backoff), plus tokio's 1 ms tick.
        let gap = pair[1] - pair[0];
        assert!(gap >= Duration::from_millis(300), "retried after {gap:?}");
        assert!(gap <= Duration::from_millis(302), "retried after {gap:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_terminal_code_stops_at_once() {
    let server = Server::start(vec![Fail(Code::NotFound, None)], None).await;
    let channel = GrpcRetryLayer::from_config(&health_policy()).layer(server.channel().await);
    let status = HealthClient::new(channel).check(check()).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(server.arrivals().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_negative_pushback_means_do_not_retry() {
    let server = Server::start(vec![Fail(Code::Unavailable, Some("-1"))], None).await;
    let channel = GrpcRetryLayer::from_config(&health_policy()).layer(server.channel().await);
    let status = HealthClient::new(channel).check(check()).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.arrivals().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn deadline_exceeded_is_retried_only_when_allowed() {
    let late = Fail(Code::DeadlineExceeded, None);
    let server = Server::start(vec![late], None).await;
    let channel = GrpcRetryLayer::from_config(&health_policy()).layer(server.channel().await);
    let status = HealthClient::new(channel).check(check()).await.unwrap_err();
    assert_eq!(status.code(), Code::DeadlineExceeded);
    assert_eq!(server.arrivals().len(), 1);

    let server = Server::start(vec![late], None).await;
    let codes = GrpcCodes::new().with(Code::DeadlineExceeded);
    let layer = GrpcRetryLayer::new(
        RetryLayer::new()
            .policy(health_policy().policy())
            .classify(codes)
            .classify_responses(GrpcResponses::with_codes(codes)),
    );
    let mut client = HealthClient::new(layer.layer(server.channel().await));
    client.check(check()).await.unwrap();
    assert_eq!(server.arrivals().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn attempts_run_out_on_the_last_status() {
    let busy = Fail(Code::ResourceExhausted, Some("10"));
    let server = Server::start(vec![], Some(busy)).await;
    let channel = GrpcRetryLayer::from_config(&health_policy()).layer(server.channel().await);
    let status = HealthClient::new(channel).check(check()).await.unwrap_err();
    assert_eq!(status.code(), Code::ResourceExhausted);
    assert_eq!(server.arrivals().len(), 4);
}

#[tokio::test(start_paused = true)]
async fn an_oversized_request_is_sent_once() {
    let server = Server::start(vec![Fail(Code::Unavailable, Some("0"))], None).await;
    let layer = GrpcRetryLayer::from_config(&health_policy()).with_buffer_limit(17);
    let mut client = HealthClient::new(layer.layer(server.channel().await));
    // 5 bytes of gRPC framing and 13 of message: one more than the limit.
    let big = HealthCheckRequest {
        service: "a.b.Service".into(),
    };
    let status = client.check(big).await.unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    assert_eq!(server.arrivals().len(), 1);
    // At the limit, the same failure is retried.
    let server = Server::start(vec![Fail(Code::Unavailable, Some("0"))], None).await;
    let layer = GrpcRetryLayer::from_config(&health_policy()).with_buffer_limit(18);
    let big = HealthCheckRequest {
        service: "a.b.Service".into(),
    };
    HealthClient::new(layer.layer(server.channel().await))
        .check(big)
        .await
        .unwrap();
    assert_eq!(server.arrivals().len(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_streamed_request_is_sent_once() {
    use tonic::codec::ProstCodec;
    use tonic_health::pb::HealthCheckResponse;

    let server = Server::start(vec![Fail(Code::Unavailable, Some("0"))], None).await;
    let service = GrpcRetryLayer::from_config(&health_policy()).layer(server.channel().await);
    let mut grpc = tonic::client::Grpc::new(service);
    grpc.ready().await.unwrap();
    // A live stream: its one message comes after the call has started.
    let (tx, rx) = tokio::sync::mpsc::channel(1);
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(5)).await;
        tx.send(check()).await.unwrap();
    });
    let path = http::uri::PathAndQuery::from_static("/grpc.health.v1.Health/Check");
    let codec = ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    let request = tonic::Request::new(tokio_stream::wrappers::ReceiverStream::new(rx));
    let status = grpc
        .client_streaming(request, path, codec)
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    sender.await.unwrap();
    assert_eq!(server.arrivals().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_shared_grpc_throttle_refuses_retries() {
    let busy = Fail(Code::Unavailable, Some("1"));
    let server = Server::start(vec![], Some(busy)).await;
    let config = ServiceConfig::from_json(CONFIG).unwrap();
    let throttle: Arc<GrpcThrottle> = Arc::new(config.throttle().unwrap());
    let layer = GrpcRetryLayer::from_config(&health_policy()).budget(throttle.clone());
    let channel = server.channel().await;
    // 4 tokens: the first failure leaves 3 (> 2, retried), the second 2
    // (not > 2: refused).
    let mut first = HealthClient::new(layer.layer(channel.clone()));
    assert_eq!(
        first.check(check()).await.unwrap_err().code(),
        Code::Unavailable
    );
    assert_eq!(server.arrivals().len(), 2);
    assert_eq!(throttle.tokens(), 2.0);
    // Another client through a clone of the layer shares the throttle: its
    // one failure is not retried at all.
    let mut second = HealthClient::new(layer.clone().layer(channel));
    assert_eq!(
        second.check(check()).await.unwrap_err().code(),
        Code::Unavailable
    );
    assert_eq!(server.arrivals().len(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_status_in_the_trailers_is_the_clients_to_retry() {
    let busy = Fail(Code::Unavailable, Some("20"));
    let server = Server::start(vec![busy], None).await;
    let channel = GrpcRetryLayer::from_config(&health_policy()).layer(server.channel().await);
    let mut client = HealthClient::new(channel);
    // The reply started (headers, no grpc-status): the layer hands it on, and
    // the status in its trailers reaches the caller.
    let mut stream = client.watch(check()).await.unwrap().into_inner();
    assert_eq!(
        stream.message().await.unwrap_err().code(),
        Code::Unavailable
    );
    assert_eq!(server.arrivals().len(), 1);

    // Retrying the client's own call, classified by GrpcCodes, retries on it
    // after the pushback in the status's metadata.
    let server = Server::start(vec![busy], None).await;
    let client = HealthClient::new(server.channel().await);
    let policy = health_policy();
    let first = tokio::time::Instant::now();
    let message = persevere::retry(|| {
        let mut client = client.clone();
        async move { client.watch(check()).await?.into_inner().message().await }
    })
    .policy(policy.policy())
    .classify(policy.codes())
    .await
    .unwrap()
    .unwrap();
    assert_eq!(message.status, ServingStatus::Serving as i32);
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    assert!(arrivals[1] - first >= Duration::from_millis(20));
    assert!(arrivals[1] - first <= Duration::from_millis(22));
}

#[tokio::test(start_paused = true)]
async fn a_vanished_server_is_retried_then_reported_unavailable() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let channel = tonic::transport::Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy();
    let retries = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = retries.clone();
    let layer = GrpcRetryLayer::new(
        RetryLayer::new()
            .policy(health_policy().policy())
            .classify(GrpcCodes::new())
            .classify_responses(GrpcResponses::new())
            .notify(
                move |_: &persevere::RetryEvent<'_, tonic::transport::Error>| {
                    counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                },
            ),
    );
    let status = HealthClient::new(layer.layer(channel))
        .check(check())
        .await
        .unwrap_err();
    // Each refused connection is a transport error, retried as UNAVAILABLE
    // until the policy's 4 attempts run out.
    assert_eq!(retries.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
}
