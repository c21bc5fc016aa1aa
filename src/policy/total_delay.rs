//! A cap on the sum of a call's sleeps.

use super::{AttemptContext, Decision, RetryPolicy};
use crate::error::StopReason;
use crate::rng::JitterRng;
use std::time::Duration;

/// Any policy, stopped before its sleeps add up to more than a maximum.
///
/// It counts only the time slept between attempts
/// ([`AttemptContext::total_delay`]), not the attempts' own time: unlike a
/// [deadline](crate::RetryPolicyExt::with_deadline), it bounds how long a
/// call waits, not how long it runs. A retry whose delay would bring the
/// total past the maximum is not started: the call stops with
/// [`StopReason::TotalDelayExhausted`]. A total equal to the maximum is allowed.
///
/// The inner policy's deadline passes through.
///
/// # Examples
///
/// ```
/// use persevere::{Fixed, RetryPolicyExt, StopReason, schedule};
/// use std::time::Duration;
///
/// let policy = Fixed::new(Duration::from_secs(4)).with_max_total_delay(Duration::from_secs(10));
/// let mut plan = schedule(&policy, 0);
/// assert_eq!(plan.by_ref().count(), 2); // 4 + 4 s; a third sleep would make 12
/// assert_eq!(plan.stop_reason(), Some(StopReason::TotalDelayExhausted));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MaxTotalDelay<P> {
    inner: P,
    max: Duration,
}

impl<P> MaxTotalDelay<P> {
    /// Wraps `inner`, allowing at most `max` of sleep in all.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{policy::MaxTotalDelay, Fixed}; use std::time::Duration;
    /// let p = MaxTotalDelay::new(Fixed::default(), Duration::from_secs(30));
    /// assert_eq!(p.max_total_delay(), Duration::from_secs(30));
    /// ```
    pub const fn new(inner: P, max: Duration) -> Self {
        MaxTotalDelay { inner, max }
    }

    /// Sets the maximum, in place of nesting a second cap.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt}; use std::time::Duration;
    /// let p = Fixed::default()
    ///     .with_max_total_delay(Duration::from_secs(30))
    ///     .with_max_total_delay(Duration::from_secs(5));
    /// assert_eq!(p.max_total_delay(), Duration::from_secs(5));
    /// ```
    pub const fn with_max_total_delay(mut self, max: Duration) -> Self {
        self.max = max;
        self
    }

    /// The most the call may sleep in all.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, RetryPolicyExt}; use std::time::Duration;
    /// let p = Fixed::default().with_max_total_delay(Duration::from_secs(3));
    /// assert_eq!(p.max_total_delay(), Duration::from_secs(3));
    /// ```
    pub const fn max_total_delay(&self) -> Duration {
        self.max
    }
}

impl<P: RetryPolicy> RetryPolicy for MaxTotalDelay<P> {
    #[inline]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        match self.inner.decide(failed, rng) {
            Decision::Retry(delay) => match failed.total_delay().checked_add(delay) {
                Some(total) if total <= self.max => Decision::Retry(delay),
                _ => Decision::Stop(StopReason::TotalDelayExhausted),
            },
            stop => stop,
        }
    }

    fn deadline(&self) -> Option<Duration> {
        self.inner.deadline()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryPolicyExt;
    use crate::policy::Fixed;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn counts_the_sleeps_not_the_elapsed_time() {
        let p = Fixed::new(3 * MS).with_max_total_delay(10 * MS);
        let mut rng = JitterRng::from_seed(0);
        let at = |total| AttemptContext::new(2, Duration::from_secs(60)).with_total_delay(total);
        assert_eq!(p.decide(&at(7 * MS), &mut rng), Decision::Retry(3 * MS));
        assert_eq!(
            p.decide(&at(8 * MS), &mut rng),
            Decision::Stop(StopReason::TotalDelayExhausted)
        );
        let huge = Fixed::new(Duration::MAX).with_max_total_delay(Duration::MAX);
        assert_eq!(
            huge.decide(&at(MS), &mut rng),
            Decision::Stop(StopReason::TotalDelayExhausted)
        );
        assert_eq!(
            huge.decide(&at(Duration::ZERO), &mut rng),
            Decision::Retry(Duration::MAX)
        );
    }
}
