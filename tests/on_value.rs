//! Retrying on an `Ok` value (`retry_if_ok`) and retrying async closures
//! that borrow (`retry_async`), through the public API on tokio's paused
//! clock.

use persevere::budget::TokenBucket;
use persevere::{
    Classification, Fixed, RetryError, RetryEvent, RetryKind, RetryPolicyExt, StopReason,
};
use std::io::{Error, ErrorKind};
use std::time::Duration;
use tokio::time::Instant;

const SEC: Duration = Duration::from_secs(1);

/// A status code that the value classifier retries when it is 503, and asks
/// for the server's delay of 3 s.
fn busy(status: &u16) -> Option<Classification> {
    (*status == 503).then(|| Classification::throttled().with_server_delay(3 * SEC))
}

#[tokio::test(start_paused = true)]
async fn a_retried_value_is_attempted_again_until_accepted() {
    let mut calls = 0u32;
    let start = Instant::now();
    let status = persevere::retry(|| {
        calls += 1;
        let status = if calls < 3 { 503 } else { 200 };
        async move { Ok::<u16, Error>(status) }
    })
    .policy(Fixed::new(SEC).with_max_attempts(5))
    .retry_if_ok(busy)
    .await
    .unwrap();
    assert_eq!((status, calls), (200, 3));
    // Two sleeps of the server's 3 s, not the policy's 1 s.
    assert_eq!(start.elapsed(), 6 * SEC);
}

#[tokio::test(start_paused = true)]
async fn the_last_value_comes_back_with_reason_attempts_and_elapsed() {
    let err: RetryError<Error, u16> = persevere::retry(|| async { Ok(503) })
        .policy(Fixed::new(SEC).with_max_attempts(4))
        .retry_if_ok(busy)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(err.attempts(), 4);
    assert_eq!(err.elapsed(), 9 * SEC);
    assert!(err.last_error().is_none() && !err.timed_out());
    assert_eq!(err.last_value(), Some(&503));
    assert_eq!(
        err.to_string(),
        "gave up after 4 attempts in 9.0s: the last attempt returned a value that was not accepted"
    );
    assert_eq!(err.into_last().map(|last| last.ok()), Some(Some(503)));
}

#[tokio::test(start_paused = true)]
async fn a_terminal_verdict_on_a_value_stops_at_once() {
    let err = persevere::retry(|| async { Ok::<_, ()>("forbidden") })
        .retry_if_ok(|v: &&str| (*v == "forbidden").then(Classification::terminal))
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));
    assert_eq!(err.into_value(), Some("forbidden"));
}

#[tokio::test(start_paused = true)]
async fn errors_and_values_mix_and_the_last_one_is_returned() {
    let mut calls = 0u32;
    let err = persevere::retry(|| {
        calls += 1;
        let odd = calls % 2 == 1;
        async move {
            if odd {
                Err(Error::from(ErrorKind::ConnectionReset))
            } else {
                Ok(503u16)
            }
        }
    })
    .policy(Fixed::new(SEC).with_max_attempts(3))
    .retry_if_ok(busy)
    .await
    .unwrap_err();
    // Attempts 1 and 3 fail with an error, 2 with a value: the error is last.
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.last_value(), None);
    assert_eq!(
        err.last_error().map(Error::kind),
        Some(ErrorKind::ConnectionReset)
    );
}

#[tokio::test(start_paused = true)]
async fn the_hook_hears_of_retried_values_and_the_budget_pays_for_them() {
    let bucket = TokenBucket::new().with_capacity(10);
    let mut heard = Vec::new();
    let err = persevere::retry(|| async { Ok::<u16, ()>(503) })
        .policy(Fixed::new(SEC).with_max_attempts(10))
        .retry_if_ok(busy)
        .budget(&bucket)
        .notify(|e: &RetryEvent<'_, ()>| {
            heard.push((e.returned_value(), e.classification().kind()))
        })
        .await
        .unwrap_err();
    // A throttled retry costs 5 tokens: two retries, then the bucket refuses.
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert_eq!(err.attempts(), 3);
    assert_eq!(heard, [(true, Some(RetryKind::Throttled)); 2]);
    assert_eq!(err.last_value(), Some(&503));
}

#[tokio::test(start_paused = true)]
async fn a_deadline_stops_a_value_that_would_wait_past_it() {
    let err = persevere::retry(|| async { Ok::<u16, ()>(503) })
        .policy(Fixed::new(SEC).with_max_attempts(10).with_deadline(5 * SEC))
        .retry_if_ok(busy)
        .await
        .unwrap_err();
    // Sleeps of 3 s: the second would end at 6 s, past the deadline.
    assert_eq!((err.reason(), err.attempts()), (StopReason::Deadline, 2));
    assert_eq!(err.last_value(), Some(&503));
}

