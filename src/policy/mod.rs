//! Policies decide *when* to retry: after which delay, and when to stop.
//!
//! A policy is configuration: a small `Copy` value that any number of
//! concurrent calls share without a lock. It is pure and synchronous; the
//! per-call state (attempt number, elapsed time, the previous delay, the
//! random generator) lives in the call and is handed to the policy in an
//! [`AttemptContext`]. Only the combinator sleeps.

mod exponential;
mod fixed;
mod limits;
pub mod presets;
mod retry_after;
mod schedule;

pub use exponential::Exponential;
pub use fixed::Fixed;
pub use limits::Limited;
pub use retry_after::{RetryAfter, decide};
pub(crate) use retry_after::{longest_sleep_before, starts_before};
pub use schedule::{Schedule, schedule};

use crate::classify::RetryKind;
use crate::elapsed::Elapsed;
use crate::error::StopReason;
use crate::rng::JitterRng;
use std::sync::Arc;
use std::time::Duration;

/// Decides, after a failed attempt, whether to retry and after which delay.
///
/// Implement it for a policy of your own; wrap it in [`Limited`] (through
/// [`RetryPolicyExt`]) for attempt caps and deadlines.
///
/// The trait is object-safe: `&dyn RetryPolicy` and `Box<dyn RetryPolicy>`
/// are policies too.
///
/// # Examples
///
/// A policy that waits 10 ms per attempt made so far:
///
/// ```
/// use persevere::{AttemptContext, Decision, JitterRng, RetryPolicy, RetryPolicyExt, schedule};
/// use std::time::Duration;
///
/// struct Linear;
///
/// impl RetryPolicy for Linear {
///     fn decide(&self, failed: &AttemptContext, _rng: &mut JitterRng) -> Decision {
///         Decision::Retry(Duration::from_millis(10) * failed.attempt())
///     }
/// }
///
/// let delays: Vec<_> = schedule(&Linear.with_max_attempts(4), 0).collect();
/// assert_eq!(delays, [10, 20, 30].map(Duration::from_millis));
/// ```
pub trait RetryPolicy: Send + Sync {
    /// What to do after the failed attempt described by `failed`.
    ///
    /// Only retryable failures reach a policy: terminal ones stop the call
    /// before. Randomness must come from `rng` alone, so that a seeded call
    /// is reproducible.
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision;

    /// The overall deadline, measured from the start of the first attempt, if
    /// the policy has one.
    ///
    /// The combinator holds the call to it whatever [`decide`](Self::decide)
    /// answers (see [`policy::decide`](crate::policy::decide)):
    ///
    /// - after a failed attempt, a retry whose sleep could end at or after the
    ///   deadline (counting tokio's 1 ms timer tick), or whose server-asked
    ///   delay would, is not started: the call stops at once with
    ///   [`StopReason::Deadline`] and the attempt's error, and the notify
    ///   hook is not called;
    /// - an attempt still running at the deadline is cut: the call stops with
    ///   [`StopReason::Deadline`] and no error
    ///   ([`RetryError::timed_out`](crate::RetryError::timed_out));
    /// - no attempt starts at or after the deadline, even after a sleep on a
    ///   real clock that woke up late.
    ///
    /// The clock starts with the first attempt only when this is `Some` (or
    /// the call has an attempt timeout). The default is `None`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Exponential, RetryPolicy, RetryPolicyExt};
    /// use std::time::Duration;
    ///
    /// assert_eq!(Exponential::new().deadline(), None);
    /// let limited = Exponential::new().with_deadline(Duration::from_secs(30));
    /// assert_eq!(limited.deadline(), Some(Duration::from_secs(30)));
    /// ```
    fn deadline(&self) -> Option<Duration> {
        None
    }
}

/// What a policy answers after a failed attempt.
///
/// # Examples
///
/// ```
/// use persevere::{Decision, StopReason};
/// use std::time::Duration;
///
/// let d = Decision::Retry(Duration::from_millis(100));
/// assert_eq!(d.delay(), Some(Duration::from_millis(100)));
/// assert_eq!(Decision::Stop(StopReason::Deadline).delay(), None);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Sleep this long, then make another attempt.
    Retry(Duration),
    /// Make no further attempt.
    Stop(StopReason),
}

