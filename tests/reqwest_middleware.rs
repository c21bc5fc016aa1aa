//! The reqwest-middleware `RetryMiddleware` through a real
//! `ClientWithMiddleware`, against the fault server on 127.0.0.1.
#![cfg(feature = "reqwest-middleware")]

mod support;

use persevere::budget::TokenBucket;
use persevere::classify::Idempotent;
use persevere::reqwest_middleware::{PolicyOverride, RetryMiddleware};
use persevere::{Fixed, RetryError, RetryPolicyExt, StopReason};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware, Middleware};
use std::sync::Arc;
use std::time::Duration;
use support::{Fault, Script, Server};

fn client(retry: impl Middleware) -> ClientWithMiddleware {
    let inner = reqwest::Client::builder().no_proxy().build().unwrap();
    ClientBuilder::new(inner).with(retry).build()
}

fn fixed(attempts: u32) -> persevere::Limited<Fixed> {
    Fixed::new(Duration::from_millis(100)).with_max_attempts(attempts)
}

#[tokio::test(start_paused = true)]
async fn resets_and_503s_are_retried_honouring_retry_after() {
    let server = Server::start(Script::new([
        Fault::ResetOnAccept,
        Fault::ResetAfterRequest,
        Fault::Status(503).retry_after("2"),
        Fault::ok("done"),
    ]));
    let client = client(RetryMiddleware::new().policy(fixed(5)));
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.text().await.unwrap(), "done");
    assert_eq!((server.connections(), server.requests()), (4, 3));
    // The policy's 100 ms gave way to the server's 2 s.
    let arrivals = server.arrivals();
    let gap = arrivals[2] - arrivals[1];
    assert!(gap >= Duration::from_secs(2), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(3), "retried after {gap:?}");
}

#[tokio::test(start_paused = true)]
async fn the_last_503_is_the_answer_when_the_attempts_run_out() {
    let server = Server::start(Script::new(vec![Fault::Status(503); 3]));
    let client = client(RetryMiddleware::new().policy(fixed(3)));
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(server.requests(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_request_overrides_the_policy_through_its_extensions() {
    let server = Server::start(Script::new(vec![Fault::Status(503); 4]));
    let client = client(RetryMiddleware::new().policy(fixed(3)));
    let response = client
        .get(server.url("/"))
        .with_extension(PolicyOverride::new(fixed(1)))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(server.requests(), 1);
    // The next request, without the override, gets the middleware's 3.
    let response = client.get(server.url("/")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(server.requests(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_reset_post_is_retried_only_when_marked_idempotent() {
    let server = Server::start(Script::new([
        Fault::ResetAfterRequest,
        Fault::ResetAfterRequest,
        Fault::ok("created"),
    ]));
    let client = client(RetryMiddleware::new().policy(fixed(3)));
    let err = client
        .post(server.url("/orders"))
        .body("order")
        .send()
        .await
        .unwrap_err();
    assert!(
        err.is_request() || err.is_connect() || err.is_body(),
        "{err:?}"
    );
    assert_eq!(server.requests(), 1);

    let response = client
        .post(server.url("/orders"))
        .body("order")
        .with_extension(Idempotent)
        .send()
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "created");
    assert_eq!(server.requests(), 3);
}

#[tokio::test(start_paused = true)]
async fn one_budget_caps_the_retries_of_concurrent_requests() {
    let server = Server::start(Script::new(vec![Fault::Status(503); 20]));
    // A throttled retry costs 5 tokens: 10 pay for two retries in all.
    let bucket = Arc::new(TokenBucket::new().with_capacity(10));
    let client = client(
        RetryMiddleware::new()
            .policy(fixed(5))
            .budget(bucket.clone()),
    );
    let calls: Vec<_> = (0..4)
        .map(|_| {
            let (client, url) = (client.clone(), server.url("/"));
            tokio::spawn(async move { client.get(url).send().await.unwrap().status() })
        })
        .collect();
    for call in calls {
        assert_eq!(call.await.unwrap(), 503);
    }
    assert_eq!(server.requests(), 4 + 2);
    assert_eq!(bucket.available(), 0);
}

#[tokio::test(start_paused = true)]
async fn attempts_cut_by_the_timeout_end_in_a_retry_error() {
    let server = Server::start(Script::new(vec![Fault::NeverAnswer; 2]));
    let client = client(
        RetryMiddleware::new()
            .policy(fixed(2))
            .attempt_timeout(Duration::from_secs(1)),
    );
    let err = client.get(server.url("/")).send().await.unwrap_err();
    let reqwest_middleware::Error::Middleware(err) = err else {
        panic!("expected the RetryError, got {err:?}");
    };
    let stopped = err
        .downcast_ref::<RetryError<reqwest_middleware::Error>>()
        .unwrap();
    assert_eq!(
        (stopped.reason(), stopped.attempts(), stopped.timed_out()),
        (StopReason::AttemptsExhausted, 2, true)
    );
    assert_eq!(server.requests(), 2);
}

#[tokio::test(start_paused = true)]
async fn a_streamed_body_is_sent_exactly_once() {
    use bytes::Bytes;
    use http_body_util::Full;

    let server = Server::start(Script::new([
        Fault::Status(503),
        Fault::ResetAfterRequest,
        Fault::Status(503),
        Fault::Status(503),
    ]));
    let client = client(RetryMiddleware::new().policy(fixed(3)));
    // `Body::wrap` makes a streaming body: `try_clone` cannot copy it.
    let streamed = || reqwest::Body::wrap(Full::new(Bytes::from_static(b"chunk")));
    let response = client
        .put(server.url("/"))
        .body(streamed())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(server.requests(), 1, "a streamed body was sent again");

    let err = client
        .put(server.url("/"))
        .body(streamed())
        .send()
        .await
        .unwrap_err();
    assert!(!err.is_middleware(), "{err:?}");
    assert_eq!(server.requests(), 2);

    // A body in memory is replayed: 503, 503, then the server, out of
    // script, refuses the third attempt.
    let err = client
        .put(server.url("/"))
        .body("kept")
        .send()
        .await
        .unwrap_err();
    assert!(err.is_connect(), "{err:?}");
    assert_eq!(server.requests(), 4);
}
