//! One scenario, N times, for one library: the program `benches/callgrind.sh`
//! runs under `valgrind --tool=callgrind` at two values of N, so that the
//! difference in instructions, divided by the difference in N, is the cost of
//! one call with start-up cancelled out.
//!
//! ```sh
//! cargo bench --bench instructions --no-run   # builds it, with the bench (release) profile
//! target/release/deps/instructions-* success_fixed persevere 1000
//! ```
//!
//! With no scenario (as `cargo bench` and `cargo test --benches` run it) it
//! makes every call of the table once and checks that each succeeds.
//!
//! Every call builds its policy per call, as user code does, allows at most 4
//! attempts, and runs on one current-thread runtime inside a single
//! `block_on`: the real clock for the success scenarios, the paused clock for
//! the retry scenarios (as `benches/combinators.rs` does).

use std::fmt::Debug;
use std::future::{Future, IntoFuture};
use std::hint::black_box;
use std::io::{Error, ErrorKind};

/// The scenarios, in the table's order: name, failures before the success.
const SCENARIOS: &[(&str, u32)] = &[
    ("success_default", 0),
    ("success_exponential", 0),
    ("success_fixed", 0),
    ("retry3", 3),
    ("retry3_budget", 3),
    ("hedge_success", 0),
];

/// The scenarios only persevere has: its other combinators, measured against
/// its own `success_default` (see `benches/callgrind.sh`).
const PERSEVERE_ONLY: &[&str] = &["hedge_success"];

/// The libraries, in the table's order.
const LIBRARIES: &[&str] = &[
    "persevere",
    "hand_written",
    "hand_written_coop",
    "tokio_retry2",
    "backon",
    "backoff",
];

/// An op that fails `failures` times, then returns 42; fresh per call. `S`
/// is the scenario's index: each scenario gets an op of its own type, so that
/// no two scenarios share a retry future's code, as two call sites in a
/// program never do, and the compiler inlines each as if it ran alone.
fn flaky<const S: usize>(failures: u32) -> impl FnMut() -> std::future::Ready<Result<u32, Error>> {
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

/// At most `max` attempts; a failure yields to the scheduler or, when
/// `cooperative`, spends one unit of tokio's cooperative budget (as persevere
/// does for a zero delay).
async fn hand_written<F, Fut, T, E>(mut op: F, max: u32, cooperative: bool) -> Result<T, E>
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
            Err(_) if cooperative => tokio::task::coop::consume_budget().await,
            Err(_) => tokio::task::yield_now().await,
        }
    }
}

/// Builds a retrying call and awaits it; it must succeed. The call is built
/// inside the awaited future, as in an `async fn` that writes
/// `retry(op).policy(p).await`, not built outside and moved in.
async fn done<C, E>(call: impl FnOnce() -> C) -> u32
where
    C: IntoFuture<Output = Result<u32, E>>,
    E: Debug,
{
    call().await.unwrap()
}

/// Makes `n` calls on a fresh current-thread runtime (paused when the calls
/// retry), each made by `make` inside the one awaited future, and checks that
/// each returned 42.
fn drive<Fut: Future<Output = u32>>(paused: bool, n: u64, mut make: impl FnMut() -> Fut) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(paused)
        .build()
        .unwrap();
    let total = rt.block_on(async {
        let mut total = 0u64;
        for _ in 0..n {
            total += u64::from(make().await);
        }
        total
    });
    assert_eq!(total, 42 * n);
}

/// Makes `n` calls of `scenario` with `library`. The match runs once; the
/// loop in [`drive`] is compiled apart for each pair, so it measures only the
/// call. Every policy is written with literal delays, as user code does, so
/// the compiler may fold its construction as it would there.
fn run(scenario: &str, library: &str, n: u64) {
    match SCENARIOS.iter().position(|(name, _)| *name == scenario) {
        Some(0) => measure::<0>(library, n),
        Some(1) => measure::<1>(library, n),
        Some(2) => measure::<2>(library, n),
        Some(3) => measure::<3>(library, n),
        Some(4) => measure::<4>(library, n),
        Some(5) => measure::<5>(library, n),
        _ => panic!("unknown scenario {scenario}"),
    }
}

