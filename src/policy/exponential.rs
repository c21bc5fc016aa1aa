//! Truncated exponential backoff with jitter.

use super::{AttemptContext, Decision, RetryAfter, RetryPolicy};
use crate::classify::RetryKind;
use crate::error::ConfigError;
use crate::jitter::Jitter;
use crate::rng::JitterRng;
use std::time::Duration;

/// Truncated exponential backoff: after attempt `n` fails, the delay is
/// `min(initial * multiplier^(n-1), max_delay)`, then randomised by the
/// [`Jitter`] mode. The cap applies before jitter, and no jittered delay
/// exceeds `max_delay` either.
///
/// It never stops by itself: cap it with
/// [`with_max_attempts`](crate::RetryPolicyExt::with_max_attempts) or
/// [`with_deadline`](crate::RetryPolicyExt::with_deadline).
///
/// A server-given delay (such as `Retry-After`) replaces the computed delay,
/// unjittered, as its [`RetryAfter`] rule says: by default the call comes back
/// exactly when the server asked, or stops at once if that is later than
/// `max_delay` allows.
///
/// # Default
///
/// | setting | value |
/// |---|---|
/// | initial delay | 100 ms |
/// | initial delay after throttling | the initial delay |
/// | multiplier | 2 |
/// | max delay | 20 s |
/// | jitter | [`Jitter::Full`] |
/// | server-given delays | [`RetryAfter::NotEarlier`] |
///
/// # Clamps
///
/// The setters accept any value, and [`validate`](Self::validate) reports the
/// bad ones. A policy used without validating clamps them: a multiplier that
/// is NaN or below 1 counts as 1, a max delay below the initial delay caps every
/// delay at the max delay, and a jitter fraction outside `0..=1` is clamped
/// into it. Attempt numbers up to `u32::MAX` and durations up to
/// [`Duration::MAX`] saturate at the max delay; nothing panics or overflows.
///
/// # Exactness
///
/// With a whole multiplier (2, the common case) delays are computed in
/// integer nanoseconds and are exact: with no jitter, an initial delay of
/// 2^53 + 1 ns comes back as itself, and 600 years under a max delay of
/// [`Duration::MAX`] as 600 years. A fractional multiplier (1.6) computes in
/// `f64`, to about 16 significant digits. Jitter draws in nanoseconds up to
/// `u64::MAX` (about 584 years).
///
/// # Examples
///
/// ```
/// use persevere::{Exponential, Jitter, schedule};
/// use std::time::Duration;
///
/// let policy = Exponential::new()
///     .with_initial_delay(Duration::from_millis(100))
///     .with_max_delay(Duration::from_millis(500))
///     .with_jitter(Jitter::None);
/// let delays: Vec<_> = schedule(&policy, 0).take(5).collect();
/// assert_eq!(delays, [100, 200, 400, 500, 500].map(Duration::from_millis));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Exponential {
    initial: Duration,
    throttled_initial: Option<Duration>,
    multiplier: f64,
    max_delay: Duration,
    jitter: Jitter,
    retry_after: RetryAfter,
}

impl Exponential {
    /// The policy with the defaults listed above.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::Exponential;
    /// use std::time::Duration;
    ///
    /// assert_eq!(Exponential::new().max_delay(), Duration::from_secs(20));
    /// ```
    pub const fn new() -> Self {
        Exponential {
            initial: Duration::from_millis(100),
            throttled_initial: None,
            multiplier: 2.0,
            max_delay: Duration::from_secs(20),
            jitter: Jitter::Full,
            retry_after: RetryAfter::NotEarlier,
        }
    }

    /// Sets the delay after the first failure, before jitter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Exponential; use std::time::Duration;
    /// let p = Exponential::new().with_initial_delay(Duration::from_secs(1));
    /// assert_eq!(p.initial_delay(), Duration::from_secs(1));
    /// ```
    pub const fn with_initial_delay(mut self, initial: Duration) -> Self {
        self.initial = initial;
        self
    }

