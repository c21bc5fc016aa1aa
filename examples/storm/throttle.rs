//! Scenario C, throttling: 1,000 calls/s against a dependency that serves
//! 100 requests/s and throttles the rest, with the AWS SDKs' standard mode
//! (a retry quota) and adaptive mode (the quota and a client-side rate
//! limiter that slows first attempts too).

use persevere::budget::{AwsAdaptive, ClientRateLimiter, RetryBudget, TokenBucket};
use persevere::{Classification, presets};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::{JoinSet, LocalSet};
use tokio::time::{Instant, sleep_until};

/// The AWS retry modes compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Standard,
    Adaptive,
    /// Adaptive, with the limiter cutting its rate once per half second.
    AdaptiveCoalesced,
}

impl Mode {
    pub const ALL: [Mode; 3] = [Mode::Standard, Mode::Adaptive, Mode::AdaptiveCoalesced];

    pub fn name(self) -> &'static str {
        match self {
            Mode::Standard => "standard",
            Mode::Adaptive => "adaptive",
            Mode::AdaptiveCoalesced => "adaptive-coalesced",
        }
    }

    fn budget(self) -> Arc<dyn RetryBudget> {
        match self {
            Mode::Standard => Arc::new(TokenBucket::new()),
            Mode::Adaptive => Arc::new(AwsAdaptive::new()),
            Mode::AdaptiveCoalesced => Arc::new(
                AwsAdaptive::new()
                    .with_limiter(ClientRateLimiter::new().with_coalesced_throttles()),
            ),
        }
    }
}

/// What the dependency saw.
#[derive(Debug)]
pub struct ThrottleResult {
    pub mode: Mode,
    /// Attempts per second over the second half of the run.
    pub attempts_per_second: f64,
    /// The fraction of those attempts that were throttled.
    pub throttled_fraction: f64,
    /// The fraction of all calls that succeeded.
    pub succeeded: f64,
    /// Attempts in each second of the run.
    pub attempts: Vec<u32>,
}

/// The dependency's capacity, in requests per second, and the calls made.
pub const CAPACITY: f64 = 100.0;
const CALLS_PER_SECOND: u64 = 1000;

/// A token bucket of 10 requests refilled at [`CAPACITY`] per second.
struct Dependency {
    tokens: f64,
    last: Instant,
    start: Instant,
    attempts: Vec<u32>,
    throttled: Vec<u32>,
}

impl Dependency {
    fn serve(&mut self) -> bool {
        let now = Instant::now();
        self.tokens = (self.tokens + (now - self.last).as_secs_f64() * CAPACITY).min(10.0);
        self.last = now;
        let served = self.tokens >= 1.0;
        if served {
            self.tokens -= 1.0;
        }
        let second = (now - self.start).as_secs() as usize;
        if second < self.attempts.len() {
            self.attempts[second] += 1;
            self.throttled[second] += u32::from(!served);
        }
        served
    }
}

/// Runs scenario C for `seconds` in `mode` on a paused current-thread runtime.
/// Every call goes through `persevere::retry` with the mode's preset and
/// budget and a 1 s deadline.
pub fn throttle(mode: Mode, seconds: u64) -> ThrottleResult {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap();
    runtime.block_on(LocalSet::new().run_until(run(mode, seconds)))
}

async fn run(mode: Mode, seconds: u64) -> ThrottleResult {
    let start = Instant::now();
    let dependency = Rc::new(RefCell::new(Dependency {
        tokens: 10.0,
        last: start,
        start,
        attempts: vec![0; seconds as usize],
        throttled: vec![0; seconds as usize],
    }));
    let budget = mode.budget();
    let policy = match mode {
        Mode::Standard => presets::aws_standard(),
        Mode::Adaptive | Mode::AdaptiveCoalesced => presets::aws_adaptive(),
    }
    .with_deadline(Duration::from_secs(1));
    let mut calls = JoinSet::new();
    let interval = Duration::from_secs(1) / CALLS_PER_SECOND as u32;
    for i in 0..seconds * CALLS_PER_SECOND {
        sleep_until(start + interval * i as u32).await;
        let (dependency, budget) = (Rc::clone(&dependency), Arc::clone(&budget));
        calls.spawn_local(async move {
            persevere::retry(|| {
                let served = dependency.borrow_mut().serve();
                async move { if served { Ok(()) } else { Err("Throttling") } }
            })
            .policy(policy)
            .classify(|_: &&str| Classification::throttled())
            .jitter_seed(i)
            .budget(budget)
            .await
            .is_ok()
        });
    }
    let mut succeeded = 0u64;
    while let Some(ok) = calls.join_next().await {
        succeeded += u64::from(ok.unwrap());
    }
    let d = dependency.borrow();
    let half = seconds as usize / 2;
    let sent: u32 = d.attempts[half..].iter().sum();
    let throttled: u32 = d.throttled[half..].iter().sum();
    ThrottleResult {
        mode,
        attempts_per_second: f64::from(sent) / (seconds as usize - half) as f64,
        throttled_fraction: f64::from(throttled) / f64::from(sent.max(1)),
        succeeded: succeeded as f64 / (seconds * CALLS_PER_SECOND) as f64,
        attempts: d.attempts.clone(),
    }
}
