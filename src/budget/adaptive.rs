//! Client-side adaptive throttling, from the Google SRE book: when the
//! backend accepts few requests, reject retries locally with a rising
//! probability.

use super::window::Window;
use super::{MILLI, RetryBudget, to_milli};
use crate::classify::RetryKind;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Rejects retries locally with probability
/// `max(0, (requests - K * accepts) / (requests + 1))` over a sliding window.
///
/// `requests` counts the attempts the client made or meant to make (a retry
/// rejected here counts too), `accepts` those the backend answered: a
/// success or a [terminal](crate::Classification::terminal) error, which the
/// backend processed. A retryable failure is a request the backend did not
/// accept. While the backend accepts more than `1 / K` of the requests, no
/// retry is rejected; when it accepts none, almost all are.
///
/// It is opt-in like every budget: a call uses it only when given it with
/// [`Retry::budget`](crate::Retry::budget). Unlike the SRE book's throttle,
/// which also rejects first attempts, it rejects only retries: a call always
/// makes its first attempt.
///
/// The counts are kept in a window of ten slots behind one short lock, read
/// through `tokio::time::Instant`; the random draw comes from a lock-free
/// generator that [`with_seed`](Self::with_seed) makes reproducible.
///
/// # Default
///
/// | setting | value |
/// |---|---|
/// | K | 2 |
/// | window | 2 minutes |
///
/// # Clamps
///
/// A `K` that is NaN or negative counts as 0 (reject in proportion to all
/// requests); it is rounded to the nearest thousandth. A window under ten
/// nanoseconds counts as ten.
///
/// Source: Google's "Site Reliability Engineering", chapter 21, "Handling
/// Overload", section "Client-side throttling".
///
/// # Examples
///
/// ```
/// use persevere::{RetryKind, budget::{AdaptiveThrottle, RetryBudget}};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let throttle = AdaptiveThrottle::new().with_seed(7);
/// for _ in 0..10 {
///     throttle.on_success(false, 0, 0);
/// }
/// // Every request accepted: nothing is rejected.
/// assert_eq!(throttle.reject_probability(), 0.0);
/// assert_eq!(throttle.try_withdraw(RetryKind::Transient), Some(0));
///
/// for _ in 0..89 {
///     throttle.on_failure(Some(RetryKind::Transient));
/// }
/// // (99 - 2 * 10) / (99 + 1)
/// assert_eq!(throttle.reject_probability(), 0.79);
/// # }
/// ```
#[derive(Debug)]
pub struct AdaptiveThrottle {
    k: u64,
    window: Window,
    rng: AtomicU64,
}

impl AdaptiveThrottle {
    /// A throttle with the defaults listed above, seeded at random.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::AdaptiveThrottle;
    ///
    /// assert_eq!(AdaptiveThrottle::new().k(), 2.0);
    /// ```
    pub fn new() -> Self {
        AdaptiveThrottle {
            k: 2 * MILLI,
            window: Window::new(Duration::from_secs(120)),
            rng: AtomicU64::new(crate::rng::random_seed()),
        }
    }

    /// Sets `K`, the multiplier on accepts: lower rejects sooner.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::AdaptiveThrottle;
    ///
    /// assert_eq!(AdaptiveThrottle::new().with_k(1.5).k(), 1.5);
    /// ```
    pub fn with_k(mut self, k: f64) -> Self {
        self.k = to_milli(k);
        self
    }

    /// Sets how far back requests and accepts are counted.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::AdaptiveThrottle;
    /// use std::time::Duration;
    ///
    /// let throttle = AdaptiveThrottle::new().with_window(Duration::from_secs(30));
    /// assert_eq!(throttle.window(), Duration::from_secs(30));
    /// ```
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = Window::new(window);
        self
    }

    /// Seeds the random draws, so that a run can be repeated exactly.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{AdaptiveThrottle, RetryBudget}};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // 30 requests, 10 accepted: retries are rejected with p = 10 / 31, and
    /// // more often as the rejections count as requests.
    /// let decisions = |seed| {
    ///     let throttle = AdaptiveThrottle::new().with_seed(seed);
    ///     for _ in 0..10 {
    ///         throttle.on_success(false, 0, 0);
    ///         throttle.on_failure(Some(RetryKind::Transient));
    ///         throttle.on_failure(Some(RetryKind::Transient));
    ///     }
    ///     (0..32)
    ///         .map(|_| throttle.try_withdraw(RetryKind::Transient).is_some())
    ///         .collect::<Vec<_>>()
    /// };
    /// assert_eq!(decisions(1), decisions(1));
    /// assert_ne!(decisions(1), decisions(2));
    /// # }
    /// ```
    pub fn with_seed(self, seed: u64) -> Self {
        self.rng.store(seed, Ordering::Relaxed);
        self
    }

    /// `K`, to a thousandth.
    ///
    /// # Examples
    ///
    /// See [`with_k`](Self::with_k).
    pub fn k(&self) -> f64 {
        self.k as f64 / MILLI as f64
    }

    /// The length of the sliding window.
    ///
    /// # Examples
    ///
    /// See [`with_window`](Self::with_window).
    pub fn window(&self) -> Duration {
        self.window.length()
    }

    /// The probability that a retry asked for now is rejected.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{AdaptiveThrottle, RetryBudget}};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let throttle = AdaptiveThrottle::new();
    /// for _ in 0..3 {
    ///     throttle.on_failure(Some(RetryKind::Throttled));
    /// }
    /// assert_eq!(throttle.reject_probability(), 0.75); // 3 / (3 + 1)
    /// # }
    /// ```
    pub fn reject_probability(&self) -> f64 {
        let (numerator, denominator) = self.window.with(|_, totals| self.odds(totals));
        numerator as f64 / denominator as f64
    }

    /// The rejection probability as `numerator / denominator`, in thousandths.
    fn odds(&self, [requests, accepts]: [u64; 2]) -> (u64, u64) {
        let numerator = requests
            .saturating_mul(MILLI)
            .saturating_sub(accepts.saturating_mul(self.k));
        let denominator = requests.saturating_add(1).saturating_mul(MILLI);
        (numerator.min(denominator), denominator)
    }

    /// A uniform draw from `0..bound` (splitmix64, lock-free).
    fn draw(&self, bound: u64) -> u64 {
        let mut z = self
            .rng
            .fetch_add(0x9E37_79B9_7F4A_7C15, Ordering::Relaxed)
            .wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        // `bound` is never 0 here, but stay total.
        z.checked_rem(bound).unwrap_or(0)
    }

    fn record(&self, accepted: bool) {
        self.window.add([1, u64::from(accepted)]);
    }
}