    /// Sets a different initial delay for throttling errors
    /// ([`RetryKind::Throttled`]): the AWS SDKs back off from 1 s after
    /// throttling but from 50 ms after other transient errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{AttemptContext, Decision, Exponential, Jitter, JitterRng, RetryKind, RetryPolicy};
    /// use std::time::Duration;
    ///
    /// let p = Exponential::new()
    ///     .with_initial_delay(Duration::from_millis(50))
    ///     .with_throttled_initial_delay(Duration::from_secs(1))
    ///     .with_jitter(Jitter::None);
    /// let throttled = AttemptContext::new(1, Duration::ZERO).with_kind(RetryKind::Throttled);
    /// let d = p.decide(&throttled, &mut JitterRng::from_seed(0));
    /// assert_eq!(d, Decision::Retry(Duration::from_secs(1)));
    /// ```
    pub const fn with_throttled_initial_delay(mut self, initial: Duration) -> Self {
        self.throttled_initial = Some(initial);
        self
    }

    /// Sets the factor by which the delay grows after each failure.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Exponential;
    /// assert_eq!(Exponential::new().with_multiplier(1.6).multiplier(), 1.6);
    /// ```
    pub const fn with_multiplier(mut self, multiplier: f64) -> Self {
        self.multiplier = multiplier;
        self
    }

    /// Sets the cap on every delay, applied before and after jitter, and on
    /// server-given delays.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Exponential; use std::time::Duration;
    /// let p = Exponential::new().with_max_delay(Duration::from_secs(32));
    /// assert_eq!(p.max_delay(), Duration::from_secs(32));
    /// ```
    pub const fn with_max_delay(mut self, max: Duration) -> Self {
        self.max_delay = max;
        self
    }

    /// Sets how each delay is randomised.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Exponential, Jitter};
    /// let p = Exponential::new().with_jitter(Jitter::Decorrelated);
    /// assert_eq!(p.jitter(), Jitter::Decorrelated);
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
    /// use persevere::{Exponential, policy::RetryAfter};
    ///
    /// let p = Exponential::new().with_retry_after(RetryAfter::Capped);
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
    /// # use persevere::{Exponential, policy::RetryAfter};
    /// assert_eq!(Exponential::new().retry_after(), RetryAfter::NotEarlier);
    /// ```
    pub const fn retry_after(&self) -> RetryAfter {
        self.retry_after
    }

    /// The delay after the first failure, before jitter.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Exponential; use std::time::Duration;
    /// assert_eq!(Exponential::new().initial_delay(), Duration::from_millis(100));
    /// ```
    pub const fn initial_delay(&self) -> Duration {
        self.initial
    }

    /// The growth factor, as set (see the clamps above).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Exponential;
    /// assert_eq!(Exponential::new().multiplier(), 2.0);
    /// ```
    pub const fn multiplier(&self) -> f64 {
        self.multiplier
    }

    /// The cap on every delay.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::Exponential; use std::time::Duration;
    /// assert_eq!(Exponential::new().max_delay(), Duration::from_secs(20));
    /// ```
    pub const fn max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The jitter mode.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::{Exponential, Jitter};
    /// assert_eq!(Exponential::new().jitter(), Jitter::Full);
    /// ```
    pub const fn jitter(&self) -> Jitter {
        self.jitter
    }

