//! Jitter: spreading retries out in time so that clients do not retry in step.
//!
//! # Why jitter
//!
//! When a server fails, every client that was talking to it fails at about
//! the same moment. With plain exponential backoff they then all retry at the
//! same moments too, in waves that hit the server just as it tries to recover.
//! Randomising each delay spreads the waves out: the AWS Architecture Blog's
//! "Exponential Backoff And Jitter" measured that full and decorrelated jitter
//! finish contended work with far fewer calls than un-jittered backoff.

use crate::error::ConfigError;
use crate::rng::{JitterRng, saturating_nanos};
use std::time::Duration;

/// How a computed delay `d` is randomised.
///
/// Whatever the mode, a policy never returns a delay above its maximum delay:
/// jitter that would push a delay past it is clamped to it.
///
/// # Default
///
/// [`Jitter::Full`], as in the AWS SDKs, gRPC and google-api-core.
///
/// # Examples
///
/// ```
/// use persevere::{Exponential, Jitter, schedule};
/// use std::time::Duration;
///
/// let policy = Exponential::new()
///     .with_initial_delay(Duration::from_millis(100))
///     .with_jitter(Jitter::Equal);
/// // Equal jitter keeps at least half of each delay.
/// for (n, d) in schedule(&policy, 9).take(5).enumerate() {
///     let full = Duration::from_millis(100) * 2u32.pow(n as u32);
///     assert!(full / 2 <= d && d <= full);
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Default)]
#[non_exhaustive]
pub enum Jitter {
    /// No randomness: the delay is `d`.
    None,
    /// Uniform in `0..=d`.
    #[default]
    Full,
    /// `d/2` plus uniform in `0..=d/2`.
    Equal,
    /// Uniform in `initial..=3 * previous delay` (the first time, `previous`
    /// is `initial`), capped at the maximum delay. It ignores `d`: each delay
    /// grows from the last one actually slept.
    Decorrelated,
    /// `d` plus uniform in `0..=J`: Cloud Storage's formula, with `J = 1 s`.
    Additive(Duration),
    /// `d * (1 ± f)`, uniform: gRPC's connection backoff uses `f = 0.2`.
    /// A fraction outside `0.0..=1.0` is clamped into it (NaN counts as 0);
    /// [`validate`](Self::validate) reports it instead.
    Proportional(f64),
}

impl Jitter {
    /// Checks that a proportional fraction lies in `0.0..=1.0`.
    ///
    /// # Errors
    ///
    /// [`ConfigError::JitterFraction`] for a fraction outside `0.0..=1.0` or NaN.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::Jitter;
    ///
    /// assert!(Jitter::Proportional(0.2).validate().is_ok());
    /// assert!(Jitter::Proportional(1.5).validate().is_err());
    /// ```
    pub fn validate(self) -> Result<Self, ConfigError> {
        match self {
            Jitter::Proportional(f) if !(0.0..=1.0).contains(&f) => {
                Err(ConfigError::JitterFraction(f))
            }
            other => Ok(other),
        }
    }

    /// Randomises the computed delay `delay`.
    ///
    /// `initial` and `previous` serve decorrelated jitter; every result is
    /// clamped to `max`.
    #[inline]
    pub(crate) fn apply(
        self,
        delay: Duration,
        initial: Duration,
        max: Duration,
        previous: Option<Duration>,
        rng: &mut JitterRng,
    ) -> Duration {
        match self {
            // No draw to make: keep it inline, out of the random modes' way.
            Jitter::None => delay.min(max),
            random => random.draw(delay, initial, max, previous, rng),
        }
    }

    fn draw(
        self,
        delay: Duration,
        initial: Duration,
        max: Duration,
        previous: Option<Duration>,
        rng: &mut JitterRng,
    ) -> Duration {
        let jittered = match self {
            Jitter::None => delay,
            Jitter::Full => rng.duration_between(Duration::ZERO, delay),
            Jitter::Equal => {
                let half = delay / 2;
                half + rng.duration_between(Duration::ZERO, delay - half)
            }
            Jitter::Decorrelated => {
                let previous = previous.unwrap_or(initial);
                rng.duration_between(initial, previous.saturating_mul(3))
            }
            Jitter::Additive(spread) => {
                delay.saturating_add(rng.duration_between(Duration::ZERO, spread))
            }
            Jitter::Proportional(fraction) => {
                let fraction = if fraction.is_nan() {
                    0.0
                } else {
                    fraction.clamp(0.0, 1.0)
                };
                let factor = 1.0 + fraction * (2.0 * rng.unit() - 1.0);
                // Float-to-int casts saturate, so this cannot overflow.
                Duration::from_nanos((saturating_nanos(delay) as f64 * factor) as u64)
            }
        };
        jittered.min(max)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    fn draws(jitter: Jitter, delay: Duration, n: usize) -> Vec<Duration> {
        let mut rng = JitterRng::from_seed(1);
        (0..n)
            .map(|_| jitter.apply(delay, MS, Duration::MAX, None, &mut rng))
            .collect()
    }

    #[test]
    fn none_returns_the_delay() {
        assert_eq!(draws(Jitter::None, 100 * MS, 3), vec![100 * MS; 3]);
    }

    #[test]
    fn each_mode_stays_within_its_bounds() {
        let d = 100 * MS;
        for x in draws(Jitter::Full, d, 200) {
            assert!(x <= d);
        }
        for x in draws(Jitter::Equal, d, 200) {
            assert!(50 * MS <= x && x <= d);
        }
        for x in draws(Jitter::Additive(1000 * MS), d, 200) {
            assert!(d <= x && x <= 1100 * MS);
        }
        for x in draws(Jitter::Proportional(0.2), d, 200) {
            assert!(80 * MS <= x && x <= 120 * MS, "{x:?}");
        }
    }

    #[test]
    fn draws_actually_vary() {
        let xs = draws(Jitter::Full, 100 * MS, 50);
        assert!(xs.iter().any(|x| *x != xs[0]));
    }

    #[test]
    fn decorrelated_grows_from_the_previous_delay_and_respects_the_cap() {
        let mut rng = JitterRng::from_seed(5);
        let cap = 40 * MS;
        let mut previous = None;
        for _ in 0..100 {
            let d = Jitter::Decorrelated.apply(Duration::ZERO, 10 * MS, cap, previous, &mut rng);
            let upper = previous.unwrap_or(10 * MS) * 3;
            assert!(d <= cap && d <= upper && d >= 10 * MS.min(cap), "{d:?}");
            previous = Some(d);
        }
    }

    #[test]
    fn out_of_range_fractions_are_clamped_not_panics() {
        for f in [f64::NAN, -3.0, 7.0, f64::INFINITY] {
            let x = draws(Jitter::Proportional(f), 100 * MS, 20);
            assert!(x.iter().all(|d| *d <= 200 * MS));
        }
        assert_eq!(
            draws(Jitter::Proportional(f64::NAN), 100 * MS, 1),
            vec![100 * MS]
        );
    }

    #[test]
    fn huge_delays_saturate_and_are_clamped_to_the_max() {
        let mut rng = JitterRng::from_seed(2);
        let hour = Duration::from_secs(3600);
        for j in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
            Jitter::Additive(Duration::MAX),
            Jitter::Proportional(1.0),
        ] {
            let d = j.apply(
                Duration::MAX,
                Duration::MAX,
                hour,
                Some(Duration::MAX),
                &mut rng,
            );
            assert!(d <= hour, "{j:?} gave {d:?}");
        }
    }
}
