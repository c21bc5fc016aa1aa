//! The async combinator through the public API, on tokio's paused clock.

use persevere::classify::io::IoErrors;
use persevere::policy::RetryAfter;
use persevere::{
    Classification, Exponential, Fixed, Jitter, RetryEvent, RetryKind, RetryPolicyExt, StopReason,
    schedule,
};
use std::cell::Cell;
use std::future::IntoFuture;
use std::io::{Error, ErrorKind};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;
use tokio::time::Instant;

const MS: Duration = Duration::from_millis(1);

/// An op that fails `failures` times with `kind`, then returns its attempt count.
fn flaky(
    failures: u32,
    kind: ErrorKind,
) -> (
    Arc<AtomicU32>,
    impl FnMut() -> std::future::Ready<Result<u32, Error>>,
) {
    let calls = Arc::new(AtomicU32::new(0));
    let counter = calls.clone();
    let op = move || {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        std::future::ready(if n <= failures {
            Err(Error::from(kind))
        } else {
            Ok(n)
        })
    };
    (calls, op)
}

fn no_jitter(initial: Duration) -> Exponential {
    Exponential::new()
        .with_initial_delay(initial)
        .with_jitter(Jitter::None)
}

#[tokio::test(start_paused = true)]
async fn succeeds_after_n_failures_sleeping_exactly_the_schedule() {
    let (calls, op) = flaky(3, ErrorKind::ConnectionReset);
    let start = Instant::now();
    let value = persevere::retry(op)
        .policy(no_jitter(100 * MS).with_max_attempts(5))
        .classify(IoErrors)
        .await
        .unwrap();
    assert_eq!(value, 4);
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(start.elapsed(), (100 + 200 + 400) * MS);
}

fn ceil_to_ms(d: Duration) -> Duration {
    Duration::from_millis(d.as_nanos().div_ceil(1_000_000) as u64)
}

#[tokio::test(start_paused = true)]
async fn a_terminal_error_stops_at_once() {
    let (calls, op) = flaky(10, ErrorKind::PermissionDenied);
    let start = Instant::now();
    let err = persevere::retry(op).classify(IoErrors).await.unwrap_err();
    assert_eq!(err.reason(), StopReason::Terminal);
    assert_eq!(err.attempts(), 1);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(
        err.into_inner().map(|e| e.kind()),
        Some(ErrorKind::PermissionDenied)
    );
}

#[tokio::test(start_paused = true)]
async fn never_sleeps_after_the_last_attempt() {
    let (calls, op) = flaky(u32::MAX, ErrorKind::TimedOut);
    let policy = Exponential::new().with_max_attempts(6);
    // tokio's timer rounds each sleep up to the next whole millisecond.
    let planned: Duration = schedule(&policy, 77).map(ceil_to_ms).sum();
    let start = Instant::now();
    let err = persevere::retry(op)
        .policy(policy)
        .jitter_seed(77)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(err.attempts(), 6);
    assert_eq!(calls.load(Ordering::SeqCst), 6);
    // Five jittered sleeps as planned, and none after the sixth attempt.
    assert_eq!(start.elapsed(), planned);
    assert_eq!(err.elapsed(), planned);
    assert!(
        err.to_string().starts_with("gave up after 6 attempts in "),
        "{err}"
    );
}

#[tokio::test(start_paused = true)]
async fn the_deadline_is_never_overslept() {
    let (calls, op) = flaky(u32::MAX, ErrorKind::ConnectionReset);
    let start = Instant::now();
    let err = persevere::retry(op)
        .policy(Fixed::new(300 * MS).with_deadline(1000 * MS))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    // Attempts at 0, 300, 600 and 900 ms; a fifth would start at the deadline.
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(start.elapsed(), 900 * MS);
}