impl Decision {
    /// The delay before the next attempt, if there is one.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::Decision;
    /// use std::time::Duration;
    ///
    /// assert_eq!(Decision::Retry(Duration::ZERO).delay(), Some(Duration::ZERO));
    /// ```
    pub const fn delay(self) -> Option<Duration> {
        match self {
            Decision::Retry(d) => Some(d),
            Decision::Stop(_) => None,
        }
    }
}

/// What a policy knows about the attempt that just failed.
///
/// The combinator builds it; build one yourself to unit-test a policy.
///
/// # Examples
///
/// ```
/// use persevere::{AttemptContext, Decision, Exponential, JitterRng, Jitter, RetryKind, RetryPolicy};
/// use std::time::Duration;
///
/// let policy = Exponential::new()
///     .with_initial_delay(Duration::from_millis(100))
///     .with_jitter(Jitter::None);
/// let third = AttemptContext::new(3, Duration::from_millis(300)).with_kind(RetryKind::Transient);
/// let mut rng = JitterRng::from_seed(0);
/// assert_eq!(policy.decide(&third, &mut rng), Decision::Retry(Duration::from_millis(400)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct AttemptContext {
    attempt: u32,
    elapsed: Elapsed,
    previous_delay: Option<Duration>,
    kind: RetryKind,
    server_delay: Option<Duration>,
}

impl AttemptContext {
    /// The failure of attempt number `attempt` (the first is 1; 0 is read as
    /// 1), `elapsed` after the first attempt started; a transient error with
    /// no server-given delay, after no previous sleep.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::AttemptContext;
    /// use std::time::Duration;
    ///
    /// let first = AttemptContext::new(1, Duration::ZERO);
    /// assert_eq!(first.attempt(), 1);
    /// assert_eq!(first.previous_delay(), None);
    /// ```
    pub const fn new(attempt: u32, elapsed: Duration) -> Self {
        AttemptContext {
            attempt: if attempt == 0 { 1 } else { attempt },
            elapsed: Elapsed::Known(elapsed),
            previous_delay: None,
            kind: RetryKind::Transient,
            server_delay: None,
        }
    }

    /// The failure of attempt number `attempt` of a call whose clock started
    /// at `start`; the elapsed time is read when a policy asks for it.
    pub(crate) fn started_at(attempt: u32, start: tokio::time::Instant) -> Self {
        AttemptContext {
            elapsed: Elapsed::Since(start),
            ..AttemptContext::new(attempt, Duration::ZERO)
        }
    }

    /// Sets the delay slept before the attempt that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::AttemptContext;
    /// use std::time::Duration;
    ///
    /// let c = AttemptContext::new(2, Duration::ZERO).with_previous_delay(Duration::from_secs(1));
    /// assert_eq!(c.previous_delay(), Some(Duration::from_secs(1)));
    /// ```
    pub const fn with_previous_delay(mut self, delay: Duration) -> Self {
        self.previous_delay = Some(delay);
        self
    }

    /// Sets what kind of retryable failure it was.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{AttemptContext, RetryKind};
    /// use std::time::Duration;
    ///
    /// let c = AttemptContext::new(1, Duration::ZERO).with_kind(RetryKind::Throttled);
    /// assert_eq!(c.kind(), RetryKind::Throttled);
    /// ```
    pub const fn with_kind(mut self, kind: RetryKind) -> Self {
        self.kind = kind;
        self
    }

    /// Sets the delay the server asked for (such as HTTP `Retry-After`).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::AttemptContext;
    /// use std::time::Duration;
    ///
    /// let c = AttemptContext::new(1, Duration::ZERO).with_server_delay(Some(Duration::from_secs(2)));
    /// assert_eq!(c.server_delay(), Some(Duration::from_secs(2)));
    /// ```
    pub const fn with_server_delay(mut self, delay: Option<Duration>) -> Self {
        self.server_delay = delay;
        self
    }

