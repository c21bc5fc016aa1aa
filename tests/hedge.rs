//! Hedged calls, through the public API: on tokio's paused clock with
//! in-memory attempts, and on real loopback sockets against a server whose
//! answers are fast except for a scripted slow fraction.

mod support;

use persevere::budget::TokenBucket;
use persevere::hedge::{HedgeBudget, HedgeDelay, LatencyTracker};
use persevere::{Classification, Fixed, RetryPolicyExt, StopReason};
use std::future::IntoFuture;
use std::pin::pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::slow::{self, Answer, End, Reply, SlowServer};
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

const MS: Duration = Duration::from_millis(1);

/// When each attempt started and when its future was dropped, in offsets
/// from the test's start.
#[derive(Debug, Default)]
struct Journal {
    started: Vec<Duration>,
    dropped: Vec<(u32, Duration)>,
}

/// Pushes `(attempt, now)` to the journal's dropped list when dropped.
struct DropGuard(Arc<Mutex<Journal>>, u32, Instant);

impl Drop for DropGuard {
    fn drop(&mut self) {
        let at = self.2.elapsed();
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .dropped
            .push((self.1, at));
    }
}

/// An `op` whose attempt `n` answers `outcome(n)` after `latency(n)`,
/// journaling starts and drops.
fn scripted(
    journal: &Arc<Mutex<Journal>>,
    t0: Instant,
    latency: impl Fn(u32) -> u64,
    outcome: impl Fn(u32) -> Result<u32, &'static str>,
) -> impl FnMut(u32) -> std::pin::Pin<Box<dyn Future<Output = Result<u32, &'static str>>>> {
    let journal = Arc::clone(journal);
    move |n| {
        journal.lock().unwrap().started.push(t0.elapsed());
        let guard = DropGuard(Arc::clone(&journal), n, t0);
        let (wait, result) = (latency(n), outcome(n));
        Box::pin(async move {
            let _guard = guard;
            sleep(Duration::from_millis(wait)).await;
            result
        })
    }
}

#[tokio::test(start_paused = true)]
async fn the_hedge_fires_after_the_delay_and_the_loser_is_dropped_when_it_wins() {
    let journal = Arc::default();
    let t0 = Instant::now();
    let call = persevere::hedge_with_attempt(scripted(
        &journal,
        t0,
        |n| if n == 1 { 1000 } else { 5 },
        Ok,
    ))
    .delay(20 * MS);
    // Keep the call's future alive after it is done: the loser must be gone
    // already, not when the future is dropped.
    let mut call = pin!(call.into_future());
    let won = (&mut call).await.unwrap();
    assert_eq!((won.attempts(), won.winner(), *won.value()), (2, 2, 2));
    assert_eq!(won.elapsed(), 25 * MS);
    let j = journal.lock().unwrap();
    assert_eq!(j.started, [Duration::ZERO, 20 * MS]);
    assert_eq!(j.dropped, [(2, 25 * MS), (1, 25 * MS)]);
}

