//! Attempt caps and overall deadlines around any policy.

use super::{AttemptContext, Decision, RetryPolicy, starts_before};
use crate::error::{ConfigError, StopReason};
use crate::rng::JitterRng;
use std::time::Duration;

/// A policy with an attempt cap and/or an overall deadline.
///
/// - **Max attempts** counts every attempt, the first included: with 3, a call
///   makes at most 3 attempts and sleeps at most twice. It never sleeps after
///   the last attempt.
/// - **Deadline** is measured from the start of the first attempt. The policy
///   never starts a sleep that could end at or after the deadline (counting
///   the timer's 1 ms resolution), nor one shorter than a delay the server
///   asked for that would end after it: it stops at once with
///   [`StopReason::Deadline`] instead. The combinator also cuts an attempt
///   still running at the deadline.
///
/// Build it with [`RetryPolicyExt`](crate::RetryPolicyExt) or [`Limited::new`].
///
/// # Default
///
/// [`Limited::new`] sets no limit at all; each setter adds one.
///
/// # Clamps
///
/// A max of 0 attempts counts as 1 (a call always makes its first attempt);
/// [`validate`](Self::validate) reports it. `u32::MAX` attempts is allowed.
///
/// # Examples
///
/// ```
/// use persevere::{Exponential, Jitter, RetryPolicyExt, StopReason, schedule};
/// use std::time::Duration;
///
/// let policy = Exponential::new()
///     .with_initial_delay(Duration::from_secs(1))
///     .with_jitter(Jitter::None)
///     .with_max_attempts(10)
///     .with_deadline(Duration::from_secs(10));
/// let mut plan = schedule(&policy, 0);
/// let delays: Vec<_> = plan.by_ref().collect();
/// // 1 + 2 + 4 = 7 s; an 8 s sleep would end after the 10 s deadline.
/// assert_eq!(delays, [1, 2, 4].map(Duration::from_secs));
/// assert_eq!(plan.stop_reason(), Some(StopReason::Deadline));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limited<P> {
    inner: P,
    max_attempts: Option<u32>,
    deadline: Option<Duration>,
}

impl<P> Limited<P> {
    /// Wraps `inner` with no limits yet.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, Limited};
    /// use std::time::Duration;
    ///
    /// let p = Limited::new(Fixed::new(Duration::from_secs(1))).with_max_attempts(2);
    /// assert_eq!(p.max_attempts(), Some(2));
    /// ```
    pub const fn new(inner: P) -> Self {
        Limited {
            inner,
            max_attempts: None,
            deadline: None,
        }
    }

    /// Sets the cap on attempts, the first included.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt, schedule}; use std::time::Duration;
    /// let p = Fixed::new(Duration::ZERO).with_max_attempts(5);
    /// assert_eq!(schedule(&p, 0).count(), 4); // four sleeps between five attempts
    /// ```
    pub const fn with_max_attempts(mut self, max: u32) -> Self {
        self.max_attempts = Some(max);
        self
    }

    /// Sets the overall deadline, from the start of the first attempt.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicy, RetryPolicyExt}; use std::time::Duration;
    /// let p = Fixed::new(Duration::from_secs(1)).with_deadline(Duration::from_secs(30));
    /// assert_eq!(p.deadline(), Some(Duration::from_secs(30)));
    /// ```
    pub const fn with_deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The cap on attempts, if any.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, Limited};
    /// assert_eq!(Limited::new(Fixed::default()).max_attempts(), None);
    /// ```
    pub const fn max_attempts(&self) -> Option<u32> {
        self.max_attempts
    }

    /// The wrapped policy.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt}; use std::time::Duration;
    /// let p = Fixed::new(Duration::from_secs(3)).with_max_attempts(2);
    /// assert_eq!(p.inner().delay(), Duration::from_secs(3));
    /// ```
    pub const fn inner(&self) -> &P {
        &self.inner
    }

    /// Checks the limits, returning them unchanged if they are valid. (It does
    /// not validate the wrapped policy: do that before wrapping it.)
    ///
    /// # Errors
    ///
    /// [`ConfigError::ZeroAttempts`] for a cap of zero attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{ConfigError, Fixed, RetryPolicyExt};
    /// let err = Fixed::default().with_max_attempts(0).validate().unwrap_err();
    /// assert_eq!(err, ConfigError::ZeroAttempts);
    /// ```
    pub fn validate(self) -> Result<Self, ConfigError> {
        match self.max_attempts {
            Some(0) => Err(ConfigError::ZeroAttempts),
            _ => Ok(self),
        }
    }
}

