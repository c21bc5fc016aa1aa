//! gRPC's retry throttling: failures drain a token count, successes refill
//! it, and retries stop while it is at or below half.

use super::{MILLI, RetryBudget};
use crate::classify::RetryKind;
use crate::error::ConfigError;
use std::sync::atomic::{AtomicU64, Ordering};

/// Retry throttling as gRPC clients do it (`retryThrottling` in the service
/// config).
///
/// The token count starts at `max_tokens`. Each attempt that fails with a
/// retryable error takes 1 token, each success adds `token_ratio`, and the
/// count stays within `0..=max_tokens`. A retry is allowed only while the
/// count is above `max_tokens / 2`; it takes nothing itself.
///
/// Tokens are kept in thousandths in one atomic integer, so there are no
/// floats and no lock. As in gRPC's C-core and Java, `token_ratio` is
/// truncated to three decimals: 0.1236 earns 123 thousandths of a token, 0.9999
/// earns 999 (the decimals of the shortest form that reads back as the same
/// `f64`, so 0.7 is 700 exactly).
///
/// # Default
///
/// `max_tokens` 10, `token_ratio` 0.1, the values in gRPC's examples.
///
/// # Errors and clamps
///
/// [`try_new`](Self::try_new) rejects what C-core's service-config parser
/// rejects: zero `max_tokens`, and a ratio that is not at least 0.001 once
/// truncated (NaN, negative, below 0.001), and an infinite one.
/// [`new`](Self::new) accepts anything: a ratio that is NaN, negative or below
/// 0.001 earns nothing, one too large is capped at `u32::MAX` tokens, and with
/// 0 `max_tokens` no retry is ever allowed.
///
/// Source: gRPC proposal A6, "gRPC Retry Design", section "Throttling Retry
/// Attempts and Hedged RPCs"; C-core `retry_service_config.cc` (parsing) and
/// `retry_throttle.cc`. C-core's `retry_throttle_test.cc` "Basic" case is
/// replayed in `tests/conformance_grpc.rs`.
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
            ratio: truncated_milli(token_ratio).unwrap_or(0),
            tokens: AtomicU64::new(max),
        }
    }

    /// [`new`](Self::new), checked as gRPC's C-core checks a service config's
    /// `retryThrottling`.
    ///
    /// # Errors
    ///
    /// - [`ConfigError::ZeroTokens`] when `max_tokens` is 0;
    /// - [`ConfigError::TokenRatio`] when `token_ratio` is NaN, infinite, or
    ///   below 0.001 once truncated to three decimals.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{ConfigError, budget::GrpcThrottle};
    ///
    /// assert_eq!(GrpcThrottle::try_new(10, 0.1236).unwrap().milli_ratio(), 123);
    /// assert!(matches!(GrpcThrottle::try_new(10, 0.0009), Err(ConfigError::TokenRatio(_))));
    /// assert!(matches!(GrpcThrottle::try_new(0, 0.1), Err(ConfigError::ZeroTokens)));
    /// ```
    pub fn try_new(max_tokens: u32, token_ratio: f64) -> Result<Self, ConfigError> {
        if max_tokens == 0 {
            return Err(ConfigError::ZeroTokens);
        }
        match truncated_milli(token_ratio) {
            Some(milli) if milli > 0 && token_ratio.is_finite() => {
                Ok(GrpcThrottle::new(max_tokens, token_ratio))
            }
            _ => Err(ConfigError::TokenRatio(token_ratio)),
        }
    }

    /// What a success earns, in thousandths of a token.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::budget::GrpcThrottle;
    ///
    /// assert_eq!(GrpcThrottle::new(10, 0.9999).milli_ratio(), 999);
    /// assert_eq!(GrpcThrottle::new(10, 1.6).milli_ratio(), 1600);
    /// ```
    pub fn milli_ratio(&self) -> u64 {
        self.ratio
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

/// `ratio` in thousandths, truncated as gRPC truncates the decimal text of a
/// service config: the largest `m` whose decimal `m / 1000` is at most `ratio`
/// (so `0.7` gives 700 although `0.7 * 1000.0` is not exactly 700), capped at
/// `u32::MAX` whole tokens. `None` for NaN and negative values.
fn truncated_milli(ratio: f64) -> Option<u64> {
    if ratio.is_nan() || ratio < 0.0 {
        return None;
    }
    let cap = u64::from(u32::MAX) * MILLI;
    let scaled = (ratio * MILLI as f64).floor();
    if scaled >= cap as f64 {
        return Some(cap);
    }
    // Exact in f64: `scaled` is a whole number below 2^53.
    let mut milli = scaled as u64;
    // `(m as f64) / 1000.0` is the f64 nearest the decimal m/1000, the value a
    // user gets by writing it: step by one where the product rounded across.
    if ((milli + 1) as f64) / MILLI as f64 <= ratio {
        milli += 1;
    } else if milli > 0 && (milli as f64) / MILLI as f64 > ratio {
        milli -= 1;
    }
    Some(milli.min(cap))
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
    fn ratios_are_truncated_to_three_decimals() {
        assert_eq!(truncated_milli(0.1236), Some(123));
        assert_eq!(truncated_milli(0.9999), Some(999));
        assert_eq!(truncated_milli(0.0009), Some(0));
        assert_eq!(truncated_milli(f64::NAN), None);
        assert_eq!(truncated_milli(-0.5), None);
        assert_eq!(
            truncated_milli(f64::INFINITY),
            Some(u64::from(u32::MAX) * MILLI)
        );
        // Every decimal with three places reads back as itself...
        for m in 0..200_000u64 {
            assert_eq!(truncated_milli(m as f64 / 1000.0), Some(m), "{m}");
        }
        // ...and one with four places loses its fourth, as C-core's parser does.
        for m in 0..100_000u64 {
            let text = format!("{}.{:04}", m / 10_000, m % 10_000);
            let ratio: f64 = text.parse().unwrap();
            assert_eq!(truncated_milli(ratio), Some(m / 10), "{text}");
        }
    }

    #[test]
    fn checked_constructor_rejects_what_c_core_rejects() {
        for bad in [0.0, 0.0009, -1.0, f64::NAN, f64::INFINITY] {
            let err = GrpcThrottle::try_new(10, bad).unwrap_err();
            assert!(matches!(err, ConfigError::TokenRatio(_)), "{bad}");
        }
        assert!(matches!(
            GrpcThrottle::try_new(0, 0.5),
            Err(ConfigError::ZeroTokens)
        ));
        let ok = GrpcThrottle::try_new(1, 0.001).unwrap();
        assert_eq!((ok.milli_tokens(), ok.milli_ratio()), (1000, 1));
        assert_eq!(
            ConfigError::TokenRatio(0.0009).to_string(),
            "token ratio must be a finite number of at least 0.001, got 0.0009"
        );
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
