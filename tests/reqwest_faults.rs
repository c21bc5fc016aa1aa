//! Each socket fault through a real HTTP client, reqwest, classified by
//! `persevere::classify::reqwest`.
#![cfg(feature = "reqwest")]

mod support;

use persevere::classify::Idempotency;
use persevere::classify::reqwest::{Failure, ReqwestErrors, classify_error, send};
use persevere::{Fixed, Limited, RetryEvent, RetryKind, RetryPolicyExt, StopReason};
use std::time::Duration;
use support::{Fault, Script, Server};

fn client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

fn policy() -> Limited<Fixed> {
    Fixed::new(Duration::from_millis(100)).with_max_attempts(5)
}

/// Sends `GET /` and reads the body; the body, and each retried verdict.
async fn get_text(
    server: &Server,
) -> (
    Result<String, reqwest::Error>,
    Vec<persevere::Classification>,
) {
    let client = client();
    let mut verdicts = Vec::new();
    let result = persevere::retry(|| async {
        let response = client.get(server.url("/")).send().await?;
        response.error_for_status()?.text().await
    })
    .policy(policy())
    .classify(ReqwestErrors)
    .attempt_timeout(Duration::from_secs(1))
    .notify(|e: &RetryEvent<'_, reqwest::Error>| verdicts.push(e.classification()))
    .await;
    (result.map_err(|e| e.into_inner().unwrap()), verdicts)
}

#[tokio::test(start_paused = true)]
async fn resets_are_transient_and_retried() {
    let server = Server::start(Script::new([
        Fault::ResetOnAccept,
        Fault::ResetAfterRequest,
        Fault::ResetMidBody,
        Fault::ok("done"),
    ]));
    let (result, verdicts) = get_text(&server).await;
    assert_eq!(result.unwrap(), "done");
    assert_eq!(verdicts.len(), 3);
    for verdict in verdicts {
        assert_eq!(verdict.kind(), Some(RetryKind::Transient));
        assert!(!verdict.was_never_sent());
    }
    assert_eq!((server.connections(), server.requests()), (4, 3));
}

#[tokio::test(start_paused = true)]
async fn a_silent_server_is_a_timeout() {
    let server = Server::start(Script::new([Fault::NeverAnswer, Fault::ok("done")]));
    let client = client(); // no timeout of its own: persevere's cuts the attempt
    let mut retried = Vec::new();
    let body =
        persevere::retry(|| async { client.get(server.url("/")).send().await?.text().await })
            .policy(policy())
            .classify(ReqwestErrors)
            .attempt_timeout(Duration::from_secs(1))
            .notify(|e: &RetryEvent<'_, reqwest::Error>| {
                retried.push((e.error().is_none(), e.classification().kind()));
            })
            .await
            .unwrap();
    assert_eq!(body, "done");
    // One attempt cut (no error), classified as a timeout, and retried.
    assert_eq!(retried, [(true, Some(RetryKind::Timeout))]);
    assert_eq!(server.requests(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_clients_own_timeout_is_classified_as_a_timeout() {
    let server = Server::start(Script::new([Fault::NeverAnswer]));
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(1))
        .build()
        .unwrap();
    let err = client.get(server.url("/")).send().await.unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
    assert_eq!(classify_error(&err).kind(), Some(RetryKind::Timeout));
    assert_eq!(server.requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn statuses_through_send() {
    let server = Server::start(Script::new([
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503).retry_after("3"),
        Fault::Status(429),
        Fault::ok("done"),
    ]));
    let client = client();
    let mut events = Vec::new();
    let response = persevere::retry(|| send(client.get(server.url("/"))))
        .policy(policy())
        .classify(ReqwestErrors)
        .notify(|e: &RetryEvent<'_, Failure>| events.push((e.classification().kind(), e.delay())))
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "done");
    use RetryKind::*;
    let ms = Duration::from_millis;
    assert_eq!(
        events,
        [
            (Some(Transient), ms(100)),
            (Some(Transient), ms(100)),
            (Some(Throttled), ms(3000)),
            (Some(Throttled), ms(100)),
        ]
    );
    let arrivals = server.arrivals();
    assert!(arrivals[3] - arrivals[2] >= Duration::from_secs(3));
    assert_eq!(server.requests(), 5);
}

#[tokio::test(start_paused = true)]
async fn client_errors_reach_the_server_once() {
    for status in [400, 404] {
        let server = Server::start(Script::new([Fault::Status(status), Fault::ok("never")]));
        let client = client();
        let err = persevere::retry(|| send(client.get(server.url("/"))))
            .policy(policy())
            .classify(ReqwestErrors)
            .await
            .unwrap_err();
        assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));
        // The caller gets the last response back, body and all.
        let Some(Failure::Status(response)) = err.into_inner() else {
            panic!()
        };
        assert_eq!(response.status().as_u16(), status);
        assert!(response.text().await.unwrap().contains("try again later"));
        assert_eq!(server.requests(), 1);
    }
}

/// `POST /orders` after one fault, with the request marked idempotent or not.
async fn post_after(
    fault: Fault,
    marked_idempotent: bool,
) -> (Result<String, persevere::RetryError<Failure>>, Server) {
    let server = Server::start(Script::new([fault, Fault::ok("created")]));
    let client = client();
    let result = persevere::retry(|| send(client.post(server.url("/orders")).body("{}")))
        .policy(policy())
        .classify(Idempotency::for_method(
            ReqwestErrors,
            "POST",
            marked_idempotent,
        ))
        .await;
    let result = match result {
        Ok(response) => Ok(response.text().await.unwrap()),
        Err(err) => Err(err),
    };
    (result, server)
}

#[tokio::test(start_paused = true)]
async fn a_post_reset_after_it_was_read_is_not_replayed() {
    let (result, server) = post_after(Fault::ResetAfterRequest, false).await;
    let err = result.unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));
    assert_eq!(server.methods(), ["POST"]);
}

