//! Policies decide *when* to retry: after which delay, and when to stop.
//!
//! A policy is configuration: a small `Copy` value that any number of
//! concurrent calls share without a lock. It is pure and synchronous; the
//! per-call state (attempt number, elapsed time, the previous delay, the
//! random generator) lives in the call and is handed to the policy in an
//! [`AttemptContext`]. Only the combinator sleeps.

mod by_kind;
mod chain;
mod clamp;
mod combine;
mod default;
mod exponential;
mod ext;
mod fixed;
mod limits;
mod policy_fn;
pub mod presets;
mod retry_after;
mod schedule;
mod total_delay;

pub use by_kind::{ByKind, by_kind};
pub use chain::Chain;
pub use clamp::Clamped;
pub use combine::{Larger, Plus};
pub use default::{DEFAULT_POLICY, DefaultPolicy};
pub use exponential::Exponential;
pub use ext::RetryPolicyExt;
pub use fixed::Fixed;
pub use limits::Limited;
pub use policy_fn::{PolicyFn, policy_fn};
pub use retry_after::{RetryAfter, decide};
pub(crate) use retry_after::{longest_sleep_before, starts_before};
pub use schedule::{Schedule, schedule};
pub use total_delay::MaxTotalDelay;

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
    total_delay: Duration,
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
            total_delay: Duration::ZERO,
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

    /// Sets the sum of the delays slept before the attempt that failed.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::AttemptContext;
    /// use std::time::Duration;
    ///
    /// let c = AttemptContext::new(3, Duration::from_secs(9)).with_total_delay(Duration::from_secs(3));
    /// assert_eq!(c.total_delay(), Duration::from_secs(3));
    /// ```
    pub const fn with_total_delay(mut self, total: Duration) -> Self {
        self.total_delay = total;
        self
    }

    /// The same failure as attempt number `attempt` of a policy that took
    /// over the call, with no previous delay: what the second policy of a
    /// [`Chain`] sees.
    /// This context with what a call knows of the failure besides its
    /// number and time: one move, where the `with_*` chain makes four.
    #[inline(always)]
    pub(crate) const fn with_failure(
        self,
        kind: RetryKind,
        server_delay: Option<Duration>,
        previous_delay: Option<Duration>,
        total_delay: Duration,
    ) -> Self {
        AttemptContext {
            kind,
            server_delay,
            previous_delay,
            total_delay,
            ..self
        }
    }

    pub(crate) const fn renumbered(mut self, attempt: u32) -> Self {
        self.attempt = if attempt == 0 { 1 } else { attempt };
        self.previous_delay = None;
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

    /// The sum of the delays slept before the attempt that failed (not
    /// counting the attempts' own time, unlike [`elapsed`](Self::elapsed)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::AttemptContext; use std::time::Duration;
    /// assert_eq!(AttemptContext::new(1, Duration::from_secs(2)).total_delay(), Duration::ZERO);
    /// ```
    pub const fn total_delay(&self) -> Duration {
        self.total_delay
    }
}

/// The earlier of two optional deadlines: the deadline of a policy made of
/// two others.
pub(crate) fn earliest(a: Option<Duration>, b: Option<Duration>) -> Option<Duration> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

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
        _send_sync::<ByKind<Fixed, Exponential, Box<dyn RetryPolicy>>>();
        _send_sync::<Chain<Fixed, Exponential>>();
        _send_sync::<Larger<Fixed, Plus<Fixed, Exponential>>>();
        _send_sync::<Clamped<MaxTotalDelay<Exponential>>>();
        _send_sync::<PolicyFn<fn(&AttemptContext, &mut JitterRng) -> Decision>>();
    }
    // A composition is a policy as a whole: it can be boxed.
    fn _composition_boxes(p: Chain<Fixed, ByKind<Fixed, Fixed, Fixed>>) -> Box<dyn RetryPolicy> {
        Box::new(p.larger(Fixed::default()).at_most(Duration::from_secs(1)))
    }
};