    /// The number of the attempt that failed, starting at 1.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::AttemptContext; use std::time::Duration;
    /// assert_eq!(AttemptContext::new(4, Duration::ZERO).attempt(), 4);
    /// ```
    pub const fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Time since the first attempt started (see [`RetryError::elapsed`](crate::RetryError::elapsed)
    /// for when the clock starts).
    ///
    /// In a context the combinator built, this reads the clock when called,
    /// so a policy that never asks costs the retry no clock read.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::AttemptContext; use std::time::Duration;
    /// assert_eq!(AttemptContext::new(1, Duration::from_secs(3)).elapsed(), Duration::from_secs(3));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed.get()
    }

    /// The delay slept before the attempt that failed; `None` after the first.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::AttemptContext; use std::time::Duration;
    /// assert_eq!(AttemptContext::new(1, Duration::ZERO).previous_delay(), None);
    /// ```
    pub const fn previous_delay(&self) -> Option<Duration> {
        self.previous_delay
    }

    /// What kind of retryable failure it was.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{AttemptContext, RetryKind}; use std::time::Duration;
    /// assert_eq!(AttemptContext::new(1, Duration::ZERO).kind(), RetryKind::Transient);
    /// ```
    pub const fn kind(&self) -> RetryKind {
        self.kind
    }

    /// The delay the server asked for, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::AttemptContext; use std::time::Duration;
    /// assert_eq!(AttemptContext::new(1, Duration::ZERO).server_delay(), None);
    /// ```
    pub const fn server_delay(&self) -> Option<Duration> {
        self.server_delay
    }
}

/// Limits that compose with any policy: attempt caps and deadlines.
///
/// Both methods wrap the policy in a [`Limited`]; calling them on a `Limited`
/// sets the limit on it instead of nesting.
///
/// # Examples
///
/// ```
/// use persevere::{Fixed, RetryPolicyExt, StopReason, schedule};
/// use std::time::Duration;
///
/// let policy = Fixed::new(Duration::from_secs(1))
///     .with_max_attempts(10)
///     .with_deadline(Duration::from_millis(3500));
/// let mut plan = schedule(&policy, 0);
/// assert_eq!(plan.by_ref().count(), 3); // a fourth sleep would end after the deadline
/// assert_eq!(plan.stop_reason(), Some(StopReason::Deadline));
/// ```
pub trait RetryPolicyExt: RetryPolicy + Sized {
    /// Stops after `max` attempts in all, counting the first.
    /// See [`Limited::with_max_attempts`].
    fn with_max_attempts(self, max: u32) -> Limited<Self> {
        Limited::new(self).with_max_attempts(max)
    }

    /// Stops rather than start a sleep that would end after `deadline`,
    /// measured from the start of the first attempt.
    /// See [`Limited::with_deadline`].
    fn with_deadline(self, deadline: Duration) -> Limited<Self> {
        Limited::new(self).with_deadline(deadline)
    }
}

impl<P: RetryPolicy> RetryPolicyExt for P {}

/// Smart pointers to a policy are policies, so one configuration can be shared.
macro_rules! forward_policy {
    ($($pointer:ty),*) => {$(
        impl<P: RetryPolicy + ?Sized> RetryPolicy for $pointer {
            fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
                (**self).decide(failed, rng)
            }
            fn deadline(&self) -> Option<Duration> {
                (**self).deadline()
            }
        }
    )*};
}

forward_policy!(&P, Box<P>, Arc<P>);

// The trait must stay object-safe and every policy shareable across threads.
const _: () = {
    fn _object_safe(_: &dyn RetryPolicy) {}
    fn _send_sync<T: Send + Sync>() {}
    fn _policies_are_send_sync() {
        _send_sync::<Exponential>();
        _send_sync::<Fixed>();
        _send_sync::<Limited<Exponential>>();
        _send_sync::<Box<dyn RetryPolicy>>();
    }
};
