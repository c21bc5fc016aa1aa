//! Each socket fault through a real HTTP client, reqwest, classified by
//! `persevere::classify::reqwest`.
#![cfg(feature = "reqwest")]

mod support;

use persevere::classify::reqwest::{
    Cause, Failure, ReqwestErrors, classify_error, read, send, send_idempotent,
};
use persevere::policy::RetryAfter;
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
        let Some(response) = err.into_inner().and_then(Failure::into_response) else {
            panic!()
        };
        assert_eq!(response.status().as_u16(), status);
        assert!(response.text().await.unwrap().contains("try again later"));
        assert_eq!(server.requests(), 1);
    }
}

/// `POST /orders` after one fault, through the one-liner: `send` (or
/// `send_idempotent`, when the caller vouches for it) and `ReqwestErrors`.
async fn post_after(
    fault: Fault,
    marked_idempotent: bool,
) -> (Result<String, persevere::RetryError<Failure>>, Server) {
    let server = Server::start(Script::new([fault, Fault::ok("created")]));
    let client = client();
    let post = || client.post(server.url("/orders")).body("{}");
    let result = if marked_idempotent {
        persevere::retry(|| send_idempotent(post()))
            .policy(policy())
            .classify(ReqwestErrors)
            .await
    } else {
        persevere::retry(|| send(post()))
            .policy(policy())
            .classify(ReqwestErrors)
            .await
    };
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
    assert!(!err.into_inner().unwrap().is_idempotent());
    assert_eq!(server.methods(), ["POST"]);
}

#[tokio::test(start_paused = true)]
async fn a_post_answered_503_is_not_replayed_either() {
    let (result, server) = post_after(Fault::Status(503), false).await;
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
async fn a_post_with_an_idempotency_key_is_replayed() {
    let server = Server::start(Script::new([
        Fault::ResetAfterRequest,
        Fault::ok("created"),
    ]));
    let client = client();
    let response = persevere::retry(|| {
        send(
            client
                .post(server.url("/orders"))
                .header("Idempotency-Key", "order-17")
                .body("{}"),
        )
    })
    .policy(policy())
    .classify(ReqwestErrors)
    .await
    .unwrap();
    assert_eq!(response.text().await.unwrap(), "created");
    assert_eq!(server.methods(), ["POST", "POST"]);
}

#[tokio::test(start_paused = true)]
async fn read_retries_a_reset_in_the_middle_of_the_body() {
    let server = Server::start(Script::new([Fault::ResetMidBody, Fault::ok("whole body")]));
    let client = client();
    let mut verdicts = Vec::new();
    let fetched = persevere::retry(|| read(client.get(server.url("/")), 1 << 20))
        .policy(policy())
        .classify(ReqwestErrors)
        .notify(|e: &RetryEvent<'_, Failure>| {
            verdicts.push((
                e.classification().kind(),
                matches!(e.error().map(Failure::cause), Some(Cause::Body(_))),
            ))
        })
        .await
        .unwrap();
    assert_eq!(fetched.status(), 200);
    assert_eq!(fetched.text().unwrap(), "whole body");
    assert_eq!(verdicts, [(Some(RetryKind::Transient), true)]);
    assert_eq!(server.requests(), 2);

    // `send` returns at the head: the same reset reaches the caller after
    // the retry has ended, and is not retried.
    let server = Server::start(Script::new([Fault::ResetMidBody, Fault::ok("whole body")]));
    let response = persevere::retry(|| send(client.get(server.url("/"))))
        .policy(policy())
        .classify(ReqwestErrors)
        .await
        .unwrap();
    assert!(response.text().await.is_err());
    assert_eq!(server.requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn read_does_not_replay_a_post_cut_in_its_body_and_stops_past_its_limit() {
    let server = Server::start(Script::new([Fault::ResetMidBody, Fault::ok("created")]));
    let client = client();
    let err = persevere::retry(|| read(client.post(server.url("/orders")).body("{}"), 1 << 20))
        .policy(policy())
        .classify(ReqwestErrors)
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));
    assert!(matches!(
        err.into_inner().unwrap().into_cause(),
        Cause::Body(_)
    ));

    // 10 bytes against a limit of 4: terminal, sent once.
    let server = Server::start(Script::new([Fault::ok("0123456789"), Fault::ok("0123")]));
    let err = persevere::retry(|| read(client.get(server.url("/")), 4))
        .policy(policy())
        .classify(ReqwestErrors)
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));
    assert!(matches!(
        err.into_inner().unwrap().cause(),
        Cause::BodyTooLarge { limit: 4 }
    ));
    assert_eq!(server.requests(), 1);
}

/// A call to a server that answers `503` with `Retry-After: 30`, then 200,
/// under a 5 s deadline and the given max delay and rule.
async fn retry_after_30_under(
    max_delay: Duration,
    rule: RetryAfter,
) -> (Result<String, StopReason>, Server, Duration) {
    let server = Server::start(Script::new([
        Fault::Status(503).retry_after("30"),
        Fault::ok("done"),
    ]));
    let client = client();
    let start = tokio::time::Instant::now();
    let policy = Fixed::new(Duration::from_millis(100))
        .with_max_delay(max_delay)
        .with_retry_after(rule)
        .with_deadline(Duration::from_secs(5));
    let result = persevere::retry(|| send(client.get(server.url("/"))))
        .policy(policy)
        .classify(ReqwestErrors)
        .await;
    let elapsed = start.elapsed();
    let result = match result {
        Ok(response) => Ok(response.text().await.unwrap()),
        Err(err) => Err(err.reason()),
    };
    (result, server, elapsed)
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_is_never_cut_short_nor_checked_against_the_cut_value() {
    // By default the server's 30 s, past the 3 s max delay, ends the call.
    let (result, server, elapsed) =
        retry_after_30_under(Duration::from_secs(3), RetryAfter::NotEarlier).await;
    assert_eq!(result, Err(StopReason::ServerDelayTooLong));
    assert_eq!((server.requests(), elapsed), (1, Duration::ZERO));
    // Capped at 3 s by the caller's choice, the deadline is still checked
    // against the 30 s the server asked for: no request 27 s early.
    let (result, server, elapsed) =
        retry_after_30_under(Duration::from_secs(3), RetryAfter::Capped).await;
    assert_eq!(result, Err(StopReason::Deadline));
    assert_eq!((server.requests(), elapsed), (1, Duration::ZERO));
    // With room under the max delay, 30 s is past the 5 s deadline.
    let (result, server, elapsed) =
        retry_after_30_under(Duration::from_secs(60), RetryAfter::NotEarlier).await;
    assert_eq!(result, Err(StopReason::Deadline));
    assert_eq!((server.requests(), elapsed), (1, Duration::ZERO));
    // Without the deadline in the way, the second request comes after 30 s.
    let server = Server::start(Script::new([
        Fault::Status(503).retry_after("30"),
        Fault::ok("done"),
    ]));
    let client = client();
    let start = tokio::time::Instant::now();
    let response = persevere::retry(|| send(client.get(server.url("/"))))
        .policy(Fixed::new(Duration::from_millis(100)).with_max_attempts(2))
        .classify(ReqwestErrors)
        .await
        .unwrap();
    assert_eq!(response.text().await.unwrap(), "done");
    let arrivals = server.arrivals();
    assert_eq!(arrivals.len(), 2);
    assert!(arrivals[1] - start >= Duration::from_secs(30));
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
            .classify(ReqwestErrors)
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
