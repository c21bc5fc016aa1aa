//! persevere's combinator against a bare `.await`, a hand-written loop and the
//! peer crates, in one run: the success path, three zero-delay retries on the
//! paused and on the real clock, and many concurrent retrying calls.
//!
//! Every column builds its policy per call, as user code does.

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::hint::black_box;
use std::io::{Error, ErrorKind};
use std::mem::size_of_val;
use std::time::Duration;
use tokio::runtime::{Builder, Runtime};

fn runtime(paused: bool) -> Runtime {
    Builder::new_current_thread()
        .enable_time()
        .start_paused(paused)
        .build()
        .unwrap()
}

/// An op that fails `failures` times, then returns 42; fresh per call.
fn flaky(failures: u32) -> impl FnMut() -> std::future::Ready<Result<u32, Error>> {
    let mut n = 0;
    move || {
        n += 1;
        std::future::ready(if n <= failures {
            Err(Error::from(ErrorKind::ConnectionReset))
        } else {
            Ok(black_box(42))
        })
    }
}

/// The minimal retry loop a user would write by hand: at most `max` attempts,
/// sleeping `delay` between them. A zero delay yields to the scheduler or,
/// when `cooperative`, spends one unit of tokio's cooperative budget (which
/// yields only when the budget runs out), as persevere does.
async fn hand_written<F, Fut, T, E>(
    mut op: F,
    max: u32,
    delay: Duration,
    cooperative: bool,
) -> Result<T, E>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, E>>,
{
    let mut attempt = 0;
    loop {
        attempt += 1;
        match op().await {
            Ok(value) => return Ok(value),
            Err(error) if attempt >= max => return Err(error),
            Err(_) if delay.is_zero() && cooperative => tokio::task::coop::consume_budget().await,
            Err(_) if delay.is_zero() => tokio::task::yield_now().await,
            Err(_) => tokio::time::sleep(delay).await,
        }
    }
}

// Each library's retrying call, at most 4 attempts with zero delay: the
// benches await them, and `print_future_sizes` measures the same futures.

fn persevere_call(failures: u32) -> impl Future<Output = Result<u32, impl Debug>> {
    use persevere::{Fixed, RetryPolicyExt};
    persevere::retry(flaky(failures))
        .policy(Fixed::new(Duration::ZERO).with_max_attempts(4))
        .into_future()
}

fn persevere_default_call(failures: u32) -> impl Future<Output = Result<u32, impl Debug>> {
    persevere::retry(flaky(failures)).into_future()
}

fn persevere_budget_call(
    failures: u32,
    budget: &persevere::budget::TokenBucket,
) -> impl Future<Output = Result<u32, impl Debug>> {
    use persevere::{Fixed, RetryPolicyExt};
    persevere::retry(flaky(failures))
        .policy(Fixed::new(Duration::ZERO).with_max_attempts(4))
        .budget(budget)
        .into_future()
}

fn backon_call(failures: u32) -> impl Future<Output = Result<u32, impl Debug>> {
    use backon::{ConstantBuilder, Retryable};
    flaky(failures).retry(
        ConstantBuilder::new()
            .with_delay(Duration::ZERO)
            .with_max_times(3),
    )
}

fn tokio_retry2_call(failures: u32) -> impl Future<Output = Result<u32, impl Debug>> {
    use tokio_retry2::strategy::FixedInterval;
    use tokio_retry2::{Retry, RetryError};
    let mut op = flaky(failures);
    let action = move || {
        let result = op().into_inner().map_err(RetryError::transient);
        std::future::ready(result)
    };
    Retry::spawn(FixedInterval::new(Duration::ZERO).take(3), action)
}

/// backoff 0.4's `Constant` has no retry cap: with at most 3 failures the op
/// makes the same attempts as the others.
fn backoff_call(failures: u32) -> impl Future<Output = Result<u32, impl Debug>> {
    let mut op = flaky(failures);
    let policy = backoff::backoff::Constant::new(Duration::ZERO);
    backoff::future::retry(policy, move || {
        std::future::ready(op().into_inner().map_err(backoff::Error::transient))
    })
}

fn hand_written_call(
    failures: u32,
    cooperative: bool,
) -> impl Future<Output = Result<u32, impl Debug>> {
    hand_written(flaky(failures), 4, Duration::ZERO, cooperative)
}

/// Makes the call and awaits it; it must succeed. The call is made inside
/// the future, as an `async fn` would, not moved into it.
async fn done<F, E>(call: impl FnOnce() -> F) -> u32
where
    F: Future<Output = Result<u32, E>>,
    E: Debug,
{
    call().await.unwrap()
}

