//! Options for an [`SqsStore`](super::SqsStore).

use std::time::Duration;

/// Options for an [`SqsStore`](super::SqsStore): the prefix of its queues'
/// names and the time one SQS call may take.
///
/// The store's queues are `PREFIX-k-KIND` (one per job kind), and
/// `PREFIX-dead` (the dead letters). The prefix is 1 to 40 ASCII letters,
/// digits, `-` or `_`: [`SqsStore::new`](super::SqsStore::new) checks it.
///
/// # Default
///
/// The prefix `persevere`; 5 seconds to connect, and 10 seconds for a
/// whole call, before [`Error::Unavailable`](crate::Error::Unavailable).
///
/// # Examples
///
/// ```
/// use persevere_durable::SqsOptions;
/// use std::time::Duration;
///
/// let options = SqsOptions::new().with_prefix("billing").with_timeout(Duration::from_secs(3));
/// assert_eq!(options.prefix(), "billing");
/// assert_eq!(options.timeout(), Duration::from_secs(3));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SqsOptions {
    prefix: String,
    timeout: Duration,
}

impl SqsOptions {
    /// The default options.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqsOptions;
    /// assert_eq!(SqsOptions::new().prefix(), "persevere");
    /// ```
    pub fn new() -> Self {
        SqsOptions {
            prefix: "persevere".to_owned(),
            timeout: Duration::from_secs(10),
        }
    }

    /// Sets the prefix of the store's queue names.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqsOptions;
    /// assert_eq!(SqsOptions::new().with_prefix("jobs").prefix(), "jobs");
    /// ```
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Sets how long one SQS call may take (the connect timeout is the
    /// lesser of it and 5 s), clamped to 10 ms to 1 hour.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqsOptions; use std::time::Duration;
    /// assert_eq!(SqsOptions::new().with_timeout(Duration::ZERO).timeout(), Duration::from_millis(10));
    /// ```
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.clamp(Duration::from_millis(10), Duration::from_secs(3600));
        self
    }

    /// The prefix of the store's queue names.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqsOptions;
    /// assert_eq!(SqsOptions::default().prefix(), "persevere");
    /// ```
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// How long one SQS call may take.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::SqsOptions; use std::time::Duration;
    /// assert_eq!(SqsOptions::default().timeout(), Duration::from_secs(10));
    /// ```
    pub fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl Default for SqsOptions {
    fn default() -> Self {
        SqsOptions::new()
    }
}