#[tokio::test(start_paused = true)]
async fn an_attempt_running_at_the_deadline_is_cut() {
    let attempts = Arc::new(AtomicU32::new(0));
    let counter = attempts.clone();
    let start = Instant::now();
    let err = persevere::retry(move || {
        counter.fetch_add(1, Ordering::SeqCst);
        async { std::future::pending::<Result<(), Error>>().await }
    })
    .policy(Fixed::new(100 * MS).with_deadline(Duration::from_secs(2)))
    .attempt_timeout(Duration::from_millis(700))
    .await
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert!(err.timed_out());
    // 0..700, sleep 100, 800..1500, sleep 100, 1600..2000 cut at the deadline.
    assert_eq!(attempts.load(Ordering::SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(2));
    assert_eq!(err.elapsed(), Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn attempt_timeouts_are_retried_as_timeouts() {
    let mut kinds = Vec::new();
    let mut n = 0;
    let value = persevere::retry(|| {
        n += 1;
        let hang = n < 3;
        async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Ok::<_, Error>(n)
        }
    })
    .policy(Fixed::new(10 * MS).with_max_attempts(3))
    .attempt_timeout(50 * MS)
    .notify(|e: &RetryEvent<'_, Error>| {
        kinds.push((e.error().is_none(), e.classification().kind()))
    })
    .await
    .unwrap();
    assert_eq!(value, 3);
    assert_eq!(kinds, [(true, Some(RetryKind::Timeout)); 2]);
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_honoured_and_capped_by_the_policy() {
    let start = Instant::now();
    let mut attempt_times = Vec::new();
    let err = persevere::retry(|| {
        attempt_times.push(start.elapsed());
        async { Err::<(), _>(503u16) }
    })
    .policy(
        no_jitter(10 * MS)
            .with_max_delay(Duration::from_secs(5))
            .with_max_attempts(3),
    )
    .classify(|_: &u16| Classification::throttled().with_server_delay(Duration::from_secs(2)))
    .await
    .unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(
        attempt_times,
        [
            Duration::ZERO,
            Duration::from_secs(2),
            Duration::from_secs(4)
        ]
    );

    // A Retry-After of a day, past the policy's 5 s max delay, ends the call
    // at once: coming back earlier than the server asked would not help.
    let a_day =
        |_: &u16| Classification::throttled().with_server_delay(Duration::from_secs(86_400));
    let policy = no_jitter(10 * MS).with_max_delay(Duration::from_secs(5));
    let start = Instant::now();
    let err = persevere::retry(|| async { Err::<(), _>(429u16) })
        .policy(policy.with_max_attempts(2))
        .classify(a_day)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::ServerDelayTooLong);
    assert_eq!((err.attempts(), err.into_inner()), (1, Some(429)));
    assert_eq!(start.elapsed(), Duration::ZERO);

    // Under `RetryAfter::Capped`, the caller's choice, it is cut to 5 s.
    let start = Instant::now();
    let _ = persevere::retry(|| async { Err::<(), _>(429u16) })
        .policy(
            policy
                .with_retry_after(RetryAfter::Capped)
                .with_max_attempts(2),
        )
        .classify(a_day)
        .await;
    assert_eq!(start.elapsed(), Duration::from_secs(5));
}

#[tokio::test(start_paused = true)]
async fn retry_after_past_the_deadline_stops_at_once() {
    let start = Instant::now();
    let err = persevere::retry(|| async { Err::<(), _>(503u16) })
        .policy(
            no_jitter(10 * MS)
                .with_max_delay(Duration::from_secs(600))
                .with_deadline(Duration::from_secs(30)),
        )
        .classify(|_: &u16| Classification::throttled().with_server_delay(Duration::from_secs(60)))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!(err.attempts(), 1);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

#[tokio::test(start_paused = true)]
async fn dropping_the_call_mid_sleep_starts_no_further_attempt() {
    let attempts = Rc::new(Cell::new(0));
    let counter = attempts.clone();
    let call = persevere::retry(move || {
        counter.set(counter.get() + 1);
        async { Err::<(), _>("reset") }
    })
    .policy(Fixed::new(Duration::from_secs(10)).with_max_attempts(5));
    let cut = tokio::time::timeout(Duration::from_secs(15), call).await;
    assert!(cut.is_err(), "the call should still be sleeping");
    assert_eq!(attempts.get(), 2);
    tokio::time::sleep(Duration::from_secs(120)).await;
    assert_eq!(attempts.get(), 2);
}

#[tokio::test(start_paused = true)]
async fn the_failed_output_is_dropped_before_the_sleep() {
    struct Connection(Rc<Cell<bool>>);
    impl std::fmt::Debug for Connection {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Connection")
        }
    }
    impl Drop for Connection {
        fn drop(&mut self) {
            self.0.set(false);
        }
    }
    let open = Rc::new(Cell::new(false));
    let flag = open.clone();
    let mut first = true;
    let call = persevere::retry(move || {
        let fail = std::mem::take(&mut first);
        flag.set(true);
        let conn = Connection(flag.clone());
        async move { if fail { Err(conn) } else { Ok(()) } }
    })
    .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(2));
    let mut call = std::pin::pin!(call.into_future());
    // First poll: the attempt fails and the call goes to sleep.
    assert!(futures_poll_once(call.as_mut()).await.is_none());
    assert!(
        !open.get(),
        "the failed attempt's connection must be closed while sleeping"
    );
    call.await.unwrap();
}