#[tokio::test(start_paused = true)]
async fn a_post_marked_idempotent_is_replayed() {
    let (result, server) = post_after(Fault::ResetAfterRequest, true).await;
    assert_eq!(result.unwrap(), "created");
    assert_eq!(server.methods(), ["POST", "POST"]);
}

#[tokio::test(start_paused = true)]
async fn a_refused_post_is_retried() {
    let addr = support::refused_addr();
    let client = client();
    let mut server = None;
    let mut verdicts = Vec::new();
    let response =
        persevere::retry(|| send(client.post(format!("http://{addr}/orders")).body("{}")))
            .policy(policy())
            .classify(Idempotency::for_method(ReqwestErrors, "POST", false))
            .notify(|e: &RetryEvent<'_, Failure>| {
                verdicts.push(e.classification());
                server.get_or_insert_with(|| {
                    Server::start_at(addr, Script::new([Fault::ok("created")])).unwrap()
                });
            })
            .await
            .unwrap();
    assert_eq!(response.text().await.unwrap(), "created");
    assert_eq!(verdicts.len(), 1);
    assert!(verdicts[0].is_retryable() && verdicts[0].was_never_sent());
    assert_eq!(server.unwrap().methods(), ["POST"]);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_against_a_silent_server_ends_the_call() {
    let server = Server::start(Script::new(vec![Fault::NeverAnswer; 10]));
    let client = client();
    let start = tokio::time::Instant::now();
    let deadline = Duration::from_secs(2);
    let err = persevere::retry(|| send(client.get(server.url("/"))))
        .policy(Fixed::new(Duration::from_millis(100)).with_deadline(deadline))
        .classify(ReqwestErrors)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert!(err.timed_out());
    assert_eq!(err.attempts(), 1); // the only attempt was cut at the deadline
    assert!(start.elapsed() >= deadline && start.elapsed() <= deadline + Duration::from_millis(10));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(server.requests(), 1);
    assert!(server.arrivals().iter().all(|&t| t - start < deadline));
}
