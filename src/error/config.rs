//! Why a configuration is invalid.

use std::time::Duration;

/// A configuration that a checked constructor or `validate()` rejected.
///
/// # Examples
///
/// ```
/// use persevere::{ConfigError, Exponential};
///
/// let err = Exponential::new().with_multiplier(0.0).validate().unwrap_err();
/// assert_eq!(err, ConfigError::Multiplier(0.0));
/// assert_eq!(err.to_string(), "multiplier must be a finite number of at least 1, got 0");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The multiplier is NaN, infinite or below 1.
    #[error("multiplier must be a finite number of at least 1, got {0}")]
    Multiplier(f64),
    /// The maximum delay is shorter than the initial delay.
    #[error("max delay ({max:?}) is less than the initial delay ({initial:?})")]
    MaxBelowInitial {
        /// The initial delay.
        initial: Duration,
        /// The maximum delay.
        max: Duration,
    },
    /// A proportional jitter fraction outside `0.0..=1.0`.
    #[error("jitter fraction must be between 0 and 1, got {0}")]
    JitterFraction(f64),
    /// A maximum of zero attempts: a call always makes at least one.
    #[error("max attempts must be at least 1")]
    ZeroAttempts,
    /// A gRPC retry throttle of zero tokens (`retryThrottling.maxTokens`).
    #[error("max tokens must be greater than 0")]
    ZeroTokens,
    /// A gRPC token ratio (`retryThrottling.tokenRatio`) that is NaN,
    /// infinite, or below 0.001 once truncated to three decimals.
    #[error("token ratio must be a finite number of at least 0.001, got {0}")]
    TokenRatio(f64),
}