    /// Checks the configuration, returning it unchanged if it is valid.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::Multiplier`] for a multiplier that is NaN, infinite or below 1;
    /// - [`ConfigError::MaxBelowInitial`] when either initial delay exceeds the max delay;
    /// - [`ConfigError::JitterFraction`] for a proportional fraction outside `0..=1`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{ConfigError, Exponential};
    /// use std::time::Duration;
    ///
    /// let bad = Exponential::new()
    ///     .with_initial_delay(Duration::from_secs(10))
    ///     .with_max_delay(Duration::from_secs(1));
    /// assert!(matches!(bad.validate(), Err(ConfigError::MaxBelowInitial { .. })));
    /// assert!(Exponential::new().validate().is_ok());
    /// ```
    pub fn validate(self) -> Result<Self, ConfigError> {
        if !(self.multiplier.is_finite() && self.multiplier >= 1.0) {
            return Err(ConfigError::Multiplier(self.multiplier));
        }
        for initial in [Some(self.initial), self.throttled_initial]
            .into_iter()
            .flatten()
        {
            if initial > self.max_delay {
                return Err(ConfigError::MaxBelowInitial {
                    initial,
                    max: self.max_delay,
                });
            }
        }
        self.jitter.validate()?;
        Ok(self)
    }

    fn initial_for(&self, kind: RetryKind) -> Duration {
        match (kind, self.throttled_initial) {
            (RetryKind::Throttled, Some(throttled)) => throttled,
            _ => self.initial,
        }
    }

    /// `min(initial * multiplier^(attempt - 1), max_delay)`, saturating.
    ///
    /// In integer nanoseconds (`u128`, which holds any `Duration`) when the
    /// multiplier is a whole number, so the result is exact; in `f64` over
    /// the same nanoseconds otherwise. Either way nothing is capped at
    /// `u64::MAX` nanoseconds: a delay of centuries stays what it is.
    fn capped_delay(&self, initial: Duration, attempt: u32) -> Duration {
        let multiplier = if self.multiplier >= 1.0 {
            self.multiplier
        } else {
            1.0 // NaN and values below 1 are clamped, as documented
        };
        let exponent = attempt.saturating_sub(1);
        let nanos = initial.as_nanos();
        let cap = self.max_delay.as_nanos();
        if nanos == 0 {
            return Duration::ZERO;
        }
        let grown = if exponent == 0 {
            Some(nanos)
        } else if multiplier.fract() == 0.0 && multiplier <= u64::MAX as f64 {
            // A whole multiplier below 2^64 converts exactly.
            (multiplier as u128)
                .checked_pow(exponent)
                .and_then(|factor| nanos.checked_mul(factor))
        } else {
            let exponent = i32::try_from(exponent).unwrap_or(i32::MAX);
            // May be infinite; a float-to-int cast saturates.
            let grown = nanos as f64 * multiplier.powi(exponent);
            (grown < cap as f64).then_some(grown as u128)
        };
        match grown {
            Some(grown) if grown < cap => from_nanos(grown),
            _ => self.max_delay,
        }
    }
}

/// The `Duration` of `nanos`, which must not exceed `Duration::MAX`'s.
fn from_nanos(nanos: u128) -> Duration {
    const PER_SEC: u128 = 1_000_000_000;
    // Below `Duration::MAX`, so the seconds fit in a u64.
    Duration::new(
        u64::try_from(nanos / PER_SEC).unwrap_or(u64::MAX),
        (nanos % PER_SEC) as u32,
    )
}

impl Default for Exponential {
    /// Same as [`Exponential::new`].
    fn default() -> Self {
        Exponential::new()
    }
}