/// The columns shared by the success and retry groups.
fn columns(c: &mut Criterion, group: &str, paused: bool, failures: u32) {
    let rt = runtime(paused);
    let mut g = c.benchmark_group(group);
    if failures == 0 {
        g.bench_function("bare_await", |b| {
            b.to_async(&rt).iter(|| async { flaky(0)().await.unwrap() })
        });
    }
    g.bench_function("hand_written", |b| {
        b.to_async(&rt)
            .iter(|| done(|| hand_written_call(failures, false)))
    });
    if failures > 0 {
        g.bench_function("hand_written_coop", |b| {
            b.to_async(&rt)
                .iter(|| done(|| hand_written_call(failures, true)))
        });
    }
    g.bench_function("persevere", |b| {
        b.to_async(&rt).iter(|| done(|| persevere_call(failures)))
    });
    if failures == 0 {
        g.bench_function("persevere_default", |b| {
            b.to_async(&rt)
                .iter(|| done(|| persevere_default_call(failures)))
        });
    }
    // Shared by every call: refunding all a retried call took keeps it in a
    // steady state (the AWS rule, the latest retry only, would drain it and
    // the calls would start failing).
    let bucket =
        persevere::budget::TokenBucket::new().with_refund(persevere::budget::Refund::AllRetries);
    g.bench_function("persevere_budget", |b| {
        b.to_async(&rt)
            .iter(|| done(|| persevere_budget_call(failures, &bucket)))
    });
    g.bench_function("tokio_retry2", |b| {
        b.to_async(&rt)
            .iter(|| done(|| tokio_retry2_call(failures)))
    });
    g.bench_function("backon", |b| {
        b.to_async(&rt).iter(|| done(|| backon_call(failures)))
    });
    g.bench_function("backoff", |b| {
        b.to_async(&rt).iter(|| done(|| backoff_call(failures)))
    });
    g.finish();
}

fn success(c: &mut Criterion) {
    columns(c, "success", false, 0);
}

fn retry3_paused(c: &mut Criterion) {
    columns(c, "retry3_paused", true, 3);
}

fn retry3_real(c: &mut Criterion) {
    columns(c, "retry3_real", false, 3);
}

/// 10,000 concurrent calls, each failing twice with a 10 ms delay, on the
/// paused clock. Also prints each library's future size for a trivial op.
fn concurrent(c: &mut Criterion) {
    use persevere::{Fixed, RetryPolicyExt};
    print_future_sizes();
    let rt = runtime(true);
    let mut g = c.benchmark_group("concurrent");
    g.sample_size(10);
    let calls = 10_000u32;
    g.bench_with_input(BenchmarkId::new("persevere", calls), &calls, |b, &calls| {
        b.to_async(&rt).iter(|| async move {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..calls {
                set.spawn(
                    persevere::retry(flaky(2))
                        .policy(Fixed::new(Duration::from_millis(10)).with_max_attempts(3))
                        .into_future(),
                );
            }
            while let Some(done) = set.join_next().await {
                black_box(done.unwrap().unwrap());
            }
        })
    });
    g.bench_with_input(
        BenchmarkId::new("hand_written", calls),
        &calls,
        |b, &calls| {
            b.to_async(&rt).iter(|| async move {
                let mut set = tokio::task::JoinSet::new();
                for _ in 0..calls {
                    set.spawn(hand_written(flaky(2), 3, Duration::from_millis(10), false));
                }
                while let Some(done) = set.join_next().await {
                    black_box(done.unwrap().unwrap());
                }
            })
        },
    );
    g.finish();
}

/// The size of each library's own retry future for the same trivial op: the
/// very futures the other groups await.
fn print_future_sizes() {
    // Shared by every call: refunding all a retried call took keeps it in a
    // steady state (the AWS rule, the latest retry only, would drain it and
    // the calls would start failing).
    let bucket =
        persevere::budget::TokenBucket::new().with_refund(persevere::budget::Refund::AllRetries);
    println!(
        "future size in bytes: persevere {} (default policy {}, with a budget {}), \
         hand_written {}, tokio_retry2 {}, backon {}, backoff {}",
        size_of_val(&persevere_call(0)),
        size_of_val(&persevere_default_call(0)),
        size_of_val(&persevere_budget_call(0, &bucket)),
        size_of_val(&hand_written_call(0, false)),
        size_of_val(&tokio_retry2_call(0)),
        size_of_val(&backon_call(0)),
        size_of_val(&backoff_call(0)),
    );
}

criterion_group!(benches, success, retry3_paused, retry3_real, concurrent);
criterion_main!(benches);
