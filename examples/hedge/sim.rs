//! The simulation: calls at a steady rate against a dependency with a heavy
//! latency tail, each made with the real `persevere::hedge` on tokio's paused
//! clock, so a minute of traffic runs in about a second.

use persevere::JitterRng;
use persevere::hedge::{HedgeBudget, LatencyTracker};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::task::JoinSet;
use tokio::time::{Instant, sleep};

/// How the calls hedge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Never: each call is its one attempt.
    None,
    /// A second attempt after a fixed delay.
    Fixed(Duration),
    /// A second attempt after the p95 of recent call latencies.
    Adaptive,
}

impl Strategy {
    pub fn name(self) -> &'static str {
        match self {
            Strategy::None => "none",
            Strategy::Fixed(_) => "fixed",
            Strategy::Adaptive => "adaptive",
        }
    }
}

/// What a run measured.
#[derive(Debug)]
pub struct Run {
    pub strategy: Strategy,
    /// Every call's latency, sorted.
    pub latencies: Vec<Duration>,
    pub attempts: u64,
    /// The adaptive delay at the end, if any.
    pub final_delay: Option<Duration>,
}

impl Run {
    /// The `q` quantile (0..=1) of the latencies: the smallest latency that
    /// at least `q` of the calls did not exceed.
    pub fn quantile(&self, q: f64) -> Duration {
        let n = self.latencies.len();
        let rank = ((q * n as f64).ceil() as usize).clamp(1, n);
        self.latencies[rank - 1]
    }

    /// Attempts beyond one per call, as a fraction of calls.
    pub fn extra(&self) -> f64 {
        let calls = self.latencies.len() as f64;
        (self.attempts as f64 - calls) / calls
    }
}

/// The latency of one attempt: 98 % around 5 ms (a log-normal with a spread
/// of 20 %), 2 % around 1 s (0.8 to 1.2 s), drawn from a generator seeded by
/// the call and attempt, so every strategy meets the same dependency.
pub fn latency(call: u64, attempt: u32) -> Duration {
    let mut rng =
        JitterRng::from_seed(call.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ u64::from(attempt));
    if rng.unit() < 0.02 {
        return Duration::from_secs_f64(0.8 + 0.4 * rng.unit());
    }
    // Box-Muller: a standard normal from two uniforms.
    let (u1, u2) = (1.0 - rng.unit(), rng.unit());
    let normal = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
    Duration::from_secs_f64(0.005 * (0.2 * normal).exp())
}

/// Runs `calls` calls, one per `interval`, with `strategy`.
pub fn run(strategy: Strategy, calls: u64, interval: Duration) -> Run {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .expect("a current-thread runtime");
    rt.block_on(simulate(strategy, calls, interval))
}

async fn simulate(strategy: Strategy, calls: u64, interval: Duration) -> Run {
    let tracker = Arc::new(LatencyTracker::new(95.0));
    let budget = Arc::new(HedgeBudget::new());
    let attempts = Arc::new(AtomicU64::new(0));
    let latencies = Arc::new(Mutex::new(Vec::with_capacity(calls as usize)));
    let mut tasks = JoinSet::new();
    for call in 0..calls {
        let (tracker, budget) = (Arc::clone(&tracker), Arc::clone(&budget));
        let (attempts, latencies) = (Arc::clone(&attempts), Arc::clone(&latencies));
        tasks.spawn(async move {
            let op = |attempt| {
                attempts.fetch_add(1, Ordering::Relaxed);
                async move {
                    sleep(latency(call, attempt)).await;
                    Ok::<_, ()>(())
                }
            };
            let start = Instant::now();
            let hedged = persevere::hedge_with_attempt(op).hedge_budget(budget);
            let result = match strategy {
                Strategy::None => hedged.delay(None::<Duration>).await,
                Strategy::Fixed(delay) => hedged.delay(delay).await,
                Strategy::Adaptive => hedged.delay(tracker).await,
            };
            result.expect("attempts never fail");
            latencies.lock().unwrap().push(start.elapsed());
        });
        sleep(interval).await;
        // Reap the finished calls as we go, to keep the set small.
        while tasks.try_join_next().is_some() {}
    }
    while tasks.join_next().await.is_some() {}
    let mut latencies = std::mem::take(&mut *latencies.lock().unwrap());
    latencies.sort_unstable();
    use persevere::hedge::HedgeDelay;
    Run {
        strategy,
        latencies,
        attempts: attempts.load(Ordering::Relaxed),
        final_delay: (strategy == Strategy::Adaptive)
            .then(|| tracker.hedge_delay())
            .flatten(),
    }
}
