//! Errors: why a call stopped retrying, and why a configuration is invalid.

use std::borrow::Cow;
use std::convert::Infallible;
use std::error::Error;
use std::fmt;
use std::time::Duration;

mod config;
mod stop_reason;

pub use config::ConfigError;
pub use stop_reason::StopReason;

/// The error of a call that stopped retrying: the caller's own error of the
/// last attempt (or, for a call that [retries on a value](crate::Retry::retry_if_ok),
/// the value that ended it), and what happened.
///
/// `V` is the type of such a value: [`Infallible`] (no value can end the
/// call, and it takes no room) unless the call has a value classifier.
///
/// Its `Display` reads like `gave up after 5 attempts in 31.2s: connection
/// reset by peer`, prefixed by what the call was doing when a
/// [context](Self::with_context) is attached. [`source`](Error::source) is the last attempt's error, so
/// classifiers and error reporters that walk the chain still find it.
///
/// # Examples
///
/// ```
/// use persevere::{Fixed, RetryPolicyExt, StopReason};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let err = persevere::retry(|| async { Err::<(), _>("connection reset by peer") })
///     .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(3))
///     .await
///     .unwrap_err();
///
/// assert_eq!(err.reason(), StopReason::AttemptsExhausted);
/// assert_eq!(err.attempts(), 3);
/// assert_eq!(err.to_string(), "gave up after 3 attempts in 2.0s: connection reset by peer");
/// assert_eq!(err.into_inner(), Some("connection reset by peer"));
/// # }
/// ```
pub struct RetryError<E, V = Infallible> {
    reason: StopReason,
    attempts: u32,
    elapsed: Duration,
    last_error: Option<E>,
    /// At most one of `last_error` and `last_value` is set.
    last_value: Option<V>,
    /// Boxed so that the error (and every `Result` that carries it) stays
    /// small: contexts are rare, results are on every call.
    context: Option<Box<Cow<'static, str>>>,
}

impl<E, V> RetryError<E, V> {
    pub(crate) fn new(
        reason: StopReason,
        attempts: u32,
        elapsed: Duration,
        last_error: Option<E>,
        last_value: Option<V>,
    ) -> Self {
        RetryError {
            reason,
            attempts,
            elapsed,
            last_error,
            last_value,
            context: None,
        }
    }

    /// Says what the call was doing, in front of the message:
    /// `deleting role build-bot: gave up after 10 attempts in 12.3s: …`.
    ///
    /// The context is boxed, so attaching one allocates once; in exchange the
    /// error stays small (40 bytes around an `io::Error`), which every
    /// `Result` that carries it, successful or not, benefits from.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let err = persevere::retry(|| async { Err::<(), _>("Throttling: Rate exceeded") })
    ///     .await
    ///     .unwrap_err()
    ///     .with_context(format!("deleting role {}", "build-bot"));
    /// assert!(err.to_string().starts_with("deleting role build-bot: gave up after 3 attempts in "));
    /// assert_eq!(err.context(), Some("deleting role build-bot"));
    /// # }
    /// ```
    #[must_use]
    pub fn with_context(mut self, context: impl Into<Cow<'static, str>>) -> Self {
        self.context = Some(Box::new(context.into()));
        self
    }

    /// What the call was doing, if a context was attached.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let err = persevere::retry(|| async { Err::<(), _>(()) }).await.unwrap_err();
    /// assert_eq!(err.context(), None);
    /// # }
    /// ```
    pub fn context(&self) -> Option<&str> {
        self.context.as_deref().map(|c| &**c)
    }

