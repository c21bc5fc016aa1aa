//! The random numbers behind jitter, owned by each call.

use rand::rngs::Xoshiro128PlusPlus;
use rand::{RngExt, SeedableRng};
use std::fmt;
use std::time::Duration;

/// The random number generator a call owns and lends to its policy for jitter.
///
/// A generator made with [`from_entropy`](Self::from_entropy) seeds itself from
/// the thread's generator on its first draw, so a call that never retries never
/// pays for seeding. One made with [`from_seed`](Self::from_seed) draws the
/// same numbers every time, which lets a test pin an exact jittered schedule.
///
/// Durations are drawn in whole nanoseconds, so any span up to `u64::MAX`
/// nanoseconds (about 584 years) is exact; a longer bound is clamped to that.
///
/// # Examples
///
/// ```
/// use persevere::JitterRng;
/// use std::time::Duration;
///
/// let mut a = JitterRng::from_seed(7);
/// let mut b = JitterRng::from_seed(7);
/// let (lo, hi) = (Duration::from_millis(10), Duration::from_millis(20));
/// let d = a.duration_between(lo, hi);
/// assert!(lo <= d && d <= hi);
/// assert_eq!(d, b.duration_between(lo, hi));
/// ```
#[derive(Clone)]
pub struct JitterRng {
    state: Option<Xoshiro128PlusPlus>,
}

impl JitterRng {
    /// A generator that always draws the same numbers for the same seed.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rng = persevere::JitterRng::from_seed(42);
    /// let x = rng.unit();
    /// assert!((0.0..1.0).contains(&x));
    /// ```
    pub fn from_seed(seed: u64) -> Self {
        JitterRng {
            state: Some(Xoshiro128PlusPlus::seed_from_u64(seed)),
        }
    }

    /// A generator seeded from the thread's random generator on its first draw.
    ///
    /// Creating it costs nothing and reads no entropy.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rng = persevere::JitterRng::from_entropy();
    /// assert!(rng.unit() < 1.0);
    /// ```
    pub const fn from_entropy() -> Self {
        JitterRng { state: None }
    }

    fn generator(&mut self) -> &mut Xoshiro128PlusPlus {
        self.state
            .get_or_insert_with(|| Xoshiro128PlusPlus::from_rng(&mut rand::rng()))
    }

    /// A uniform draw from `0.0..1.0`.
    ///
    /// # Examples
    ///
    /// ```
    /// let mut rng = persevere::JitterRng::from_seed(1);
    /// assert!((0.0..1.0).contains(&rng.unit()));
    /// ```
    pub fn unit(&mut self) -> f64 {
        self.generator().random::<f64>()
    }

    /// A uniform draw from `lo..=hi`, in whole nanoseconds. Bounds given in the
    /// wrong order are swapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// let mut rng = persevere::JitterRng::from_seed(3);
    /// let d = rng.duration_between(Duration::ZERO, Duration::from_secs(1));
    /// assert!(d <= Duration::from_secs(1));
    /// ```
    pub fn duration_between(&mut self, lo: Duration, hi: Duration) -> Duration {
        let (lo, hi) = (saturating_nanos(lo), saturating_nanos(hi));
        let (lo, hi) = if lo <= hi { (lo, hi) } else { (hi, lo) };
        if lo == hi {
            return Duration::from_nanos(lo);
        }
        Duration::from_nanos(self.generator().random_range(lo..=hi))
    }
}

impl Default for JitterRng {
    /// Same as [`JitterRng::from_entropy`].
    fn default() -> Self {
        JitterRng::from_entropy()
    }
}

impl fmt::Debug for JitterRng {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JitterRng")
            .field("seeded", &self.state.is_some())
            .finish()
    }
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}
