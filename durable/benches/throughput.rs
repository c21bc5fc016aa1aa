//! Retried jobs per second through the SQLite store: submit (one
//! `submit_many` of 1,000 jobs) → claim → failed attempt → reschedule →
//! claim → success, with 1, 4 and 16 concurrent attempts in one process.
//!
//! `submit/one_by_one` and `submit/submit_many` measure the 1,000
//! submissions alone, one `submit` after the other from one task, or in one
//! call.
//!
//! Run with `cargo bench -p persevere-durable --bench throughput`.

mod support;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use persevere_durable::{Clock, NewJob, SqliteStore, Store, SystemClock};
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

const JOBS: usize = 1000;

/// One run: `JOBS` jobs, each failing once and then succeeding, through a
/// fresh store file; returns the time from the first submit to the last
/// recorded success.
async fn run(workers: usize, round: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(dir.path().join("bench.db")).unwrap();
    let (worker, progress) = support::retried_worker(&store, workers, JOBS);
    let start = Instant::now();
    let jobs = (0..JOBS)
        .map(|i| NewJob::new(format!("{round}-{i}"), "bench", vec![0; 64]))
        .collect();
    store.submit_many(jobs, SystemClock.now()).await.unwrap();
    let wait = tokio::time::timeout(Duration::from_secs(120), progress.all_done.notified());
    worker
        .run(async { wait.await.expect("bench run finished") })
        .await;
    let elapsed = start.elapsed();
    assert_eq!(store.counts().await.unwrap().succeeded, JOBS as u64);
    elapsed
}

fn throughput(c: &mut Criterion) {
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
    for workers in [1, 4, 16] {
        group.bench_with_input(
            BenchmarkId::new("sqlite", workers),
            &workers,
            |b, &workers| {
                let round = AtomicUsize::new(0);
                b.to_async(&rt).iter_custom(|iters| {
                    let first = round.fetch_add(iters as usize, SeqCst);
                    async move {
                        let mut total = Duration::ZERO;
                        for i in 0..iters as usize {
                            total += run(workers, first + i).await;
                        }
                        total
                    }
                });
            },
        );
    }
    group.finish();

    let mut submit = c.benchmark_group("submit");
    submit
        .sample_size(10)
        .measurement_time(Duration::from_secs(5));
    submit.throughput(Throughput::Elements(JOBS as u64));
    for many in [false, true] {
        let name = if many { "submit_many" } else { "one_by_one" };
        submit.bench_function(BenchmarkId::new(name, JOBS), |b| {
            b.to_async(&rt).iter_custom(|iters| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    let dir = tempfile::tempdir().unwrap();
                    let store = SqliteStore::open(dir.path().join("bench.db")).unwrap();
                    let jobs: Vec<_> = (0..JOBS)
                        .map(|i| NewJob::new(i.to_string(), "bench", vec![0; 64]))
                        .collect();
                    let start = Instant::now();
                    if many {
                        store.submit_many(jobs, SystemClock.now()).await.unwrap();
                    } else {
                        for job in jobs {
                            store.submit(job, SystemClock.now()).await.unwrap();
                        }
                    }
                    total += start.elapsed();
                }
                total
            });
        });
    }
    submit.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
