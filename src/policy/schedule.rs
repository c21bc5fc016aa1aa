//! A dry run of a policy: the delays a call would sleep if every attempt
//! failed at once with a transient error.

use super::{AttemptContext, Decision, RetryPolicy};
use crate::error::StopReason;
use crate::rng::JitterRng;
use std::time::Duration;

/// The delays `policy` would sleep if every attempt failed instantly with a
/// transient error, drawing jitter from a generator seeded with `seed`.
///
/// Each attempt is taken to last no time, so the elapsed time seen by the
/// policy is the sum of the delays before it. The iterator ends when the
/// policy stops; [`Schedule::stop_reason`] then says why. A policy without
/// limits never stops: bound the iteration with `take`.
///
/// This is the tool for unit-testing a policy composition deterministically.
///
/// # Examples
///
/// ```
/// use persevere::{Exponential, Jitter, RetryPolicyExt, StopReason, schedule};
/// use std::time::Duration;
///
/// let policy = Exponential::new().with_jitter(Jitter::None).with_max_attempts(4);
/// let mut plan = schedule(&policy, 0);
/// assert_eq!(plan.by_ref().collect::<Vec<_>>(), [100, 200, 400].map(Duration::from_millis));
/// assert_eq!(plan.stop_reason(), Some(StopReason::AttemptsExhausted));
/// ```
pub fn schedule<P: RetryPolicy + ?Sized>(policy: &P, seed: u64) -> Schedule<'_, P> {
    Schedule {
        policy,
        rng: JitterRng::from_seed(seed),
        attempt: 0,
        elapsed: Duration::ZERO,
        previous_delay: None,
        stopped: None,
    }
}

/// The iterator returned by [`schedule`].
///
/// # Examples
///
/// ```
/// use persevere::{Fixed, schedule};
/// use std::time::Duration;
///
/// let policy = Fixed::new(Duration::from_secs(1));
/// let mut plan = schedule(&policy, 0);
/// plan.next();
/// assert_eq!(plan.elapsed(), Duration::from_secs(1));
/// ```
#[derive(Debug)]
pub struct Schedule<'a, P: ?Sized> {
    policy: &'a P,
    rng: JitterRng,
    attempt: u32,
    elapsed: Duration,
    previous_delay: Option<Duration>,
    stopped: Option<StopReason>,
}

impl<P: ?Sized> Schedule<'_, P> {
    /// Why the policy stopped, once it has.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt, StopReason, schedule};
    /// let policy = Fixed::default().with_max_attempts(1);
    /// let mut plan = schedule(&policy, 0);
    /// assert_eq!(plan.next(), None);
    /// assert_eq!(plan.stop_reason(), Some(StopReason::AttemptsExhausted));
    /// ```
    pub fn stop_reason(&self) -> Option<StopReason> {
        self.stopped
    }

    /// The sum of the delays yielded so far.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt, schedule}; use std::time::Duration;
    /// let policy = Fixed::new(Duration::from_secs(2)).with_max_attempts(3);
    /// let mut plan = schedule(&policy, 0);
    /// plan.by_ref().for_each(drop);
    /// assert_eq!(plan.elapsed(), Duration::from_secs(4));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.elapsed
    }
}

impl<P: RetryPolicy + ?Sized> Iterator for Schedule<'_, P> {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.stopped.is_some() {
            return None;
        }
        self.attempt = self.attempt.saturating_add(1);
        let mut failed =
            AttemptContext::new(self.attempt, self.elapsed).with_total_delay(self.elapsed);
        if let Some(previous) = self.previous_delay {
            failed = failed.with_previous_delay(previous);
        }
        match super::decide(self.policy, &failed, &mut self.rng) {
            Decision::Retry(delay) => {
                self.elapsed = self.elapsed.saturating_add(delay);
                self.previous_delay = Some(delay);
                Some(delay)
            }
            Decision::Stop(reason) => {
                self.stopped = Some(reason);
                None
            }
        }
    }
}
