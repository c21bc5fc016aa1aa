//! The methods every policy gets: limits and compositions.

use super::{Chain, Clamped, Larger, Limited, MaxTotalDelay, Plus, RetryPolicy};
use std::time::Duration;

/// Limits and compositions for any policy, as methods.
///
/// Each method wraps the policy in a small combinator, `Copy` when its parts
/// are; calling a limit on the combinator it returns (a second
/// `with_max_attempts` on a [`Limited`], `at_most` on a [`Clamped`]) sets the
/// limit on it instead of nesting. Routing by kind is [`by_kind`](super::by_kind),
/// a policy from a closure [`policy_fn`](super::policy_fn).
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

    /// This policy for the first `retries` retries, then `next`, which counts
    /// its own retries from 1. See [`Chain`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, schedule};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::from_millis(10)).chain(2, Fixed::new(Duration::from_secs(1)));
    /// let delays: Vec<_> = schedule(&p, 0).take(4).collect();
    /// assert_eq!(delays, [10, 10, 1000, 1000].map(Duration::from_millis));
    /// ```
    fn chain<Q: RetryPolicy>(self, retries: u32, next: Q) -> Chain<Self, Q> {
        Chain::new(self, retries, next)
    }

    /// Stops when either policy stops; otherwise sleeps the larger of the two
    /// delays. See [`Larger`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, schedule};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::from_secs(1)).larger(Fixed::new(Duration::from_secs(3)));
    /// assert_eq!(schedule(&p, 0).next(), Some(Duration::from_secs(3)));
    /// ```
    fn larger<Q: RetryPolicy>(self, other: Q) -> Larger<Self, Q> {
        Larger::new(self, other)
    }

    /// Stops when either policy stops; otherwise sleeps the sum of the two
    /// delays, `other` being asked as if the server had asked for no delay.
    /// See [`Plus`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, schedule};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::from_secs(1)).plus(Fixed::new(Duration::from_millis(500)));
    /// assert_eq!(schedule(&p, 0).next(), Some(Duration::from_millis(1500)));
    /// ```
    fn plus<Q: RetryPolicy>(self, other: Q) -> Plus<Self, Q> {
        Plus::new(self, other)
    }

    /// Raises every delay shorter than `floor` to `floor`. See [`Clamped`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, schedule};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::ZERO).at_least(Duration::from_millis(5));
    /// assert_eq!(schedule(&p, 0).next(), Some(Duration::from_millis(5)));
    /// ```
    fn at_least(self, floor: Duration) -> Clamped<Self> {
        Clamped::new(self).at_least(floor)
    }

    /// Lowers every delay longer than `cap` to `cap`, a server-given one
    /// included. See [`Clamped`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, schedule};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::from_secs(9)).at_most(Duration::from_secs(2));
    /// assert_eq!(schedule(&p, 0).next(), Some(Duration::from_secs(2)));
    /// ```
    fn at_most(self, cap: Duration) -> Clamped<Self> {
        Clamped::new(self).at_most(cap)
    }

    /// Stops rather than let the call's delays add up to more than `max`
    /// (attempt time not counted, unlike a deadline). See [`MaxTotalDelay`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, schedule};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::from_secs(2)).with_max_total_delay(Duration::from_secs(5));
    /// assert_eq!(schedule(&p, 0).count(), 2); // 2 + 2 s; a third sleep would make 6
    /// ```
    fn with_max_total_delay(self, max: Duration) -> MaxTotalDelay<Self> {
        MaxTotalDelay::new(self, max)
    }
}

impl<P: RetryPolicy> RetryPolicyExt for P {}
