//! README's tonic example: a `HealthClient` whose `Channel` retries as a
//! service config says, against a tonic-health server on 127.0.0.1 that
//! answers UNAVAILABLE with a 200 ms pushback twice, then SERVING.
//!
//! `cargo run -p persevere-tonic-tests --example health`

#[path = "../tests/support/mod.rs"]
mod support;

use persevere::tonic::{GrpcRetryLayer, ServiceConfig};
use std::sync::Arc;
use support::{Fail, Server};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;
use tower::Layer;

const HEALTH: &str = "grpc.health.v1.Health";

const SERVICE_CONFIG: &str = r#"{
    "methodConfig": [{
        "name": [{"service": "grpc.health.v1.Health"}],
        "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s", "maxBackoff": "1s",
                        "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}
    }],
    "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
}"#;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let busy = Fail(tonic::Code::Unavailable, Some("200"));
    let server = Server::start(vec![busy, busy], None).await;
    let channel = server.channel().await;
    let started = std::time::Instant::now();

    // README, "Where it plugs in": these five lines.
    let config = ServiceConfig::from_json(SERVICE_CONFIG)?;
    let policy = config.retry_policy(HEALTH, "Check").ok_or("none")?;
    let layer = GrpcRetryLayer::from_config(&policy).budget(Arc::new(config.throttle().unwrap()));
    let mut client = HealthClient::new(layer.layer(channel));
    let reply = client.check(HealthCheckRequest::default()).await?;

    let calls = server.arrivals().len();
    println!(
        "{:?} after {calls} calls in {:?}",
        reply.into_inner().status(),
        started.elapsed()
    );
    assert_eq!(calls, 3, "two failures retried, then the answer");
    Ok(())
}
