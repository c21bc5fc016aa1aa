//! The random numbers behind jitter, owned by each call.

use rand::rngs::Xoshiro128PlusPlus;
use rand::{RngExt, SeedableRng};
use std::cell::Cell;
use std::collections::hash_map::RandomState;
use std::fmt;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// The random number generator a call owns and lends to its policy for jitter.
///
/// A generator made with [`from_entropy`](Self::from_entropy) seeds itself on
/// its first draw, so a call that never retries never pays for seeding. The
/// seed comes from a per-thread sequence that starts from the standard
/// library's per-process random hash keys (`RandomState`): jitter needs
/// generators that differ between calls, threads and processes, not secrets,
/// so no operating-system generator is read. One made with [`from_seed`](Self::from_seed) draws the
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

    /// A generator seeded on its first draw from a per-thread sequence of
    /// seeds, itself started from the standard library's random hash keys.
    ///
    /// Creating it costs nothing and reads no entropy. Two generators made this
    /// way draw different numbers, on one thread or on several.
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
            .get_or_insert_with(|| Xoshiro128PlusPlus::seed_from_u64(random_seed()))
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

thread_local! {
    /// The next seed this thread hands out; starts from `RandomState`'s keys.
    static NEXT_SEED: Cell<u64> = Cell::new(RandomState::new().build_hasher().finish());
}

/// A seed that differs on every call, on every thread and in every process.
///
/// Consecutive seeds are a Weyl sequence (a step of 2^64 divided by the golden
/// ratio, odd, so no seed repeats before 2^64 calls on a thread); each is then
/// mixed by splitmix64's finaliser, so that nearby seeds do not give related
/// streams. The thread's first seed is `RandomState`'s hash of nothing, which
/// the standard library keys from the operating system once per thread.
pub(crate) fn random_seed() -> u64 {
    const STEP: u64 = 0x9e37_79b9_7f4a_7c15;
    let s = NEXT_SEED.with(|next| {
        let s = next.get().wrapping_add(STEP);
        next.set(s);
        s
    });
    let z = (s ^ (s >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    let z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A duration in nanoseconds, saturating at `u64::MAX` (about 584 years).
pub(crate) fn saturating_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn first_draws(rng: &mut JitterRng) -> Vec<f64> {
        (0..4).map(|_| rng.unit()).collect()
    }

    #[test]
    fn unseeded_generators_differ_on_one_thread_and_across_threads() {
        let here: Vec<_> = (0..8)
            .map(|_| first_draws(&mut JitterRng::from_entropy()))
            .collect();
        let there: Vec<_> = (0..4)
            .map(|_| std::thread::spawn(|| first_draws(&mut JitterRng::from_entropy())))
            .map(|t| t.join().unwrap())
            .collect();
        let all: Vec<_> = here.iter().chain(&there).collect();
        for (i, a) in all.iter().enumerate() {
            for b in &all[i + 1..] {
                assert_ne!(a, b);
            }
        }
    }

    #[test]
    fn seeds_are_mixed_not_consecutive() {
        let (a, b) = (random_seed(), random_seed());
        assert_ne!(a, b);
        assert_ne!(b.wrapping_sub(a), 0x9e37_79b9_7f4a_7c15);
    }
}
