//! A worker process for the crash tests (`tests/crash.rs`,
//! `tests/crash_postgres.rs`, `tests/crash_sqs/`): it runs the scripted
//! jobs of a store and logs each delivery, until it is killed (`run`) or
//! until no job is left (`finish`).
//!
//! Usage: `persevere-durable-crash-worker run|finish DB LOG`, where DB is a
//! SQLite file, or (with the `postgres` feature) a `postgres://` URL, or
//! (with the `sqs` feature) an SQS target,
//! `sqs+http://HOST:PORT/PREFIX`: the SQS-compatible server at
//! `http://HOST:PORT` (plain HTTP, `SqsStore::local`) and the store's queue
//! prefix (see `sqs_target.rs`).
//!
//! The throughput benches run it as their second process:
//! `persevere-durable-crash-worker bench DB CONCURRENCY` runs the benches'
//! jobs of kind `bench` (the first attempt fails, the second succeeds),
//! prints `ready` once its store is open, and runs until it is killed, or
//! for 300 s at most.
//!
//! The log gets one line per event, written with one `write` to a file
//! opened for appending, so a SIGKILL never leaves half a line:
//! `S key attempt micros pid` when an attempt starts, `O key attempt pid`
//! when it succeeds (just before its result is recorded). On SQS, whose
//! store cannot be asked for a job's history, a failed attempt is logged
//! too, `F key attempt pid`, and a record that failed, `X key attempt pid`.
//!
//! SQLite and PostgreSQL run with a 300 ms lease, 8 concurrent attempts in
//! batches of 16, polling every 10 ms; SQS with a 5 s lease (visibility
//! timeouts are whole seconds, and moto slows down as its queues grow: at
//! 1,000 jobs a live attempt outlived a 2 s lease), 4 concurrent attempts
//! in batches of 4, polling every 100 ms. `finish` checks for idle every
//! 50 ms for 60 s on SQLite and PostgreSQL, every 500 ms for 900 s on SQS,
//! and exits with 2 if the work is not done by then.

#![forbid(unsafe_code)]

#[cfg(feature = "sqs")]
mod sqs_target;

use persevere::{Classification, Exponential, RetryPolicyExt};
use persevere_durable::{Delivery, Handler, SqliteStore, Store, Worker};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How a worker runs on one kind of store.
#[derive(Debug, Clone, Copy)]
struct Setup {
    /// The lease: short, so that recovery is quick.
    lease: Duration,
    concurrency: usize,
    batch: usize,
    poll: Duration,
    /// `finish`: how often it checks for idle, and how many times.
    idle_every: Duration,
    idle_checks: u32,
    /// Log failed attempts (`F` lines).
    failures: bool,
}

/// SQLite and PostgreSQL.
const SQL: Setup = Setup {
    lease: Duration::from_millis(300),
    concurrency: 8,
    batch: 16,
    poll: Duration::from_millis(10),
    idle_every: Duration::from_millis(50),
    idle_checks: 1200,
    failures: false,
};

/// SQS: visibility timeouts are whole seconds, and moto is slow.
#[cfg(feature = "sqs")]
const SQS: Setup = Setup {
    lease: Duration::from_secs(5),
    concurrency: 4,
    batch: 4,
    poll: Duration::from_millis(100),
    idle_every: Duration::from_millis(500),
    idle_checks: 1800,
    failures: true,
};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if let [_, mode, db, concurrency] = &args[..]
        && mode == "bench"
    {
        return bench(db, concurrency.parse().unwrap_or(1));
    }
    let [_, mode, db, log] = &args[..] else {
        eprintln!("usage: persevere-durable-crash-worker run|finish DB LOG | bench DB CONCURRENCY");
        return ExitCode::from(64);
    };
    let finish = match mode.as_str() {
        "run" => false,
        "finish" => true,
        _ => {
            eprintln!("unknown mode {mode:?}");
            return ExitCode::from(64);
        }
    };
    let log = OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let log = Arc::new(Mutex::new(log));
    if db.starts_with("sqs+") {
        #[cfg(feature = "sqs")]
        if let Some(target) = sqs_target::Target::parse(db) {
            let store = sqs_target::Logged {
                store: target.store(),
                log: Arc::clone(&log),
            };
            let work = work(store, target.queues(), SQS, log, finish);
            return rt.block_on(work);
        }
        eprintln!("{db:?}: expected sqs+http://HOST:PORT/PREFIX, with the sqs feature");
        return ExitCode::from(64);
    }
    #[cfg(feature = "postgres")]
    if db.starts_with("postgres://") {
        let store = rt
            .block_on(persevere_durable::PostgresStore::connect(db))
            .expect("store");
        return rt.block_on(work(store.clone(), store, SQL, log, finish));
    }
    let store = SqliteStore::open(db).expect("store");
    rt.block_on(work(store.clone(), store, SQL, log, finish))
}

