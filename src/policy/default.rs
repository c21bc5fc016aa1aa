//! The policy a call uses unless told otherwise.

use super::{AttemptContext, Decision, Exponential, Limited, RetryPolicy};
use crate::rng::JitterRng;
use std::time::Duration;

/// The policy a [`retry`](crate::retry) uses unless told otherwise: [`Exponential::new`]
/// (100 ms, doubling, 20 s max, full jitter) with at most 3 attempts.
///
/// # Examples
///
/// ```
/// use persevere::{DEFAULT_POLICY, schedule};
/// use std::time::Duration;
///
/// let delays: Vec<_> = schedule(&DEFAULT_POLICY, 0).collect();
/// assert_eq!(delays.len(), 2);
/// assert!(delays[0] <= Duration::from_millis(100) && delays[1] <= Duration::from_millis(200));
/// ```
pub const DEFAULT_POLICY: Limited<Exponential> =
    Limited::new(Exponential::new()).with_max_attempts(3);

/// The policy a [`retry`](crate::retry) uses unless told otherwise: a zero-sized stand-in
/// for [`DEFAULT_POLICY`], so that the default takes no room in the future.
///
/// # Examples
///
/// ```
/// use persevere::{DEFAULT_POLICY, DefaultPolicy, schedule};
///
/// let a: Vec<_> = schedule(&DefaultPolicy, 5).collect();
/// assert_eq!(a, schedule(&DEFAULT_POLICY, 5).collect::<Vec<_>>());
/// assert_eq!(std::mem::size_of::<DefaultPolicy>(), 0);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DefaultPolicy;

impl RetryPolicy for DefaultPolicy {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        DEFAULT_POLICY.decide(failed, rng)
    }

    #[inline]
    fn deadline(&self) -> Option<Duration> {
        DEFAULT_POLICY.deadline()
    }
}