impl Default for AdaptiveThrottle {
    fn default() -> Self {
        AdaptiveThrottle::new()
    }
}

impl RetryBudget for AdaptiveThrottle {
    fn try_withdraw(&self, _kind: RetryKind) -> Option<u32> {
        self.window.with(|slot, totals| {
            let (numerator, denominator) = self.odds(totals);
            if numerator == 0 || self.draw(denominator) >= numerator {
                return Some(0);
            }
            // A request rejected locally still counts as a request.
            slot[0] = slot[0].saturating_add(1);
            None
        })
    }

    fn on_failure(&self, kind: Option<RetryKind>) {
        self.record(kind.is_none());
    }

    fn on_success(&self, _retried: bool, _taken: u32, _last: u32) {
        self.record(true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn exact_probabilities() {
        let t = AdaptiveThrottle::new().with_seed(0);
        assert_eq!(t.reject_probability(), 0.0);
        t.on_success(false, 0, 0);
        t.on_failure(None); // terminal: accepted by the backend
        t.on_failure(Some(RetryKind::Transient));
        t.on_failure(Some(RetryKind::Transient));
        t.on_failure(Some(RetryKind::Transient));
        // 5 requests, 2 accepts: (5 - 4) / 6
        assert_eq!(t.window.with(|_, totals| t.odds(totals)), (1000, 6000));
        for _ in 0..5 {
            t.on_failure(Some(RetryKind::Throttled));
        }
        // 10 requests, 2 accepts: (10 - 4) / 11
        assert_eq!(t.window.with(|_, totals| t.odds(totals)), (6000, 11_000));
    }

    #[tokio::test(start_paused = true)]
    async fn rejections_count_as_requests_and_follow_the_odds() {
        let t = AdaptiveThrottle::new().with_k(0.0).with_seed(42);
        for _ in 0..1000 {
            t.on_failure(Some(RetryKind::Transient));
        }
        // p = 1000/1001 and rising: nearly every retry is refused.
        let allowed = (0..1000)
            .filter(|_| t.try_withdraw(RetryKind::Transient).is_some())
            .count();
        assert!(allowed <= 5, "{allowed}");
        let requests = t.window.with(|_, totals| totals[0]);
        assert_eq!(requests, 2000 - allowed as u64);
    }

    #[tokio::test(start_paused = true)]
    async fn half_accepted_rejects_about_none_with_k_2() {
        let t = AdaptiveThrottle::new().with_seed(3);
        for _ in 0..100 {
            t.on_success(false, 0, 0);
            t.on_failure(Some(RetryKind::Transient));
        }
        assert_eq!(t.reject_probability(), 0.0);
        assert!((0..100).all(|_| t.try_withdraw(RetryKind::Transient).is_some()));
    }

    #[tokio::test(start_paused = true)]
    async fn old_counts_expire() {
        let t = AdaptiveThrottle::new().with_window(Duration::from_secs(10));
        for _ in 0..10 {
            t.on_failure(Some(RetryKind::Transient));
        }
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(t.reject_probability(), 0.0);
    }

    #[tokio::test(start_paused = true)]
    async fn extreme_configuration_does_not_panic() {
        let t = AdaptiveThrottle::new()
            .with_k(f64::NAN)
            .with_window(Duration::ZERO);
        assert_eq!(t.k(), 0.0);
        t.on_failure(Some(RetryKind::Timeout));
        // K = 0, 1 request: (1 - 0) / (1 + 1), even in a window of 10 ns.
        assert_eq!(t.reject_probability(), 0.5);
        let _ = t.try_withdraw(RetryKind::Timeout);
    }

    /// The decisions of a throttle seeded `seed`, with p = 0.5 at the start.
    fn decisions(seed: u64) -> Vec<bool> {
        let t = AdaptiveThrottle::new().with_k(0.0).with_seed(seed);
        t.on_failure(Some(RetryKind::Transient));
        (0..64)
            .map(|_| t.try_withdraw(RetryKind::Transient).is_some())
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn a_seed_repeats_the_decisions() {
        let first = decisions(7);
        // Both outcomes occur, so equal runs are not equal by default.
        assert!(first.contains(&true) && first.contains(&false), "{first:?}");
        assert_eq!(decisions(7), first);
        assert_ne!(decisions(8), first);
    }
}
