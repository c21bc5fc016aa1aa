//! One policy per kind of failure.

use super::{AttemptContext, Decision, RetryPolicy, earliest};
use crate::classify::RetryKind;
use crate::rng::JitterRng;
use std::time::Duration;

/// Routes each failure to the policy for its [`RetryKind`]: `policy` for all
/// three kinds, until [`throttled`](ByKind::throttled) or
/// [`timeout`](ByKind::timeout) replace it for theirs.
///
/// # Examples
///
/// The AWS habit: back off from 50 ms for transient errors, from 1 s when
/// throttled:
///
/// ```
/// use persevere::policy::by_kind;
/// use persevere::{AttemptContext, Decision, Fixed, JitterRng, RetryKind, RetryPolicy};
/// use std::time::Duration;
///
/// let policy = by_kind(Fixed::new(Duration::from_millis(50)))
///     .throttled(Fixed::new(Duration::from_secs(1)));
/// let mut rng = JitterRng::from_seed(0);
/// let failed = |kind| AttemptContext::new(1, Duration::ZERO).with_kind(kind);
/// assert_eq!(
///     policy.decide(&failed(RetryKind::Throttled), &mut rng),
///     Decision::Retry(Duration::from_secs(1))
/// );
/// assert_eq!(
///     policy.decide(&failed(RetryKind::Timeout), &mut rng),
///     Decision::Retry(Duration::from_millis(50))
/// );
/// ```
pub fn by_kind<P: RetryPolicy + Clone>(policy: P) -> ByKind<P, P, P> {
    ByKind::new(policy.clone(), policy.clone(), policy)
}

/// A policy per kind of failure: transient, throttled, timeout.
///
/// Each part sees the failure as it is, attempt number included, so a part
/// counts every attempt of the call, whatever its kind.
///
/// # Deadline
///
/// The [deadline](RetryPolicy::deadline) of the whole is the earliest of the
/// three parts' deadlines: the call never runs past a deadline any part has,
/// whatever kind of failure comes. To make it plain, leave the parts without
/// deadlines and put one on the whole
/// ([`with_deadline`](crate::RetryPolicyExt::with_deadline)).
///
/// # Examples
///
/// ```
/// use persevere::policy::ByKind;
/// use persevere::{Exponential, Fixed, RetryPolicy, RetryPolicyExt};
/// use std::time::Duration;
///
/// let policy = ByKind::new(
///     Exponential::new(),
///     Fixed::new(Duration::from_secs(2)).with_deadline(Duration::from_secs(30)),
///     Fixed::new(Duration::ZERO),
/// );
/// assert_eq!(policy.deadline(), Some(Duration::from_secs(30)));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ByKind<T, H, O> {
    transient: T,
    throttled: H,
    timeout: O,
}

impl<T, H, O> ByKind<T, H, O> {
    /// Routes transient failures to `transient`, throttling to `throttled`
    /// and timeouts to `timeout`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::policy::ByKind;
    /// use persevere::Fixed;
    /// use std::time::Duration;
    ///
    /// let p = ByKind::new(Fixed::default(), Fixed::new(Duration::from_secs(5)), Fixed::default());
    /// assert_eq!(p.throttled_policy().delay(), Duration::from_secs(5));
    /// ```
    pub const fn new(transient: T, throttled: H, timeout: O) -> Self {
        ByKind {
            transient,
            throttled,
            timeout,
        }
    }

    /// Replaces the policy for transient failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::by_kind, Fixed}; use std::time::Duration;
    /// let p = by_kind(Fixed::default()).transient(Fixed::new(Duration::ZERO));
    /// assert_eq!(p.transient_policy().delay(), Duration::ZERO);
    /// ```
    pub fn transient<T2>(self, transient: T2) -> ByKind<T2, H, O> {
        ByKind::new(transient, self.throttled, self.timeout)
    }

    /// Replaces the policy for throttling failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::by_kind, Exponential, Fixed};
    /// let p = by_kind(Fixed::default()).throttled(Exponential::new());
    /// assert_eq!(p.throttled_policy(), &Exponential::new());
    /// ```
    pub fn throttled<H2>(self, throttled: H2) -> ByKind<T, H2, O> {
        ByKind::new(self.transient, throttled, self.timeout)
    }

    /// Replaces the policy for timeouts.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::by_kind, Fixed}; use std::time::Duration;
    /// let p = by_kind(Fixed::default()).timeout(Fixed::new(Duration::from_secs(3)));
    /// assert_eq!(p.timeout_policy().delay(), Duration::from_secs(3));
    /// ```
    pub fn timeout<O2>(self, timeout: O2) -> ByKind<T, H, O2> {
        ByKind::new(self.transient, self.throttled, timeout)
    }

    /// The policy for transient failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::by_kind, Fixed};
    /// assert_eq!(by_kind(Fixed::default()).transient_policy(), &Fixed::default());
    /// ```
    pub const fn transient_policy(&self) -> &T {
        &self.transient
    }

    /// The policy for throttling failures.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::by_kind, Fixed};
    /// assert_eq!(by_kind(Fixed::default()).throttled_policy(), &Fixed::default());
    /// ```
    pub const fn throttled_policy(&self) -> &H {
        &self.throttled
    }

    /// The policy for timeouts.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::by_kind, Fixed};
    /// assert_eq!(by_kind(Fixed::default()).timeout_policy(), &Fixed::default());
    /// ```
    pub const fn timeout_policy(&self) -> &O {
        &self.timeout
    }
}

impl<T: RetryPolicy, H: RetryPolicy, O: RetryPolicy> RetryPolicy for ByKind<T, H, O> {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        match failed.kind() {
            RetryKind::Transient => self.transient.decide(failed, rng),
            RetryKind::Throttled => self.throttled.decide(failed, rng),
            RetryKind::Timeout => self.timeout.decide(failed, rng),
        }
    }

    fn deadline(&self) -> Option<Duration> {
        earliest(
            earliest(self.transient.deadline(), self.throttled.deadline()),
            self.timeout.deadline(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicyExt;
    use crate::policy::Fixed;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn each_kind_reaches_its_own_policy() {
        let p = ByKind::new(Fixed::new(MS), Fixed::new(2 * MS), Fixed::new(3 * MS));
        let mut rng = JitterRng::from_seed(0);
        let kinds = [
            RetryKind::Transient,
            RetryKind::Throttled,
            RetryKind::Timeout,
        ];
        for (kind, ms) in kinds.into_iter().zip(1..) {
            let failed = AttemptContext::new(1, Duration::ZERO).with_kind(kind);
            assert_eq!(p.decide(&failed, &mut rng), Decision::Retry(ms * MS));
        }
    }

    #[test]
    fn the_earliest_part_deadline_is_the_deadline() {
        let p = by_kind(Fixed::new(MS))
            .timeout(Fixed::new(MS).with_deadline(9 * MS))
            .throttled(Fixed::new(MS).with_deadline(4 * MS));
        assert_eq!(p.deadline(), Some(4 * MS));
        assert_eq!(by_kind(Fixed::new(MS)).deadline(), None);
    }
}
