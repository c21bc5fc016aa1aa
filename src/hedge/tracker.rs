//! A latency tracker shared by many calls: the chosen percentile of recent
//! call latencies, which an adaptive hedge waits before hedging.

use super::delay::HedgeDelay;
use crate::rng::saturating_nanos;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// Latencies under this many microseconds get a bucket each.
const LINEAR: u64 = 16;
/// Buckets per power of two above [`LINEAR`]: a bucket is at most 1/8 of
/// its lower bound wide, so an estimate is at most 12.5 % high.
const SUB: u64 = 8;
/// Latencies are clamped to `2^40` µs (about 12.7 days).
const MAX_MICROS: u64 = (1 << 40) - 1;
const BUCKETS: usize = (LINEAR + (40 - 4) * SUB) as usize;
/// Past [`SMALL`] samples in the window, the cached estimate is recomputed
/// every this many samples; below, after each one.
const REFRESH: u32 = 16;
const SMALL: u64 = 1024;
/// The cached estimate when the window holds too few samples.
const UNKNOWN: u64 = u64::MAX;
/// The bucket range of an empty histogram.
const EMPTY: (usize, usize) = (BUCKETS, 0);

/// Tracks the latency of recent calls and estimates a percentile of it: an
/// adaptive [hedge delay](super::HedgeDelay).
///
/// Share one tracker between the calls to one dependency (by reference or in
/// an [`Arc`](std::sync::Arc)); each successful hedged call records its
/// latency, from the start of its first attempt to the answer that won, and
/// each new call reads the current estimate. A hedged call's latency is
/// longer than the hedge delay it waited, so a p95 tracker makes about 5 % of
/// calls hedge, whatever the shape of the latency distribution.
///
/// # How
///
/// Samples go into a histogram of log-linear buckets (exact under 16 µs,
/// then eight buckets per power of two, so an estimate is at most 12.5 %
/// above the true value, never below it). The sliding window is two such
/// histograms, each covering half the window: when a half has passed, the
/// older is cleared and becomes the newer. The window slides when samples
/// are recorded.
///
/// Recording takes a short [`Mutex`] (an increment, and a scan of the
/// buckets in use to refresh the estimate: after each sample while the window holds
/// fewer than 1,024, then every 16th); reading the estimate, which every call
/// does once, is a single atomic load. Time is read through
/// `tokio::time::Instant`, so a paused test clock drives the window.
///
/// # Fallback
///
/// While the window holds fewer than [`min_samples`](Self::with_min_samples)
/// samples (at first, and after a quiet spell longer than the window), the
/// delay is the [fallback](Self::with_fallback): by default none, so calls
/// do not hedge on time until the tracker knows the latency.
///
/// # Default
///
/// | setting | value |
/// |---|---|
/// | window | 10 s |
/// | min samples | 20 |
/// | fallback | none: no hedge |
///
/// # Clamps
///
/// A percentile is clamped into `0.0..=100.0` (NaN counts as 100) and kept to
/// a millionth; latencies over 2^40 µs count as 2^40 µs; a window under two
/// nanoseconds counts as two.
///
/// # Examples
///
/// ```
/// use persevere::hedge::{HedgeDelay, LatencyTracker};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let tracker = LatencyTracker::new(90.0).with_min_samples(10);
/// assert_eq!(tracker.hedge_delay(), None); // no samples yet: no hedge
/// for ms in 1..=100 {
///     tracker.record(Duration::from_millis(ms));
/// }
/// let p90 = tracker.estimate().unwrap();
/// assert!(Duration::from_millis(90) <= p90 && p90 <= Duration::from_millis(90) * 9 / 8);
/// # }
/// ```
pub struct LatencyTracker {
    /// The percentile, in millionths.
    per_million: u64,
    min_samples: u64,
    half: Duration,
    fallback: Option<Duration>,
    /// The cached estimate in nanoseconds, or [`UNKNOWN`].
    estimate: AtomicU64,
    windows: Mutex<Windows>,
}

#[derive(Debug)]
struct Windows {
    origin: Option<Instant>,
    /// The half-window the newer histogram covers, counted from `origin`.
    period: u64,
    since_refresh: u32,
    /// Samples in each histogram.
    newer_total: u64,
    older_total: u64,
    /// The lowest and highest bucket each histogram uses, so that a walk
    /// skips the empty ends; [`EMPTY`] for none.
    newer_range: (usize, usize),
    older_range: (usize, usize),
    newer: [u32; BUCKETS],
    older: [u32; BUCKETS],
}

