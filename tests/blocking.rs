//! The blocking variant: same policies and classifiers, on the calling thread.
//! Delays are a few milliseconds, so real sleeps stay short.

use persevere::classify::io::IoErrors;
use persevere::{Fixed, RetryEvent, RetryPolicyExt, StopReason};
use std::io::{Error, ErrorKind};
use std::time::Duration;

const MS: Duration = Duration::from_millis(1);

#[test]
fn retries_until_success() {
    let mut calls = 0;
    let mut delays = Vec::new();
    let value = persevere::retry(|| {
        calls += 1;
        if calls < 3 {
            Err(Error::from(ErrorKind::ConnectionReset))
        } else {
            Ok(calls)
        }
    })
    .policy(Fixed::new(2 * MS).with_max_attempts(5))
    .classify(IoErrors)
    .notify(|e: &RetryEvent<'_, Error>| delays.push(e.delay()))
    .call()
    .unwrap();
    assert_eq!(value, 3);
    assert_eq!(delays, [2 * MS, 2 * MS]);
}

#[test]
fn stops_on_terminal_errors_and_exhaustion() {
    let mut calls = 0;
    let err = persevere::retry(|| {
        calls += 1;
        Err::<(), _>(Error::from(ErrorKind::NotFound))
    })
    .classify(IoErrors)
    .call()
    .unwrap_err();
    assert_eq!(
        (err.reason(), err.attempts(), calls),
        (StopReason::Terminal, 1, 1)
    );

    let err = persevere::retry_with_attempt(Err::<(), u32>)
        .policy(Fixed::new(Duration::ZERO).with_max_attempts(7))
        .call()
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(err.into_inner(), Some(7));
}

#[test]
fn the_deadline_stops_retries() {
    let deadline = 12 * MS;
    let start = std::time::Instant::now();
    let mut retries = Vec::new();
    let err = persevere::retry(|| Err::<(), _>("busy"))
        .policy(Fixed::new(5 * MS).with_deadline(deadline))
        .notify(|e: &RetryEvent<'_, &str>| retries.push((e.elapsed(), e.delay())))
        .call()
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    // Sleeps of 5 ms each: the call never sleeps past the deadline. (A loaded
    // machine may oversleep one past it, and then the call stops at once.)
    assert!(
        err.attempts() >= 1 && err.attempts() <= 3,
        "{}",
        err.attempts()
    );
    // The first sleep always fits: the policy decides microseconds in.
    assert!(!retries.is_empty());
    // Every retry was heard; when a sleep overran the deadline, the call
    // stopped before the attempt it slept for.
    let retried = retries.len() as u32;
    assert!(
        retried == err.attempts() - 1 || retried == err.attempts(),
        "{retries:?}"
    );
    for &(elapsed, delay) in &retries {
        assert_eq!(delay, 5 * MS);
        // The real clock: the hook reads it just after the policy did, so
        // allow 1 ms. Sleeping past the deadline overshoots by about 3 ms.
        assert!(elapsed + delay < deadline + MS, "{retries:?}");
    }
    assert!(start.elapsed() >= 5 * MS * (err.attempts() - 1));
}
