//! One method config's `retryPolicy`, read from JSON and checked, and the
//! error of every service config check.

use super::{GrpcCodes, GrpcResponses, GrpcRetryPolicy, MAX_ATTEMPTS};
use crate::error::ConfigError;
use serde::Deserialize;
use serde_json::Value;
use std::time::Duration;
use tonic::Code;

/// Why a service config was refused.
///
/// # Examples
///
/// ```
/// use persevere::tonic::{RetryPolicyConfig, ServiceConfigError};
///
/// let err = RetryPolicyConfig::from_json(r#"{"maxAttempts": 1}"#).unwrap_err();
/// assert!(matches!(err, ServiceConfigError::Invalid { field: "retryPolicy.maxAttempts", .. }));
/// assert_eq!(err.to_string(), "retryPolicy.maxAttempts: must be at least 2");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceConfigError {
    /// The text is not JSON, or a field has the wrong JSON type.
    #[error("service config is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field is missing or out of range (`retryPolicy.maxAttempts`).
    #[error("{field}: {reason}")]
    Invalid {
        /// The field, as the JSON names it, with its parent object.
        field: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An entry of `retryableStatusCodes` names no status code.
    #[error("retryPolicy.retryableStatusCodes: unknown status code {0}")]
    UnknownCode(String),
    /// `retryThrottling` is refused.
    #[error("retryThrottling: {0}")]
    Throttling(#[source] ConfigError),
}

/// One method's `retryPolicy` from a gRPC service config, checked as gRPC's
/// C-core checks it.
///
/// The fields are required: `maxAttempts` of at least 2 (more than 5 counts
/// as 5), `initialBackoff` and `maxBackoff` greater than zero (proto3 JSON
/// durations such as `"0.1s"`), `backoffMultiplier` greater than zero, and a
/// non-empty `retryableStatusCodes` of code names (`"UNAVAILABLE"`) or
/// numbers. Field names are camelCase, or PascalCase as grpc-go's examples
/// write them; unknown fields are ignored.
///
/// # Examples
///
/// ```
/// use persevere::tonic::RetryPolicyConfig;
/// use std::time::Duration;
/// use tonic::Code;
///
/// let config = RetryPolicyConfig::from_json(r#"{
///     "maxAttempts": 4,
///     "initialBackoff": "0.1s",
///     "maxBackoff": "1s",
///     "backoffMultiplier": 2,
///     "retryableStatusCodes": ["UNAVAILABLE", "ABORTED"]
/// }"#).unwrap();
/// assert_eq!(config.max_attempts(), 4);
/// assert_eq!(config.initial_backoff(), Duration::from_millis(100));
/// assert!(config.codes().contains(Code::Aborted));
/// assert!(!config.codes().contains(Code::ResourceExhausted));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RetryPolicyConfig {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
    multiplier: f64,
    codes: GrpcCodes,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RawRetryPolicy {
    #[serde(alias = "MaxAttempts")]
    max_attempts: Option<Value>,
    #[serde(alias = "InitialBackoff")]
    initial_backoff: Option<String>,
    #[serde(alias = "MaxBackoff")]
    max_backoff: Option<String>,
    #[serde(alias = "BackoffMultiplier")]
    backoff_multiplier: Option<f64>,
    #[serde(alias = "RetryableStatusCodes")]
    retryable_status_codes: Option<Vec<Value>>,
}

pub(super) const fn invalid(field: &'static str, reason: &'static str) -> ServiceConfigError {
    ServiceConfigError::Invalid { field, reason }
}

impl RetryPolicyConfig {
    /// Reads and checks a `retryPolicy` object.
    ///
    /// # Errors
    ///
    /// [`ServiceConfigError`] when the text is not JSON or a field is missing,
    /// of the wrong type or out of range (see [`RetryPolicyConfig`]).
    ///
    /// # Examples
    ///
    /// See [`RetryPolicyConfig`].
    pub fn from_json(json: &str) -> Result<Self, ServiceConfigError> {
        RetryPolicyConfig::check(serde_json::from_str(json)?)
    }

    pub(super) fn check(raw: RawRetryPolicy) -> Result<Self, ServiceConfigError> {
        let max_attempts = match integer("retryPolicy.maxAttempts", raw.max_attempts)? {
            n if n < 2 => return Err(invalid("retryPolicy.maxAttempts", "must be at least 2")),
            n => u32::try_from(n).unwrap_or(u32::MAX).min(MAX_ATTEMPTS),
        };
        let initial_backoff = backoff("retryPolicy.initialBackoff", raw.initial_backoff)?;
        let max_backoff = backoff("retryPolicy.maxBackoff", raw.max_backoff)?;
        let multiplier = match raw.backoff_multiplier {
            None => {
                return Err(invalid(
                    "retryPolicy.backoffMultiplier",
                    "field not present",
                ));
            }
            Some(m) if m > 0.0 && m.is_finite() => m,
            Some(_) => {
                return Err(invalid(
                    "retryPolicy.backoffMultiplier",
                    "must be greater than 0",
                ));
            }
        };
        let list = raw.retryable_status_codes.ok_or(invalid(
            "retryPolicy.retryableStatusCodes",
            "field not present",
        ))?;
        let mut codes = GrpcCodes::none();
        for entry in &list {
            codes = codes.with(status_code(entry)?);
        }
        if list.is_empty() {
            return Err(invalid(
                "retryPolicy.retryableStatusCodes",
                "must be non-empty",
            ));
        }
        Ok(RetryPolicyConfig {
            max_attempts,
            initial_backoff,
            max_backoff,
            multiplier,
            codes,
        })
    }

    /// `maxAttempts`, capped at 5.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::RetryPolicyConfig;
    /// let json = r#"{"maxAttempts": 100, "initialBackoff": "1s", "maxBackoff": "1s",
    ///     "backoffMultiplier": 1, "retryableStatusCodes": [14]}"#;
    /// assert_eq!(RetryPolicyConfig::from_json(json).unwrap().max_attempts(), 5);
    /// ```
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// `initialBackoff`.
    ///
    /// # Examples
    ///
    /// See [`RetryPolicyConfig`].
    pub const fn initial_backoff(&self) -> Duration {
        self.initial_backoff
    }

    /// `maxBackoff`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::RetryPolicyConfig;
    /// use std::time::Duration;
    /// let json = r#"{"maxAttempts": 2, "initialBackoff": ".5s", "maxBackoff": "2.25s",
    ///     "backoffMultiplier": 1.5, "retryableStatusCodes": ["UNAVAILABLE"]}"#;
    /// assert_eq!(RetryPolicyConfig::from_json(json).unwrap().max_backoff(), Duration::from_millis(2250));
    /// ```
    pub const fn max_backoff(&self) -> Duration {
        self.max_backoff
    }

    /// `backoffMultiplier`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::RetryPolicyConfig;
    /// let json = r#"{"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s",
    ///     "backoffMultiplier": 1.5, "retryableStatusCodes": ["UNAVAILABLE"]}"#;
    /// assert_eq!(RetryPolicyConfig::from_json(json).unwrap().backoff_multiplier(), 1.5);
    /// ```
    pub const fn backoff_multiplier(&self) -> f64 {
        self.multiplier
    }

    /// `retryableStatusCodes`, as the classifier of errors.
    ///
    /// # Examples
    ///
    /// See [`RetryPolicyConfig`].
    pub const fn codes(&self) -> GrpcCodes {
        self.codes
    }

    /// `retryableStatusCodes`, as the classifier of responses.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::RetryPolicyConfig;
    /// let json = r#"{"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s",
    ///     "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}"#;
    /// let config = RetryPolicyConfig::from_json(json).unwrap();
    /// assert_eq!(config.responses().codes(), config.codes());
    /// ```
    pub const fn responses(&self) -> GrpcResponses {
        GrpcResponses::with_codes(self.codes)
    }

    /// The schedule: see [`GrpcRetryPolicy`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::RetryPolicyConfig;
    /// let json = r#"{"maxAttempts": 3, "initialBackoff": "1s", "maxBackoff": "1s",
    ///     "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}"#;
    /// assert_eq!(RetryPolicyConfig::from_json(json).unwrap().policy().max_attempts(), 3);
    /// ```
    pub fn policy(&self) -> GrpcRetryPolicy {
        GrpcRetryPolicy::new(
            self.max_attempts,
            self.initial_backoff,
            self.max_backoff,
            self.multiplier,
        )
    }
}

/// A required integer: a JSON number, or a string of one (proto3 JSON writes
/// 64-bit integers as strings; grpc-go accepts `"4"`, refuses `"4.5"`).
pub(super) fn integer(
    field: &'static str,
    value: Option<Value>,
) -> Result<i64, ServiceConfigError> {
    let not_integer = invalid(field, "not an integer");
    match value {
        None => Err(invalid(field, "field not present")),
        Some(Value::Number(n)) => n.as_i64().ok_or(not_integer),
        Some(Value::String(text)) => text.parse().map_err(|_| not_integer),
        Some(_) => Err(not_integer),
    }
}

/// A required, positive proto3 JSON duration.
fn backoff(field: &'static str, text: Option<String>) -> Result<Duration, ServiceConfigError> {
    let text = text.ok_or(invalid(field, "field not present"))?;
    match parse_duration(&text) {
        Some(d) if !d.is_zero() => Ok(d),
        Some(_) => Err(invalid(field, "must be greater than 0")),
        None => Err(invalid(field, "not a duration such as \"1.5s\"")),
    }
}

/// A proto3 JSON duration, non-negative: seconds with up to nine decimals and
/// an `s` (`"1s"`, `"0.25s"`, `".01s"`); `None` for anything else.
fn parse_duration(text: &str) -> Option<Duration> {
    let number = text.strip_suffix('s')?;
    let (whole, fraction) = number.split_once('.').unwrap_or((number, ""));
    let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if (whole.is_empty() && fraction.is_empty()) || !digits(whole) || !digits(fraction) {
        return None;
    }
    if fraction.len() > 9 || number.ends_with('.') {
        return None;
    }
    let secs = if whole.is_empty() {
        0
    } else {
        whole.parse::<u64>().ok()?
    };
    let nanos = if fraction.is_empty() {
        0
    } else {
        fraction.parse::<u32>().ok()? * 10u32.pow(9 - fraction.len() as u32)
    };
    Some(Duration::new(secs, nanos))
}

/// One entry of `retryableStatusCodes`: a code name or number.
fn status_code(entry: &Value) -> Result<Code, ServiceConfigError> {
    let unknown = || ServiceConfigError::UnknownCode(entry.to_string());
    let code = match entry {
        Value::Number(n) => match n.as_u64() {
            Some(n @ 0..=16) => Code::from_i32(n as i32),
            _ => return Err(unknown()),
        },
        Value::String(name) => code_named(name).ok_or_else(unknown)?,
        _ => return Err(unknown()),
    };
    if code == Code::Ok {
        return Err(invalid(
            "retryPolicy.retryableStatusCodes",
            "OK is not retryable",
        ));
    }
    Ok(code)
}

fn code_named(name: &str) -> Option<Code> {
    const NAMES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    let n = NAMES.iter().position(|known| *known == name)?;
    Some(Code::from_i32(n as i32))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        let ms = |n| Some(Duration::from_millis(n));
        assert_eq!(parse_duration("1s"), ms(1000));
        assert_eq!(parse_duration(".01s"), ms(10));
        assert_eq!(
            parse_duration("0.000000001s"),
            Some(Duration::from_nanos(1))
        );
        assert_eq!(
            parse_duration("18446744073709551615s"),
            Some(Duration::from_secs(u64::MAX))
        );
        for bad in [
            "",
            "s",
            ".s",
            "1",
            "1.s",
            "-1s",
            "1.0000000001s",
            "1e3s",
            "1.5ms",
            "99999999999999999999s",
            "1 s",
        ] {
            assert_eq!(parse_duration(bad), None, "{bad:?}");
        }
    }
}