/// Polls a future once, returning its output if it was ready.
async fn futures_poll_once<F: std::future::Future + Unpin>(mut fut: F) -> Option<F::Output> {
    std::future::poll_fn(|cx| {
        std::task::Poll::Ready(match std::pin::Pin::new(&mut fut).poll(cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        })
    })
    .await
}

#[tokio::test(start_paused = true)]
async fn zero_delay_retries_start_at_once_without_a_timer() {
    let (calls, op) = flaky(3, ErrorKind::ConnectionReset);
    let call = persevere::retry(op)
        .policy(Fixed::new(Duration::ZERO).with_max_attempts(4))
        .into_future();
    let start = Instant::now();
    // One poll runs all four attempts: nothing waits for a timer or a yield.
    let value = futures_poll_once(Box::pin(call)).await;
    assert_eq!(value.map(Result::unwrap), Some(4));
    assert_eq!(calls.load(Ordering::SeqCst), 4);
    assert_eq!(start.elapsed(), Duration::ZERO);
}

/// On a runtime without a time driver, creating any `Sleep` panics: so a
/// call that succeeds at once, or retries with zero delays, uses no timer.
#[test]
fn no_timer_without_a_delay_deadline_or_attempt_timeout() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    rt.block_on(async {
        assert_eq!(
            persevere::retry(|| async { Ok::<_, Error>(7) })
                .await
                .unwrap(),
            7
        );
        let (calls, op) = flaky(3, ErrorKind::ConnectionReset);
        let value = persevere::retry(op)
            .policy(Fixed::new(Duration::ZERO).with_max_attempts(4))
            .await
            .unwrap();
        assert_eq!((value, calls.load(Ordering::SeqCst)), (4, 4));
    });
}

#[tokio::test(start_paused = true)]
async fn a_long_run_of_zero_delay_retries_lets_other_tasks_run() {
    let ticks = Rc::new(Cell::new(0u32));
    let seen = ticks.clone();
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async move {
            let counter = tokio::task::spawn_local(async move {
                for _ in 0..10_000 {
                    seen.set(seen.get() + 1);
                    tokio::task::yield_now().await;
                }
            });
            let (_, op) = flaky(2_000, ErrorKind::ConnectionReset);
            let value = persevere::retry(op)
                .policy(Fixed::new(Duration::ZERO).with_max_attempts(2_001))
                .await
                .unwrap();
            assert_eq!(value, 2_001);
            // The retries ran out of cooperative budget now and then and
            // yielded, so the other task ran while they went on.
            // About one yield per 128 retries (tokio's budget per poll).
            assert!(ticks.get() >= 10, "yielded {} times", ticks.get());
            counter.abort();
        })
        .await;
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn a_thousand_calls_interleave_their_sleeps() {
    let policy = no_jitter(Duration::from_secs(1)).with_max_attempts(4);
    let one_schedule: Duration = schedule(&policy, 0).sum(); // 1 + 2 + 4 = 7 s
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..1000 {
        let (_, op) = flaky(3, ErrorKind::ConnectionReset);
        tasks.spawn(persevere::retry(op).policy(policy).into_future());
    }
    let mut done = 0;
    while let Some(joined) = tasks.join_next().await {
        assert_eq!(joined.unwrap().unwrap(), 4);
        done += 1;
    }
    assert_eq!(done, 1000);
    assert_eq!(start.elapsed(), one_schedule);
}