/// [`run`] for the scenario `SCENARIOS[S]`.
fn measure<const S: usize>(library: &str, n: u64) {
    use persevere::{Exponential, Fixed, RetryPolicyExt};
    use std::time::Duration as D;
    let (scenario, f) = SCENARIOS[S];
    // The peers' policies: a constant 100 ms delay on the success path (an
    // exponential one from 100 ms in `success_exponential`), zero for retries.
    let kind = match scenario {
        "success_exponential" => "exponential",
        _ if f == 0 => "constant",
        _ => "zero",
    };
    let p = f > 0;
    // Shared by every call: refunding all a retried call took keeps it in a
    // steady state (the AWS rule, the latest retry only, would drain it and
    // the calls would start failing).
    let bucket =
        persevere::budget::TokenBucket::new().with_refund(persevere::budget::Refund::AllRetries);
    match (library, scenario, kind) {
        ("persevere", "success_default", _) => {
            drive(p, n, || done(|| persevere::retry(flaky::<S>(f))))
        }
        ("persevere", "success_exponential", _) => drive(p, n, || {
            done(|| persevere::retry(flaky::<S>(f)).policy(Exponential::new().with_max_attempts(4)))
        }),
        ("persevere", "success_fixed", _) => drive(p, n, || {
            done(|| {
                persevere::retry(flaky::<S>(f))
                    .policy(Fixed::new(D::from_millis(100)).with_max_attempts(4))
            })
        }),
        ("persevere", "retry3", _) => drive(p, n, || {
            done(|| {
                persevere::retry(flaky::<S>(f)).policy(Fixed::new(D::ZERO).with_max_attempts(4))
            })
        }),
        ("persevere", "retry3_budget", _) => drive(p, n, || {
            done(|| {
                let policy = Fixed::new(D::ZERO).with_max_attempts(4);
                persevere::retry(flaky::<S>(f))
                    .policy(policy)
                    .budget(&bucket)
            })
        }),
        // A hedged call (default: 10 ms fixed delay, at most 2 in flight and
        // 3 in all) whose first attempt answers at once.
        ("persevere", "hedge_success", _) => drive(p, n, || {
            done(|| async {
                persevere::hedge(flaky::<S>(f))
                    .await
                    .map(|won| won.into_inner())
            })
        }),
        (_, "hedge_success", _) => panic!("hedge_success is measured for persevere only"),
        ("hand_written", ..) => drive(p, n, || done(|| hand_written(flaky::<S>(f), 4, false))),
        ("hand_written_coop", ..) => drive(p, n, || done(|| hand_written(flaky::<S>(f), 4, true))),
        ("tokio_retry2", _, "exponential") => drive(p, n, || {
            use tokio_retry2::strategy::ExponentialBackoff;
            done(|| {
                // 2^n × 50 ms: 100 ms, 200 ms, 400 ms.
                let strategy = ExponentialBackoff::from_millis(2)
                    .factor(50)
                    .max_delay(D::from_secs(20));
                tokio_retry2::Retry::spawn(strategy.take(3), tokio_retry2_op::<S>(f))
            })
        }),
        ("tokio_retry2", _, "constant") => drive(p, n, || {
            use tokio_retry2::strategy::FixedInterval;
            done(|| {
                let strategy = FixedInterval::new(D::from_millis(100)).take(3);
                tokio_retry2::Retry::spawn(strategy, tokio_retry2_op::<S>(f))
            })
        }),
        ("tokio_retry2", ..) => drive(p, n, || {
            use tokio_retry2::strategy::FixedInterval;
            done(|| {
                let strategy = FixedInterval::new(D::ZERO).take(3);
                tokio_retry2::Retry::spawn(strategy, tokio_retry2_op::<S>(f))
            })
        }),
        ("backon", _, "exponential") => drive(p, n, || {
            use backon::{ExponentialBuilder, Retryable};
            done(|| {
                let builder = ExponentialBuilder::new()
                    .with_min_delay(D::from_millis(100))
                    .with_max_delay(D::from_secs(20))
                    .with_max_times(3);
                flaky::<S>(f).retry(builder)
            })
        }),
        ("backon", _, "constant") => drive(p, n, || {
            use backon::{ConstantBuilder, Retryable};
            done(|| {
                let builder = ConstantBuilder::new()
                    .with_delay(D::from_millis(100))
                    .with_max_times(3);
                flaky::<S>(f).retry(builder)
            })
        }),
        ("backon", ..) => drive(p, n, || {
            use backon::{ConstantBuilder, Retryable};
            done(|| {
                flaky::<S>(f).retry(ConstantBuilder::new().with_delay(D::ZERO).with_max_times(3))
            })
        }),
        // backoff 0.4's `Constant` has no retry cap: with at most 3 failures
        // the op makes the same attempts as the others.
        ("backoff", _, "exponential") => drive(p, n, || {
            done(|| {
                backoff::future::retry(backoff::ExponentialBackoff::default(), backoff_op::<S>(f))
            })
        }),
        ("backoff", _, "constant") => drive(p, n, || {
            done(|| {
                let policy = backoff::backoff::Constant::new(D::from_millis(100));
                backoff::future::retry(policy, backoff_op::<S>(f))
            })
        }),
        ("backoff", ..) => drive(p, n, || {
            done(|| {
                backoff::future::retry(backoff::backoff::Constant::new(D::ZERO), backoff_op::<S>(f))
            })
        }),
        _ => panic!("unknown library {library}"),
    }
}

/// [`flaky`] with its error marked transient, as tokio-retry2 asks.
fn tokio_retry2_op<const S: usize>(
    failures: u32,
) -> impl FnMut() -> std::future::Ready<Result<u32, tokio_retry2::RetryError<Error>>> {
    let mut op = flaky::<S>(failures);
    move || {
        std::future::ready(
            op().into_inner()
                .map_err(tokio_retry2::RetryError::transient),
        )
    }
}

/// [`flaky`] with its error marked transient, as backoff asks.
fn backoff_op<const S: usize>(
    failures: u32,
) -> impl FnMut() -> std::future::Ready<Result<u32, backoff::Error<Error>>> {
    let mut op = flaky::<S>(failures);
    move || std::future::ready(op().into_inner().map_err(backoff::Error::transient))
}

/// Every (scenario, library) pair the table has.
fn pairs() -> impl Iterator<Item = (&'static str, &'static str)> {
    SCENARIOS.iter().flat_map(|&(scenario, _)| {
        LIBRARIES
            .iter()
            .filter(move |&&library| library == "persevere" || !PERSEVERE_ONLY.contains(&scenario))
            .map(move |&library| (scenario, library))
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.as_slice() {
        [scenario, library, n] => run(scenario, library, n.parse().expect("N is a count")),
        [flag] if flag == "--list" => {
            for (scenario, library) in pairs() {
                println!("{scenario} {library}");
            }
        }
        // `cargo bench` passes `--bench`; `cargo test --benches` nothing.
        _ => {
            for (scenario, library) in pairs() {
                run(scenario, library, 2);
            }
            println!("instructions: every scenario ran; measure with `bash benches/callgrind.sh`");
        }
    }
}