impl LatencyTracker {
    /// A tracker that estimates the `percentile` (say `95.0`) of recent
    /// latencies, with the defaults listed above.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::LatencyTracker;
    ///
    /// assert_eq!(LatencyTracker::new(95.0).percentile(), 95.0);
    /// assert_eq!(LatencyTracker::new(f64::NAN).percentile(), 100.0);
    /// ```
    pub fn new(percentile: f64) -> Self {
        let clamped = if percentile.is_nan() {
            100.0
        } else {
            percentile.clamp(0.0, 100.0)
        };
        LatencyTracker {
            per_million: (clamped * 10_000.0).round() as u64,
            min_samples: 20,
            half: Duration::from_secs(5),
            fallback: None,
            estimate: AtomicU64::new(UNKNOWN),
            windows: Mutex::new(Windows {
                origin: None,
                period: 0,
                since_refresh: 0,
                newer_total: 0,
                older_total: 0,
                newer_range: EMPTY,
                older_range: EMPTY,
                newer: [0; BUCKETS],
                older: [0; BUCKETS],
            }),
        }
    }

    /// Sets how far back samples count: between one half and the whole of
    /// `window`, as the two halves rotate.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::LatencyTracker;
    /// use std::time::Duration;
    ///
    /// let t = LatencyTracker::new(95.0).with_window(Duration::from_secs(60));
    /// assert_eq!(t.window(), Duration::from_secs(60));
    /// ```
    pub fn with_window(mut self, window: Duration) -> Self {
        self.half = (window / 2).max(Duration::from_nanos(1));
        self
    }

    /// Sets how many samples the window must hold before the estimate is
    /// used instead of the fallback (0 counts as 1).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::{HedgeDelay, LatencyTracker};
    /// use std::time::Duration;
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let t = LatencyTracker::new(50.0).with_min_samples(1);
    /// t.record(Duration::from_millis(8));
    /// // The top of the bucket that holds 8 ms.
    /// assert_eq!(t.estimate(), Some(Duration::from_micros(8_191)));
    /// # }
    /// ```
    pub fn with_min_samples(mut self, min: u32) -> Self {
        self.min_samples = u64::from(min.max(1));
        self
    }

    /// Sets the hedge delay used while the window holds too few samples;
    /// without one, calls do not hedge on time until then.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::{HedgeDelay, LatencyTracker};
    /// use std::time::Duration;
    ///
    /// let t = LatencyTracker::new(95.0).with_fallback(Duration::from_millis(50));
    /// assert_eq!(t.hedge_delay(), Some(Duration::from_millis(50)));
    /// ```
    pub fn with_fallback(mut self, delay: Duration) -> Self {
        self.fallback = Some(delay);
        self
    }

    /// The percentile this tracker estimates, to a millionth.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::LatencyTracker;
    /// assert_eq!(LatencyTracker::new(250.0).percentile(), 100.0);
    /// ```
    pub fn percentile(&self) -> f64 {
        self.per_million as f64 / 10_000.0
    }

    /// The window, as set (to the nanosecond, rounded down to even).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::LatencyTracker; use std::time::Duration;
    /// assert_eq!(LatencyTracker::new(95.0).window(), Duration::from_secs(10));
    /// ```
    pub fn window(&self) -> Duration {
        self.half * 2
    }

    /// The current estimate of the percentile, or `None` while the window
    /// holds too few samples. Refreshed when the window slides, and after
    /// each sample (every 16th once the window holds 1,024 or more).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::LatencyTracker;
    /// assert_eq!(LatencyTracker::new(95.0).estimate(), None);
    /// ```
    pub fn estimate(&self) -> Option<Duration> {
        match self.estimate.load(Ordering::Relaxed) {
            UNKNOWN => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    fn add(&self, latency: Duration) {
        let micros = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        let now = Instant::now();
        // No code panics while holding the lock, but do not spread a poison.
        let mut w = self.windows.lock().unwrap_or_else(PoisonError::into_inner);
        let origin = *w.origin.get_or_insert(now);
        let period = saturating_nanos(now.saturating_duration_since(origin))
            / saturating_nanos(self.half).max(1);
        let slid = period > w.period;
        if slid {
            let adjacent = period == w.period + 1;
            w.older = if adjacent { w.newer } else { [0; BUCKETS] };
            w.older_total = if adjacent { w.newer_total } else { 0 };
            w.older_range = if adjacent { w.newer_range } else { EMPTY };
            w.newer = [0; BUCKETS];
            w.newer_total = 0;
            w.newer_range = EMPTY;
            w.period = period;
        }
        let index = bucket(micros);
        let count = &mut w.newer[index];
        *count = count.saturating_add(1);
        w.newer_range = (w.newer_range.0.min(index), w.newer_range.1.max(index));
        w.newer_total += 1;
        w.since_refresh += 1;
        let small = w.newer_total + w.older_total < SMALL;
        if slid || small || w.since_refresh >= REFRESH {
            w.since_refresh = 0;
            let nanos = self.compute(&w).unwrap_or(UNKNOWN);
            self.estimate.store(nanos, Ordering::Relaxed);
        }
    }

    /// The percentile over both halves, in nanoseconds: the upper bound of
    /// the bucket that holds it.
    fn compute(&self, w: &Windows) -> Option<u64> {
        let count = |i: usize| u64::from(w.newer[i]) + u64::from(w.older[i]);
        let total = w.newer_total + w.older_total;
        if total < self.min_samples {
            return None;
        }
        // The rank of the percentile, 1-based: at least the first sample.
        let rank = (total * self.per_million).div_ceil(1_000_000).max(1);
        // Walk from the nearer end: from the top, the bucket is the first
        // where the samples above it number fewer than `total - rank + 1`.
        let low = w.newer_range.0.min(w.older_range.0);
        let high = w.newer_range.1.max(w.older_range.1);
        let mut seen = 0;
        let index = if rank > total / 2 {
            let above = total - rank;
            (low..=high).rev().find(|&i| {
                seen += count(i);
                seen > above
            })
        } else {
            (low..=high).find(|&i| {
                seen += count(i);
                seen >= rank
            })
        }
        .unwrap_or(high);
        Some(upper_bound_micros(index).saturating_mul(1000))
    }
}

impl fmt::Debug for LatencyTracker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LatencyTracker")
            .field("percentile", &self.percentile())
            .field("window", &self.window())
            .field("min_samples", &self.min_samples)
            .field("fallback", &self.fallback)
            .field("estimate", &self.estimate())
            .finish_non_exhaustive()
    }
}

