//! The embedded store: one SQLite file, WAL mode, every change one
//! transaction.

mod batch;
mod ops;
mod schema;
mod writer;

use crate::error::Error;
use crate::history::AttemptRecord;
use crate::job::{Claimed, JobStatus, Lease, NewJob, Next, Submitted};
use crate::store::{Store, check_job};
use rusqlite::{Connection, ErrorCode};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// How long a connection waits for another's lock before
/// [`Error::Locked`]: 5 seconds.
pub const DEFAULT_BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Options for opening a [`SqliteStore`].
///
/// # Default
///
/// A busy timeout of [`DEFAULT_BUSY_TIMEOUT`]; `synchronous = NORMAL`, which
/// in WAL mode loses no committed change when the *process* dies (a kill, a
/// crash, an OOM) but may lose the last commits if the *machine* loses
/// power. [`with_full_sync`](Self::with_full_sync) trades speed for that.
///
/// # Examples
///
/// ```
/// use persevere_durable::SqliteOptions;
/// use std::time::Duration;
///
/// let options = SqliteOptions::new().with_busy_timeout(Duration::from_millis(100)).with_full_sync(true);
/// assert_eq!(options.busy_timeout(), Duration::from_millis(100));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SqliteOptions {
    busy_timeout: Duration,
    full_sync: bool,
}

impl SqliteOptions {
    /// The default options.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{SqliteOptions, DEFAULT_BUSY_TIMEOUT};
    /// assert_eq!(SqliteOptions::new().busy_timeout(), DEFAULT_BUSY_TIMEOUT);
    /// ```
    pub const fn new() -> Self {
        SqliteOptions {
            busy_timeout: DEFAULT_BUSY_TIMEOUT,
            full_sync: false,
        }
    }

    /// Sets how long to wait for another connection's lock (clamped to at
    /// most one hour).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqliteOptions; use std::time::Duration;
    /// let o = SqliteOptions::new().with_busy_timeout(Duration::MAX);
    /// assert_eq!(o.busy_timeout(), Duration::from_secs(3600));
    /// ```
    pub const fn with_busy_timeout(mut self, timeout: Duration) -> Self {
        const MAX: Duration = Duration::from_secs(3600);
        self.busy_timeout = if timeout.as_secs() >= MAX.as_secs() {
            MAX
        } else {
            timeout
        };
        self
    }

    /// Syncs every commit to disk (`synchronous = FULL`), so that no commit
    /// is lost even when the machine loses power.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqliteOptions;
    /// let _ = SqliteOptions::new().with_full_sync(true);
    /// ```
    pub const fn with_full_sync(mut self, full: bool) -> Self {
        self.full_sync = full;
        self
    }

    /// The busy timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{SqliteOptions, DEFAULT_BUSY_TIMEOUT};
    /// assert_eq!(SqliteOptions::default().busy_timeout(), DEFAULT_BUSY_TIMEOUT);
    /// ```
    pub const fn busy_timeout(&self) -> Duration {
        self.busy_timeout
    }
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions::new()
    }
}

/// How many jobs a store holds in each state.
///
/// # Examples
///
/// ```
/// use persevere_durable::JobCounts;
///
/// let c = JobCounts { pending: 1, running: 0, succeeded: 2, dead_lettered: 0 };
/// assert_eq!(c.total(), 3);
/// assert!(!c.is_idle());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct JobCounts {
    /// Waiting for their next attempt.
    pub pending: u64,
    /// Claimed under a lease.
    pub running: u64,
    /// Done.
    pub succeeded: u64,
    /// Stopped.
    pub dead_lettered: u64,
}

impl JobCounts {
    /// Jobs in all states.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::JobCounts;
    /// assert_eq!(JobCounts::default().total(), 0);
    /// ```
    pub const fn total(&self) -> u64 {
        self.pending + self.running + self.succeeded + self.dead_lettered
    }

