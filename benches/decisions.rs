//! The pieces a retry consults after each failure: one policy decision per
//! policy and jitter mode, one classification per classifier on a typical
//! error, and the budgets on the success path, from one thread and from two,
//! and on one retried call.

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use persevere::budget::{ClientRateLimiter, GrpcThrottle, RatioBudget, RetryBudget, TokenBucket};
use persevere::classify::http::classify_response_at;
use persevere::classify::io::classify_error;
use persevere::{
    AttemptContext, Exponential, Fixed, Jitter, JitterRng, RetryKind, RetryPolicy, RetryPolicyExt,
    presets,
};
use std::error::Error;
use std::fmt;
use std::hint::black_box;
use std::io;
use std::time::{Duration, Instant, SystemTime};

fn policy(c: &mut Criterion) {
    let mut g = c.benchmark_group("policy");
    let third = AttemptContext::new(3, Duration::from_millis(700))
        .with_previous_delay(Duration::from_millis(200))
        .with_kind(RetryKind::Transient);
    let mut rng = JitterRng::from_seed(1);
    let base = Exponential::new()
        .with_max_attempts(10)
        .with_deadline(Duration::from_secs(60));
    for (name, jitter) in [
        ("none", Jitter::None),
        ("full", Jitter::Full),
        ("equal", Jitter::Equal),
        ("decorrelated", Jitter::Decorrelated),
        ("additive", Jitter::Additive(Duration::from_secs(1))),
        ("proportional", Jitter::Proportional(0.2)),
    ] {
        let p = Exponential::new().with_jitter(jitter).with_max_attempts(10);
        g.bench_function(format!("exponential_{name}"), |b| {
            b.iter(|| black_box(p.decide(black_box(&third), &mut rng)))
        });
    }
    g.bench_function("exponential_full_with_deadline", |b| {
        b.iter(|| black_box(base.decide(black_box(&third), &mut rng)))
    });
    let fixed = Fixed::new(Duration::from_millis(100)).with_max_attempts(10);
    g.bench_function("fixed", |b| {
        b.iter(|| black_box(fixed.decide(black_box(&third), &mut rng)))
    });
    let gcs = presets::cloud_storage();
    g.bench_function("preset_cloud_storage", |b| {
        b.iter(|| black_box(gcs.decide(black_box(&third), &mut rng)))
    });
    g.finish();
}

/// An error that wraps another, as an HTTP client's error wraps the socket's.
#[derive(Debug)]
struct Wrapped(&'static str, Box<dyn Error + Send + Sync>);

impl fmt::Display for Wrapped {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl Error for Wrapped {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        Some(&*self.1)
    }
}

fn classify(c: &mut Criterion) {
    let mut g = c.benchmark_group("classify");
    let reset = io::Error::from(io::ErrorKind::ConnectionReset);
    let two_deep = Wrapped(
        "error sending request",
        Box::new(Wrapped("connection error", Box::new(reset))),
    );
    g.bench_function("io_two_levels_deep", |b| {
        b.iter(|| black_box(classify_error(black_box(&two_deep))))
    });
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_000);
    g.bench_function("http_503_retry_after_seconds", |b| {
        b.iter(|| {
            black_box(classify_response_at(
                black_box(503),
                Some(black_box("120")),
                now,
            ))
        })
    });
    g.bench_function("http_429_retry_after_date", |b| {
        b.iter(|| {
            black_box(classify_response_at(
                black_box(429),
                Some(black_box("Wed, 21 Oct 2015 07:28:00 GMT")),
                now,
            ))
        })
    });
    g.finish();
}

/// One call's worth of budget traffic on the success path: the call is
/// counted, then its first attempt succeeds.
fn one_call(budget: &dyn RetryBudget) {
    budget.on_call();
    budget.on_success(false, 0, 0);
}

/// One retried call's worth of budget traffic: the call is counted, its first
/// attempt fails, the retry withdraws, and the second attempt's success
/// refunds what was taken. The withdrawal must succeed: a refusal is a
/// different (and cheaper) path, so it panics instead of being measured.
fn retried_call(budget: &dyn RetryBudget) -> u32 {
    budget.on_call();
    budget.on_failure(Some(RetryKind::Transient));
    let taken = budget
        .try_withdraw(RetryKind::Transient)
        .expect("a fresh budget allows one retry");
    budget.on_success(true, black_box(taken), taken);
    taken
}

/// Runs `f` `iters` times on each of two threads at once; the time per run,
/// with both threads making `iters` runs each.
fn on_two_threads(iters: u64, f: impl Fn() + Sync) -> Duration {
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..2 {
            s.spawn(|| {
                for _ in 0..iters {
                    f();
                }
            });
        }
    });
    start.elapsed() / 2
}

/// Builds a budget in its initial state.
type MakeBudget = fn() -> Box<dyn RetryBudget>;

fn budget(c: &mut Criterion) {
    let mut g = c.benchmark_group("budget");
    let budgets: [(&str, MakeBudget); 3] = [
        ("token_bucket", || Box::new(TokenBucket::new())),
        ("grpc", || Box::new(GrpcThrottle::new(10, 0.1))),
        ("ratio", || Box::new(RatioBudget::new())),
    ];
    for (name, make) in budgets {
        let budget = make();
        g.bench_function(format!("{name}_success_1_thread"), |b| {
            b.iter(|| one_call(black_box(&*budget)))
        });
        g.bench_function(format!("{name}_success_2_threads"), |b| {
            b.iter_custom(|iters| on_two_threads(iters, || one_call(black_box(&*budget))))
        });
        // A budget shared by every iteration would soon refuse: gRPC's loses
        // 0.9 token per retried call, the ratio budget allows 10 % of calls.
        // Each iteration gets a fresh one, built and dropped outside the timing.
        g.bench_function(format!("{name}_withdraw_and_refund"), |b| {
            b.iter_batched_ref(
                make,
                |budget| retried_call(black_box(&**budget)),
                BatchSize::SmallInput,
            )
        });
    }
    g.finish();
}

/// One attempt's worth of rate-limiter traffic: the permit before it, and
/// the response after it.
fn one_attempt(limiter: &ClientRateLimiter) {
    black_box(limiter.before_attempt(None, None));
    limiter.on_success(false, 0, 0);
}

/// The AWS adaptive mode's limiter: off (never throttled), and on.
fn rate_limiter(c: &mut Criterion) {
    let mut g = c.benchmark_group("rate_limiter");
    let off = ClientRateLimiter::new();
    let on = ClientRateLimiter::new();
    on.on_failure(Some(RetryKind::Throttled));
    for (name, limiter) in [("off", &off), ("on", &on)] {
        g.bench_function(format!("{name}_1_thread"), |b| {
            b.iter(|| one_attempt(black_box(limiter)))
        });
        g.bench_function(format!("{name}_2_threads"), |b| {
            b.iter_custom(|iters| on_two_threads(iters, || one_attempt(black_box(limiter))))
        });
    }
    g.finish();
}

criterion_group!(benches, policy, classify, budget, rate_limiter);
criterion_main!(benches);