#[tokio::test(start_paused = true)]
#[should_panic(expected = "op exploded")]
async fn a_panic_in_the_op_propagates() {
    let _ = persevere::retry(|| async {
        if true {
            panic!("op exploded");
        }
        Ok::<(), &str>(())
    })
    .await;
}

#[tokio::test(start_paused = true)]
async fn the_attempt_number_is_passed_to_the_op() {
    let mut seen = Vec::new();
    let err = persevere::retry_with_attempt(|attempt| {
        seen.push(attempt);
        async { Err::<(), _>("no") }
    })
    .policy(Fixed::new(MS).with_max_attempts(4))
    .await
    .unwrap_err();
    assert_eq!(err.attempts(), 4);
    assert_eq!(seen, [1, 2, 3, 4]);
}

#[tokio::test(start_paused = true)]
async fn the_error_reports_what_happened() {
    let err = persevere::retry(|| async { Err::<(), _>(Error::from(ErrorKind::ConnectionReset)) })
        .policy(Fixed::new(Duration::from_millis(7800)).with_max_attempts(5))
        .await
        .unwrap_err();
    assert_eq!(err.elapsed(), Duration::from_millis(31_200));
    assert_eq!(
        err.to_string(),
        "gave up after 5 attempts in 31.2s: connection reset"
    );
    let source = std::error::Error::source(&err).unwrap();
    assert_eq!(
        source.downcast_ref::<Error>().map(|e| e.kind()),
        Some(ErrorKind::ConnectionReset)
    );
}

#[tokio::test(start_paused = true)]
async fn the_future_is_send_when_its_parts_are() {
    // `tokio::spawn` compiles only for a `Send` future.
    let handle = tokio::spawn(
        persevere::retry(|| async { Ok::<_, Error>(1) })
            .policy(persevere::presets::aws_standard())
            .into_future(),
    );
    assert_eq!(handle.await.unwrap().unwrap(), 1);
}

/// A policy of the caller's own whose sleeps run past its own deadline.
struct Oversleeps {
    delay: Duration,
    deadline: Duration,
}

impl persevere::RetryPolicy for Oversleeps {
    fn decide(
        &self,
        _: &persevere::AttemptContext,
        _: &mut persevere::JitterRng,
    ) -> persevere::Decision {
        persevere::Decision::Retry(self.delay)
    }
    fn deadline(&self) -> Option<Duration> {
        Some(self.deadline)
    }
}

