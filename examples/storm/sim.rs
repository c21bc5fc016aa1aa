//! The simulation core of the `storm` example, shared with `tests/budget.rs`.
//!
//! Everything runs on tokio's paused clock: sleeps take no real time, so a
//! minute of traffic simulates in about a second. Calls go through the real
//! `persevere::retry` combinator, policies and budgets.

#![allow(dead_code)] // each includer uses a part

use persevere::budget::{
    AdaptiveThrottle, GrpcThrottle, NoBudget, RatioBudget, RetryBudget, TokenBucket,
};
use persevere::{Exponential, Fixed, Jitter, RetryPolicy, presets};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::{Instant, sleep, sleep_until};

/// The width of one bucket of the time series.
pub const BUCKET: Duration = Duration::from_millis(100);

/// The budgets compared in the outage scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Budget {
    None,
    TokenBucket,
    Grpc,
    Ratio,
    Adaptive,
}

impl Budget {
    pub const ALL: [Budget; 5] = [
        Budget::None,
        Budget::TokenBucket,
        Budget::Grpc,
        Budget::Ratio,
        Budget::Adaptive,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Budget::None => "none",
            Budget::TokenBucket => "token-bucket",
            Budget::Grpc => "grpc",
            Budget::Ratio => "ratio",
            Budget::Adaptive => "adaptive",
        }
    }

    /// A fresh budget with the crate's defaults; `seed` only seeds the
    /// adaptive throttle's draws.
    pub fn make(self, seed: u64) -> Arc<dyn RetryBudget> {
        match self {
            Budget::None => Arc::new(NoBudget),
            Budget::TokenBucket => Arc::new(TokenBucket::new()),
            Budget::Grpc => Arc::new(GrpcThrottle::default()),
            Budget::Ratio => Arc::new(RatioBudget::new()),
            Budget::Adaptive => Arc::new(AdaptiveThrottle::new().with_seed(seed)),
        }
    }
}

/// Scenario B: steady traffic against a dependency that goes fully down.
#[derive(Debug, Clone, Copy)]
pub struct Outage {
    /// Calls per second, over all processes.
    pub calls_per_second: u32,
    /// Processes sharing the traffic evenly, each with its own budget.
    pub processes: u32,
    /// Normal traffic before the outage.
    pub warmup: Duration,
    /// How long the dependency fails every attempt.
    pub outage: Duration,
    /// Normal traffic after the outage.
    pub tail: Duration,
    /// The dependency's round trip.
    pub latency: Duration,
    /// Attempts the dependency can serve per second once up; more fail.
    pub capacity_per_second: u32,
}

impl Outage {
    /// The scenario: 1,000 calls/s, down for 60 s.
    pub fn standard() -> Self {
        Outage {
            calls_per_second: 1000,
            processes: 1,
            warmup: Duration::from_secs(10),
            outage: Duration::from_secs(60),
            tail: Duration::from_secs(10),
            latency: Duration::from_millis(10),
            capacity_per_second: 1500,
        }
    }
}

/// What an outage run measured.
#[derive(Debug, Clone)]
pub struct OutageResult {
    pub budget: Budget,
    /// Calls started during the outage.
    pub outage_calls: u64,
    /// Attempts that reached the dependency during the outage.
    pub outage_attempts: u64,
    /// Calls that failed, over the whole run.
    pub failed_calls: u64,
    /// From the end of the outage to the first 100 ms with no failed attempt.
    pub recovery: Duration,
    /// Attempts reaching the dependency per 100 ms, from the start.
    pub attempts: Vec<u32>,
}

impl OutageResult {
    /// Attempts reaching the dependency per call made, during the outage.
    pub fn amplification(&self) -> f64 {
        self.outage_attempts as f64 / self.outage_calls.max(1) as f64
    }
}

#[derive(Debug)]
struct Unavailable;

#[derive(Default)]
struct Series {
    attempts: Vec<u32>,
    failures: Vec<u32>,
}

/// Runs scenario B with `budget` on a paused current-thread runtime.
pub fn outage(config: Outage, budget: Budget) -> OutageResult {
    paused_runtime().block_on(run_outage(config, budget))
}