#[test]
fn the_blocking_call_retries_values_too() {
    let mut calls = 0u32;
    let err = persevere::retry(|| {
        calls += 1;
        Ok::<u32, ()>(calls)
    })
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(3))
    .retry_if_ok(|n: &u32| (*n < 10).then(Classification::transient))
    .call()
    .unwrap_err();
    assert_eq!((err.attempts(), err.into_value()), (3, Some(3)));
}

#[test]
fn without_a_value_classifier_the_error_keeps_its_size() {
    use std::mem::size_of;
    // RetryError's own docs promise 40 bytes around an io::Error.
    assert_eq!(size_of::<RetryError<Error>>(), 40);
    assert_eq!(
        size_of::<Result<u64, RetryError<Error>>>(),
        size_of::<Result<u64, RetryError<Error, std::convert::Infallible>>>()
    );
}

/// A connection that counts what was sent on it, borrowed by each attempt.
struct Conn {
    sent: u32,
}

struct Client {
    fail_first: u32,
}

impl Client {
    async fn call(&self, conn: &mut Conn) -> Result<u32, Error> {
        conn.sent += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
        if conn.sent <= self.fail_first {
            Err(Error::from(ErrorKind::ConnectionReset))
        } else {
            Ok(conn.sent)
        }
    }
}

struct Service {
    client: Client,
    conn: Conn,
}

impl Service {
    async fn fetch(&mut self, attempts: u32) -> Result<u32, RetryError<Error>> {
        persevere::retry_async(async |_| self.client.call(&mut self.conn).await)
            .policy(Fixed::new(SEC).with_max_attempts(attempts))
            .run()
            .await
    }
}

#[tokio::test(start_paused = true)]
async fn an_async_closure_borrows_self_mutably_on_every_attempt() {
    let mut service = Service {
        client: Client { fail_first: 2 },
        conn: Conn { sent: 0 },
    };
    assert_eq!(service.fetch(5).await.unwrap(), 3);
    assert_eq!(service.conn.sent, 3);

    service.client.fail_first = 100;
    let err = service.fetch(2).await.unwrap_err();
    assert_eq!(
        (err.reason(), err.attempts()),
        (StopReason::AttemptsExhausted, 2)
    );
    assert_eq!(service.conn.sent, 5);
}

#[tokio::test(start_paused = true)]
async fn an_async_closure_is_cut_at_the_deadline() {
    let start = Instant::now();
    let mut started = 0;
    let err = persevere::retry_async(async |_| {
        started += 1;
        std::future::pending::<Result<(), ()>>().await
    })
    .policy(Fixed::new(SEC).with_max_attempts(10).with_deadline(5 * SEC))
    .attempt_timeout(2 * SEC)
    .run()
    .await
    .unwrap_err();
    // 0-2 s timed out, sleep to 3 s, 3-5 s cut at the deadline.
    assert_eq!(
        (err.reason(), err.attempts(), started),
        (StopReason::Deadline, 2, 2)
    );
    assert!(err.timed_out());
    assert_eq!(start.elapsed(), 5 * SEC);
}

#[tokio::test(start_paused = true)]
async fn an_async_closure_takes_a_value_classifier_and_the_attempt_number() {
    let mut seen = Vec::new();
    let err = persevere::retry_async(async |attempt| {
        seen.push(attempt);
        Ok::<u16, ()>(503)
    })
    .policy(Fixed::new(SEC).with_max_attempts(3))
    .retry_if_ok(busy)
    .run()
    .await
    .unwrap_err();
    assert_eq!(seen, [1, 2, 3]);
    assert_eq!((err.elapsed(), err.into_value()), (6 * SEC, Some(503)));
}

#[tokio::test(start_paused = true)]
async fn immediate_retries_of_an_async_closure_yield_to_other_tasks() {
    let other = tokio::spawn(async {});
    let mut calls = 0u32;
    let err = persevere::retry_async(async |_| {
        calls += 1;
        Err::<(), _>(())
    })
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(1000))
    .run()
    .await
    .unwrap_err();
    assert_eq!((err.attempts(), calls), (1000, 1000));
    assert!(other.is_finished(), "the spawned task never ran");
}

#[tokio::test(start_paused = true)]
async fn a_call_of_an_async_closure_that_owns_its_captures_can_be_spawned() {
    let handle = tokio::spawn(async {
        let client = Client { fail_first: 1 };
        let mut conn = Conn { sent: 0 };
        persevere::retry_async(async move |_| client.call(&mut conn).await)
            .policy(Fixed::new(SEC).with_max_attempts(3))
            .run()
            .await
    });
    assert_eq!(handle.await.unwrap().unwrap(), 2);
}
