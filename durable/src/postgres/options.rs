//! Options for connecting a [`PostgresStore`](super::PostgresStore).

use std::time::Duration;

/// Options for a [`PostgresStore`](super::PostgresStore)'s pool.
///
/// # Default
///
/// At most 16 connections; 5 seconds to connect or to get a connection
/// from the pool before [`Error::Unavailable`](crate::Error::Unavailable).
///
/// # Examples
///
/// ```
/// use persevere_durable::PostgresOptions;
/// use std::time::Duration;
///
/// let options = PostgresOptions::new().with_max_connections(4).with_timeout(Duration::from_secs(1));
/// assert_eq!(options.max_connections(), 4);
/// assert_eq!(options.timeout(), Duration::from_secs(1));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PostgresOptions {
    max_connections: usize,
    timeout: Duration,
}

impl PostgresOptions {
    /// The default options.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::PostgresOptions;
    /// assert_eq!(PostgresOptions::new().max_connections(), 16);
    /// ```
    pub const fn new() -> Self {
        PostgresOptions {
            max_connections: 16,
            timeout: Duration::from_secs(5),
        }
    }

    /// Sets the pool's size, clamped to 1 to 1,024.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::PostgresOptions;
    /// assert_eq!(PostgresOptions::new().with_max_connections(0).max_connections(), 1);
    /// ```
    pub const fn with_max_connections(mut self, n: usize) -> Self {
        self.max_connections = if n == 0 {
            1
        } else if n > 1024 {
            1024
        } else {
            n
        };
        self
    }

    /// Sets how long to wait to connect, or for a free connection, clamped
    /// to 10 ms to 1 hour.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::PostgresOptions; use std::time::Duration;
    /// let o = PostgresOptions::new().with_timeout(Duration::MAX);
    /// assert_eq!(o.timeout(), Duration::from_secs(3600));
    /// ```
    pub const fn with_timeout(mut self, timeout: Duration) -> Self {
        const MIN: Duration = Duration::from_millis(10);
        const MAX: Duration = Duration::from_secs(3600);
        self.timeout = if timeout.as_nanos() < MIN.as_nanos() {
            MIN
        } else if timeout.as_secs() >= MAX.as_secs() {
            MAX
        } else {
            timeout
        };
        self
    }

    /// The pool's size.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::PostgresOptions;
    /// assert_eq!(PostgresOptions::default().max_connections(), 16);
    /// ```
    pub const fn max_connections(&self) -> usize {
        self.max_connections
    }

    /// The connect and pool timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::PostgresOptions; use std::time::Duration;
    /// assert_eq!(PostgresOptions::default().timeout(), Duration::from_secs(5));
    /// ```
    pub const fn timeout(&self) -> Duration {
        self.timeout
    }
}

impl Default for PostgresOptions {
    fn default() -> Self {
        PostgresOptions::new()
    }
}
