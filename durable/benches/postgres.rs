//! Retried jobs per second through the PostgreSQL store, in the shape of
//! `throughput.rs`: 1,000 jobs submitted one after the other, each
//! claimed (batches of up to 64), failing once, rescheduled with no delay,
//! claimed again and succeeding, with 1, 4 and 16 concurrent attempts in
//! one process; each run in a fresh schema.
//!
//! Run with `PERSEVERE_DURABLE_POSTGRES_URL=postgres://... cargo bench -p
//! persevere-durable --features postgres --bench postgres`; without the
//! variable it prints that it was skipped.

#[path = "../tests/pg/mod.rs"]
mod pg;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use persevere::{Fixed, RetryPolicyExt};
use persevere_durable::{Clock, Delivery, Handler, NewJob, Store, SystemClock, Worker};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};
use tokio::sync::Notify;

const JOBS: usize = 1000;

/// One run through a fresh schema; the time from the first submit to the
/// last recorded success.
async fn run(url: &str, workers: usize) -> Duration {
    let schema = pg::fresh_schema(url).await;
    let store = pg::open(url, &schema, workers.clamp(2, 16)).await;
    let done = Arc::new(AtomicUsize::new(0));
    let all_done = Arc::new(Notify::new());
    let (count, notify) = (Arc::clone(&done), Arc::clone(&all_done));
    let handler = Handler::new(move |job: Delivery| {
        let (count, notify) = (Arc::clone(&count), Arc::clone(&notify));
        async move {
            if job.attempt == 1 {
                return Err("first attempt fails");
            }
            if count.fetch_add(1, SeqCst) + 1 == JOBS {
                notify.notify_one();
            }
            Ok(())
        }
    })
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(3));
    let worker = Worker::builder(store.clone())
        .concurrency(workers)
        .batch(64)
        .poll_interval(Duration::from_millis(1))
        .handler("bench", handler)
        .build()
        .unwrap();
    let start = Instant::now();
    for i in 0..JOBS {
        let job = NewJob::new(i.to_string(), "bench", vec![0; 64]);
        store.submit(job, SystemClock.now()).await.unwrap();
    }
    let wait = tokio::time::timeout(Duration::from_secs(120), all_done.notified());
    worker
        .run(async { wait.await.expect("bench run finished") })
        .await;
    let elapsed = start.elapsed();
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
    for workers in [1, 4, 16] {
        group.bench_with_input(
            BenchmarkId::new("postgres", workers),
            &workers,
            |b, &workers| {
                b.to_async(&rt).iter_custom(|iters| {
                    let url = url.clone();
                    async move {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            total += run(&url, workers).await;
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
