//! A worker process for the crash test (`tests/crash.rs`): it runs the
//! scripted jobs of a store file and logs each delivery, until it is
//! killed (`run`) or until no job is left (`finish`).
//!
//! Usage: `persevere-durable-crash-worker run|finish DB LOG`, where DB is a
//! SQLite file, or (with the `postgres` feature) a `postgres://` URL.
//!
//! The throughput benches run it as their second process:
//! `persevere-durable-crash-worker bench DB CONCURRENCY` runs the benches'
//! jobs of kind `bench` (the first attempt fails, the second succeeds),
//! prints `ready` once its store is open, and runs until it is killed, or
//! for 300 s at most.
//!
//! The log gets one line per event, written with one `write` to a file
//! opened for appending, so a SIGKILL never leaves half a line:
//! `S key attempt micros pid` when an attempt starts, `O key attempt` when it
//! succeeds (just before its result is recorded).

#![forbid(unsafe_code)]

use persevere::{Classification, Exponential, RetryPolicyExt};
use persevere_durable::{Delivery, Handler, SqliteStore, Store, Worker};
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The lease the crash test runs with: short, so that recovery is quick.
const LEASE: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_millis(10);

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
    #[cfg(feature = "postgres")]
    if db.starts_with("postgres://") {
        let store = rt
            .block_on(persevere_durable::PostgresStore::connect(db))
            .expect("store");
        return rt.block_on(work(store, log, finish));
    }
    let store = SqliteStore::open(db).expect("store");
    rt.block_on(work(store, log, finish))
}

/// A store whose jobs can be counted.
trait Counted: Store + Clone {
    /// True when no job is pending or running.
    fn idle(&self) -> impl Future<Output = bool>;
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

fn handler(log: Arc<Mutex<File>>) -> Handler {
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
                if result.is_ok() {
                    line(&log, format!("O {} {}\n", job.key, job.attempt));
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

async fn work(store: impl Counted, log: Arc<Mutex<File>>, finish: bool) -> ExitCode {
    let backoff = Exponential::new()
        .with_initial_delay(Duration::from_millis(20))
        .with_max_delay(Duration::from_millis(200));
    let worker = Worker::builder(store.clone())
        .concurrency(8)
        .batch(16)
        .lease(LEASE)
        .poll_interval(POLL)
        .handler(
            "script",
            handler(Arc::clone(&log)).policy(backoff.with_max_attempts(50)),
        )
        .handler("exhaust", handler(log).policy(backoff.with_max_attempts(3)))
        .build()
        .expect("worker");
    if !finish {
        worker.run(std::future::pending()).await;
        return ExitCode::SUCCESS;
    }
    let idle = async {
        // Bounded: at most 60 s.
        for _ in 0..1200 {
            tokio::time::sleep(Duration::from_millis(50)).await;
            if store.idle().await {
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
