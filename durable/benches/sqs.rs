//! Retried jobs per second through the SQS store on moto, the workload of
//! `postgres.rs`: 1,000 jobs submitted one after the other, each claimed
//! (batches of up to 64: SQS hands out 10 per receive), failing once,
//! rescheduled with no delay, claimed again and succeeding, with 1, 4 and
//! 16 concurrent attempts in one process; each run under a fresh queue
//! prefix.
//!
//! moto is a Python mock, far slower than SQS: the number says that the
//! store works at volume, not how fast SQS is. So this is one timed run per
//! worker count, printed (not a criterion statistic).
//!
//! Run with `PERSEVERE_DURABLE_SQS_ENDPOINT=http://127.0.0.1:PORT cargo
//! bench -p persevere-durable --features sqs --bench sqs` against
//! `.ci/sqs-moto.py`; without the variable it prints that it was skipped.
//! `PERSEVERE_DURABLE_SQS_BENCH_JOBS=200` runs fewer jobs (moto scans a
//! whole queue on each receive, so it slows down as the queue grows).

#[path = "../tests/sqs_support/mod.rs"]
mod sqs_support;

mod support;

use persevere_durable::{Clock, NewJob, Store, SystemClock};
use std::time::{Duration, Instant};

/// The jobs per run: 1,000 as in `postgres.rs`, or
/// `PERSEVERE_DURABLE_SQS_BENCH_JOBS` (moto slows down as a queue grows).
fn jobs() -> usize {
    std::env::var("PERSEVERE_DURABLE_SQS_BENCH_JOBS")
        .ok()
        .and_then(|n| n.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(1000)
}

/// One run under a fresh prefix; the time from the first submit to the last
/// recorded success.
async fn run(endpoint: &str, workers: usize, jobs: usize) -> Duration {
    let store = sqs_support::store(endpoint, &sqs_support::fresh_prefix());
    let (worker, progress) = support::retried_worker(&store, workers, jobs);
    let start = Instant::now();
    for i in 0..jobs {
        let job = NewJob::new(i.to_string(), "bench", vec![0; 64]);
        store.submit(job, SystemClock.now()).await.unwrap();
    }
    let wait = tokio::time::timeout(Duration::from_secs(600), progress.all_done.notified());
    worker
        .run(async { wait.await.expect("bench run finished") })
        .await;
    start.elapsed()
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` does not: then
    // only check that it builds and starts.
    if !std::env::args().any(|a| a == "--bench") {
        println!("the SQS bench runs under `cargo bench` only");
        return;
    }
    let Some(endpoint) = sqs_support::endpoint("the SQS bench") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        // The tests may have left moto's clock set: give it the wall clock.
        sqs_support::set_clock(&endpoint, None).await;
        let jobs = jobs();
        println!("retried jobs per second, SQS store on moto ({jobs} jobs, each failing once):");
        for workers in [1, 4, 16] {
            let elapsed = run(&endpoint, workers, jobs).await;
            let rate = jobs as f64 / elapsed.as_secs_f64();
            println!("  {workers:>2} workers: {rate:>7.1} jobs/s ({elapsed:.2?})");
        }
    });
}
