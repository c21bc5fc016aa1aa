//! The worker's configuration, checked once.

use super::{MAX_LEASE, MIN_LEASE, Shared, Worker};
use crate::clock::{Clock, Forward};
use crate::error::ConfigError;
use crate::job::MAX_KIND_LEN;
use crate::store::Store;
use crate::worker::Handler;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Builds a [`Worker`].
///
/// # Default
///
/// - clock: [`SystemClock`](crate::SystemClock);
/// - concurrency: 8 attempts at once;
/// - batch: up to 32 jobs per claim;
/// - lease: [`DEFAULT_LEASE`](crate::DEFAULT_LEASE), within [`MIN_LEASE`]..=[`MAX_LEASE`];
/// - poll interval: 100 ms when no job is due (clamped to 1 ms..=60 s).
///
/// # Examples
///
/// ```
/// use persevere_durable::{Delivery, Handler, SqliteStore, Worker};
/// use std::time::Duration;
///
/// let store = SqliteStore::open_in_memory().unwrap();
/// let worker = Worker::builder(store)
///     .concurrency(16)
///     .lease(Duration::from_secs(10))
///     .handler("email", Handler::new(|_: Delivery| async { Ok::<_, String>(()) }))
///     .build()
///     .unwrap();
/// # drop(worker);
/// ```
#[derive(Debug)]
pub struct WorkerBuilder<S> {
    pub(super) store: S,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) handlers: Vec<(String, Handler)>,
    pub(super) concurrency: usize,
    pub(super) batch: usize,
    pub(super) lease: Duration,
    pub(super) poll: Duration,
}

impl<S: Store> WorkerBuilder<S> {
    /// Reads time from `clock`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{Delivery, Handler, ManualClock, SqliteStore, Worker};
    /// let clock = ManualClock::new(std::time::SystemTime::UNIX_EPOCH);
    /// let builder = Worker::builder(SqliteStore::open_in_memory().unwrap()).clock(clock);
    /// # drop(builder);
    /// ```
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Runs `handler` for the jobs of `kind`.
    ///
    /// # Examples
    ///
    /// See [`WorkerBuilder`].
    pub fn handler(mut self, kind: impl Into<String>, handler: Handler) -> Self {
        self.handlers.push((kind.into(), handler));
        self
    }

    /// Runs at most `n` attempts at once.
    ///
    /// An attempt's slot is freed when its handler is done and its record
    /// handed to the worker's writer, so the claim of the next job overlaps
    /// the record's round trip; at most `n` records wait to be written
    /// beyond the `n` attempts running (the job stays leased until its
    /// record is committed).
    ///
    /// # Examples
    ///
    /// See [`WorkerBuilder`].
    pub fn concurrency(mut self, n: usize) -> Self {
        self.concurrency = n;
        self
    }

    /// Claims at most `n` jobs per round trip to the store.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{SqliteStore, Worker};
    /// let builder = Worker::builder(SqliteStore::open_in_memory().unwrap()).batch(64);
    /// # drop(builder);
    /// ```
    pub fn batch(mut self, n: usize) -> Self {
        self.batch = n;
        self
    }

    /// Holds each claimed job for `lease`: a job whose worker vanished is
    /// claimed again once it expires. It must be longer than the longest
    /// attempt, or a slow attempt is delivered twice.
    ///
    /// # Examples
    ///
    /// See [`WorkerBuilder`].
    pub fn lease(mut self, lease: Duration) -> Self {
        self.lease = lease;
        self
    }

    /// Waits `interval` before looking again when no job is due.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{SqliteStore, Worker}; use std::time::Duration;
    /// let builder = Worker::builder(SqliteStore::open_in_memory().unwrap())
    ///     .poll_interval(Duration::from_millis(20));
    /// # drop(builder);
    /// ```
    pub fn poll_interval(mut self, interval: Duration) -> Self {
        self.poll = interval.clamp(Duration::from_millis(1), Duration::from_secs(60));
        self
    }

    /// Checks the configuration and builds the worker.
    ///
    /// # Examples
    ///
    /// See [`WorkerBuilder`].
    ///
    /// # Errors
    ///
    /// A [`ConfigError`]: no handler, two handlers for one kind, a kind
    /// name out of bounds, a lease out of bounds, zero concurrency or batch.
    pub fn build(self) -> Result<Worker<S>, ConfigError> {
        if self.handlers.is_empty() {
            return Err(ConfigError::NoHandlers);
        }
        if self.concurrency == 0 {
            return Err(ConfigError::Zero("concurrency"));
        }
        if self.batch == 0 {
            return Err(ConfigError::Zero("batch"));
        }
        if !(MIN_LEASE..=MAX_LEASE).contains(&self.lease) {
            return Err(ConfigError::Lease {
                got: self.lease,
                min: MIN_LEASE,
                max: MAX_LEASE,
            });
        }
        let mut handlers = HashMap::new();
        for (kind, handler) in self.handlers {
            if kind.is_empty() || kind.len() > MAX_KIND_LEN {
                return Err(ConfigError::InvalidKind {
                    len: kind.len(),
                    limit: MAX_KIND_LEN,
                });
            }
            if handlers.insert(kind.clone(), handler).is_some() {
                return Err(ConfigError::DuplicateKind(kind));
            }
        }
        let mut kinds: Vec<String> = handlers.keys().cloned().collect();
        kinds.sort();
        Ok(Worker {
            shared: Arc::new(Shared {
                store: self.store,
                clock: Forward::new(self.clock),
                handlers,
                kinds,
                lease: self.lease,
            }),
            concurrency: self.concurrency,
            batch: self.batch,
            poll: self.poll,
        })
    }
}
