//! Workers: claim due jobs, run their handlers, record every attempt.

mod attempt;
mod builder;
mod decide;
mod handler;
mod recorder;

pub use builder::WorkerBuilder;
pub use handler::{Delivery, Handler};

use crate::clock::{Forward, SystemClock};
use crate::error::Error;
use crate::job::Claimed;
use crate::store::Store;
use attempt::{Slot, process, run_in_slot};
use persevere::{AttemptContext, Exponential, Jitter, JitterRng, RetryPolicy};
use recorder::Recorder;
use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

/// The default lease: 30 seconds.
pub const DEFAULT_LEASE: Duration = Duration::from_secs(30);
/// The shortest lease a worker accepts: 50 ms.
pub const MIN_LEASE: Duration = Duration::from_millis(50);
/// The longest lease a worker accepts: 24 hours.
pub const MAX_LEASE: Duration = Duration::from_secs(24 * 3600);

/// Runs durable jobs: claims the due ones of its kinds, runs their
/// handlers, and records each attempt with what comes next.
///
/// After a failed attempt it asks the kind's persevere policy for the delay
/// (with the error's classification, the server's delay, the previous delay
/// and the time elapsed since the stored first attempt), and writes the
/// rescheduled job to the store *before* it moves on; nothing waits in
/// memory. Attempts of different jobs interleave: a job waiting for its
/// retry holds no worker, and a slow attempt holds only its own slot. The
/// records of attempts that end together go to the store in one
/// [`Store::record_many`] call (one transaction on the SQLite and
/// PostgreSQL stores). An attempt's slot is freed when its handler is done
/// and its record is handed to the writer, so the claim of the next job
/// overlaps the record's round trip; at most `concurrency` records are in
/// flight, and the lease keeps the job from being claimed again until its
/// record is committed.
///
/// # Delivery
///
/// At least once. A worker killed mid-attempt leaves its lease to expire;
/// the job is then claimed again (within one lease and one poll interval),
/// and the cut attempt is recorded as
/// [`Interrupted`](crate::AttemptOutcome::Interrupted). A handler's side
/// effect may therefore happen twice; [`Delivery`] carries the key and the
/// attempt number to deduplicate on.
///
/// # Time
///
/// Times are read from the [`Clock`](crate::Clock) and never go back within a worker: if
/// the clock jumps backwards, the worker keeps the latest time it read until
/// the clock catches up. A job is never run before its due time on the
/// worker's clock. Across processes, a clock set back makes jobs wait
/// longer, never run early, and reads as no time elapsed for deadlines.
///
/// # Examples
///
/// ```
/// use persevere::{Fixed, RetryPolicyExt};
/// use persevere_durable::{Delivery, Handler, JobState, ManualClock, NewJob, SqliteStore, Store, Worker};
/// use std::time::{Duration, SystemTime};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), persevere_durable::Error> {
/// let clock = ManualClock::new(SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000));
/// let store = SqliteStore::open_in_memory()?;
/// let worker = Worker::builder(store.clone())
///     .clock(clock.clone())
///     .handler(
///         "flaky",
///         Handler::new(|job: Delivery| async move {
///             if job.attempt < 3 { Err("503") } else { Ok(()) }
///         })
///         .policy(Fixed::new(Duration::from_secs(60)).with_max_attempts(5)),
///     )
///     .build()
///     .unwrap();
///
/// store.submit(NewJob::new("k", "flaky", vec![]), clock.now()).await?;
/// # use persevere_durable::Clock;
/// for _ in 0..3 {
///     assert_eq!(worker.run_once().await?, 1); // one attempt
///     assert_eq!(worker.run_once().await?, 0); // not due yet
///     clock.advance(Duration::from_secs(60));
/// }
/// let status = store.status("k").await?.unwrap();
/// assert_eq!(status.state, JobState::Succeeded);
/// assert_eq!(status.history.len(), 3);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Worker<S> {
    shared: Arc<Shared<S>>,
    concurrency: usize,
    batch: usize,
    poll: Duration,
}

/// What every attempt of a worker needs.
#[derive(Debug)]
struct Shared<S> {
    store: S,
    clock: Forward,
    handlers: HashMap<String, Handler>,
    kinds: Vec<String>,
    lease: Duration,
}

impl<S: Store> Worker<S> {
    /// Starts building a worker on `store`.
    ///
    /// # Examples
    ///
    /// See [`WorkerBuilder`].
    pub fn builder(store: S) -> WorkerBuilder<S> {
        WorkerBuilder {
            store,
            clock: Arc::new(SystemClock),
            handlers: Vec::new(),
            concurrency: 8,
            batch: 32,
            lease: DEFAULT_LEASE,
            poll: Duration::from_millis(100),
        }
    }