#[tokio::test(start_paused = true)]
async fn an_answer_before_the_delay_sends_no_hedge() {
    let journal = Arc::default();
    let won = persevere::hedge_with_attempt(scripted(&journal, Instant::now(), |_| 19, Ok))
        .delay(20 * MS)
        .await
        .unwrap();
    assert_eq!((won.attempts(), won.winner(), won.hedged()), (1, 1, false));
    assert_eq!(journal.lock().unwrap().started.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_retryable_failure_starts_the_next_attempt_at_once() {
    let journal = Arc::default();
    let t0 = Instant::now();
    let won = persevere::hedge_with_attempt(scripted(
        &journal,
        t0,
        |n| if n == 1 { 3 } else { 7 },
        |n| if n == 1 { Err("reset") } else { Ok(n) },
    ))
    .delay(50 * MS)
    .await
    .unwrap();
    assert_eq!((won.attempts(), won.winner()), (2, 2));
    assert_eq!(journal.lock().unwrap().started, [Duration::ZERO, 3 * MS]);
    assert_eq!(won.elapsed(), 10 * MS);
}

#[tokio::test(start_paused = true)]
async fn a_retry_resets_the_hedge_timer() {
    let journal = Arc::default();
    let t0 = Instant::now();
    // Attempt 1 fails at 15 ms; attempt 2 is slow, so its hedge is due 20 ms
    // after it started (35 ms), not 20 ms after the call started.
    let won = persevere::hedge_with_attempt(scripted(
        &journal,
        t0,
        |n| [15, 500, 1][n as usize - 1],
        |n| if n == 1 { Err("reset") } else { Ok(n) },
    ))
    .delay(20 * MS)
    .await
    .unwrap();
    assert_eq!(won.winner(), 3);
    assert_eq!(
        journal.lock().unwrap().started,
        [Duration::ZERO, 15 * MS, 35 * MS]
    );
}

#[tokio::test(start_paused = true)]
async fn the_attempt_cap_counts_hedges_and_retries_and_bounds_the_call() {
    let journal = Arc::default();
    let err = persevere::hedge_with_attempt(scripted(
        &journal,
        Instant::now(),
        |_| 50,
        |_| Err("unavailable"),
    ))
    .delay(10 * MS)
    .max_in_flight(4)
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(3))
    .await
    .unwrap_err();
    assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    assert_eq!(err.attempts(), 3);
    assert_eq!(err.last_error(), Some(&"unavailable"));
    // Three attempts 10 ms apart; the call ends when the last one fails.
    assert_eq!(
        journal.lock().unwrap().started,
        [Duration::ZERO, 10 * MS, 20 * MS]
    );
    assert_eq!(err.elapsed(), 70 * MS);
}

#[tokio::test(start_paused = true)]
async fn max_in_flight_caps_attempts_at_once() {
    let journal = Arc::default();
    let err = persevere::hedge_with_attempt(scripted(
        &journal,
        Instant::now(),
        |_| 100,
        |_| Err("slow failure"),
    ))
    .delay(10 * MS)
    .max_in_flight(2)
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(4))
    .await
    .unwrap_err();
    assert_eq!(err.attempts(), 4);
    // 2 in flight at 0 and 10 ms; each failure starts the next at once.
    assert_eq!(
        journal.lock().unwrap().started,
        [0, 10, 100, 110].map(|ms| ms * MS)
    );
}

#[tokio::test(start_paused = true)]
async fn a_terminal_failure_ends_the_call_and_drops_the_rest() {
    let journal = Arc::default();
    let call = persevere::hedge_with_attempt(scripted(
        &journal,
        Instant::now(),
        |n| if n == 1 { 1000 } else { 5 },
        |n| if n == 1 { Ok(1) } else { Err("not found") },
    ))
    .delay(20 * MS)
    .classify(|e: &&str| {
        if *e == "not found" {
            Classification::terminal()
        } else {
            Classification::transient()
        }
    });
    let mut call = pin!(call.into_future());
    let err = (&mut call).await.unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 2));
    assert_eq!(err.into_inner(), Some("not found"));
    assert_eq!(
        journal.lock().unwrap().dropped,
        [(2, 25 * MS), (1, 25 * MS)]
    );
}

