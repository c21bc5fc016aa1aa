//! A constant delay between attempts.

use super::{AttemptContext, Decision, RetryAfter, RetryPolicy};
use crate::error::ConfigError;
use crate::jitter::Jitter;
use crate::rng::JitterRng;
use std::time::Duration;

/// The same delay after every failure, optionally jittered.
///
/// It never stops by itself: cap it with
/// [`with_max_attempts`](crate::RetryPolicyExt::with_max_attempts) or
/// [`with_deadline`](crate::RetryPolicyExt::with_deadline).
///
/// # Default
///
/// | setting | value |
/// |---|---|
/// | delay | as given to [`new`](Self::new) (`Default`: 1 s) |
/// | jitter | [`Jitter::None`] |
/// | max delay | the larger of the delay and 60 s |
/// | server-given delays | [`RetryAfter::NotEarlier`] |
///
/// The max delay caps jittered delays; a server-given delay (`Retry-After`)
/// longer than it is handled by the [`RetryAfter`] rule (by default the call
/// stops at once rather than come back earlier than asked).
/// With decorrelated jitter the fixed delay is the floor each delay grows from,
/// up to the max delay.
///
/// # Examples
///
/// ```
/// use persevere::{Fixed, RetryPolicyExt, schedule};
/// use std::time::Duration;
///
/// let policy = Fixed::new(Duration::from_millis(250)).with_max_attempts(4);
/// let delays: Vec<_> = schedule(&policy, 0).collect();
/// assert_eq!(delays, [Duration::from_millis(250); 3]);
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Fixed {
    delay: Duration,
    jitter: Jitter,
    max_delay: Duration,
    retry_after: RetryAfter,
}

impl Fixed {
    const MIN_MAX_DELAY: Duration = Duration::from_secs(60);

    /// A policy that waits `delay` after each failure.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Fixed; use std::time::Duration;
    /// assert_eq!(Fixed::new(Duration::from_secs(2)).delay(), Duration::from_secs(2));
    /// ```
    pub const fn new(delay: Duration) -> Self {
        let max_delay = if delay.as_nanos() > Self::MIN_MAX_DELAY.as_nanos() {
            delay
        } else {
            Self::MIN_MAX_DELAY
        };
        Fixed {
            delay,
            jitter: Jitter::None,
            max_delay,
            retry_after: RetryAfter::NotEarlier,
        }
    }

    /// Sets how each delay is randomised.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, Jitter, schedule};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::from_secs(1)).with_jitter(Jitter::Proportional(0.1));
    /// let d = schedule(&p, 5).next().unwrap();
    /// assert!(Duration::from_millis(900) <= d && d <= Duration::from_millis(1100));
    /// ```
    pub const fn with_jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Sets what the policy does with a delay the server asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, policy::RetryAfter};
    /// use std::time::Duration;
    ///
    /// let p = Fixed::new(Duration::from_secs(1)).with_retry_after(RetryAfter::Capped);
    /// assert_eq!(p.retry_after(), RetryAfter::Capped);
    /// ```
    pub const fn with_retry_after(mut self, rule: RetryAfter) -> Self {
        self.retry_after = rule;
        self
    }

    /// What the policy does with a delay the server asked for.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, policy::RetryAfter};
    /// assert_eq!(Fixed::default().retry_after(), RetryAfter::NotEarlier);
    /// ```
    pub const fn retry_after(&self) -> RetryAfter {
        self.retry_after
    }

    /// Sets the cap on jittered delays (and, under [`RetryAfter::Capped`],
    /// on server-given ones).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Fixed; use std::time::Duration;
    /// let p = Fixed::new(Duration::from_secs(1)).with_max_delay(Duration::from_secs(5));
    /// assert_eq!(p.max_delay(), Duration::from_secs(5));
    /// ```
    pub const fn with_max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// The delay.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Fixed; use std::time::Duration;
    /// assert_eq!(Fixed::default().delay(), Duration::from_secs(1));
    /// ```
    pub const fn delay(&self) -> Duration {
        self.delay
    }

    /// The cap on jittered delays (see [`with_max_delay`](Self::with_max_delay)).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Fixed; use std::time::Duration;
    /// assert_eq!(Fixed::new(Duration::from_secs(90)).max_delay(), Duration::from_secs(90));
    /// ```
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// Checks the configuration, returning it unchanged if it is valid.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::MaxBelowInitial`] when the delay exceeds the max delay;
    /// - [`ConfigError::JitterFraction`] for a proportional fraction outside `0..=1`.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Fixed, Jitter}; use std::time::Duration;
    /// assert!(Fixed::new(Duration::from_secs(1)).with_jitter(Jitter::Proportional(2.0)).validate().is_err());
    /// ```
    pub fn validate(self) -> Result<Self, ConfigError> {
        if self.delay > self.max_delay {
            return Err(ConfigError::MaxBelowInitial {
                initial: self.delay,
                max: self.max_delay,
            });
        }
        self.jitter.validate()?;
        Ok(self)
    }
}

