//! A retry budget as a share of recent calls: the SRE book's 10 %, with
//! Linkerd's and tower's floor for quiet clients.

use super::window::Window;
use super::{MILLI, RetryBudget, to_milli};
use crate::classify::RetryKind;
use crate::rng::saturating_nanos;
use std::time::Duration;

/// Retries may be at most a fraction of the calls made over a sliding window,
/// plus a floor of retries per second.
///
/// Each call counts once, when it starts; each retry counts when allowed.
/// Over the last [`window`](Self::with_window), a retry is allowed while
/// `retries + 1 <= ratio * calls + min_per_second * window`, with `retries`
/// those already allowed and the window in seconds, counted to the
/// millisecond: the retry asked for must fit whole, so a fraction of a retry
/// left over allows none (10 % of 19 calls allows one retry, not two). The
/// floor lets a client that makes few calls retry at all; it adds
/// `min_per_second` retries per second to the budget of any client, so keep
/// it small next to the traffic.
///
/// The window is ten slots behind one short lock, read through
/// `tokio::time::Instant` (so a paused test clock drives it); the fraction is
/// kept in thousandths, exactly.
///
/// # Default
///
/// | setting | value |
/// |---|---|
/// | ratio | 0.1 (10 % of calls) |
/// | floor | 10 retries per second |
/// | window | 10 s |
///
/// # Clamps
///
/// A ratio that is NaN or negative counts as 0, and it is rounded to the
/// nearest thousandth; a window under ten nanoseconds counts as ten.
///
/// Sources: Google's "Site Reliability Engineering", chapter 22 ("per-client
/// retry budget", 10 %); Linkerd's `retryRatio` / `minRetriesPerSecond` /
/// `ttl`; tower's `TpsBudget`.
///
/// # Examples
///
/// ```
/// use persevere::{RetryKind, budget::{RatioBudget, RetryBudget}};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let budget = RatioBudget::new().with_min_per_second(0);
/// for _ in 0..20 {
///     budget.on_call();
/// }
/// // 10 % of 20 calls: two retries.
/// assert_eq!(budget.try_withdraw(RetryKind::Transient), Some(1));
/// assert_eq!(budget.try_withdraw(RetryKind::Transient), Some(1));
/// assert_eq!(budget.try_withdraw(RetryKind::Transient), None);
/// # }
/// ```
#[derive(Debug)]
pub struct RatioBudget {
    ratio: u64,
    min_per_second: u32,
    window: Window,
}

impl RatioBudget {
    /// A budget with the defaults listed above.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::RatioBudget;
    ///
    /// assert_eq!(RatioBudget::new().ratio(), 0.1);
    /// ```
    pub fn new() -> Self {
        RatioBudget {
            ratio: 100,
            min_per_second: 10,
            window: Window::new(Duration::from_secs(10)),
        }
    }

    /// Sets the fraction of calls that may be retries.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::RatioBudget;
    ///
    /// assert_eq!(RatioBudget::new().with_ratio(0.2).ratio(), 0.2);
    /// assert_eq!(RatioBudget::new().with_ratio(f64::NAN).ratio(), 0.0);
    /// ```
    pub fn with_ratio(mut self, ratio: f64) -> Self {
        self.ratio = to_milli(ratio);
        self
    }

    /// Sets the floor: retries per second allowed whatever the traffic.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::{RatioBudget, RetryBudget}};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// // No calls yet, but 1 per second over 10 s: ten retries.
    /// let budget = RatioBudget::new().with_min_per_second(1);
    /// let allowed = (0..20).filter(|_| budget.try_withdraw(RetryKind::Transient).is_some());
    /// assert_eq!(allowed.count(), 10);
    /// # }
    /// ```
    pub fn with_min_per_second(mut self, min: u32) -> Self {
        self.min_per_second = min;
        self
    }