impl<P: RetryPolicy> RetryPolicy for Limited<P> {
    #[inline(always)]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        if let Some(max) = self.max_attempts {
            if failed.attempt() >= max {
                return Decision::Stop(StopReason::AttemptsExhausted);
            }
        }
        let decision = self.inner.decide(failed, rng);
        match (decision, self.deadline) {
            (Decision::Retry(delay), Some(deadline))
                if !starts_before(deadline, failed.elapsed(), delay, failed.server_delay()) =>
            {
                Decision::Stop(StopReason::Deadline)
            }
            _ => decision,
        }
    }

    #[inline]
    fn deadline(&self) -> Option<Duration> {
        match (self.deadline, self.inner.deadline()) {
            (Some(mine), Some(inner)) => Some(mine.min(inner)),
            (mine, inner) => mine.or(inner),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicyExt;
    use crate::policy::{Fixed, schedule};

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn max_attempts_counts_the_first_attempt() {
        for max in [0, 1, 2, 5] {
            let p = Fixed::new(MS).with_max_attempts(max);
            assert_eq!(schedule(&p, 0).count(), max.saturating_sub(1) as usize);
        }
    }

    #[test]
    fn u32_max_attempts_does_not_overflow() {
        let p = Fixed::new(MS).with_max_attempts(u32::MAX);
        let mut rng = JitterRng::from_seed(0);
        let last = AttemptContext::new(u32::MAX, Duration::ZERO);
        assert_eq!(
            p.decide(&last, &mut rng),
            Decision::Stop(StopReason::AttemptsExhausted)
        );
        let before = AttemptContext::new(u32::MAX - 1, Duration::ZERO);
        assert_eq!(p.decide(&before, &mut rng), Decision::Retry(MS));
    }

    #[test]
    fn a_sleep_ending_at_or_after_the_deadline_is_not_started() {
        let p = Fixed::new(100 * MS).with_deadline(1000 * MS);
        let mut rng = JitterRng::from_seed(0);
        let at = |elapsed| AttemptContext::new(1, elapsed);
        assert_eq!(p.decide(&at(899 * MS), &mut rng), Decision::Retry(100 * MS));
        assert_eq!(
            p.decide(&at(900 * MS), &mut rng),
            Decision::Stop(StopReason::Deadline)
        );
        assert_eq!(
            p.decide(&at(5000 * MS), &mut rng),
            Decision::Stop(StopReason::Deadline)
        );
    }

    #[test]
    fn a_server_delay_past_the_deadline_stops_at_once() {
        let p = Fixed::new(MS).with_deadline(Duration::from_secs(10));
        let asked = AttemptContext::new(1, Duration::from_secs(1))
            .with_server_delay(Some(Duration::from_secs(30)));
        let d = p.decide(&asked, &mut JitterRng::from_seed(0));
        assert_eq!(d, Decision::Stop(StopReason::Deadline));
    }

    #[test]
    fn the_attempt_cap_wins_over_the_deadline_and_nesting_takes_the_earlier_deadline() {
        let p = Fixed::new(MS)
            .with_max_attempts(1)
            .with_deadline(Duration::ZERO);
        let d = p.decide(
            &AttemptContext::new(1, Duration::ZERO),
            &mut JitterRng::from_seed(0),
        );
        assert_eq!(d, Decision::Stop(StopReason::AttemptsExhausted));
        let nested = Limited::new(Fixed::new(MS).with_deadline(5 * MS)).with_deadline(9 * MS);
        assert_eq!(nested.deadline(), Some(5 * MS));
    }
}
