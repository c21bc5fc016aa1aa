//! The `Store` trait: the few operations of a durable job's life.

use crate::error::Error;
use crate::history::AttemptRecord;
use crate::job::{Claimed, JobStatus, Lease, NewJob, Next, Submitted};
use std::future::Future;
use std::time::{Duration, SystemTime};

/// Where durable jobs live: a database, a queue.
///
/// A job's life is `submit` (insert if absent), `claim` (a batch of due
/// jobs, each under a lease), then `record` of each attempt with what comes
/// next (reschedule, complete or dead-letter), until it succeeds or is
/// dead-lettered. Each of these changes is atomic: it happens whole or not
/// at all.
///
/// Times come from the caller's [`Clock`](crate::Clock) (the worker passes
/// them in), so a store need not read a clock, and tests control time.
///
/// # Writing a store
///
/// - `submit` records a job under its key unless one exists, and says which.
/// - `claim` takes up to `limit` jobs of the given kinds that are due at
///   `now`: pending jobs whose next attempt time has come, and running jobs
///   whose lease expired (their cut attempt is recorded as
///   [`Interrupted`](crate::AttemptOutcome::Interrupted) and the claim sets
///   [`Claimed::interrupted`]). Each claim starts a new attempt: it counts
///   it, and holds the job until `now + lease` under a fresh token. No two
///   live leases on one job exist at once.
/// - `record` applies an attempt's result under a lease: it appends the
///   attempt to the history and moves the job on as [`Next`] says, in one
///   atomic step, and fails with [`Error::LeaseLost`] (changing nothing) if
///   the lease is not the job's current one.
/// - The rest (`status`, `dead_letters`, `requeue`, `purge`) read and manage
///   jobs by key; a store that cannot may answer [`Error::Unsupported`].
///
/// Operations return `Send` futures, so a worker can run them on any task.
///
/// # Examples
///
/// The life of one job, driven by hand (a [`Worker`](crate::Worker) does
/// this for you):
///
/// ```
/// use persevere_durable::{AttemptOutcome, AttemptRecord, JobState, NewJob, Next, SqliteStore, Store};
/// use std::time::{Duration, SystemTime};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), persevere_durable::Error> {
/// let store = SqliteStore::open_in_memory()?;
/// let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// store.submit(NewJob::new("k1", "email", b"hi".to_vec()), now).await?;
///
/// let kinds = ["email".to_string()];
/// let claimed = store.claim(&kinds, 10, now, Duration::from_secs(30)).await?;
/// assert_eq!(claimed.len(), 1);
/// let job = &claimed[0];
/// let record = AttemptRecord {
///     attempt: job.attempt, started_at: now, ended_at: now,
///     outcome: AttemptOutcome::Succeeded, error: None, classification: None, delay: None,
/// };
/// store.record(&job.lease, record, Next::Complete).await?;
///
/// let status = store.status("k1").await?.unwrap();
/// assert_eq!(status.state, JobState::Succeeded);
/// assert_eq!(status.history.len(), 1);
/// # Ok(()) }
/// ```
pub trait Store: Send + Sync + 'static {
    /// Records `job` unless a job with its key exists.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// assert!(store.submit(NewJob::new("k", "email", vec![]), now).await?.is_created());
    /// assert_eq!(store.submit(NewJob::new("k", "email", vec![]), now).await?, Submitted::Exists(JobState::Pending));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::PayloadTooLarge`] or [`Error::InvalidName`] for a job out of
    /// bounds; otherwise backend failures. On error nothing was recorded.
    fn submit(
        &self,
        job: NewJob,
        now: SystemTime,
    ) -> impl Future<Output = Result<Submitted, Error>> + Send;

    /// Claims up to `limit` jobs of `kinds` due at `now`, each leased until
    /// `now + lease`; fewer (or none) if fewer are due.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// store.submit(NewJob::new("k", "email", vec![]), now).await?;
    /// let kinds = ["email".to_string()];
    /// let claimed = store.claim(&kinds, 10, now, Duration::from_secs(30)).await?;
    /// assert_eq!(claimed[0].lease.until, now + Duration::from_secs(30));
    /// assert!(store.claim(&kinds, 10, now, Duration::from_secs(30)).await?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Backend failures; then nothing was claimed.
    fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        now: SystemTime,
        lease: Duration,
    ) -> impl Future<Output = Result<Vec<Claimed>, Error>> + Send;

    /// Appends `attempt` to the history of the job `lease` holds and moves
    /// the job on as `next` says, atomically.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// store.submit(NewJob::new("k", "email", vec![]), now).await?;
    /// let job = store.claim(&["email".into()], 1, now, Duration::from_secs(30)).await?.remove(0);
    /// let failed = AttemptRecord { attempt: 1, started_at: now, ended_at: now, outcome: AttemptOutcome::Retrying,
    ///     error: Some("503".into()), classification: None, delay: Some(Duration::from_secs(5)) };
    /// store.record(&job.lease, failed.clone(), Next::Retry(now + Duration::from_secs(5))).await?;
    /// // The lease is spent: recording again under it fails.
    /// assert!(matches!(store.record(&job.lease, failed, Next::Complete).await, Err(Error::LeaseLost(_))));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::LeaseLost`] if the lease expired and the job was claimed
    /// again, or the job is gone; backend failures. On error nothing changed.
    fn record(
        &self,
        lease: &Lease,
        attempt: AttemptRecord,
        next: Next,
    ) -> impl Future<Output = Result<(), Error>> + Send;

    /// Submits many jobs at once: as [`submit`](Self::submit) for each, in
    /// order, with one answer per job (a key given twice in `jobs` is
    /// [`Submitted::Exists`] the second time).
    ///
    /// Every job is checked against the limits first, so a job out of
    /// bounds fails the call before anything is recorded. A store may write
    /// the jobs in one transaction or in several (the SQLite and PostgreSQL
    /// stores use one per call, or per chunk of a large call on PostgreSQL);
    /// the default submits them one by one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// let jobs = ["a", "b", "a"].map(|k| NewJob::new(k, "email", vec![])).to_vec();
    /// let answers = store.submit_many(jobs, now).await?;
    /// assert_eq!(answers, [Submitted::Created, Submitted::Created, Submitted::Exists(JobState::Pending)]);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::PayloadTooLarge`] or [`Error::InvalidName`] for any job out
    /// of bounds (then nothing was recorded); otherwise backend failures,
    /// after which some of the jobs may have been recorded: submitting them
    /// again is safe (submits are keyed).
    fn submit_many(
        &self,
        jobs: Vec<NewJob>,
        now: SystemTime,
    ) -> impl Future<Output = Result<Vec<Submitted>, Error>> + Send {
        async move {
            jobs.iter().try_for_each(check_job)?;
            let mut answers = Vec::with_capacity(jobs.len());
            for job in jobs {
                answers.push(self.submit(job, now).await?);
            }
            Ok(answers)
        }
    }

    /// Records many attempts at once: as [`record`](Self::record) for each
    /// `(lease, attempt, next)`, with one result per record, in order. Each
    /// record is atomic on its own and fails alone (a lost lease fails only
    /// its record).
    ///
    /// A worker sends the records of attempts that end together through
    /// this, so that a store can write them in one transaction (the SQLite
    /// and PostgreSQL stores do); the default records them one by one.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// store.submit_many(vec![NewJob::new("a", "email", vec![]), NewJob::new("b", "email", vec![])], now).await?;
    /// let claimed = store.claim(&["email".into()], 2, now, Duration::from_secs(30)).await?;
    /// let done = |job: &Claimed| (job.lease.clone(), AttemptRecord { attempt: job.attempt, started_at: now,
    ///     ended_at: now, outcome: AttemptOutcome::Succeeded, error: None, classification: None, delay: None },
    ///     Next::Complete);
    /// let mut records: Vec<_> = claimed.iter().map(done).collect();
    /// records.push(done(&claimed[0])); // the same lease again: spent by the first
    /// let results = store.record_many(records).await;
    /// assert!(results[0].is_ok() && results[1].is_ok());
    /// assert!(matches!(results[2], Err(Error::LeaseLost(_))));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Per record, as [`record`](Self::record).
    fn record_many(
        &self,
        records: Vec<(Lease, AttemptRecord, Next)>,
    ) -> impl Future<Output = Vec<Result<(), Error>>> + Send {
        async move {
            let mut results = Vec::with_capacity(records.len());
            for (lease, attempt, next) in records {
                results.push(self.record(&lease, attempt, next).await);
            }
            results
        }
    }

    /// The job's state and full history, or `None` if there is no such key.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// store.submit(NewJob::new("k", "email", vec![]), now).await?;
    /// assert_eq!(store.status("k").await?.unwrap().state, JobState::Pending);
    /// assert_eq!(store.status("other").await?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Backend failures, or [`Error::Unsupported`].
    fn status(&self, key: &str) -> impl Future<Output = Result<Option<JobStatus>, Error>> + Send;

    /// Up to `limit` dead-lettered jobs, oldest first, with their history.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// assert!(store.dead_letters(100).await?.is_empty());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Backend failures, or [`Error::Unsupported`].
    fn dead_letters(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<JobStatus>, Error>> + Send;

    /// Makes a dead-lettered job due again at `now`, as a new round: the
    /// policy counts its attempts and elapsed time afresh; the history is
    /// kept and numbered on.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// store.submit(NewJob::new("k", "email", vec![]), now).await?;
    /// // Only a dead letter can be requeued.
    /// assert!(matches!(store.requeue("k", now).await, Err(Error::NotFound(_))));
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no dead-lettered job has this key; backend
    /// failures, or [`Error::Unsupported`].
    fn requeue(&self, key: &str, now: SystemTime)
    -> impl Future<Output = Result<(), Error>> + Send;

    /// Deletes a dead-lettered job and its history.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*; use std::time::{Duration, SystemTime};
    /// # #[tokio::main(flavor = "current_thread")] async fn main() -> Result<(), Error> {
    /// # let store = SqliteStore::open_in_memory()?; let now = SystemTime::now();
    /// store.submit(NewJob::new("k", "email", vec![]), now).await?;
    /// assert!(matches!(store.purge("k").await, Err(Error::NotFound(_))));
    /// assert!(store.status("k").await?.is_some());
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::NotFound`] if no dead-lettered job has this key; backend
    /// failures, or [`Error::Unsupported`].
    fn purge(&self, key: &str) -> impl Future<Output = Result<(), Error>> + Send;

    /// Whether [`submit`](Self::submit) checks keys: `Ok` if a second
    /// submission under one key is the same job (the default),
    /// [`Error::Unsupported`] if the store cannot look a key up and records
    /// every submission as a new job (the SQS store).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::*;
    /// let store = SqliteStore::open_in_memory()?;
    /// assert!(store.checks_keys().is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Unsupported`] for a store whose keys are not checked.
    fn checks_keys(&self) -> Result<(), Error> {
        Ok(())
    }
}

/// Checks a job's key, kind and payload against the documented limits.
pub(crate) fn check_job(job: &NewJob) -> Result<(), Error> {
    use crate::job::{MAX_KEY_LEN, MAX_KIND_LEN, MAX_PAYLOAD};
    check_name("key", &job.key, MAX_KEY_LEN)?;
    check_name("kind", &job.kind, MAX_KIND_LEN)?;
    if job.payload.len() > MAX_PAYLOAD {
        return Err(Error::PayloadTooLarge {
            size: job.payload.len(),
            limit: MAX_PAYLOAD,
        });
    }
    Ok(())
}

fn check_name(what: &'static str, name: &str, limit: usize) -> Result<(), Error> {
    if name.is_empty() || name.len() > limit {
        return Err(Error::InvalidName {
            what,
            len: name.len(),
            limit,
        });
    }
    Ok(())
}