#[tokio::test(start_paused = true)]
async fn no_attempt_starts_after_the_deadline_whatever_the_policy_says() {
    let policy = Oversleeps {
        delay: Duration::from_secs(3),
        deadline: Duration::from_secs(2),
    };
    let (calls, op) = flaky(u32::MAX, ErrorKind::ConnectionReset);
    let mut announced = 0;
    let start = Instant::now();
    let err = persevere::retry(op)
        .policy(policy)
        .notify(|_: &RetryEvent<'_, std::io::Error>| announced += 1)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!((calls.load(Ordering::SeqCst), err.attempts()), (1, 1));
    // It stops at once, without sleeping, and keeps the last error.
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert_eq!(announced, 0);
    assert!(!err.timed_out());
    assert_eq!(err.into_inner().unwrap().kind(), ErrorKind::ConnectionReset);
}

#[test]
fn no_blocking_attempt_starts_after_the_deadline_either() {
    // Real sleeps here: keep them to milliseconds.
    let policy = Oversleeps {
        delay: 30 * MS,
        deadline: 20 * MS,
    };
    let (calls, mut op) = flaky(u32::MAX, ErrorKind::ConnectionReset);
    let err = persevere::retry(move || op().into_inner())
        .policy(policy)
        .call()
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!((calls.load(Ordering::SeqCst), err.attempts()), (1, 1));
    // It never slept: the 30 ms sleep would have ended past the deadline.
    assert!(err.elapsed() < 20 * MS);
    assert!(!err.timed_out());
}

/// Runs a call that always fails under `Fixed::new(delay).with_deadline(deadline)`
/// and returns its error, the retries notify announced, and the attempts made.
async fn announced_against_made(
    delay: Duration,
    deadline: Duration,
) -> (persevere::RetryError<Error>, u32, u32) {
    let (calls, op) = flaky(u32::MAX, ErrorKind::ConnectionReset);
    let mut announced = 0;
    let err = persevere::retry(op)
        .policy(Fixed::new(delay).with_deadline(deadline))
        .notify(|_: &RetryEvent<'_, Error>| announced += 1)
        .await
        .unwrap_err();
    (err, announced, calls.load(Ordering::SeqCst))
}

#[tokio::test(start_paused = true)]
async fn a_retry_that_tokios_timer_would_end_at_the_deadline_is_never_announced() {
    // 99.5 ms sleeps end on tokio's 1 ms ticks, every 100 ms: a 10th retry
    // planned for 999.5 ms would wake at exactly 1 s, the deadline.
    let start = Instant::now();
    let (err, announced, made) =
        announced_against_made(Duration::from_micros(99_500), Duration::from_secs(1)).await;
    assert_eq!(err.reason(), StopReason::Deadline);
    assert_eq!((made, err.attempts(), announced), (10, 10, 9));
    assert!(!err.timed_out());
    assert_eq!(err.into_inner().unwrap().kind(), ErrorKind::ConnectionReset);
    // It stopped after the 10th attempt, without sleeping again.
    assert_eq!(start.elapsed(), 900 * MS);
}

#[tokio::test(start_paused = true)]
async fn every_announced_retry_runs_and_a_deadline_stop_keeps_the_last_error() {
    // Delays with sub-millisecond parts against deadlines around them.
    for i in 1..=60u64 {
        let delay = Duration::from_micros(i * 7_919 % 150_000 + 1);
        let deadline = Duration::from_micros(i * 104_729 % 900_000 + 1);
        let (err, announced, made) = announced_against_made(delay, deadline).await;
        assert_eq!(err.reason(), StopReason::Deadline, "{delay:?} {deadline:?}");
        assert_eq!(made, err.attempts());
        assert_eq!(announced + 1, made, "{delay:?} {deadline:?}");
        assert!(!err.timed_out(), "{delay:?} {deadline:?}");
    }
}

/// A policy of the caller's own that asks for the same huge delay every time.
struct Sleeps(Duration);

impl persevere::RetryPolicy for Sleeps {
    fn decide(
        &self,
        failed: &persevere::AttemptContext,
        _: &mut persevere::JitterRng,
    ) -> persevere::Decision {
        if failed.attempt() < 3 {
            persevere::Decision::Retry(self.0)
        } else {
            persevere::Decision::Stop(StopReason::Policy)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn sleeps_near_the_end_of_time_are_capped_at_thirty_years_without_a_panic() {
    // tokio caps a first sleep at about 30 years; a later one re-arms the same
    // timer and must be capped the same way, or tokio's timer overflows.
    let thirty_years = Duration::from_secs(86_400 * 365 * 30);
    let millennium = Duration::from_secs(86_400 * 365 * 1000);
    for huge in [millennium, Duration::MAX] {
        let start = Instant::now();
        let err = persevere::retry(|| async { Err::<(), _>("reset") })
            .policy(Sleeps(huge))
            .await
            .unwrap_err();
        assert_eq!((err.reason(), err.attempts()), (StopReason::Policy, 3));
        assert_eq!(start.elapsed(), 2 * thirty_years, "{huge:?}");
    }

    // The same through a server's delay under a policy with no max.
    let start = Instant::now();
    let err = persevere::retry(|| async { Err::<(), _>(503u16) })
        .policy(
            Fixed::new(MS)
                .with_max_delay(Duration::MAX)
                .with_max_attempts(3),
        )
        .classify(|_: &u16| Classification::throttled().with_server_delay(Duration::MAX))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 3);
    assert_eq!(start.elapsed(), 2 * thirty_years);
}