    /// Why retrying stopped.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Classification, StopReason};
    ///
    /// let err = persevere::retry(|| async { Err::<(), _>("no such bucket") })
    ///     .classify(|_: &&str| Classification::terminal())
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.reason(), StopReason::Terminal);
    /// # }
    /// ```
    pub fn reason(&self) -> StopReason {
        self.reason
    }

    /// How many attempts were started, counting the first.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let err = persevere::retry(|| async { Err::<(), _>("reset") }).await.unwrap_err();
    /// assert_eq!(err.attempts(), 3); // the default policy makes at most 3 attempts
    /// # }
    /// ```
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// How long the call took until it stopped.
    ///
    /// The clock starts when the first attempt starts if the policy has a
    /// deadline or (awaited, not through the blocking `.call()`, which ignores
    /// it) the call has an attempt timeout. Otherwise it starts when the
    /// first attempt *fails*, so that a call that succeeds at once never reads
    /// the clock: the first attempt's own duration is then not counted.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Fixed, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let err = persevere::retry(|| async { Err::<(), _>("reset") })
    ///     .policy(Fixed::new(Duration::from_millis(250)).with_max_attempts(5))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.elapsed(), Duration::from_secs(1)); // four sleeps of 250 ms
    /// # }
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// The last attempt's error, or `None` when the last attempt returned a
    /// value (see [`last_value`](Self::last_value)), did not finish
    /// (it hit its attempt timeout or the deadline), or when the deadline
    /// passed while the call slept before another attempt (a sleep on a real
    /// clock can end a little late; the failed attempt's error was already
    /// dropped, with its connection).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let err = persevere::retry(|| async { Err::<(), _>(42) }).await.unwrap_err();
    /// assert_eq!(err.last_error(), Some(&42));
    /// # }
    /// ```
    pub fn last_error(&self) -> Option<&E> {
        self.last_error.as_ref()
    }

    /// Takes the caller's own error back, without copying it.
    ///
    /// `None` when the last attempt did not fail with an error (see
    /// [`last_error`](Self::last_error)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let err = persevere::retry(|| async { Err::<(), _>(String::from("reset")) })
    ///     .await
    ///     .unwrap_err();
    /// let mine: String = err.into_inner().unwrap();
    /// assert_eq!(mine, "reset");
    /// # }
    /// ```
    pub fn into_inner(self) -> Option<E> {
        self.last_error
    }

    /// True when the call ended with neither an error nor a value of the last
    /// attempt to return: the attempt was cut short by its attempt timeout or by the deadline
    /// (or, see [`last_error`](Self::last_error), the deadline passed during
    /// the sleep before it).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::time::Duration;
    ///
    /// let err = persevere::retry(|| async {
    ///     std::future::pending::<Result<(), &str>>().await
    /// })
    /// .attempt_timeout(Duration::from_secs(1))
    /// .await
    /// .unwrap_err();
    /// assert!(err.timed_out());
    /// # }
    /// ```
    pub fn timed_out(&self) -> bool {
        self.last_error.is_none() && self.last_value.is_none()
    }

    /// The value of the last attempt, when the call stopped on a value that
    /// its [value classifier](crate::Retry::retry_if_ok) did not accept: the
    /// policy ran out of attempts (or deadline, or budget) with the value
    /// still retryable, or the verdict on it was terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Classification, StopReason};
    ///
    /// let err = persevere::retry(|| async { Ok::<_, std::io::Error>("pending") })
    ///     .retry_if_ok(|v: &&str| (*v == "pending").then(Classification::transient))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.reason(), StopReason::AttemptsExhausted);
    /// assert_eq!((err.last_value(), err.last_error().is_none()), (Some(&"pending"), true));
    /// # }
    /// ```
    pub fn last_value(&self) -> Option<&V> {
        self.last_value.as_ref()
    }

    /// Takes the last attempt's value back, without copying it (see
    /// [`last_value`](Self::last_value)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::Classification;
    ///
    /// let err = persevere::retry(|| async { Ok::<_, ()>(vec![503u16]) })
    ///     .retry_if_ok(|v: &Vec<u16>| (v[0] == 503).then(Classification::throttled))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err.attempts(), 3);
    /// assert_eq!(err.into_value(), Some(vec![503]));
    /// # }
    /// ```
    pub fn into_value(self) -> Option<V> {
        self.last_value
    }

    /// The last attempt's outcome, error or value, if it finished.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let err = persevere::retry(|| async { Err::<(), _>(7) }).await.unwrap_err();
    /// assert_eq!(err.into_last(), Some(Err(7)));
    /// # }
    /// ```
    pub fn into_last(self) -> Option<Result<V, E>> {
        match (self.last_value, self.last_error) {
            (Some(value), _) => Some(Ok(value)),
            (None, Some(error)) => Some(Err(error)),
            (None, None) => None,
        }
    }
}

impl<E, V> RetryError<E, V> {
    /// The last attempt's error, or the whole error when there is none.
    #[cfg_attr(not(feature = "reqwest-middleware"), allow(dead_code))]
    pub(crate) fn into_error(self) -> Result<E, Self> {
        match self.last_error {
            Some(error) => Ok(error),
            None => Err(RetryError {
                last_error: None,
                ..self
            }),
        }
    }

    /// The value that ended the call, or the error without it, for an
    /// adapter that hands the last value back as the call's success.
    #[cfg_attr(not(feature = "tower"), allow(dead_code))]
    pub(crate) fn split_value(self) -> Result<V, RetryError<E>> {
        match self.last_value {
            Some(value) => Ok(value),
            None => Err(RetryError {
                reason: self.reason,
                attempts: self.attempts,
                elapsed: self.elapsed,
                last_error: self.last_error,
                last_value: None,
                context: self.context,
            }),
        }
    }
}

impl<E: fmt::Display, V> fmt::Display for RetryError<E, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let plural = if self.attempts == 1 { "" } else { "s" };
        if let Some(context) = &self.context {
            write!(f, "{context}: ")?;
        }
        write!(
            f,
            "{} after {} attempt{plural} in ",
            self.reason, self.attempts
        )?;
        if self.elapsed.is_zero() {
            f.write_str("0s: ")?;
        } else {
            write!(f, "{:.1?}: ", self.elapsed)?;
        }
        match (&self.last_error, &self.last_value) {
            (Some(error), _) => write!(f, "{error}"),
            (None, Some(_)) => {
                f.write_str("the last attempt returned a value that was not accepted")
            }
            (None, None) if self.attempts == 0 => f.write_str("no attempt was made"),
            (None, None) => f.write_str("the last attempt did not finish in time"),
        }
    }
}

impl<E: fmt::Debug, V: fmt::Debug> fmt::Debug for RetryError<E, V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryError")
            .field("reason", &self.reason)
            .field("attempts", &self.attempts)
            .field("elapsed", &self.elapsed)
            .field("last_error", &self.last_error)
            .field("last_value", &self.last_value)
            .field("context", &self.context)
            .finish()
    }
}

impl<E: Error + 'static, V: fmt::Debug> Error for RetryError<E, V> {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.last_error
            .as_ref()
            .map(|e| e as &(dyn Error + 'static))
    }
}
