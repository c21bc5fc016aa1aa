//! gRPC's retry throttling: failures drain a token count, successes refill
//! it, and retries stop while it is at or below half.

use super::{MILLI, RetryBudget, to_milli};
use crate::classify::RetryKind;
use std::sync::atomic::{AtomicU64, Ordering};

/// Retry throttling as gRPC clients do it (`retryThrottling` in the service
/// config).
///
/// The token count starts at `max_tokens`. Each attempt that fails with a
/// retryable error takes 1 token, each success adds `token_ratio`, and the
/// count stays within `0..=max_tokens`. A retry is allowed only while the
/// count is above `max_tokens / 2`; it takes nothing itself.
///
/// Tokens are kept in thousandths in one atomic integer (gRPC, too, reads the
/// ratio to three decimal places), so there are no floats and no lock.
///
/// # Default
///
/// `max_tokens` 10, `token_ratio` 0.1, the values in gRPC's examples.
///
/// # Clamps
///
/// A `token_ratio` that is NaN or negative counts as 0; it is rounded to the
/// nearest thousandth. Any `max_tokens` is accepted; with 0 no retry is ever
/// allowed.
///
/// Source: gRPC proposal A6, "gRPC Retry Design", section "Throttling Retry
/// Attempts and Hedged RPCs".
///
/// # Examples
///
/// ```
/// use persevere::{RetryKind, budget::{GrpcThrottle, RetryBudget}};
///
/// let throttle = GrpcThrottle::new(10, 0.1);
/// for _ in 0..4 {
///     throttle.on_failure(Some(RetryKind::Transient));
/// }
/// assert_eq!(throttle.tokens(), 6.0);
/// assert_eq!(throttle.try_withdraw(RetryKind::Transient), Some(0)); // 6 > 5
/// throttle.on_failure(Some(RetryKind::Transient));
/// assert_eq!(throttle.try_withdraw(RetryKind::Transient), None); // 5 is not > 5
/// throttle.on_success(false, 0, 0);
/// assert_eq!(throttle.tokens(), 5.1);
/// assert_eq!(throttle.try_withdraw(RetryKind::Transient), Some(0));
/// ```
#[derive(Debug)]
pub struct GrpcThrottle {
    max: u64,
    ratio: u64,
    tokens: AtomicU64,
}

impl GrpcThrottle {
    /// A full throttle of `max_tokens` that earns `token_ratio` per success.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::GrpcThrottle;
    ///
    /// assert_eq!(GrpcThrottle::new(100, 0.5).tokens(), 100.0);
    /// ```
    pub fn new(max_tokens: u32, token_ratio: f64) -> Self {
        let max = u64::from(max_tokens) * MILLI;
        GrpcThrottle {
            max,
            ratio: to_milli(token_ratio),
            tokens: AtomicU64::new(max),
        }
    }

    /// The token count now.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::GrpcThrottle;
    ///
    /// assert_eq!(GrpcThrottle::default().tokens(), 10.0);
    /// ```
    pub fn tokens(&self) -> f64 {
        self.tokens.load(Ordering::Relaxed) as f64 / MILLI as f64
    }

    /// The token count in thousandths of a token, exactly.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::{GrpcThrottle, RetryBudget};
    ///
    /// let throttle = GrpcThrottle::new(10, 0.001);
    /// throttle.on_failure(Some(persevere::RetryKind::Timeout));
    /// throttle.on_success(false, 0, 0);
    /// assert_eq!(throttle.milli_tokens(), 9_001);
    /// ```
    pub fn milli_tokens(&self) -> u64 {
        self.tokens.load(Ordering::Relaxed)
    }
}

impl Default for GrpcThrottle {
    fn default() -> Self {
        GrpcThrottle::new(10, 0.1)
    }
}

impl RetryBudget for GrpcThrottle {
    fn try_withdraw(&self, _kind: RetryKind) -> Option<u32> {
        // Compare `tokens > max / 2` as `2 * tokens > max`, exactly.
        (self.milli_tokens().saturating_mul(2) > self.max).then_some(0)
    }

    fn on_failure(&self, kind: Option<RetryKind>) {
        if kind.is_none() || self.milli_tokens() == 0 {
            return;
        }
        // The closure always returns `Some`, so this cannot fail.
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_sub(MILLI))
            });
    }

    fn on_success(&self, _retried: bool, _taken: u32, _last: u32) {
        if self.ratio == 0 || self.milli_tokens() >= self.max {
            return;
        }
        let (max, ratio) = (self.max, self.ratio);
        let _ = self
            .tokens
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                Some(n.saturating_add(ratio).min(max))
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_arithmetic_in_thousandths() {
        let t = GrpcThrottle::new(3, 0.25);
        assert_eq!(t.milli_tokens(), 3000);
        t.on_failure(Some(RetryKind::Throttled));
        assert_eq!(t.milli_tokens(), 2000);
        assert_eq!(t.try_withdraw(RetryKind::Throttled), Some(0)); // 2 > 1.5
        t.on_failure(Some(RetryKind::Transient));
        assert_eq!(t.milli_tokens(), 1000);
        assert_eq!(t.try_withdraw(RetryKind::Throttled), None);
        t.on_success(true, 0, 0);
        t.on_success(false, 0, 0);
        assert_eq!(t.milli_tokens(), 1500);
        assert_eq!(t.try_withdraw(RetryKind::Throttled), None); // 1.5 is not > 1.5
        t.on_success(false, 0, 0);
        assert_eq!(t.milli_tokens(), 1750);
        assert_eq!(t.try_withdraw(RetryKind::Throttled), Some(0));
    }

    #[test]
    fn stays_within_zero_and_max() {
        let t = GrpcThrottle::new(2, 0.7);
        for _ in 0..5 {
            t.on_failure(Some(RetryKind::Timeout));
        }
        assert_eq!(t.milli_tokens(), 0);
        for _ in 0..10 {
            t.on_success(false, 0, 0);
        }
        assert_eq!(t.milli_tokens(), 2000);
    }

    #[test]
    fn terminal_failures_do_not_count() {
        let t = GrpcThrottle::default();
        t.on_failure(None);
        assert_eq!(t.milli_tokens(), 10_000);
    }

    #[test]
    fn odd_configuration_is_clamped() {
        let never = GrpcThrottle::new(0, 0.1);
        assert_eq!(never.try_withdraw(RetryKind::Transient), None);
        let nan = GrpcThrottle::new(u32::MAX, f64::NAN);
        nan.on_failure(Some(RetryKind::Transient));
        nan.on_success(false, 0, 0);
        assert_eq!(nan.milli_tokens(), u64::from(u32::MAX) * MILLI - MILLI);
        assert_eq!(nan.try_withdraw(RetryKind::Transient), Some(0));
    }
}