    /// True when no job is pending or running.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::JobCounts;
    /// assert!(JobCounts::default().is_idle());
    /// ```
    pub const fn is_idle(&self) -> bool {
        self.pending == 0 && self.running == 0
    }
}

/// The SQLite store: one file, shared by any number of workers and
/// processes.
///
/// Opening a file creates it if needed, sets WAL mode and the busy timeout,
/// and applies the schema migrations the crate ships (a version table
/// records them). Every state change is atomic: operations run on a thread
/// that owns the connection, and commit together in one `IMMEDIATE`
/// transaction, each in a savepoint of its own. Clones share the thread.
///
/// # Examples
///
/// ```
/// use persevere_durable::{NewJob, SqliteStore, Store, Submitted};
/// use std::time::SystemTime;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), persevere_durable::Error> {
/// let dir = tempfile::tempdir().unwrap();
/// let store = SqliteStore::open(dir.path().join("jobs.db"))?;
/// let now = SystemTime::now();
/// assert_eq!(store.submit(NewJob::new("k", "email", vec![]), now).await?, Submitted::Created);
/// assert!(!store.submit(NewJob::new("k", "email", vec![]), now).await?.is_created());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// Opening fails with [`Error::Corrupt`] for a file that is not a store,
/// [`Error::ReadOnly`] for one that cannot be written, [`Error::Locked`]
/// when another connection holds the lock past the busy timeout, and
/// [`Error::SchemaTooNew`] for a file written by a newer version.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    writer: writer::Writer,
}

/// An error inside an operation, before it is mapped for the caller.
#[derive(Debug)]
pub(crate) enum OpError {
    Sql(rusqlite::Error),
    Store(Error),
}

impl From<rusqlite::Error> for OpError {
    fn from(e: rusqlite::Error) -> Self {
        OpError::Sql(e)
    }
}

impl From<Error> for OpError {
    fn from(e: Error) -> Self {
        OpError::Store(e)
    }
}

impl SqliteStore {
    /// Opens (or creates) the store at `path` with the default options.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqliteStore;
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open(dir.path().join("jobs.db")).unwrap();
    /// # drop(store);
    /// ```
    ///
    /// # Errors
    ///
    /// See [`SqliteStore`].
    pub fn open(path: impl AsRef<Path>) -> Result<Self, Error> {
        SqliteStore::open_with(path, SqliteOptions::new())
    }

    /// Opens (or creates) the store at `path`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{SqliteOptions, SqliteStore};
    /// let dir = tempfile::tempdir().unwrap();
    /// let store = SqliteStore::open_with(dir.path().join("jobs.db"), SqliteOptions::new()).unwrap();
    /// # drop(store);
    /// ```
    ///
    /// # Errors
    ///
    /// See [`SqliteStore`].
    pub fn open_with(path: impl AsRef<Path>, options: SqliteOptions) -> Result<Self, Error> {
        let busy = options.busy_timeout;
        let conn = Connection::open(path.as_ref()).map_err(|e| map_sql(e, busy))?;
        SqliteStore::setup(conn, options)
    }

    /// A store in memory, gone when the last clone is dropped: for examples
    /// and tests that need no restart.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqliteStore;
    /// let store = SqliteStore::open_in_memory().unwrap();
    /// # drop(store);
    /// ```
    ///
    /// # Errors
    ///
    /// Only if SQLite cannot allocate the database.
    pub fn open_in_memory() -> Result<Self, Error> {
        let options = SqliteOptions::new();
        let conn = Connection::open_in_memory().map_err(|e| map_sql(e, options.busy_timeout))?;
        SqliteStore::setup(conn, options)
    }