#[tokio::test(start_paused = true)]
async fn a_retry_budget_that_refuses_a_hedge_leaves_the_first_attempt_running() {
    // A bucket that pays for no extra attempt at all (a timeout costs 14).
    let bucket = TokenBucket::new().with_capacity(10);
    let journal = Arc::default();
    let won = persevere::hedge_with_attempt(scripted(&journal, Instant::now(), |_| 300, Ok))
        .delay(10 * MS)
        .budget(&bucket)
        .await
        .unwrap();
    assert_eq!((won.attempts(), won.elapsed()), (1, 300 * MS));
    assert_eq!(journal.lock().unwrap().started.len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_hedge_budget_lets_through_its_fraction_of_calls() {
    let budget = HedgeBudget::new().with_ratio(0.1).with_min_per_second(0);
    let mut hedged = Vec::new();
    for call in 1..=50 {
        let won = persevere::hedge_with_attempt(|n| async move {
            sleep(if n == 1 { 100 * MS } else { MS }).await;
            Ok::<_, ()>(())
        })
        .delay(10 * MS)
        .hedge_budget(&budget)
        .await
        .unwrap();
        if won.hedged() {
            assert_eq!(won.elapsed(), 11 * MS);
            hedged.push(call);
        } else {
            assert_eq!(won.elapsed(), 100 * MS);
        }
    }
    // 10 % of the calls so far, counted as they start: every tenth call.
    assert_eq!(hedged, [10, 20, 30, 40, 50]);
}

#[tokio::test(start_paused = true)]
async fn an_adaptive_delay_waits_for_samples_then_follows_the_percentile() {
    let tracker = LatencyTracker::new(50.0).with_min_samples(4);
    let journal = Arc::new(Mutex::new(Journal::default()));
    // Four calls of 8 ms: no hedge while the tracker has too few samples.
    for _ in 0..4 {
        assert_eq!(tracker.hedge_delay(), None);
        let won = persevere::hedge_with_attempt(scripted(&journal, Instant::now(), |_| 8, Ok))
            .delay(&tracker)
            .await
            .unwrap();
        assert_eq!(won.attempts(), 1);
    }
    let p50 = tracker.estimate().unwrap();
    assert!((8 * MS..=9 * MS).contains(&p50), "{p50:?}");
    // A slow first attempt is hedged at the estimate, on tokio's timer: to
    // the next whole millisecond.
    let due = p50.as_micros().div_ceil(1000) as u32 * MS;
    let journal = Arc::default();
    let won = persevere::hedge_with_attempt(scripted(
        &journal,
        Instant::now(),
        |n| if n == 1 { 1000 } else { 8 },
        Ok,
    ))
    .delay(&tracker)
    .await
    .unwrap();
    assert_eq!(won.winner(), 2);
    assert_eq!(journal.lock().unwrap().started, [Duration::ZERO, due]);
    assert_eq!(won.elapsed(), due + 8 * MS);
}

// ---- Real sockets on 127.0.0.1 ----------------------------------------------

/// Offsets of `conns`' arrivals from `t0`, in ms.
fn arrivals(conns: &[slow::Conn], t0: Instant) -> Vec<u64> {
    conns
        .iter()
        .map(|c| (c.arrived - t0).as_millis() as u64)
        .collect()
}

fn ended_at(conn: &slow::Conn, t0: Instant) -> (bool, u64) {
    match conn.end {
        End::Answered(at) => (true, (at - t0).as_millis() as u64),
        End::ClosedByClient(at) => (false, (at - t0).as_millis() as u64),
        End::Open => panic!("connection {conn:?} still open"),
    }
}

#[tokio::test(start_paused = true)]
async fn on_sockets_the_hedge_fires_on_time_and_the_server_sees_the_loser_closed() {
    let server = SlowServer::start(
        |_, attempt| Reply::ok_after(if attempt == 1 { 1000 } else { 5 }),
        10,
    )
    .await;
    let addr = server.addr();
    let t0 = Instant::now();
    let won = persevere::hedge_with_attempt(|attempt| slow::get(addr, 7, attempt))
        .delay(30 * MS)
        .classify(slow::classify)
        .await
        .unwrap();
    assert_eq!((won.winner(), won.into_inner()), (2, 7));
    server.settle().await;
    let conns = server.connections();
    assert_eq!(arrivals(&conns, t0), [0, 30]);
    // The hedge answered at 35 ms; the first attempt's connection was closed
    // by the client then, long before its answer was due.
    assert_eq!(ended_at(&conns[1], t0), (true, 35));
    assert_eq!(ended_at(&conns[0], t0), (false, 35));
}

#[tokio::test(start_paused = true)]
async fn on_sockets_a_scripted_slow_fraction_is_hedged_and_nothing_else() {
    const CALLS: u32 = 100;
    // Every 20th key is slow on its first attempt.
    let server = SlowServer::start(
        |key, attempt| {
            Reply::ok_after(if key % 20 == 0 && attempt == 1 {
                2000
            } else {
                5
            })
        },
        200,
    )
    .await;
    let addr = server.addr();
    let mut calls = JoinSet::new();
    for key in 0..CALLS {
        calls.spawn(async move {
            persevere::hedge_with_attempt(|attempt| slow::get(addr, key, attempt))
                .delay(20 * MS)
                .classify(slow::classify)
                .await
                .map(|won| (key, won.winner(), won.elapsed()))
        });
    }
    let mut hedged = Vec::new();
    while let Some(done) = calls.join_next().await {
        let (key, winner, elapsed) = done.unwrap().unwrap();
        if winner == 2 {
            assert_eq!(elapsed, 25 * MS);
            hedged.push(key);
        } else {
            assert_eq!((winner, elapsed), (1, 5 * MS));
        }
    }
    hedged.sort();
    assert_eq!(hedged, [0, 20, 40, 60, 80]);
    server.settle().await;
    let conns = server.connections();
    assert_eq!(conns.len(), 105);
    let closed: Vec<_> = conns
        .iter()
        .filter(|c| matches!(c.end, End::ClosedByClient(_)))
        .map(|c| (c.key, c.attempt))
        .collect();
    assert_eq!(closed.len(), 5);
    assert!(
        closed
            .iter()
            .all(|&(key, attempt)| key % 20 == 0 && attempt == 1)
    );
}

#[tokio::test(start_paused = true)]
async fn on_sockets_no_attempt_starts_at_or_after_the_deadline() {
    // Every answer is a retryable failure, 40 ms after the request.
    let server = SlowServer::start(|_, _| Reply::fail_after(40, Answer::Retry), 50).await;
    let addr = server.addr();
    let t0 = Instant::now();
    let err = persevere::hedge_with_attempt(|attempt| slow::get(addr, 1, attempt))
        .delay(30 * MS)
        .classify(slow::classify)
        .policy(
            Fixed::new(Duration::ZERO)
                .with_max_attempts(20)
                .with_deadline(100 * MS),
        )
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::Deadline);
    assert!(err.timed_out());
    assert_eq!(err.elapsed(), 100 * MS);
    // A second later, still nothing new reached the server.
    sleep(Duration::from_secs(1)).await;
    let conns = server.connections();
    assert_eq!(conns.len() as u32, err.attempts());
    // 0: first; 30: hedge; 40: retry after the first fails; 70 and 80:
    // retries after the next two fail; at 100 the last two are dropped.
    assert_eq!(arrivals(&conns, t0), [0, 30, 40, 70, 80]);
    assert!(conns.iter().all(|c| ended_at(c, t0).1 <= 100));
    assert_eq!(ended_at(&conns[3], t0), (false, 100));
    assert_eq!(ended_at(&conns[4], t0), (false, 100));
}

#[tokio::test(start_paused = true)]
async fn on_sockets_a_terminal_error_drops_the_attempts_in_flight() {
    let server = SlowServer::start(
        |_, attempt| match attempt {
            1 => Reply::ok_after(1000),
            _ => Reply::fail_after(5, Answer::Fatal),
        },
        10,
    )
    .await;
    let addr = server.addr();
    let t0 = Instant::now();
    let err = persevere::hedge_with_attempt(|attempt| slow::get(addr, 3, attempt))
        .delay(20 * MS)
        .classify(slow::classify)
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 2));
    assert!(matches!(err.last_error(), Some(slow::Failure::Fatal)));
    server.settle().await;
    let conns = server.connections();
    assert_eq!(arrivals(&conns, t0), [0, 20]);
    assert_eq!(ended_at(&conns[1], t0), (true, 25));
    assert_eq!(ended_at(&conns[0], t0), (false, 25));
}