impl HedgeDelay for LatencyTracker {
    #[inline]
    fn hedge_delay(&self) -> Option<Duration> {
        self.estimate().or(self.fallback)
    }

    fn record(&self, latency: Duration) {
        self.add(latency);
    }
}

/// The bucket of a latency of `micros`.
fn bucket(micros: u64) -> usize {
    let v = micros.min(MAX_MICROS);
    if v < LINEAR {
        return v as usize;
    }
    let exponent = u64::from(63 - v.leading_zeros()); // 4..=39
    let sub = (v >> (exponent - 3)) & (SUB - 1);
    (LINEAR + (exponent - 4) * SUB + sub) as usize
}

/// The largest latency, in microseconds, that falls in bucket `index`.
fn upper_bound_micros(index: usize) -> u64 {
    let i = index as u64;
    if i < LINEAR {
        return i;
    }
    let exponent = (i - LINEAR) / SUB + 4;
    let sub = (i - LINEAR) % SUB;
    ((SUB + sub + 1) << (exponent - 3)) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_ordered_and_bounded() {
        for micros in [0, 1, 15, 16, 17, 100, 4_999, 5_000, 1 << 30, MAX_MICROS] {
            let i = bucket(micros);
            assert!(upper_bound_micros(i) >= micros, "{micros}");
            assert!(upper_bound_micros(i) <= micros + micros / 8, "{micros}");
            if i > 0 {
                assert!(upper_bound_micros(i - 1) < micros, "{micros}");
            }
        }
        assert_eq!(bucket(u64::MAX), BUCKETS - 1);
        assert_eq!(upper_bound_micros(BUCKETS - 1), MAX_MICROS);
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_forgets_old_samples() {
        let t = LatencyTracker::new(50.0)
            .with_min_samples(1)
            .with_window(Duration::from_secs(2));
        t.record(Duration::from_millis(100));
        tokio::time::advance(Duration::from_secs(1)).await;
        t.record(Duration::from_millis(100));
        assert_eq!(t.estimate(), Some(Duration::from_micros(106_495)));
        tokio::time::advance(Duration::from_secs(1)).await;
        for _ in 0..3 {
            t.record(Duration::from_millis(1));
        }
        // One 100 ms sample is left in the older half: the median is 1 ms.
        assert_eq!(t.estimate(), Some(Duration::from_micros(1_023)));
        tokio::time::advance(Duration::from_secs(5)).await;
        t.record(Duration::from_secs(1));
        assert!(t.estimate().unwrap() >= Duration::from_secs(1));
    }

    #[test]
    fn huge_latencies_and_windows_are_clamped() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .unwrap();
        rt.block_on(async {
            let t = LatencyTracker::new(100.0)
                .with_min_samples(0)
                .with_window(Duration::MAX);
            t.record(Duration::MAX);
            assert_eq!(t.estimate(), Some(Duration::from_micros(MAX_MICROS)));
            let z = LatencyTracker::new(-5.0).with_window(Duration::ZERO);
            assert_eq!(z.percentile(), 0.0);
            z.record(Duration::from_millis(3));
            assert_eq!(z.window(), Duration::from_nanos(2));
        });
    }
}