    fn setup(mut conn: Connection, options: SqliteOptions) -> Result<Self, Error> {
        let busy = options.busy_timeout;
        let setup = |conn: &mut Connection| -> Result<(), OpError> {
            conn.busy_timeout(busy)?;
            // Every hot statement stays prepared (rusqlite keeps 16 by default).
            conn.set_prepared_statement_cache_capacity(64);
            // Reading the journal mode is the first read of the file: a file
            // that is not a database fails here.
            let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))?;
            let sync = if options.full_sync { "FULL" } else { "NORMAL" };
            conn.execute_batch(&format!(
                "PRAGMA synchronous = {sync}; PRAGMA foreign_keys = ON;"
            ))?;
            schema::migrate(conn)
        };
        setup(&mut conn).map_err(|e| map_op(e, busy))?;
        Ok(SqliteStore {
            writer: writer::Writer::start(conn, busy)?,
        })
    }

    /// How many jobs are in each state.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqliteStore;
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let store = SqliteStore::open_in_memory().unwrap();
    /// assert!(store.counts().await.unwrap().is_idle());
    /// # }
    /// ```
    ///
    /// # Errors
    ///
    /// Database failures.
    pub async fn counts(&self) -> Result<JobCounts, Error> {
        self.run(ops::counts).await
    }

    /// Runs `op` on the store's connection, in a transaction.
    async fn run<T, F>(&self, op: F) -> Result<T, Error>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> Result<T, OpError> + Send + 'static,
    {
        self.writer.run(op).await
    }
}

impl Store for SqliteStore {
    async fn submit(&self, job: NewJob, now: SystemTime) -> Result<Submitted, Error> {
        check_job(&job)?;
        self.run(move |conn| ops::submit(conn, &job, now)).await
    }

    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let kinds = kinds.to_vec();
        self.run(move |conn| ops::claim(conn, &kinds, limit, now, lease))
            .await
    }

    async fn record(&self, lease: &Lease, attempt: AttemptRecord, next: Next) -> Result<(), Error> {
        let lease = lease.clone();
        self.run(move |conn| ops::record(conn, &lease, &attempt, next))
            .await
    }

    async fn submit_many(
        &self,
        jobs: Vec<NewJob>,
        now: SystemTime,
    ) -> Result<Vec<Submitted>, Error> {
        jobs.iter().try_for_each(check_job)?;
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        self.run(move |conn| batch::submit_many(conn, &jobs, now))
            .await
    }

    async fn record_many(
        &self,
        records: Vec<(Lease, AttemptRecord, Next)>,
    ) -> Vec<Result<(), Error>> {
        let n = records.len();
        let busy = self.writer.busy();
        match self
            .run(move |conn| batch::record_many(conn, &records))
            .await
        {
            Ok(results) => results
                .into_iter()
                .map(|r| r.map_err(|e| map_op(e, busy)))
                .collect(),
            Err(error) => (0..n).map(|_| writer::copy(&error)).map(Err).collect(),
        }
    }

    async fn status(&self, key: &str) -> Result<Option<JobStatus>, Error> {
        let key = key.to_owned();
        self.run(move |conn| ops::status(conn, &key)).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<JobStatus>, Error> {
        self.run(move |conn| ops::dead_letters(conn, limit)).await
    }

    async fn requeue(&self, key: &str, now: SystemTime) -> Result<(), Error> {
        let key = key.to_owned();
        self.run(move |conn| ops::requeue(conn, &key, now)).await
    }

    async fn purge(&self, key: &str) -> Result<(), Error> {
        let key = key.to_owned();
        self.run(move |conn| ops::purge(conn, &key)).await
    }
}

/// Maps an operation's error for the caller.
fn map_op(e: OpError, busy: Duration) -> Error {
    match e {
        OpError::Sql(e) => map_sql(e, busy),
        OpError::Store(e) => e,
    }
}

/// Maps a SQLite error to what happened.
fn map_sql(e: rusqlite::Error, busy: Duration) -> Error {
    if let rusqlite::Error::SqliteFailure(code, _) = &e {
        match code.code {
            ErrorCode::NotADatabase | ErrorCode::DatabaseCorrupt => {
                return Error::Corrupt(e.to_string());
            }
            ErrorCode::ReadOnly => return Error::ReadOnly(e.to_string()),
            ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked => return Error::Locked(busy),
            _ => {}
        }
    }
    Error::Backend(Box::new(e))
}