#[tokio::test(start_paused = true)]
async fn on_sockets_a_refused_hedge_budget_sends_no_hedge() {
    let server = SlowServer::start(|_, _| Reply::ok_after(200), 10).await;
    let addr = server.addr();
    let refusing = HedgeBudget::new().with_ratio(0.0).with_min_per_second(0);
    let won = persevere::hedge_with_attempt(|attempt| slow::get(addr, 9, attempt))
        .delay(10 * MS)
        .classify(slow::classify)
        .hedge_budget(&refusing)
        .await
        .unwrap();
    assert_eq!(
        (won.attempts(), won.winner(), won.elapsed()),
        (1, 1, 200 * MS)
    );
    server.settle().await;
    assert_eq!(server.connections().len(), 1);
}

#[tokio::test(start_paused = true)]
async fn on_sockets_cancelling_the_call_closes_every_attempt() {
    let server = SlowServer::start(|_, _| Reply::ok_after(1000), 10).await;
    let addr = server.addr();
    let t0 = Instant::now();
    let call = persevere::hedge_with_attempt(|attempt| slow::get(addr, 5, attempt))
        .delay(10 * MS)
        .max_in_flight(3)
        .policy(Fixed::new(Duration::ZERO).with_max_attempts(5))
        .classify(slow::classify);
    assert!(tokio::time::timeout(50 * MS, call).await.is_err());
    server.settle().await;
    let conns = server.connections();
    assert_eq!(arrivals(&conns, t0), [0, 10, 20]);
    for conn in &conns {
        assert_eq!(ended_at(conn, t0), (false, 50));
    }
    sleep(Duration::from_secs(2)).await;
    assert_eq!(server.connections().len(), 3);
}