impl RetryPolicy for Exponential {
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        let mut computed = || {
            let initial = self.initial_for(failed.kind());
            let delay = self.capped_delay(initial, failed.attempt());
            self.jitter
                .apply(delay, initial, self.max_delay, failed.previous_delay(), rng)
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

    fn unjittered(initial: Duration, multiplier: f64, max: Duration) -> Exponential {
        Exponential::new()
            .with_initial_delay(initial)
            .with_multiplier(multiplier)
            .with_max_delay(max)
            .with_jitter(Jitter::None)
    }

    #[test]
    fn doubles_then_truncates() {
        let p = unjittered(100 * MS, 2.0, 1000 * MS);
        let got: Vec<_> = schedule(&p, 0).take(6).collect();
        assert_eq!(got, [100, 200, 400, 800, 1000, 1000].map(|n| n * MS));
    }

    #[test]
    fn fractional_multiplier() {
        let p = unjittered(Duration::from_secs(1), 1.6, Duration::from_secs(120));
        let got: Vec<_> = schedule(&p, 0).take(4).collect();
        assert_eq!(got, [1000, 1600, 2560, 4096].map(|n| n * MS));
    }

    #[test]
    fn full_jitter_sequence_is_pinned_by_the_seed() {
        let p = Exponential::new().with_initial_delay(100 * MS);
        let a: Vec<_> = schedule(&p, 42).take(8).collect();
        let b: Vec<_> = schedule(&p, 42).take(8).collect();
        let c: Vec<_> = schedule(&p, 43).take(8).collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
        for (n, d) in a.iter().enumerate() {
            assert!(*d <= (100 * MS * 2u32.pow(n as u32)).min(Duration::from_secs(20)));
        }
    }

    #[test]
    fn huge_attempt_numbers_saturate_at_the_cap() {
        let p = unjittered(100 * MS, 2.0, Duration::from_secs(20));
        for attempt in [64, 1025, u32::MAX - 1, u32::MAX] {
            let failed = AttemptContext::new(attempt, Duration::ZERO);
            let d = p.decide(&failed, &mut JitterRng::from_seed(0));
            assert_eq!(d, Decision::Retry(Duration::from_secs(20)));
        }
    }

    #[test]
    fn absurd_durations_do_not_overflow() {
        let p = unjittered(Duration::MAX, 2.0, Duration::MAX);
        let d = p.decide(
            &AttemptContext::new(9, Duration::MAX),
            &mut JitterRng::from_seed(0),
        );
        assert_eq!(d, Decision::Retry(Duration::MAX));
        let zero = unjittered(Duration::ZERO, 2.0, Duration::MAX);
        let d = zero.decide(
            &AttemptContext::new(u32::MAX, Duration::ZERO),
            &mut JitterRng::from_seed(0),
        );
        assert_eq!(d, Decision::Retry(Duration::ZERO));
    }

    #[test]
    fn whole_multipliers_are_exact_in_nanoseconds() {
        let odd = Duration::from_nanos((1 << 53) + 1);
        let p = unjittered(odd, 2.0, Duration::MAX);
        let got: Vec<_> = schedule(&p, 0).take(3).collect();
        assert_eq!(got[0], odd);
        assert_eq!(got[1].as_nanos(), (1 << 54) + 2);
        assert_eq!(got[2].as_nanos(), (1 << 55) + 4);
        // 600 years is more than u64::MAX nanoseconds (about 584 years).
        let years = Duration::from_secs(600 * 365 * 86_400);
        let p = unjittered(years, 2.0, Duration::MAX);
        let got: Vec<_> = schedule(&p, 0).take(2).collect();
        assert_eq!(got, [years, years * 2]);
        // A fractional multiplier keeps the first delay exact too.
        let p = unjittered(odd, 1.6, Duration::MAX);
        assert_eq!(schedule(&p, 0).next(), Some(odd));
        let p = unjittered(years, 1.5, Duration::MAX);
        let second = schedule(&p, 0).nth(1).unwrap();
        assert!(
            second.abs_diff(years * 3 / 2) < Duration::from_secs(1),
            "{second:?}"
        );
    }

    #[test]
    fn overflowing_growth_saturates_at_the_cap() {
        let years = Duration::from_secs(600 * 365 * 86_400);
        for multiplier in [2.0, 3.0, 1.5, 1e300] {
            let p = unjittered(years, multiplier, Duration::MAX);
            for attempt in [200, 100_000, u32::MAX] {
                let d = p.decide(
                    &AttemptContext::new(attempt, Duration::ZERO),
                    &mut JitterRng::from_seed(0),
                );
                assert_eq!(d, Decision::Retry(Duration::MAX), "{multiplier} {attempt}");
            }
        }
        let p = unjittered(Duration::from_nanos(3), 7.0, Duration::from_nanos(1000));
        let got: Vec<u128> = schedule(&p, 0).take(5).map(|d| d.as_nanos()).collect();
        assert_eq!(got, [3, 21, 147, 1000, 1000]);
    }

    #[test]
    fn bad_multipliers_are_rejected_or_clamped_to_one() {
        for m in [0.0, -2.0, 0.5, f64::NAN] {
            let p = unjittered(100 * MS, m, Duration::from_secs(1));
            assert!(matches!(p.validate(), Err(ConfigError::Multiplier(_))));
            let got: Vec<_> = schedule(&p, 0).take(3).collect();
            assert_eq!(got, vec![100 * MS; 3], "multiplier {m}");
        }
        let inf = unjittered(100 * MS, f64::INFINITY, Duration::from_secs(1));
        assert!(inf.validate().is_err());
        assert_eq!(schedule(&inf, 0).nth(1), Some(Duration::from_secs(1)));
    }

    #[test]
    fn server_delay_overrides_and_follows_its_rule_past_the_max() {
        let p = unjittered(100 * MS, 2.0, Duration::from_secs(30));
        let mut rng = JitterRng::from_seed(0);
        let asked = AttemptContext::new(1, Duration::ZERO).with_server_delay(Some(2 * 1000 * MS));
        assert_eq!(
            p.decide(&asked, &mut rng),
            Decision::Retry(Duration::from_secs(2))
        );
        let absurd = asked.with_server_delay(Some(Duration::from_secs(86_400 * 365)));
        assert_eq!(
            p.decide(&absurd, &mut rng),
            Decision::Stop(StopReason::ServerDelayTooLong)
        );
        assert_eq!(
            p.with_retry_after(RetryAfter::Capped)
                .decide(&absurd, &mut rng),
            Decision::Retry(Duration::from_secs(30))
        );
        // The AWS rule: between the computed 100 ms and 5.1 s, past the max.
        let aws = p.with_retry_after(RetryAfter::AwsClamp);
        assert_eq!(
            aws.decide(&absurd, &mut rng),
            Decision::Retry(Duration::from_millis(5100))
        );
        let short = asked.with_server_delay(Some(MS));
        assert_eq!(aws.decide(&short, &mut rng), Decision::Retry(100 * MS));
    }

    #[test]
    fn throttled_errors_use_their_own_base() {
        let p = unjittered(50 * MS, 2.0, Duration::from_secs(20))
            .with_throttled_initial_delay(Duration::from_secs(1));
        let mut rng = JitterRng::from_seed(0);
        let third = AttemptContext::new(3, Duration::ZERO);
        assert_eq!(p.decide(&third, &mut rng), Decision::Retry(200 * MS));
        let throttled = third.with_kind(RetryKind::Throttled);
        assert_eq!(
            p.decide(&throttled, &mut rng),
            Decision::Retry(Duration::from_secs(4))
        );
    }

    #[test]
    fn seeded_schedules_are_pinned_for_every_jitter_mode() {
        let base = Exponential::new()
            .with_initial_delay(100 * MS)
            .with_max_delay(Duration::from_secs(2));
        let cases: [(Jitter, [u128; 6]); 5] = [
            (Jitter::Full, [5, 66, 318, 595, 81, 1506]),
            (Jitter::Equal, [52, 133, 359, 697, 840, 1753]),
            (Jitter::Decorrelated, [111, 177, 444, 1018, 249, 589]),
            (Jitter::Additive(50 * MS), [102, 216, 439, 837, 1602, 2000]),
            (Jitter::Proportional(0.2), [82, 186, 447, 878, 1312, 2000]),
        ];
        for (jitter, expected) in cases {
            let got: Vec<u128> = schedule(&base.with_jitter(jitter), 7)
                .take(6)
                .map(|d| d.as_millis())
                .collect();
            assert_eq!(got, expected, "{jitter:?}");
        }
    }
}