    /// Sets how far back calls and retries are counted. Counts expire a tenth
    /// of the window at a time.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::RatioBudget;
    /// use std::time::Duration;
    ///
    /// let budget = RatioBudget::new().with_window(Duration::from_secs(60));
    /// assert_eq!(budget.window(), Duration::from_secs(60));
    /// ```
    pub fn with_window(mut self, window: Duration) -> Self {
        self.window = Window::new(window);
        self
    }

    /// The fraction of calls that may be retries, to a thousandth.
    ///
    /// # Examples
    ///
    /// See [`with_ratio`](Self::with_ratio).
    pub fn ratio(&self) -> f64 {
        self.ratio as f64 / MILLI as f64
    }

    /// The length of the sliding window.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::RatioBudget;
    /// use std::time::Duration;
    ///
    /// assert_eq!(RatioBudget::default().window(), Duration::from_secs(10));
    /// ```
    pub fn window(&self) -> Duration {
        self.window.length()
    }

    /// The floor's share of the budget, in thousandths of a retry.
    fn floor_milli(&self) -> u64 {
        // retries/s * ms = thousandths of a retry.
        let millis = saturating_nanos(self.window.length()) / 1_000_000;
        u64::from(self.min_per_second).saturating_mul(millis)
    }
}

impl Default for RatioBudget {
    fn default() -> Self {
        RatioBudget::new()
    }
}

impl RetryBudget for RatioBudget {
    fn try_withdraw(&self, _kind: RetryKind) -> Option<u32> {
        let floor = self.floor_milli();
        self.window.with(|slot, [calls, retries]| {
            let allowed = calls.saturating_mul(self.ratio).saturating_add(floor);
            if retries.saturating_add(1).saturating_mul(MILLI) > allowed {
                return None;
            }
            slot[1] = slot[1].saturating_add(1);
            Some(1)
        })
    }

    fn on_call(&self) {
        self.window.add([1, 0]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn ratio_plus_floor_exactly() {
        // 25 % of 8 calls = 2, plus 1/s over 2 s = 2: four retries.
        let budget = RatioBudget::new()
            .with_ratio(0.25)
            .with_min_per_second(1)
            .with_window(Duration::from_secs(2));
        for _ in 0..8 {
            budget.on_call();
        }
        let allowed = (0..10)
            .filter(|_| budget.try_withdraw(RetryKind::Transient).is_some())
            .count();
        assert_eq!(allowed, 4);
    }

    #[tokio::test(start_paused = true)]
    async fn fractions_round_down() {
        // 10 % of 19 calls is 1.9: one retry, the second would need 20 calls.
        let budget = RatioBudget::new().with_min_per_second(0);
        for _ in 0..19 {
            budget.on_call();
        }
        assert_eq!(budget.try_withdraw(RetryKind::Throttled), Some(1));
        assert_eq!(budget.try_withdraw(RetryKind::Throttled), None);
        budget.on_call();
        assert_eq!(budget.try_withdraw(RetryKind::Throttled), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn old_calls_and_retries_expire() {
        let budget = RatioBudget::new().with_min_per_second(0);
        for _ in 0..10 {
            budget.on_call();
        }
        assert_eq!(budget.try_withdraw(RetryKind::Transient), Some(1));
        assert_eq!(budget.try_withdraw(RetryKind::Transient), None);
        tokio::time::advance(Duration::from_secs(10)).await;
        assert_eq!(budget.try_withdraw(RetryKind::Transient), None);
        for _ in 0..10 {
            budget.on_call();
        }
        assert_eq!(budget.try_withdraw(RetryKind::Transient), Some(1));
    }

    #[tokio::test(start_paused = true)]
    async fn extreme_configuration_does_not_panic() {
        let budget = RatioBudget::new()
            .with_ratio(f64::INFINITY)
            .with_min_per_second(u32::MAX)
            .with_window(Duration::MAX);
        budget.on_call();
        assert_eq!(budget.try_withdraw(RetryKind::Transient), Some(1));
        let none = RatioBudget::new()
            .with_ratio(-1.0)
            .with_min_per_second(0)
            .with_window(Duration::ZERO);
        none.on_call();
        assert_eq!(none.try_withdraw(RetryKind::Transient), None);
    }
}
