//! What the SQS tests share: the endpoint from
//! `PERSEVERE_DURABLE_SQS_ENDPOINT` (`.ci/sqs` starts moto and sets it), a
//! fresh queue prefix per test, and moto's clock, moved with the test's.
//!
//! The suite drives stores with an injected clock; SQS reads its own for
//! delays and visibility timeouts. `.ci/sqs-moto.py` lets a test set
//! moto's: [`Clocked`] sets it to the time each call is made at, so that
//! the server's clock is the test's. It is one clock for the whole server,
//! so tests on it take [`serial`] first.

#![allow(dead_code, unreachable_pub)] // each test file uses a part of it

use persevere_durable::{
    AttemptRecord, Claimed, Error, JobStatus, Lease, NewJob, Next, SqsOptions, SqsStore, Store,
    Submitted,
};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{Mutex, OwnedMutexGuard};

/// The variable that holds the server's endpoint.
pub const ENDPOINT_VAR: &str = "PERSEVERE_DURABLE_SQS_ENDPOINT";

/// The endpoint, or `None` after printing that `test` was skipped.
pub fn endpoint(test: &str) -> Option<String> {
    match std::env::var(ENDPOINT_VAR) {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            println!("skipped {test}: {ENDPOINT_VAR} is not set (bash .ci/sqs runs these tests)");
            None
        }
    }
}

/// Holds moto's one clock for one test at a time.
pub async fn serial() -> OwnedMutexGuard<()> {
    static LOCK: OnceLock<Arc<Mutex<()>>> = OnceLock::new();
    Arc::clone(LOCK.get_or_init(Arc::default))
        .lock_owned()
        .await
}

/// A queue prefix of its own for one test.
pub fn fresh_prefix() -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "t{}-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed),
        nanos % 1_000_000_000
    )
}

/// A store on `endpoint` under `prefix`.
pub fn store(endpoint: &str, prefix: &str) -> SqsStore {
    let options = SqsOptions::new()
        .with_prefix(prefix)
        .with_timeout(Duration::from_secs(5));
    SqsStore::local(endpoint, options).expect("store")
}

/// Sets moto's clock to `at`, or back to the wall clock for `None`.
pub async fn set_clock(endpoint: &str, at: Option<SystemTime>) {
    let body = match at {
        Some(t) => {
            let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
            format!("{}.{:09}", d.as_secs(), d.subsec_nanos())
        }
        None => "real".to_owned(),
    };
    let host = endpoint.trim_start_matches("http://").trim_end_matches('/');
    let mut stream = tokio::net::TcpStream::connect(host).await.expect("moto");
    let request = format!(
        "POST /_persevere/clock HTTP/1.1\r\nHost: {host}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = String::new();
    stream.read_to_string(&mut answer).await.expect("answer");
    assert!(
        answer.starts_with("HTTP/1.1 200") || answer.starts_with("HTTP/1.0 200"),
        "{answer}"
    );
}

/// An SQS store whose server's clock follows the caller's: each call that
/// carries a time sets moto's clock to it first (`now`, or the attempt's
/// end for a record).
#[derive(Debug, Clone)]
pub struct Clocked {
    pub store: SqsStore,
    pub endpoint: String,
}

impl Clocked {
    /// A store on `endpoint` under `prefix`.
    pub fn new(endpoint: &str, prefix: &str) -> Self {
        Clocked {
            store: store(endpoint, prefix),
            endpoint: endpoint.to_owned(),
        }
    }

    async fn tick(&self, at: SystemTime) {
        set_clock(&self.endpoint, Some(at)).await;
    }
}

impl Store for Clocked {
    async fn submit(&self, job: NewJob, now: SystemTime) -> Result<Submitted, Error> {
        self.tick(now).await;
        self.store.submit(job, now).await
    }

    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        self.tick(now).await;
        self.store.claim(kinds, limit, now, lease).await
    }

    async fn record(&self, lease: &Lease, attempt: AttemptRecord, next: Next) -> Result<(), Error> {
        self.tick(attempt.ended_at).await;
        self.store.record(lease, attempt, next).await
    }

    async fn status(&self, key: &str) -> Result<Option<JobStatus>, Error> {
        self.store.status(key).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<JobStatus>, Error> {
        self.store.dead_letters(limit).await
    }

    async fn requeue(&self, key: &str, now: SystemTime) -> Result<(), Error> {
        self.tick(now).await;
        self.store.requeue(key, now).await
    }

    async fn purge(&self, key: &str) -> Result<(), Error> {
        self.store.purge(key).await
    }

    fn checks_keys(&self) -> Result<(), Error> {
        self.store.checks_keys()
    }
}