    /// Claims the jobs due now (up to the batch size), runs their attempts
    /// concurrently (up to the concurrency), records them, and returns how
    /// many it ran. For tests and hand-driven loops on a controlled clock.
    ///
    /// # Examples
    ///
    /// See [`Worker`].
    ///
    /// # Errors
    ///
    /// The claim's error. An attempt whose result cannot be recorded is left
    /// to its lease (it will be claimed again) and logged, not returned.
    pub async fn run_once(&self) -> Result<usize, Error> {
        let limit = self.batch.min(self.concurrency);
        let claimed = self.claim(limit).await?;
        let n = claimed.len();
        let (recorder, writer) = Recorder::start(Arc::clone(&self.shared));
        let mut tasks = JoinSet::new();
        for job in claimed {
            tasks.spawn(process(
                Arc::clone(&self.shared),
                recorder.clone(),
                job,
                None,
            ));
        }
        drop(recorder);
        while tasks.join_next().await.is_some() {}
        let _ = writer.await;
        Ok(n)
    }

    /// Runs until `shutdown` completes, then waits for the attempts in
    /// flight to be recorded and returns. A handler that never returns
    /// holds the shutdown too: bound its work with a timeout.
    ///
    /// A store that fails (a locked or unreachable database) is retried
    /// with backoff, logged through `tracing`; the worker does not stop.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere_durable::{Clock, Delivery, Handler, JobState, NewJob, SqliteStore, Store, SystemClock, Worker};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), persevere_durable::Error> {
    /// let store = SqliteStore::open_in_memory()?;
    /// store.submit(NewJob::new("k", "email", vec![]), SystemClock.now()).await?;
    /// let (done, wait) = tokio::sync::oneshot::channel::<()>();
    /// let worker = Worker::builder(store.clone())
    ///     .poll_interval(Duration::from_millis(5))
    ///     .handler("email", Handler::new(move |_: Delivery| {
    ///         let _ = &done;
    ///         async { Ok::<_, String>(()) }
    ///     }))
    ///     .build()
    ///     .unwrap();
    /// let stop = async {
    ///     for _ in 0..1000 {
    ///         if store.status("k").await.unwrap().unwrap().state == JobState::Succeeded { break }
    ///         tokio::time::sleep(Duration::from_millis(5)).await;
    ///     }
    /// };
    /// worker.run(stop).await;
    /// drop(wait);
    /// assert_eq!(store.status("k").await?.unwrap().state, JobState::Succeeded);
    /// # Ok(()) }
    /// ```
    ///
    /// # Cancellation
    ///
    /// Dropping the future drops the attempts in flight (their handlers are
    /// cancelled at their next `.await`); their leases expire and the jobs
    /// are claimed again. Prefer `shutdown` to stop cleanly.
    pub async fn run(&self, shutdown: impl Future<Output = ()>) {
        let mut shutdown = std::pin::pin!(shutdown);
        let slots = Arc::new(Semaphore::new(self.concurrency));
        let recording = Arc::new(Semaphore::new(self.concurrency));
        let (recorder, writer) = Recorder::start(Arc::clone(&self.shared));
        let mut tasks = JoinSet::new();
        let mut failures = 0u32;
        loop {
            while tasks.try_join_next().is_some() {}
            let first = tokio::select! {
                permit = Arc::clone(&slots).acquire_owned() => match permit {
                    Ok(permit) => permit,
                    Err(_) => break,
                },
                () = &mut shutdown => break,
            };
            let free = 1 + slots.available_permits();
            let pause = match self.claim(free.min(self.batch)).await {
                Ok(claimed) if claimed.is_empty() => {
                    failures = 0;
                    Some(self.poll)
                }
                Ok(claimed) => {
                    failures = 0;
                    let mut permit = Some(first);
                    for job in claimed {
                        let slot = match permit.take() {
                            Some(p) => p,
                            None => match Arc::clone(&slots).try_acquire_owned() {
                                Ok(p) => p,
                                Err(_) => break, // unreachable: only this loop takes slots
                            },
                        };
                        let slot = Slot {
                            running: slot,
                            recording: Arc::clone(&recording),
                        };
                        tasks.spawn(run_in_slot(
                            Arc::clone(&self.shared),
                            recorder.clone(),
                            job,
                            slot,
                        ));
                    }
                    None
                }
                Err(error) => {
                    failures = failures.saturating_add(1);
                    let wait = store_backoff(self.poll, failures);
                    tracing::warn!(target: "persevere_durable", %error, ?wait, "claim failed");
                    Some(wait)
                }
            };
            if let Some(pause) = pause {
                tokio::select! {
                    () = tokio::time::sleep(pause) => {}
                    () = &mut shutdown => break,
                }
            }
        }
        drop(recorder);
        while tasks.join_next().await.is_some() {}
        let _ = writer.await;
    }

    async fn claim(&self, limit: usize) -> Result<Vec<Claimed>, Error> {
        let shared = &self.shared;
        let now = shared.clock.now();
        shared
            .store
            .claim(&shared.kinds, limit, now, shared.lease)
            .await
    }
}

/// The wait after `failures` store failures in a row: persevere's own
/// exponential backoff, from the poll interval up to 5 s.
fn store_backoff(poll: Duration, failures: u32) -> Duration {
    let policy = Exponential::new()
        .with_initial_delay(poll)
        .with_max_delay(Duration::from_secs(5).max(poll))
        .with_jitter(Jitter::None);
    policy
        .decide(
            &AttemptContext::new(failures, Duration::ZERO),
            &mut JitterRng::from_seed(0),
        )
        .delay()
        .unwrap_or(poll)
}
