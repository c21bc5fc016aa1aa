//! The workload through apalis 1.0: `apalis-sqlite` and `apalis-postgres`
//! with their defaults except a batch of 64 (as persevere's), the job's
//! failure retried by apalis's own retry layer (`RetryPolicy`), attempts
//! spawned on the runtime (`parallelize`) under a concurrency limit.
//!
//! apalis's retry layer retries inside the worker, while the job stays
//! locked; the database learns of the retry when the job's result is
//! written (`attempts = 2`). Each run checks that in the database.

use crate::pg;
use crate::workload::{JOBS, Mode, PAYLOAD, Progress, Run};
use apalis::prelude::*;
use apalis_postgres::PostgresStorage;
use apalis_sqlite::SqliteStorage;
use sqlx::postgres::PgPoolOptions;
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};
use std::sync::Arc;
use std::time::Instant;

/// A job's arguments: its index and its payload.
type Job = (usize, Vec<u8>);

/// The handler: one attempt at the job, its failure an apalis error.
async fn attempt(job: Job, progress: Data<Arc<Progress>>) -> Result<(), BoxDynError> {
    progress.attempt(job.0).map_err(BoxDynError::from)
}

/// The attempts the database must show for every job after a run.
fn expected_attempts(mode: Mode) -> i64 {
    match mode {
        Mode::Retried => 2,
        Mode::Succeeded => 1,
    }
}

/// Pushes `JOBS` jobs one after the other into `$backend`, then runs an
/// apalis worker with `$workers` concurrent attempts until the last
/// success; the jobs/s from the first push to the worker's return. A macro,
/// not a function: the bounds apalis's `WorkerBuilder::build` puts on a
/// backend are long, and the two backends below meet them.
macro_rules! run {
    ($backend:expr, $workers:expr, $mode:expr) => {{
        let mut backend = $backend;
        let progress = Arc::new(Progress::new($mode));
        let start = Instant::now();
        for i in 0..JOBS {
            backend.push((i, vec![0; PAYLOAD])).await.expect("pushed");
        }
        let submits = start.elapsed();
        let finished = Arc::clone(&progress);
        WorkerBuilder::new("bench")
            .backend(backend)
            .data(Arc::clone(&progress))
            .concurrency($workers)
            .parallelize(tokio::spawn)
            .retry(RetryPolicy::retries(3))
            .build(attempt)
            .run_until(async move {
                finished.finished().await;
                Ok::<(), WorkerError>(())
            })
            .await
            .expect("the apalis worker ran");
        let elapsed = start.elapsed();
        progress.check().expect("apalis ran every attempt");
        Run {
            total: elapsed,
            submits,
        }
    }};
}

/// Fails unless `rows` (status, attempts, count) say that every job is
/// done after the attempts `mode` asks for.
fn check_rows(store: &str, rows: &[(String, i64, i64)], mode: Mode) {
    let done = rows
        .iter()
        .filter(|(status, attempts, _)| status == "Done" && *attempts == expected_attempts(mode))
        .map(|(_, _, count)| count)
        .sum::<i64>();
    assert_eq!(
        done,
        JOBS as i64,
        "{store}: every job done after {} attempts; the rows (status, attempts, jobs): {rows:?}",
        expected_attempts(mode)
    );
}

/// One run on a fresh SQLite file (WAL, as `SqliteStorage::setup` sets it).
pub async fn sqlite(workers: usize, mode: Mode) -> Run {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let options = SqliteConnectOptions::new()
        .filename(dir.path().join("apalis.db"))
        .create_if_missing(true);
    let pool = SqlitePoolOptions::new()
        .connect_with(options)
        .await
        .expect("sqlite pool");
    SqliteStorage::setup(&pool)
        .await
        .expect("apalis-sqlite setup");
    let config = apalis_sqlite::Config::default().batch_size(64);
    let run = run!(
        SqliteStorage::<Job>::new(&pool).with_config(config),
        workers,
        mode
    );
    let rows: Vec<(String, i64, i64)> =
        sqlx::query_as("SELECT status, attempts, COUNT(*) FROM Jobs GROUP BY status, attempts")
            .fetch_all(&pool)
            .await
            .expect("apalis-sqlite rows");
    check_rows("apalis-sqlite", &rows, mode);
    pool.close().await;
    run
}

/// One run in a fresh database on the server at `url` (apalis-postgres
/// keeps its tables in a schema named `apalis`), with the same pool size as
/// persevere's run.
pub async fn postgres(url: &str, workers: usize, mode: Mode) -> Run {
    let database = pg::fresh_name("apalis");
    pg::execute(url, &format!("CREATE DATABASE {database}")).await;
    let pool = PgPoolOptions::new()
        .max_connections(pg::connections(workers) as u32)
        .connect(&pg::with_database(url, &database))
        .await
        .expect("postgres pool");
    PostgresStorage::setup(&pool)
        .await
        .expect("apalis-postgres setup");
    let config = apalis_postgres::Config::default().batch_size(64);
    let run = run!(
        PostgresStorage::<Job>::new(&pool).with_config(config),
        workers,
        mode
    );
    let rows: Vec<(String, i64, i64)> = sqlx::query_as(
        "SELECT status, attempts::int8, COUNT(*) FROM apalis.jobs GROUP BY status, attempts",
    )
    .fetch_all(&pool)
    .await
    .expect("apalis-postgres rows");
    check_rows("apalis-postgres", &rows, mode);
    pool.close().await;
    pg::execute(url, &format!("DROP DATABASE {database}")).await;
    run
}