// ---- Scale ------------------------------------------------------------------

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn ten_thousand_concurrent_hedged_calls_on_one_thread() {
    const CALLS: u32 = 10_000;
    let tracker = Arc::new(LatencyTracker::new(95.0).with_fallback(20 * MS));
    let budget = Arc::new(HedgeBudget::new());
    let attempts = Arc::new(std::sync::atomic::AtomicU32::new(0));
    let mut calls = JoinSet::new();
    for key in 0..CALLS {
        let (tracker, budget, attempts) = (tracker.clone(), budget.clone(), attempts.clone());
        calls.spawn(async move {
            persevere::hedge_with_attempt(|n| {
                attempts.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                let slow = key % 50 == 0 && n == 1;
                async move {
                    sleep(if slow { Duration::from_secs(1) } else { 5 * MS }).await;
                    Ok::<_, ()>(key)
                }
            })
            .delay(tracker)
            .hedge_budget(budget)
            .await
            .unwrap()
        });
    }
    let mut hedged = 0;
    while let Some(done) = calls.join_next().await {
        let won = done.unwrap();
        hedged += u32::from(won.hedged());
        assert!(won.elapsed() <= 25 * MS, "{won:?}");
    }
    // All 10,000 started at once, before the tracker had samples: each slow
    // one was hedged at the 20 ms fallback, and no fast one.
    assert_eq!(hedged, CALLS / 50);
    let total = attempts.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!(total, CALLS + CALLS / 50);
}

#[tokio::test(start_paused = true)]
async fn idempotency_applies_to_the_failures_of_a_hedged_call() {
    use persevere::classify::{Idempotency, io::IoErrors};
    use std::io::{Error, ErrorKind};
    let attempts = std::cell::Cell::new(0);
    let op = || {
        attempts.set(attempts.get() + 1);
        async { Err::<(), _>(Error::from(ErrorKind::ConnectionReset)) }
    };
    // A POST without an idempotency key: the reset is terminal.
    let err = persevere::hedge(op)
        .classify(Idempotency::for_method(IoErrors, "POST", false))
        .await
        .unwrap_err();
    assert_eq!((err.reason(), attempts.get()), (StopReason::Terminal, 1));
    // A PUT is idempotent: the reset is retried, up to the attempt cap.
    let err = persevere::hedge(op)
        .classify(Idempotency::for_method(IoErrors, "PUT", false))
        .await
        .unwrap_err();
    assert_eq!(
        (err.reason(), attempts.get()),
        (StopReason::AttemptsExhausted, 4)
    );
}

mod tracker_bounds {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// The estimate is never below the true percentile of the samples,
        /// and at most 12.5 % (plus a microsecond) above it.
        #[test]
        fn the_estimate_brackets_the_true_percentile(
            samples in prop::collection::vec(0u64..5_000_000, 1..400),
            percentile in 0.0f64..=100.0,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .start_paused(true)
                .build()
                .unwrap();
            let estimate = rt.block_on(async {
                let tracker = LatencyTracker::new(percentile).with_min_samples(1);
                for &micros in &samples {
                    tracker.record(Duration::from_micros(micros));
                }
                tracker.estimate().unwrap()
            });
            let mut sorted = samples.clone();
            sorted.sort_unstable();
            // The percentile is kept to a millionth, as documented.
            let per_million = (percentile * 10_000.0).round() as usize;
            let rank = (sorted.len() * per_million).div_ceil(1_000_000).max(1);
            let truth = Duration::from_micros(sorted[rank - 1]);
            prop_assert!(estimate >= truth, "{estimate:?} < {truth:?}");
            prop_assert!(
                estimate <= truth + truth / 8 + Duration::from_micros(1),
                "{estimate:?} > {truth:?} + 12.5 %"
            );
        }
    }
}
