//! The workload through persevere-durable, as `durable/benches/throughput.rs`
//! and `durable/benches/postgres.rs` run it: batched claims of up to 64, a
//! 1 ms poll, each failure rescheduled with no delay.

use crate::pg;
use crate::workload::{JOBS, Mode, PAYLOAD, Progress, Run};
use persevere::{Fixed, RetryPolicyExt};
use persevere_durable::{
    Clock, Delivery, Handler, NewJob, PostgresOptions, PostgresStore, SqliteStore, Store,
    SystemClock, Worker,
};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Submits `JOBS` jobs one after the other, then runs a worker with
/// `workers` concurrent attempts until the last success; the jobs/s from
/// the first submit to the worker's return.
async fn run<S: Store + Clone>(store: S, workers: usize, mode: Mode) -> Run {
    let progress = Arc::new(Progress::new(mode));
    let shared = Arc::clone(&progress);
    let handler = Handler::new(move |job: Delivery| {
        let progress = Arc::clone(&shared);
        async move {
            let index: usize = job.key.parse().expect("a job's key is its index");
            progress.attempt(index)
        }
    })
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(3));
    let worker = Worker::builder(store.clone())
        .concurrency(workers)
        .batch(64)
        .poll_interval(Duration::from_millis(1))
        .handler("bench", handler)
        .build()
        .expect("a valid worker");
    let start = Instant::now();
    for i in 0..JOBS {
        let job = NewJob::new(i.to_string(), "bench", vec![0; PAYLOAD]);
        store
            .submit(job, SystemClock.now())
            .await
            .expect("submitted");
    }
    let submits = start.elapsed();
    worker.run(progress.finished()).await;
    let elapsed = start.elapsed();
    progress.check().expect("persevere ran every attempt");
    Run {
        total: elapsed,
        submits,
    }
}

/// One run on a fresh SQLite file.
pub async fn sqlite(workers: usize, mode: Mode) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = SqliteStore::open(dir.path().join("persevere.db")).expect("store opened");
    let run = run(store.clone(), workers, mode).await;
    let succeeded = store.counts().await.expect("counts").succeeded;
    assert_eq!(
        succeeded, JOBS as u64,
        "persevere-sqlite recorded every success"
    );
    run
}

/// One run in a fresh schema of the server at `url`, with as many pooled
/// connections as `pg::connections` gives apalis.
pub async fn postgres(url: &str, workers: usize, mode: Mode) -> Run {
    let schema = pg::fresh_name("persevere");
    pg::execute(url, &format!("CREATE SCHEMA {schema}")).await;
    let mut config: persevere_durable::tokio_postgres::Config = url.parse().expect("a valid URL");
    config.options(format!("-c search_path={schema}"));
    let options = PostgresOptions::new().with_max_connections(pg::connections(workers));
    let store = PostgresStore::from_config(config, options).expect("pool");
    store.migrate().await.expect("migrated");
    let run = run(store.clone(), workers, mode).await;
    let succeeded = store.counts().await.expect("counts").succeeded;
    assert_eq!(
        succeeded, JOBS as u64,
        "persevere-postgres recorded every success"
    );
    drop(store);
    pg::execute(url, &format!("DROP SCHEMA {schema} CASCADE")).await;
    run
}
