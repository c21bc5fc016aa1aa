//! The hook that hears about each failed attempt before the retry.

use crate::classify::Classification;
use crate::elapsed::Elapsed;
use std::time::Duration;

/// A failed attempt that will be retried after [`delay`](Self::delay).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::{Fixed, RetryEvent, RetryPolicyExt};
/// use std::time::Duration;
///
/// let mut seen = Vec::new();
/// let _ = persevere::retry(|| async { Err::<(), _>("reset") })
///     .policy(Fixed::new(Duration::from_millis(10)).with_max_attempts(3))
///     .notify(|event: &RetryEvent<'_, &str>| seen.push((event.attempt(), event.delay())))
///     .await;
/// assert_eq!(seen, [(1, Duration::from_millis(10)), (2, Duration::from_millis(10))]);
/// # }
/// ```
#[derive(Debug)]
pub struct RetryEvent<'a, E> {
    pub(crate) attempt: u32,
    pub(crate) error: Option<&'a E>,
    pub(crate) value: bool,
    pub(crate) classification: Classification,
    pub(crate) delay: Duration,
    pub(crate) elapsed: Elapsed,
}

impl<'a, E> RetryEvent<'a, E> {
    /// The number of the attempt that failed, starting at 1.
    ///
    /// # Examples
    ///
    /// See [`RetryEvent`].
    pub fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The attempt's error; `None` when the attempt hit its attempt timeout
    /// or returned a value that is retried (see [`returned_value`](Self::returned_value)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::RetryEvent;
    ///
    /// let mut errors = Vec::new();
    /// let _ = persevere::retry(|| async { Err::<(), _>(7) })
    ///     .notify(|e: &RetryEvent<'_, i32>| errors.push(e.error().copied()))
    ///     .await;
    /// assert_eq!(errors, [Some(7), Some(7)]);
    /// # }
    /// ```
    pub fn error(&self) -> Option<&'a E> {
        self.error
    }

    /// True when the attempt returned an `Ok` value that its value
    /// classifier did not accept (see [`Retry::retry_if_ok`](crate::Retry::retry_if_ok)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Classification, RetryEvent};
    ///
    /// let mut seen = Vec::new();
    /// let _ = persevere::retry(|| async { Ok::<_, ()>("pending") })
    ///     .retry_if_ok(|_: &&str| Some(Classification::transient()))
    ///     .notify(|e: &RetryEvent<'_, ()>| seen.push(e.returned_value()))
    ///     .await;
    /// assert_eq!(seen, [true, true]);
    /// # }
    /// ```
    pub fn returned_value(&self) -> bool {
        self.value
    }

    /// How the error was classified (a timeout for an attempt timeout).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Classification, RetryEvent};
    ///
    /// let mut kinds = Vec::new();
    /// let _ = persevere::retry(|| async { Err::<(), _>("slow down") })
    ///     .classify(|_: &&str| Classification::throttled())
    ///     .notify(|e: &RetryEvent<'_, &str>| kinds.push(e.classification().kind()))
    ///     .await;
    /// assert_eq!(kinds, [Some(persevere::RetryKind::Throttled); 2]);
    /// # }
    /// ```
    pub fn classification(&self) -> Classification {
        self.classification
    }

    /// How long the call will sleep before the next attempt.
    ///
    /// # Examples
    ///
    /// See [`RetryEvent`].
    pub fn delay(&self) -> Duration {
        self.delay
    }

    /// Time since the call started (see [`RetryError::elapsed`](crate::RetryError::elapsed)
    /// for when the clock starts).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::{Fixed, RetryEvent, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// let mut times = Vec::new();
    /// let _ = persevere::retry(|| async { Err::<(), _>(()) })
    ///     .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(3))
    ///     .notify(|e: &RetryEvent<'_, ()>| times.push(e.elapsed()))
    ///     .await;
    /// assert_eq!(times, [Duration::ZERO, Duration::from_secs(1)]);
    /// # }
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed.get()
    }
}

/// Hears about each failed attempt that will be retried, before the sleep.
///
/// It is called after the whole decision: the classifier found the error
/// retryable, the policy chose a delay, the delay passed the deadline check of
/// [`policy::decide`](crate::policy::decide) (the sleep, rounded up to tokio's
/// 1 ms tick, and any delay the server asked for, end before the deadline),
/// and the budget paid for the retry. So every retry announced runs, unless
/// the call is dropped during its sleep or a sleep on a real clock wakes up
/// past the deadline (a busy or suspended machine), when the call stops with
/// [`StopReason::Deadline`](crate::StopReason::Deadline) instead. A failure
/// that ends the call is not announced: the caller gets it in the
/// [`RetryError`](crate::RetryError).
///
/// Implemented for every `FnMut(&RetryEvent<'_, E>)`, and for `()` (hear
/// nothing, the default).
///
/// # Examples
///
/// ```
/// use persevere::{Notify, RetryEvent};
/// use std::fmt::Display;
///
/// struct Stderr;
/// impl<E: Display> Notify<E> for Stderr {
///     fn notify(&mut self, event: &RetryEvent<'_, E>) {
///         if let Some(error) = event.error() {
///             eprintln!("attempt {} failed: {error}; retrying in {:?}", event.attempt(), event.delay());
///         }
///     }
/// }
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let _ = persevere::retry(|| async { Err::<(), _>("reset") }).notify(Stderr).await;
/// # }
/// ```
pub trait Notify<E> {
    /// Called once per failed attempt that will be retried.
    fn notify(&mut self, event: &RetryEvent<'_, E>);
}

impl<E> Notify<E> for () {
    fn notify(&mut self, _: &RetryEvent<'_, E>) {}
}

impl<E, F: FnMut(&RetryEvent<'_, E>)> Notify<E> for F {
    fn notify(&mut self, event: &RetryEvent<'_, E>) {
        self(event)
    }
}
