//! The AWS adaptive mode's client-side rate limiter through the combinator,
//! on tokio's paused clock.

use persevere::budget::{AwsAdaptive, ClientRateLimiter, RetryBudget, TokenBucket};
use persevere::{
    Classification, Fixed, RetryEvent, RetryKind, RetryPolicyExt, StopReason, presets,
};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// A limiter that a throttling error has turned on, with an empty bucket
/// filling at its floor of 0.5 tokens per second: a first attempt waits 2 s.
fn throttled_limiter() -> ClientRateLimiter {
    let limiter = ClientRateLimiter::new();
    limiter.on_failure(Some(RetryKind::Throttled));
    limiter
}

#[tokio::test(start_paused = true)]
async fn a_first_attempt_waits_for_its_token_and_the_clock_counts_the_wait() {
    let limiter = throttled_limiter();
    let start = Instant::now();
    let mut started = None;
    let value = persevere::retry(|| {
        started.get_or_insert_with(Instant::now);
        async { Ok::<_, &str>("sent") }
    })
    .budget(&limiter)
    .await
    .unwrap();
    assert_eq!(value, "sent");
    assert_eq!(started.unwrap() - start, Duration::from_secs(2));
}

#[tokio::test(start_paused = true)]
async fn a_wait_past_the_deadline_or_the_attempt_timeout_stops_at_once() {
    let deadline = Fixed::new(Duration::from_millis(10)).with_deadline(Duration::from_secs(1));
    let limiter = throttled_limiter();
    let start = Instant::now();
    let err = persevere::retry(|| async { Ok::<_, &str>(()) })
        .policy(deadline)
        .budget(&limiter)
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::RateLimited, 0));
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(err.to_string().ends_with("no attempt was made"), "{err}");

    let limiter = throttled_limiter();
    let err = persevere::retry(|| async { Ok::<_, &str>(()) })
        .attempt_timeout(Duration::from_secs(1))
        .budget(&limiter)
        .await
        .unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::RateLimited, 0));

    // The blocking call waits on its thread, and stops the same way.
    let err = persevere::retry(|| Ok::<_, &str>(()))
        .policy(deadline)
        .budget(&throttled_limiter())
        .call()
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::RateLimited);
}

