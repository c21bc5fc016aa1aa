//! A policy from a closure.

use super::{AttemptContext, Decision, RetryPolicy};
use crate::rng::JitterRng;
use std::fmt;

/// A policy that calls `f` after each failed attempt.
///
/// The closure must be pure, like any policy: what it answers may depend on
/// the [`AttemptContext`] and on draws from the `rng`, and nothing else, so
/// that a seeded call is reproducible. It has no deadline of its own: add one
/// with [`with_deadline`](crate::RetryPolicyExt::with_deadline).
///
/// # Examples
///
/// Retry throttling errors once a second, stop on anything else after the
/// third attempt:
///
/// ```
/// use persevere::policy::policy_fn;
/// use persevere::{Decision, RetryKind, StopReason, schedule};
/// use std::time::Duration;
///
/// let policy = policy_fn(|failed, _rng| match failed.kind() {
///     RetryKind::Throttled => Decision::Retry(Duration::from_secs(1)),
///     _ if failed.attempt() < 3 => Decision::Retry(Duration::from_millis(10)),
///     _ => Decision::Stop(StopReason::Policy),
/// });
/// let mut plan = schedule(&policy, 0);
/// assert_eq!(plan.by_ref().count(), 2);
/// assert_eq!(plan.stop_reason(), Some(StopReason::Policy));
/// ```
pub fn policy_fn<F>(f: F) -> PolicyFn<F>
where
    F: Fn(&AttemptContext, &mut JitterRng) -> Decision + Send + Sync,
{
    PolicyFn { f }
}

/// The policy returned by [`policy_fn`]; `Copy` when the closure is.
///
/// # Examples
///
/// ```
/// use persevere::policy::{PolicyFn, policy_fn};
/// use persevere::{AttemptContext, Decision, JitterRng, RetryPolicy};
/// use std::time::Duration;
///
/// let half_a_second: PolicyFn<_> = policy_fn(|_, _| Decision::Retry(Duration::from_millis(500)));
/// let failed = AttemptContext::new(1, Duration::ZERO);
/// let d = half_a_second.decide(&failed, &mut JitterRng::from_seed(0));
/// assert_eq!(d, Decision::Retry(Duration::from_millis(500)));
/// ```
#[derive(Clone, Copy)]
pub struct PolicyFn<F> {
    f: F,
}

impl<F> RetryPolicy for PolicyFn<F>
where
    F: Fn(&AttemptContext, &mut JitterRng) -> Decision + Send + Sync,
{
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        (self.f)(failed, rng)
    }
}

impl<F> fmt::Debug for PolicyFn<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyFn").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicyExt;
    use crate::policy::schedule;
    use std::time::Duration;

    #[test]
    fn the_closure_sees_the_context_and_draws_from_the_call_rng() {
        let p = policy_fn(|failed, rng| {
            let ms = u64::from(failed.attempt()) * 10;
            Decision::Retry(rng.duration_between(Duration::ZERO, Duration::from_millis(ms)))
        })
        .with_max_attempts(5);
        let a: Vec<_> = schedule(&p, 3).collect();
        assert_eq!(a, schedule(&p, 3).collect::<Vec<_>>());
        assert_eq!(a.len(), 4);
        for (i, d) in a.iter().enumerate() {
            assert!(*d <= Duration::from_millis(10 * (i as u64 + 1)), "{d:?}");
        }
    }
}
