//! Retried jobs per second through the PostgreSQL store, in the shape of
//! `throughput.rs`: 1,000 jobs submitted in one `submit_many`, each claimed
//! (batches of up to 64), failing once, rescheduled with no delay, claimed
//! again and succeeding, each run in a fresh schema:
//!
//! - `postgres/N`: one process, N concurrent attempts;
//! - `postgres_2proc/N`: two processes, N concurrent attempts each: this
//!   one and a worker process (`persevere-durable-crash-worker bench`)
//!   sharing the database, started (and connected) before the clock
//!   starts, killed after the last job succeeded.
//!
//! Run with `PERSEVERE_DURABLE_POSTGRES_URL=postgres://... cargo bench -p
//! persevere-durable --features postgres --bench postgres`; without the
//! variable it prints that it was skipped.

#[path = "../tests/pg/mod.rs"]
mod pg;

mod support;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use persevere_durable::{Clock, NewJob, Store, SystemClock};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::Ordering::SeqCst;
use std::time::{Duration, Instant};

const JOBS: usize = 1000;

/// A second worker process on `schema`, connected and ready.
fn second_process(url: &str, schema: &str, concurrency: usize) -> Child {
    let sep = if url.contains('?') { '&' } else { '?' };
    let url = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let mut child = Command::new(env!("CARGO_BIN_EXE_persevere-durable-crash-worker"))
        .args(["bench", &url, &concurrency.to_string()])
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the bench worker process");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .expect("the worker process says it is ready");
    assert_eq!(line.trim(), "ready", "the worker process did not start");
    child
}

/// One run through a fresh schema, in `processes` (1 or 2) processes; the
/// time from the submit to the last success.
async fn run(url: &str, processes: usize, concurrency: usize) -> Duration {
    let schema = pg::fresh_schema(url).await;
    let store = pg::open(url, &schema, concurrency.clamp(2, 16)).await;
    let mut child = (processes > 1).then(|| second_process(url, &schema, concurrency));
    let (worker, progress) = support::retried_worker(&store, concurrency, JOBS);
    let start = Instant::now();
    let jobs = (0..JOBS)
        .map(|i| NewJob::new(i.to_string(), "bench", vec![0; 64]))
        .collect();
    store.submit_many(jobs, SystemClock.now()).await.unwrap();
    let all_done = async {
        // Bounded: 120 s at most. One process counts its successes in
        // memory (checked every 1 ms); with two, the store is asked every
        // 5 ms.
        let deadline = Instant::now() + Duration::from_secs(120);
        loop {
            assert!(Instant::now() < deadline, "bench run did not finish");
            let finished = if processes == 1 {
                progress.done.load(SeqCst) >= JOBS
            } else {
                store.counts().await.unwrap().succeeded >= JOBS as u64
            };
            if finished {
                break;
            }
            let pause = if processes == 1 { 1 } else { 5 };
            tokio::time::sleep(Duration::from_millis(pause)).await;
        }
    };
    worker.run(all_done).await;
    let elapsed = start.elapsed();
    if let Some(child) = child.as_mut() {
        let _ = child.kill();
        let _ = child.wait();
    }
    assert_eq!(store.counts().await.unwrap().succeeded, JOBS as u64);
    elapsed
}

fn throughput(c: &mut Criterion) {
    let Some(url) = pg::url("the PostgreSQL bench") else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("retried_jobs");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(10));
    group.throughput(Throughput::Elements(JOBS as u64));
    let rows = [(1, 1), (1, 4), (1, 16), (2, 1), (2, 2), (2, 8)];
    for (processes, concurrency) in rows {
        let name = if processes == 1 {
            "postgres"
        } else {
            "postgres_2proc"
        };
        group.bench_with_input(
            BenchmarkId::new(name, concurrency),
            &concurrency,
            |b, &concurrency| {
                b.to_async(&rt).iter_custom(|iters| {
                    let url = url.clone();
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += run(&url, processes, concurrency).await;
                        }
                        total
                    }
                });
            },
        );
    }
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