#[tokio::test(start_paused = true)]
async fn a_retry_sleeps_the_longer_of_the_backoff_and_the_limiters_wait() {
    let limiter = Arc::new(ClientRateLimiter::new());
    let delays = Rc::new(RefCell::new(Vec::new()));
    let seen = Rc::clone(&delays);
    let start = Instant::now();
    let err = persevere::retry(|| async { Err::<(), _>("SlowDown") })
        .policy(Fixed::new(Duration::from_millis(10)).with_max_attempts(3))
        .classify(|_: &&str| Classification::throttled())
        .budget(Arc::clone(&limiter))
        .notify(move |e: &RetryEvent<'_, &str>| seen.borrow_mut().push(e.delay()))
        .await
        .unwrap_err();
    assert_eq!(err.attempts(), 3);
    // The first throttle turned the limiter on: each retry (5 tokens) waits
    // for the bucket, far longer than the 10 ms backoff, and the call slept
    // exactly what notify announced.
    let delays = delays.borrow();
    assert_eq!(delays.len(), 2);
    assert!(
        delays.iter().all(|&d| d > Duration::from_secs(1)),
        "{delays:?}"
    );
    assert_eq!(start.elapsed(), delays.iter().sum::<Duration>());
    assert!(limiter.is_enabled());
}

#[tokio::test(start_paused = true)]
async fn a_limiter_that_was_never_throttled_costs_no_wait() {
    let adaptive = AwsAdaptive::new();
    let start = Instant::now();
    for _ in 0..100 {
        persevere::retry(|| async { Ok::<_, &str>(()) })
            .policy(presets::aws_adaptive())
            .budget(&adaptive)
            .await
            .unwrap();
    }
    assert_eq!(start.elapsed(), Duration::ZERO);
    assert!(!adaptive.limiter().is_enabled());
    assert_eq!(adaptive.quota().available(), TokenBucket::new().available());
}

/// A dependency that serves 100 requests per second (a bucket of 10 that
/// refills every 10 ms) and throttles the rest.
struct Dependency {
    tokens: f64,
    last: Instant,
    attempts: Vec<(Instant, bool)>,
}

impl Dependency {
    fn serve(&mut self) -> bool {
        let now = Instant::now();
        let refill = (now - self.last).as_secs_f64() * 100.0;
        self.tokens = (self.tokens + refill).min(10.0);
        self.last = now;
        let served = self.tokens >= 1.0;
        if served {
            self.tokens -= 1.0;
        }
        self.attempts.push((now, served));
        served
    }
}

/// 1,000 calls per second for `seconds` against the dependency, every call
/// through `persevere::retry` with `budget` and a 1 s deadline; the attempts
/// per second and the fraction throttled over the last half of the run.
async fn throttled_run(budget: Arc<dyn RetryBudget>, seconds: u64) -> (f64, f64) {
    let start = Instant::now();
    let dependency = Rc::new(RefCell::new(Dependency {
        tokens: 10.0,
        last: start,
        attempts: Vec::new(),
    }));
    let local = tokio::task::LocalSet::new();
    local
        .run_until(async {
            let mut calls = tokio::task::JoinSet::new();
            for i in 0..seconds * 1000 {
                tokio::time::sleep_until(start + Duration::from_millis(i)).await;
                let (dependency, budget) = (Rc::clone(&dependency), Arc::clone(&budget));
                calls.spawn_local(async move {
                    let _ = persevere::retry(|| {
                        let served = dependency.borrow_mut().serve();
                        async move { if served { Ok(()) } else { Err("Throttling") } }
                    })
                    .policy(presets::aws_adaptive().with_deadline(Duration::from_secs(1)))
                    .classify(|_: &&str| Classification::throttled())
                    .jitter_seed(i)
                    .budget(budget)
                    .await;
                });
            }
            while calls.join_next().await.is_some() {}
        })
        .await;
    let half = start + Duration::from_secs(seconds / 2);
    let end = start + Duration::from_secs(seconds);
    let late: Vec<_> = dependency
        .borrow()
        .attempts
        .iter()
        .filter(|(t, _)| *t >= half && *t < end)
        .map(|&(_, served)| served)
        .collect();
    let per_second = late.len() as f64 / (seconds / 2) as f64;
    let throttled = late.iter().filter(|&&served| !served).count() as f64 / late.len() as f64;
    (per_second, throttled)
}

#[tokio::test(start_paused = true)]
async fn adaptive_mode_settles_near_what_the_dependency_serves() {
    let (adaptive_rate, adaptive_throttled) = throttled_run(Arc::new(AwsAdaptive::new()), 40).await;
    let coalesced =
        AwsAdaptive::new().with_limiter(ClientRateLimiter::new().with_coalesced_throttles());
    let (coalesced_rate, coalesced_throttled) = throttled_run(Arc::new(coalesced), 40).await;
    let (standard_rate, standard_throttled) = throttled_run(Arc::new(TokenBucket::new()), 40).await;
    println!(
        "adaptive: {adaptive_rate:.0} attempts/s, {adaptive_throttled:.3} throttled; \
         coalesced: {coalesced_rate:.0} attempts/s, {coalesced_throttled:.3} throttled; \
         standard: {standard_rate:.0} attempts/s, {standard_throttled:.3} throttled"
    );
    // The dependency serves 100/s. Adaptive mode sends a fraction of the
    // calls, few of its attempts are throttled, and it never starves: it
    // probes above 100/s, and each throttled response cuts its rate by 0.7,
    // as the SDKs do, so it runs below the dependency's rate on average.
    // Standard mode sends every call, and most are throttled.
    assert!((20.0..=150.0).contains(&adaptive_rate), "{adaptive_rate}");
    assert!(adaptive_throttled < 0.2, "{adaptive_throttled}");
    // Cutting once per half second of throttles, it settles near 100/s.
    assert!((70.0..=130.0).contains(&coalesced_rate), "{coalesced_rate}");
    assert!(coalesced_throttled < 0.1, "{coalesced_throttled}");
    assert!(standard_rate >= 1000.0, "{standard_rate}");
    assert!(standard_throttled > 0.8, "{standard_throttled}");
}