/// What can say whether a store's jobs are all done.
trait Counted {
    /// True when no job is pending or running.
    fn idle(&self) -> impl Future<Output = bool>;
}

#[cfg(feature = "sqs")]
impl Counted for sqs_target::Queues {
    async fn idle(&self) -> bool {
        sqs_target::Queues::idle(self).await
    }
}

impl Counted for SqliteStore {
    async fn idle(&self) -> bool {
        self.counts().await.expect("counts").is_idle()
    }
}

#[cfg(feature = "postgres")]
impl Counted for persevere_durable::PostgresStore {
    async fn idle(&self) -> bool {
        self.counts().await.expect("counts").is_idle()
    }
}

fn line(log: &Mutex<File>, text: String) {
    let mut file = log.lock().unwrap_or_else(|e| e.into_inner());
    file.write_all(text.as_bytes()).expect("log write");
}

/// The script of the job whose key ends in `i`: every tenth fails
/// terminally, the next in ten always fails transiently, and the others
/// fail transiently on their first `i % 3` attempts, then succeed.
fn script(key: &str, attempt: u32) -> Result<(), &'static str> {
    let i: u32 = key
        .trim_start_matches("job-")
        .parse()
        .expect("numbered key");
    match i % 10 {
        0 => Err("terminal"),
        1 => Err("transient"),
        _ if attempt <= i % 3 => Err("transient"),
        _ => Ok(()),
    }
}

fn handler(log: Arc<Mutex<File>>, failures: bool) -> Handler {
    Handler::with_classifier(
        move |job: Delivery| {
            let log = Arc::clone(&log);
            async move {
                let micros = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap()
                    .as_micros();
                line(
                    &log,
                    format!(
                        "S {} {} {micros} {}\n",
                        job.key,
                        job.attempt,
                        std::process::id()
                    ),
                );
                // 0 to 19 ms of "work", so that kills land mid-attempt.
                let work =
                    (job.key.len() as u64 * 7 + u64::from(job.attempt) * 13 + micros as u64) % 20;
                tokio::time::sleep(Duration::from_millis(work)).await;
                let result = script(&job.key, job.attempt);
                let pid = std::process::id();
                if result.is_ok() {
                    line(&log, format!("O {} {} {pid}\n", job.key, job.attempt));
                } else if failures {
                    line(&log, format!("F {} {} {pid}\n", job.key, job.attempt));
                }
                result
            }
        },
        |e: &&str| match *e {
            "terminal" => Classification::terminal(),
            _ => Classification::transient(),
        },
    )
}

async fn work(
    store: impl Store,
    jobs: impl Counted,
    setup: Setup,
    log: Arc<Mutex<File>>,
    finish: bool,
) -> ExitCode {
    let backoff = Exponential::new()
        .with_initial_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(200));
    let script = handler(Arc::clone(&log), setup.failures);
    let exhaust = handler(log, setup.failures);
    let worker = Worker::builder(store)
        .concurrency(setup.concurrency)
        .batch(setup.batch)
        .lease(setup.lease)
        .poll_interval(setup.poll)
        .handler("script", script.policy(backoff.with_max_attempts(50)))
        .handler("exhaust", exhaust.policy(backoff.with_max_attempts(3)))
        .build()
        .expect("worker");
    if !finish {
        worker.run(std::future::pending()).await;
        return ExitCode::SUCCESS;
    }
    let idle = async {
        // Bounded: at most `idle_checks` checks.
        for _ in 0..setup.idle_checks {
            tokio::time::sleep(setup.idle_every).await;
            if jobs.idle().await {
                return true;
            }
        }
        false
    };
    let mut done = false;
    worker
        .run(async {
            done = idle.await;
        })
        .await;
    if done {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}

/// The benches' second process: see the module's docs.
fn bench(db: &str, concurrency: usize) -> ExitCode {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    #[cfg(feature = "postgres")]
    if db.starts_with("postgres://") {
        let store = rt
            .block_on(persevere_durable::PostgresStore::connect(db))
            .expect("store");
        return rt.block_on(bench_work(store, concurrency));
    }
    let store = SqliteStore::open(db).expect("store");
    rt.block_on(bench_work(store, concurrency))
}

async fn bench_work(store: impl Store, concurrency: usize) -> ExitCode {
    let handler = Handler::new(|job: Delivery| async move {
        if job.attempt == 1 {
            Err("first attempt fails")
        } else {
            Ok(())
        }
    })
    .policy(persevere::Fixed::new(Duration::ZERO).with_max_attempts(3));
    let worker = Worker::builder(store)
        .concurrency(concurrency.max(1))
        .batch(64)
        .poll_interval(Duration::from_millis(1))
        .handler("bench", handler)
        .build()
        .expect("worker");
    println!("ready");
    worker
        .run(tokio::time::sleep(Duration::from_secs(300)))
        .await;
    ExitCode::SUCCESS
}
