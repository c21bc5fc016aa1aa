//! Each socket fault against a raw `tokio::net::TcpStream` client: the io
//! classifier sees the socket's own, unwrapped `io::Error`s.

mod support;

use persevere::classify::io::IoErrors;
use persevere::{Fixed, RetryError, RetryEvent, RetryKind, RetryPolicyExt, StopReason};
use std::future::IntoFuture;
use std::io::{self, ErrorKind};
use std::time::Duration;
use support::{Fault, Script, Server, raw};

const MS: Duration = Duration::from_millis(1);

fn policy() -> persevere::Limited<Fixed> {
    Fixed::new(100 * MS).with_max_attempts(5)
}

/// Each retried attempt: the kind of its error (`None` when the attempt
/// timeout cut it, so there was no error), and the kind of its verdict.
type Retried = Vec<(Option<ErrorKind>, Option<RetryKind>)>;

/// Runs `GET /` against `server` with [`IoErrors`]; the body, and each
/// retried attempt.
async fn get(server: &Server) -> (Result<String, RetryError<io::Error>>, Retried) {
    let mut retried = Vec::new();
    let result = persevere::retry(|| raw::get(server.addr(), "/"))
        .policy(policy())
        .classify(IoErrors)
        .attempt_timeout(Duration::from_secs(1))
        .notify(|e: &RetryEvent<'_, io::Error>| {
            retried.push((e.error().map(io::Error::kind), e.classification().kind()));
        })
        .await;
    (result.map(|r| r.body), retried)
}

const RESET: (Option<ErrorKind>, Option<RetryKind>) =
    (Some(ErrorKind::ConnectionReset), Some(RetryKind::Transient));

#[tokio::test(start_paused = true)]
async fn reset_on_accept_is_transient_and_retried() {
    let server = Server::start(Script::new([
        Fault::ResetOnAccept,
        Fault::ResetOnAccept,
        Fault::ok("done"),
    ]));
    let (result, retried) = get(&server).await;
    assert_eq!(result.unwrap(), "done");
    assert_eq!(retried, [RESET; 2]);
    assert_eq!((server.connections(), server.requests()), (3, 1));
}

