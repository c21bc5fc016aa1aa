//! Two policies asked together: stop when either stops; sleep the larger, or
//! the sum, of their delays.

use super::{AttemptContext, Decision, RetryPolicy, earliest};
use crate::rng::JitterRng;
use std::time::Duration;

/// Asks `a`, then (unless it stopped) `b`: the first stop wins, with its
/// reason; otherwise `combine` of both delays.
#[inline]
fn both<A: RetryPolicy, B: RetryPolicy>(
    a: &A,
    b: &B,
    failed_a: &AttemptContext,
    failed_b: &AttemptContext,
    rng: &mut JitterRng,
    combine: fn(Duration, Duration) -> Duration,
) -> Decision {
    let first = match a.decide(failed_a, rng) {
        Decision::Retry(delay) => delay,
        stop => return stop,
    };
    match b.decide(failed_b, rng) {
        Decision::Retry(second) => Decision::Retry(combine(first, second)),
        stop => stop,
    }
}

/// Two policies together: stop when either stops, otherwise sleep the longer
/// of their two delays (tenacity's `stop_a | stop_b`, with
/// `wait_combine`-style max).
///
/// Both see the same failure; `a` is asked first and, if it stops, `b` is not
/// asked and the call stops with `a`'s reason. Jitter is drawn from the one
/// call generator, `a`'s draws first.
///
/// # Deadline
///
/// The earlier of the two parts' deadlines: either part can stop the call.
///
/// Built with [`RetryPolicyExt::larger`](crate::RetryPolicyExt::larger);
/// methods rather than `|`, which could not be implemented for every policy.
///
/// # Examples
///
/// At least 2 s apart, but exponential beyond that, and at most 5 attempts:
///
/// ```
/// use persevere::{Exponential, Fixed, Jitter, RetryPolicyExt, StopReason, schedule};
/// use std::time::Duration;
///
/// let exp = Exponential::new().with_initial_delay(Duration::from_secs(1)).with_jitter(Jitter::None);
/// let policy = Fixed::new(Duration::from_secs(2)).with_max_attempts(5).larger(exp);
/// let mut plan = schedule(&policy, 0);
/// let delays: Vec<_> = plan.by_ref().map(|d| d.as_secs()).collect();
/// assert_eq!(delays, [2, 2, 4, 8]);
/// assert_eq!(plan.stop_reason(), Some(StopReason::AttemptsExhausted));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Larger<A, B> {
    a: A,
    b: B,
}

impl<A, B> Larger<A, B> {
    /// The two policies together.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::Larger, Fixed, schedule}; use std::time::Duration;
    /// let p = Larger::new(Fixed::new(Duration::from_secs(1)), Fixed::new(Duration::ZERO));
    /// assert_eq!(schedule(&p, 0).next(), Some(Duration::from_secs(1)));
    /// ```
    pub const fn new(a: A, b: B) -> Self {
        Larger { a, b }
    }
}

impl<A: RetryPolicy, B: RetryPolicy> RetryPolicy for Larger<A, B> {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        both(&self.a, &self.b, failed, failed, rng, Duration::max)
    }

    fn deadline(&self) -> Option<Duration> {
        earliest(self.a.deadline(), self.b.deadline())
    }
}

/// Two policies together: stop when either stops, otherwise sleep the sum of
/// their delays, saturating (tenacity's `wait_a + wait_b`).
///
/// `a` sees the failure as it is, server-given delay included; `b` is an
/// addition on top and is asked as if the server had asked for no delay, so
/// that a `Retry-After` is honoured once, not twice. `a` is asked first and,
/// if it stops, `b` is not asked. Jitter is drawn from the one call
/// generator, `a`'s draws first.
///
/// # Deadline
///
/// The earlier of the two parts' deadlines.
///
/// Built with [`RetryPolicyExt::plus`](crate::RetryPolicyExt::plus).
///
/// # Examples
///
/// A fixed second plus up to 2 s of random spread:
///
/// ```
/// use persevere::policy::policy_fn;
/// use persevere::{Decision, Fixed, RetryPolicyExt, schedule};
/// use std::time::Duration;
///
/// let spread = policy_fn(|_, rng| {
///     Decision::Retry(rng.duration_between(Duration::ZERO, Duration::from_secs(2)))
/// });
/// let policy = Fixed::new(Duration::from_secs(1)).plus(spread).with_max_attempts(10);
/// for d in schedule(&policy, 7) {
///     assert!(Duration::from_secs(1) <= d && d <= Duration::from_secs(3));
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Plus<A, B> {
    a: A,
    b: B,
}

impl<A, B> Plus<A, B> {
    /// The two policies together.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::Plus, Fixed, schedule}; use std::time::Duration;
    /// let p = Plus::new(Fixed::new(Duration::from_secs(1)), Fixed::new(Duration::from_secs(1)));
    /// assert_eq!(schedule(&p, 0).next(), Some(Duration::from_secs(2)));
    /// ```
    pub const fn new(a: A, b: B) -> Self {
        Plus { a, b }
    }
}

impl<A: RetryPolicy, B: RetryPolicy> RetryPolicy for Plus<A, B> {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        let unasked = failed.with_server_delay(None);
        both(
            &self.a,
            &self.b,
            failed,
            &unasked,
            rng,
            Duration::saturating_add,
        )
    }

    fn deadline(&self) -> Option<Duration> {
        earliest(self.a.deadline(), self.b.deadline())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StopReason;
    use crate::policy::{Fixed, policy_fn};
    use crate::{RetryPolicyExt, schedule};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn either_stop_wins_with_its_reason() {
        let stop = policy_fn(|_, _| Decision::Stop(StopReason::Policy));
        let mut rng = JitterRng::from_seed(0);
        let failed = AttemptContext::new(1, Duration::ZERO);
        for p in [
            &Fixed::new(MS).larger(stop) as &dyn RetryPolicy,
            &stop.larger(Fixed::new(MS)),
            &Fixed::new(MS).plus(stop),
            &stop.plus(Fixed::new(MS)),
        ] {
            assert_eq!(
                p.decide(&failed, &mut rng),
                Decision::Stop(StopReason::Policy)
            );
        }
        let capped = Fixed::new(MS).with_max_attempts(2);
        let p = capped.larger(Fixed::new(9 * MS));
        assert_eq!(schedule(&p, 0).count(), 1);
    }

    #[test]
    fn max_and_saturating_sum() {
        let (one, max) = (Fixed::new(MS), Fixed::new(Duration::MAX));
        assert_eq!(schedule(&one.larger(max), 0).next(), Some(Duration::MAX));
        assert_eq!(schedule(&one.plus(max), 0).next(), Some(Duration::MAX));
        assert_eq!(schedule(&one.plus(one), 0).next(), Some(2 * MS));
    }

    #[test]
    fn plus_honours_a_server_delay_once() {
        let p = Fixed::new(MS).plus(Fixed::new(5 * MS));
        let asked = AttemptContext::new(1, Duration::ZERO).with_server_delay(Some(100 * MS));
        let d = p.decide(&asked, &mut JitterRng::from_seed(0));
        assert_eq!(d, Decision::Retry(105 * MS));
    }

    #[test]
    fn the_earlier_deadline() {
        let p = Fixed::new(MS)
            .with_deadline(5 * MS)
            .plus(Fixed::new(MS).with_deadline(3 * MS));
        assert_eq!(p.deadline(), Some(3 * MS));
        assert_eq!(Fixed::new(MS).larger(Fixed::new(MS)).deadline(), None);
    }
}
