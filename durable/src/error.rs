//! Errors of a store and of a worker's configuration.

use std::time::Duration;

/// Why a store operation failed.
///
/// Every variant says what happened and loses nothing: a failed operation
/// changed no job (each state change is one transaction).
///
/// # Examples
///
/// ```
/// use persevere_durable::{Error, NewJob, SqliteStore, Store, SystemClock, Clock};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let store = SqliteStore::open_in_memory().unwrap();
/// let huge = vec![0; persevere_durable::MAX_PAYLOAD + 1];
/// let err = store.submit(NewJob::new("k", "email", huge), SystemClock.now()).await.unwrap_err();
/// assert!(matches!(err, Error::PayloadTooLarge { .. }));
/// assert_eq!(err.to_string(), "payload of 1048577 bytes is over the limit of 1048576");
/// # }
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The file exists but is not a store: not a database, or damaged.
    #[error("the database file is corrupt or not a database: {0}")]
    Corrupt(String),
    /// The store cannot be written: a read-only file, directory or mount.
    #[error("the database is read-only: {0}")]
    ReadOnly(String),
    /// Another connection held the lock for longer than the busy timeout.
    #[error("the database stayed locked for the whole busy timeout ({0:?})")]
    Locked(Duration),
    /// The payload is bigger than the store accepts.
    #[error("payload of {size} bytes is over the limit of {limit}")]
    PayloadTooLarge {
        /// The payload's size in bytes.
        size: usize,
        /// The largest payload the store accepts.
        limit: usize,
    },
    /// A key or kind is empty or too long.
    #[error("{what} must be 1 to {limit} bytes long, not {len}")]
    InvalidName {
        /// `"key"` or `"kind"`.
        what: &'static str,
        /// Its length in bytes.
        len: usize,
        /// The longest accepted.
        limit: usize,
    },
    /// The job's lease expired and another claim holds it now: this worker's
    /// result was not recorded (the other claim's will be).
    #[error("the lease on job {0:?} was lost: another claim holds it")]
    LeaseLost(String),
    /// No job has this key (or not in the state the operation needs).
    #[error("no job {0:?} in a state this operation applies to")]
    NotFound(String),
    /// The file was written by a newer version of this crate.
    #[error("schema version {found} is newer than this crate supports ({supported})")]
    SchemaTooNew {
        /// The version found in the file.
        found: i64,
        /// The newest version this crate knows.
        supported: i64,
    },
    /// The store's server could not be reached, or dropped the connection
    /// (restarted, shut down, unreachable). The call may succeed later. If
    /// the connection broke while the operation committed, it may have
    /// taken effect: submitting again under the same key is safe (keyed),
    /// and a record made twice fails with [`Error::LeaseLost`] the second
    /// time.
    #[error("the store's server is unavailable: {0}")]
    Unavailable(#[source] Box<dyn std::error::Error + Send + Sync>),
    /// The store does not support this operation.
    #[error("this store does not support {0}")]
    Unsupported(&'static str),
    /// Any other failure of the backend.
    #[error("store backend error: {0}")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An invalid worker configuration.
///
/// # Examples
///
/// ```
/// use persevere_durable::{ConfigError, SqliteStore, Worker};
///
/// let store = SqliteStore::open_in_memory().unwrap();
/// let err = Worker::builder(store).build().unwrap_err();
/// assert_eq!(err, ConfigError::NoHandlers);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A worker with no handler would claim nothing.
    #[error("a worker needs at least one handler")]
    NoHandlers,
    /// Two handlers for one kind.
    #[error("two handlers for kind {0:?}")]
    DuplicateKind(String),
    /// The kind's name is empty or too long.
    #[error("kind must be 1 to {limit} bytes long, not {len}")]
    InvalidKind {
        /// Its length in bytes.
        len: usize,
        /// The longest accepted.
        limit: usize,
    },
    /// The lease is outside its bounds.
    #[error("lease must be between {min:?} and {max:?}, not {got:?}")]
    Lease {
        /// The lease asked for.
        got: Duration,
        /// The shortest lease accepted.
        min: Duration,
        /// The longest lease accepted.
        max: Duration,
    },
    /// Zero concurrency or zero batch size.
    #[error("{0} must be at least 1")]
    Zero(&'static str),
}