#[tokio::test(start_paused = true)]
async fn reset_after_the_request_was_read_is_retried() {
    // Before the response, and in the middle of its body.
    for fault in [Fault::ResetAfterRequest, Fault::ResetMidBody] {
        let server = Server::start(Script::new([fault.clone(), Fault::ok("done")]));
        let (result, retried) = get(&server).await;
        assert_eq!(result.unwrap(), "done", "{fault:?}");
        assert_eq!(retried, [RESET], "{fault:?}");
        assert_eq!(server.requests(), 2, "{fault:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_server_that_never_answers_hits_the_attempt_timeout() {
    let server = Server::start(Script::new([Fault::NeverAnswer, Fault::ok("done")]));
    let (result, retried) = get(&server).await;
    assert_eq!(result.unwrap(), "done");
    // No error: the attempt was cut, and counts as a timeout.
    assert_eq!(retried, [(None, Some(RetryKind::Timeout))]);
    assert_eq!(server.requests(), 2);
    // The cut attempt's connection was dropped, and the server saw it close.
    assert!(server.all_closed_within(Duration::from_secs(1)).await);
}

#[tokio::test(start_paused = true)]
async fn refused_is_retried_and_never_sent() {
    // Nothing listens on `addr` until the first attempt was refused.
    let addr = support::refused_addr();
    let mut server = None;
    let mut verdicts = Vec::new();
    let result = persevere::retry(|| raw::get(addr, "/"))
        .policy(policy())
        .classify(IoErrors)
        .notify(|e: &RetryEvent<'_, io::Error>| {
            verdicts.push((e.error().unwrap().kind(), e.classification()));
            server.get_or_insert_with(|| {
                Server::start_at(addr, Script::new([Fault::ok("up")])).unwrap()
            });
        })
        .await;
    assert_eq!(result.unwrap().body, "up");
    assert_eq!(verdicts.len(), 1);
    assert_eq!(verdicts[0].0, ErrorKind::ConnectionRefused);
    assert!(verdicts[0].1.was_never_sent());
    assert_eq!(server.unwrap().requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn refused_forever_gives_up_after_the_attempt_cap() {
    let addr = support::refused_addr();
    let err = persevere::retry(|| raw::get(addr, "/"))
        .policy(policy())
        .classify(IoErrors)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(err.attempts(), 5);
    assert_eq!(
        err.into_inner().unwrap().kind(),
        ErrorKind::ConnectionRefused
    );
}

/// `GET /` with statuses as errors, classified by status and `Retry-After`.
async fn get_ok(
    server: &Server,
) -> (
    Result<raw::Response, persevere::RetryError<raw::Failure>>,
    Vec<(Option<RetryKind>, Duration)>,
) {
    let mut events = Vec::new();
    let result = persevere::retry(|| raw::get_ok(server.addr(), "/"))
        .policy(policy())
        .classify(raw::classify)
        .notify(|e: &RetryEvent<'_, raw::Failure>| {
            events.push((e.classification().kind(), e.delay()));
        })
        .await;
    (result, events)
}

#[tokio::test(start_paused = true)]
async fn server_errors_are_retried_by_kind() {
    let server = Server::start(Script::new([
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::Status(429),
        Fault::ok("done"),
    ]));
    let (result, events) = get_ok(&server).await;
    assert_eq!(result.unwrap().body, "done");
    let kinds: Vec<_> = events.iter().map(|e| e.0).collect();
    use RetryKind::*;
    assert_eq!(
        kinds,
        [
            Some(Transient),
            Some(Transient),
            Some(Throttled),
            Some(Throttled)
        ]
    );
    assert_eq!(server.requests(), 5);
}

#[tokio::test(start_paused = true)]
async fn client_errors_are_terminal_after_exactly_one_request() {
    for status in [400, 404] {
        let server = Server::start(Script::new([Fault::Status(status), Fault::ok("never")]));
        let (result, events) = get_ok(&server).await;
        let err = result.unwrap_err();
        assert_eq!(err.reason(), StopReason::Terminal);
        assert_eq!(err.attempts(), 1);
        assert!(events.is_empty());
        assert!(matches!(err.into_inner(), Some(raw::Failure::Status(r)) if r.status == status));
        assert_eq!(server.requests(), 1, "{status}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_seconds_is_honoured() {
    let server = Server::start(Script::new([
        Fault::Status(503).retry_after("2"),
        Fault::ok("done"),
    ]));
    let (result, events) = get_ok(&server).await;
    assert_eq!(result.unwrap().body, "done");
    assert_eq!(
        events,
        [(Some(RetryKind::Throttled), Duration::from_secs(2))]
    );
    let arrivals = server.arrivals();
    assert!(arrivals[1] - arrivals[0] >= Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn retry_after_as_an_http_date_is_honoured() {
    // Three seconds from now, to the second: a delay of two to three seconds.
    let date = httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(3));
    let server = Server::start(Script::new([
        Fault::Status(429).retry_after(&date),
        Fault::ok("done"),
    ]));
    let (result, events) = get_ok(&server).await;
    assert_eq!(result.unwrap().body, "done");
    let (kind, delay) = events[0];
    assert_eq!(kind, Some(RetryKind::Throttled));
    assert!(
        delay > Duration::from_secs(1) && delay <= Duration::from_secs(3),
        "{delay:?}"
    );
    let arrivals = server.arrivals();
    assert!(arrivals[1] - arrivals[0] >= delay);
}

#[tokio::test(start_paused = true)]
async fn retry_after_beyond_the_deadline_stops_at_once() {
    let server = Server::start(Script::new([
        Fault::Status(503).retry_after("60"),
        Fault::ok("never"),
    ]));
    let start = tokio::time::Instant::now();
    let err = persevere::retry(|| raw::get_ok(server.addr(), "/"))
        .policy(Fixed::new(100 * MS).with_deadline(Duration::from_secs(10)))
        .classify(raw::classify)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!(err.attempts(), 1);
    assert!(
        start.elapsed() < Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(server.requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_deadline_against_a_silent_server_starts_no_attempt_after_it() {
    let server = Server::start(Script::new(vec![Fault::NeverAnswer; 20]));
    let start = tokio::time::Instant::now();
    let deadline = Duration::from_secs(2);
    let err = persevere::retry(|| raw::get(server.addr(), "/"))
        .policy(Fixed::new(100 * MS).with_deadline(deadline))
        .classify(IoErrors)
        .attempt_timeout(Duration::from_millis(500))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert!(err.timed_out());
    assert!(err.elapsed() <= deadline, "{:?}", err.elapsed());
    assert!(
        start.elapsed() <= deadline + 10 * MS,
        "{:?}",
        start.elapsed()
    );
    // Attempts at 0, 0.6, 1.2 and 1.8 s; the last one cut at the deadline.
    assert_eq!(err.attempts(), 4);
    assert_eq!(server.requests(), 4);
    assert!(server.arrivals().iter().all(|&t| t - start < deadline));
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(server.connections(), 4);
}

#[tokio::test(start_paused = true)]
async fn a_call_dropped_during_its_sleep_sends_nothing_more() {
    let server = Server::start(Script::new([Fault::Status(503), Fault::ok("never")]));
    let call = persevere::retry(|| raw::get_ok(server.addr(), "/"))
        .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(5))
        .classify(raw::classify)
        .into_future();
    // The first attempt fails at once; the call is then asleep for 1 s.
    let cut = tokio::time::timeout(Duration::from_millis(500), call).await;
    assert!(cut.is_err());
    assert_eq!(server.requests(), 1);
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!((server.connections(), server.requests()), (1, 1));
}