async fn run_outage(config: Outage, kind: Budget) -> OutageResult {
    let start = Instant::now();
    let total = config.warmup + config.outage + config.tail;
    let buckets = (total.as_millis() / BUCKET.as_millis()) as usize + 100;
    let series = Arc::new(Mutex::new(Series {
        attempts: vec![0; buckets],
        failures: vec![0; buckets],
    }));
    let budgets: Vec<_> = (0..config.processes.max(1))
        .map(|p| kind.make(u64::from(p)))
        .collect();
    let per_bucket_capacity =
        (u64::from(config.capacity_per_second) * BUCKET.as_millis() as u64 / 1000) as u32;
    let (down_from, down_until) = (config.warmup, config.warmup + config.outage);
    let interval = Duration::from_secs(1) / config.calls_per_second.max(1);
    let calls = (total.as_nanos() / interval.as_nanos()) as u64;
    let (mut outage_calls, mut handles) = (0u64, Vec::with_capacity(calls as usize));
    for i in 0..calls {
        let at = interval * i as u32;
        sleep_until(start + at).await;
        if (down_from..down_until).contains(&at) {
            outage_calls += 1;
        }
        let budget = Arc::clone(&budgets[(i % budgets.len() as u64) as usize]);
        let series = Arc::clone(&series);
        let latency = config.latency;
        handles.push(tokio::spawn(async move {
            persevere::retry(|| {
                let series = Arc::clone(&series);
                async move {
                    let t = start.elapsed();
                    let bucket = (t.as_millis() / BUCKET.as_millis()) as usize;
                    let overloaded = {
                        let mut s = series.lock().unwrap();
                        let n = s.attempts.len();
                        let b = bucket.min(n - 1);
                        s.attempts[b] += 1;
                        let failed = (down_from..down_until).contains(&t)
                            || s.attempts[b] > per_bucket_capacity;
                        if failed {
                            s.failures[b] += 1;
                        }
                        failed
                    };
                    sleep(latency).await;
                    if overloaded { Err(Unavailable) } else { Ok(()) }
                }
            })
            .policy(presets::aws_standard())
            .budget(budget)
            .jitter_seed(i)
            .await
            .is_ok()
        }));
    }
    let mut failed_calls = 0;
    for handle in handles {
        if !handle.await.unwrap() {
            failed_calls += 1;
        }
    }
    let s = series.lock().unwrap();
    let first = (down_from.as_millis() / BUCKET.as_millis()) as usize;
    let last = (down_until.as_millis() / BUCKET.as_millis()) as usize;
    let outage_attempts = s.attempts[first..last].iter().map(|&n| u64::from(n)).sum();
    let recovered = (last..s.failures.len())
        .find(|&b| s.failures[b] == 0)
        .unwrap_or(s.failures.len());
    let end = (total.as_millis() / BUCKET.as_millis()) as usize;
    OutageResult {
        budget: kind,
        outage_calls,
        outage_attempts,
        failed_calls,
        recovery: BUCKET * (recovered - last) as u32,
        attempts: s.attempts[..end].to_vec(),
    }
}

/// The backoff strategies compared in the contention scenario.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    NoBackoff,
    Exponential,
    Equal,
    Full,
    Decorrelated,
}

impl Strategy {
    pub const ALL: [Strategy; 5] = [
        Strategy::NoBackoff,
        Strategy::Exponential,
        Strategy::Equal,
        Strategy::Full,
        Strategy::Decorrelated,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Strategy::NoBackoff => "no-backoff",
            Strategy::Exponential => "exponential",
            Strategy::Equal => "equal-jitter",
            Strategy::Full => "full-jitter",
            Strategy::Decorrelated => "decorrelated",
        }
    }

    /// Base 5 ms, cap 2 s, no attempt limit.
    pub fn policy(self) -> Box<dyn RetryPolicy> {
        let exponential = |jitter| {
            Exponential::new()
                .with_initial_delay(Duration::from_millis(5))
                .with_max_delay(Duration::from_secs(2))
                .with_jitter(jitter)
        };
        match self {
            Strategy::NoBackoff => Box::new(Fixed::new(Duration::ZERO)),
            Strategy::Exponential => Box::new(exponential(Jitter::None)),
            Strategy::Equal => Box::new(exponential(Jitter::Equal)),
            Strategy::Full => Box::new(exponential(Jitter::Full)),
            Strategy::Decorrelated => Box::new(exponential(Jitter::Decorrelated)),
        }
    }
}

/// Scenario A: what one contention run measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct Contention {
    /// Conditional writes attempted by all clients.
    pub calls: u64,
    /// Until the last client's write succeeded.
    pub time: Duration,
}

/// Scenario A, the AWS Architecture Blog's model: `clients` clients each
/// read a shared record then write it back conditionally, failing if anyone
/// wrote in between, and retry with `strategy`. Averages `runs` runs.
pub fn contention(clients: u32, strategy: Strategy, runs: u32) -> Contention {
    let rt = paused_runtime();
    let mut sum = Contention::default();
    for run in 0..runs {
        let one = rt.block_on(run_contention(clients, strategy, u64::from(run)));
        sum.calls += one.calls;
        sum.time += one.time;
    }
    Contention {
        calls: sum.calls / u64::from(runs.max(1)),
        time: sum.time / runs.max(1),
    }
}

async fn run_contention(clients: u32, strategy: Strategy, run: u64) -> Contention {
    const NETWORK: Duration = Duration::from_millis(10);
    let start = Instant::now();
    let version = Arc::new(Mutex::new(0u64));
    let calls = Arc::new(Mutex::new(0u64));
    let policy: Arc<dyn RetryPolicy> = Arc::from(strategy.policy());
    let handles: Vec<_> = (0..clients)
        .map(|client| {
            let (version, calls, policy) = (version.clone(), calls.clone(), policy.clone());
            tokio::spawn(async move {
                persevere::retry(|| {
                    let (version, calls) = (version.clone(), calls.clone());
                    async move {
                        sleep(NETWORK).await; // the read
                        let seen = *version.lock().unwrap();
                        sleep(NETWORK).await; // the conditional write
                        *calls.lock().unwrap() += 1;
                        let mut current = version.lock().unwrap();
                        if *current != seen {
                            return Err("conflict");
                        }
                        *current += 1;
                        Ok(())
                    }
                })
                .policy(policy)
                .jitter_seed(run * 1_000_003 + u64::from(client))
                .await
            })
        })
        .collect();
    for handle in handles {
        handle.await.unwrap().unwrap();
    }
    let calls = *calls.lock().unwrap();
    Contention {
        calls,
        time: start.elapsed(),
    }
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}
