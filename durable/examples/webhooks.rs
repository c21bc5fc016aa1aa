//! Durable webhook deliveries that survive a kill.
//!
//! The example starts a flaky HTTP server on 127.0.0.1 (it resets
//! connections, answers 503 with `Retry-After`, and 404 once), submits five
//! POSTs with idempotency keys to a SQLite store, and runs a worker in a
//! child process. It kills that process with SIGKILL while deliveries wait
//! for their retries, starts a fresh one, which resumes them, and prints
//! each job's history from the store.
//!
//! Run it with `cargo run -p persevere-durable --example webhooks`.

use persevere::{Exponential, RetryPolicyExt};
use persevere_durable::{
    AttemptOutcome, Clock, Delivery, Handler, JobState, NewJob, SqliteStore, Store, SystemClock,
    Worker,
};
use std::net::SocketAddr;
use std::process::{Child, Command};
use std::sync::Arc;
use std::time::{Duration, Instant, UNIX_EPOCH};

#[allow(dead_code)] // the tests use more of it
#[path = "../tests/support/http.rs"]
mod http;

use http::{Plan, Reply, Server};

const HOOKS: [&str; 5] = ["order-1", "order-2", "order-3", "order-4", "order-5"];

/// What the flaky server does with each key's requests, in order (then 200).
fn plan(key: &str) -> Vec<Reply> {
    match key {
        "order-1" => vec![Reply::RetryAfter(503, 1)],
        "order-2" => vec![Reply::Reset, Reply::Reset],
        "order-3" => vec![Reply::Status(404)],
        "order-4" => vec![Reply::RetryAfter(503, 2), Reply::Reset],
        _ => vec![],
    }
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    match &args[1..] {
        [mode, db, addr] if mode == "--worker" => rt.block_on(worker(db, addr.parse().unwrap())),
        _ => rt.block_on(parent()),
    }
}

/// The worker process: delivers due webhooks until killed or done.
async fn worker(db: &str, addr: SocketAddr) {
    let store = SqliteStore::open(db).expect("open the store");
    let pid = std::process::id();
    let deliver = Handler::with_classifier(
        move |job: Delivery| async move {
            let result = http::post(addr, &job.key, &job.payload).await;
            match &result {
                Ok(()) => println!(
                    "  [worker {pid}] {} attempt {}: delivered",
                    job.key, job.attempt
                ),
                Err(e) => println!("  [worker {pid}] {} attempt {}: {e}", job.key, job.attempt),
            }
            result
        },
        http::classify,
    )
    .policy(
        Exponential::new()
            .with_initial_delay(Duration::from_millis(300))
            .with_max_attempts(6)
            .with_deadline(Duration::from_secs(60)),
    );
    let worker = Worker::builder(store.clone())
        .lease(Duration::from_secs(2))
        .poll_interval(Duration::from_millis(20))
        .handler("webhook", deliver)
        .build()
        .expect("worker configuration");
    let idle = async {
        for _ in 0..1500 {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if store.counts().await.expect("counts").is_idle() {
                return;
            }
        }
    };
    worker.run(idle).await;
}

fn spawn_worker(db: &std::path::Path, addr: SocketAddr) -> Child {
    Command::new(std::env::current_exe().unwrap())
        .arg("--worker")
        .arg(db)
        .arg(addr.to_string())
        .spawn()
        .expect("start the worker process")
}

async fn parent() {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let script: Plan = Arc::new(plan);
    let server = Server::start(script, clock, Duration::ZERO).await;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("webhooks.db");
    let store = SqliteStore::open(&db).unwrap();
    for key in HOOKS {
        let body = format!("{{\"order\":\"{key}\"}}").into_bytes();
        store
            .submit(NewJob::new(key, "webhook", body), SystemClock.now())
            .await
            .unwrap();
    }
    println!("submitted {} webhooks to {}", HOOKS.len(), server.addr());

    let mut first = spawn_worker(&db, server.addr());
    tokio::time::sleep(Duration::from_millis(700)).await;
    first.kill().unwrap(); // SIGKILL: no clean shutdown
    first.wait().unwrap();
    let counts = store.counts().await.unwrap();
    println!(
        "killed the worker mid-wait: {} pending, {} running, {} done",
        counts.pending,
        counts.running,
        counts.succeeded + counts.dead_lettered
    );

    println!("starting a fresh worker");
    let mut second = spawn_worker(&db, server.addr());
    let started = Instant::now();
    while second.try_wait().unwrap().is_none() {
        if started.elapsed() > Duration::from_secs(60) {
            second.kill().unwrap();
            panic!("the fresh worker did not finish in 60 s");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    println!("history, per key:");
    for key in HOOKS {
        let status = store.status(key).await.unwrap().unwrap();
        println!("{key}: {:?}", status.state);
        for a in &status.history {
            let at = a.started_at.duration_since(UNIX_EPOCH).unwrap();
            println!(
                "  attempt {} at {}.{:03}s: {:?}{}{}",
                a.attempt,
                at.as_secs() % 1000,
                at.subsec_millis(),
                a.outcome,
                a.error
                    .as_ref()
                    .map(|e| format!(", {e}"))
                    .unwrap_or_default(),
                a.delay
                    .map(|d| format!(", retry in {d:?}"))
                    .unwrap_or_default(),
            );
        }
        let expected = if key == "order-3" {
            JobState::DeadLettered
        } else {
            JobState::Succeeded
        };
        assert_eq!(status.state, expected, "{key}");
        assert!(
            status
                .history
                .iter()
                .all(|a| a.outcome != AttemptOutcome::NotStarted(persevere::StopReason::Deadline))
        );
    }
}