impl Default for Fixed {
    /// A fixed delay of one second.
    fn default() -> Self {
        Fixed::new(Duration::from_secs(1))
    }
}

impl RetryPolicy for Fixed {
    #[inline(always)]
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        let mut computed = || {
            let delay = self.delay;
            self.jitter
                .apply(delay, delay, self.max_delay, failed.previous_delay(), rng)
        };
        match failed.server_delay() {
            Some(asked) => self.retry_after.decide(asked, self.max_delay, computed),
            None => Decision::Retry(computed()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::StopReason;
    use crate::policy::schedule;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn constant_without_jitter() {
        let got: Vec<_> = schedule(&Fixed::new(30 * MS), 0).take(4).collect();
        assert_eq!(got, vec![30 * MS; 4]);
    }

    #[test]
    fn jittered_delays_stay_in_bounds_and_are_seeded() {
        let p = Fixed::new(100 * MS).with_jitter(Jitter::Equal);
        let a: Vec<_> = schedule(&p, 3).take(20).collect();
        assert_eq!(a, schedule(&p, 3).take(20).collect::<Vec<_>>());
        assert!(a.iter().all(|d| 50 * MS <= *d && *d <= 100 * MS));
        assert!(a.iter().any(|d| *d != a[0]));
    }

    #[test]
    fn decorrelated_grows_from_the_delay_up_to_the_max() {
        let p = Fixed::new(100 * MS)
            .with_jitter(Jitter::Decorrelated)
            .with_max_delay(400 * MS);
        for d in schedule(&p, 11).take(50) {
            assert!(100 * MS <= d && d <= 400 * MS, "{d:?}");
        }
    }

    #[test]
    fn server_delay_is_honoured_up_to_the_max_then_by_its_rule() {
        let p = Fixed::new(MS);
        let mut rng = JitterRng::from_seed(0);
        let asked = AttemptContext::new(1, Duration::ZERO);
        let two = asked.with_server_delay(Some(2000 * MS));
        assert_eq!(p.decide(&two, &mut rng), Decision::Retry(2000 * MS));
        let year = asked.with_server_delay(Some(Duration::from_secs(31_536_000)));
        assert_eq!(
            p.decide(&year, &mut rng),
            Decision::Stop(StopReason::ServerDelayTooLong)
        );
        assert_eq!(
            p.with_retry_after(RetryAfter::Capped)
                .decide(&year, &mut rng),
            Decision::Retry(Duration::from_secs(60))
        );
        // The AWS rule: at most 5 s more than the policy's own 1 ms.
        assert_eq!(
            p.with_retry_after(RetryAfter::AwsClamp)
                .decide(&year, &mut rng),
            Decision::Retry(Duration::from_secs(5) + MS)
        );
    }

    #[test]
    fn seeded_full_jitter_is_pinned() {
        let p = Fixed::new(100 * MS).with_jitter(Jitter::Full);
        let got: Vec<u128> = schedule(&p, 7).take(6).map(|d| d.as_millis()).collect();
        assert_eq!(got, [5, 33, 79, 74, 5, 75]);
    }
}
