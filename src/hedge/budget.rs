//! The hedge budget: at most a fraction of recent calls may send a hedge.

use crate::budget::{RatioBudget, RetryBudget};
use crate::classify::RetryKind;
use std::time::Duration;

/// Hedges may be at most a fraction of recent calls, plus a small floor per
/// second: the cap on the extra load that hedging adds.
///
/// It counts each hedged call once, when it starts, and each hedge (an
/// attempt started because the previous one was slow, not because one
/// failed) when it is allowed; over the last [window](Self::with_window), a
/// hedge is allowed while `hedges + 1 <= ratio * calls + min_per_second *
/// window`. It is a [`RatioBudget`] with hedging's defaults, so it can also
/// be used wherever a [`RetryBudget`] is. When it refuses, the call does not
/// hedge again and waits for the attempts it has in flight.
///
/// Attach it with [`Hedge::hedge_budget`](super::Hedge::hedge_budget); a
/// [`RetryBudget`] shared with plain retries goes in
/// [`Hedge::budget`](super::Hedge::budget).
///
/// # Default
///
/// | setting | value |
/// |---|---|
/// | ratio | 0.05 (5 % of calls) |
/// | floor | 1 hedge per second |
/// | window | 10 s |
///
/// # Clamps
///
/// As [`RatioBudget`]: a NaN or negative ratio counts as 0.
///
/// # Examples
///
/// ```
/// use persevere::budget::RetryBudget;
/// use persevere::RetryKind;
/// use persevere::hedge::HedgeBudget;
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let budget = HedgeBudget::new().with_min_per_second(0);
/// for _ in 0..40 {
///     budget.on_call();
/// }
/// // 5 % of 40 calls: two hedges.
/// assert!(budget.try_withdraw(RetryKind::Timeout).is_some());
/// assert!(budget.try_withdraw(RetryKind::Timeout).is_some());
/// assert!(budget.try_withdraw(RetryKind::Timeout).is_none());
/// # }
/// ```
#[derive(Debug)]
pub struct HedgeBudget {
    inner: RatioBudget,
}

impl HedgeBudget {
    /// A budget with the defaults listed above.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::HedgeBudget;
    /// assert_eq!(HedgeBudget::new().ratio(), 0.05);
    /// ```
    pub fn new() -> Self {
        HedgeBudget {
            inner: RatioBudget::new().with_ratio(0.05).with_min_per_second(1),
        }
    }

    /// Sets the fraction of calls that may hedge.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::HedgeBudget;
    /// assert_eq!(HedgeBudget::new().with_ratio(0.02).ratio(), 0.02);
    /// ```
    pub fn with_ratio(mut self, ratio: f64) -> Self {
        self.inner = self.inner.with_ratio(ratio);
        self
    }

    /// Sets the floor: hedges per second allowed whatever the traffic.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryKind, budget::RetryBudget, hedge::HedgeBudget};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let none = HedgeBudget::new().with_min_per_second(0);
    /// assert_eq!(none.try_withdraw(RetryKind::Timeout), None);
    /// # }
    /// ```
    pub fn with_min_per_second(mut self, min: u32) -> Self {
        self.inner = self.inner.with_min_per_second(min);
        self
    }

    /// Sets how far back calls and hedges are counted.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::HedgeBudget; use std::time::Duration;
    /// let b = HedgeBudget::new().with_window(Duration::from_secs(60));
    /// assert_eq!(b.window(), Duration::from_secs(60));
    /// ```
    pub fn with_window(mut self, window: Duration) -> Self {
        self.inner = self.inner.with_window(window);
        self
    }

    /// The fraction of calls that may hedge, to a thousandth.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::HedgeBudget;
    /// assert_eq!(HedgeBudget::new().with_ratio(-1.0).ratio(), 0.0);
    /// ```
    pub fn ratio(&self) -> f64 {
        self.inner.ratio()
    }

    /// How far back calls and hedges are counted.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::hedge::HedgeBudget; use std::time::Duration;
    /// assert_eq!(HedgeBudget::new().window(), Duration::from_secs(10));
    /// ```
    pub fn window(&self) -> Duration {
        self.inner.window()
    }
}

impl Default for HedgeBudget {
    fn default() -> Self {
        HedgeBudget::new()
    }
}

impl RetryBudget for HedgeBudget {
    #[inline]
    fn try_withdraw(&self, kind: RetryKind) -> Option<u32> {
        self.inner.try_withdraw(kind)
    }

    #[inline]
    fn on_call(&self) {
        self.inner.on_call()
    }
}
