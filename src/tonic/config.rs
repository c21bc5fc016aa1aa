//! A gRPC service config's retry parts, read from its JSON: `retryPolicy`
//! (per method) and `retryThrottling` (per channel).

use super::{GrpcCodes, GrpcResponses, GrpcRetryPolicy, MAX_ATTEMPTS};
use crate::budget::GrpcThrottle;
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
/// assert!(matches!(err, ServiceConfigError::Invalid { field: "maxAttempts", .. }));
/// assert_eq!(err.to_string(), "retryPolicy.maxAttempts: must be at least 2");
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceConfigError {
    /// The text is not JSON, or a field has the wrong JSON type.
    #[error("service config is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A `retryPolicy` field is missing or out of range.
    #[error("retryPolicy.{field}: {reason}")]
    Invalid {
        /// The field, as the JSON names it.
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
struct RawRetryPolicy {
    #[serde(alias = "MaxAttempts")]
    max_attempts: Option<i64>,
    #[serde(alias = "InitialBackoff")]
    initial_backoff: Option<String>,
    #[serde(alias = "MaxBackoff")]
    max_backoff: Option<String>,
    #[serde(alias = "BackoffMultiplier")]
    backoff_multiplier: Option<f64>,
    #[serde(alias = "RetryableStatusCodes")]
    retryable_status_codes: Option<Vec<Value>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawThrottling {
    #[serde(alias = "MaxTokens")]
    max_tokens: Option<i64>,
    #[serde(alias = "TokenRatio")]
    token_ratio: Option<f64>,
}

#[derive(Deserialize)]
struct RawName {
    #[serde(default)]
    service: String,
    #[serde(default)]
    method: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMethodConfig {
    #[serde(default)]
    name: Vec<RawName>,
    retry_policy: Option<RawRetryPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawServiceConfig {
    #[serde(default)]
    method_config: Vec<RawMethodConfig>,
    retry_throttling: Option<RawThrottling>,
}

const fn invalid(field: &'static str, reason: &'static str) -> ServiceConfigError {
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

    fn check(raw: RawRetryPolicy) -> Result<Self, ServiceConfigError> {
        let max_attempts = match raw.max_attempts {
            None => return Err(invalid("maxAttempts", "field not present")),
            Some(n) if n < 2 => return Err(invalid("maxAttempts", "must be at least 2")),
            Some(n) => u32::try_from(n).unwrap_or(u32::MAX).min(MAX_ATTEMPTS),
        };
        let initial_backoff = backoff("initialBackoff", raw.initial_backoff)?;
        let max_backoff = backoff("maxBackoff", raw.max_backoff)?;
        let multiplier = match raw.backoff_multiplier {
            None => return Err(invalid("backoffMultiplier", "field not present")),
            Some(m) if m > 0.0 && m.is_finite() => m,
            Some(_) => return Err(invalid("backoffMultiplier", "must be greater than 0")),
        };
        let list = raw
            .retryable_status_codes
            .ok_or(invalid("retryableStatusCodes", "field not present"))?;
        let mut codes = GrpcCodes::none();
        for entry in &list {
            codes = codes.with(status_code(entry)?);
        }
        if list.is_empty() {
            return Err(invalid("retryableStatusCodes", "must be non-empty"));
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
        return Err(invalid("retryableStatusCodes", "OK is not retryable"));
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

/// A service config's `retryThrottling`, checked as [`GrpcThrottle::try_new`]
/// checks it.
fn throttle(raw: RawThrottling) -> Result<RawThrottle, ServiceConfigError> {
    let refused = ServiceConfigError::Throttling;
    let max_tokens = match raw.max_tokens {
        None => return Err(invalid("retryThrottling.maxTokens", "field not present")),
        Some(n) if n <= 0 => return Err(refused(ConfigError::ZeroTokens)),
        Some(n) => u32::try_from(n).unwrap_or(u32::MAX),
    };
    let ratio = raw
        .token_ratio
        .ok_or(invalid("retryThrottling.tokenRatio", "field not present"))?;
    GrpcThrottle::try_new(max_tokens, ratio).map_err(refused)?;
    Ok(RawThrottle { max_tokens, ratio })
}

/// The retry parts of a gRPC service config: each method config's name list
/// and `retryPolicy`, and the channel's `retryThrottling`.
///
/// Every `retryPolicy` is checked when the config is read; the first bad one
/// refuses the whole config, as gRPC clients refuse it. Other fields
/// (`loadBalancingPolicy`, `timeout`, `hedgingPolicy`) are ignored.
///
/// # Examples
///
/// ```
/// use persevere::tonic::ServiceConfig;
/// use std::sync::Arc;
///
/// let config = ServiceConfig::from_json(r#"{
///     "methodConfig": [{
///         "name": [{"service": "grpc.health.v1.Health"}],
///         "retryPolicy": {"maxAttempts": 3, "initialBackoff": "0.1s", "maxBackoff": "1s",
///                         "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}
///     }],
///     "retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}
/// }"#).unwrap();
/// let check = config.retry_policy("grpc.health.v1.Health", "Check").unwrap();
/// assert_eq!(check.max_attempts(), 3);
/// assert!(config.retry_policy("other.Service", "Get").is_none());
/// let throttle = Arc::new(config.throttle().unwrap());
/// # let _ = throttle;
/// ```
#[derive(Debug)]
pub struct ServiceConfig {
    methods: Vec<(Vec<(String, String)>, Option<RetryPolicyConfig>)>,
    throttle: Option<RawThrottle>,
}

/// `retryThrottling`, checked, kept as numbers so that each call of
/// [`ServiceConfig::throttle`] makes a fresh, full throttle.
#[derive(Debug, Clone, Copy)]
struct RawThrottle {
    max_tokens: u32,
    ratio: f64,
}

impl ServiceConfig {
    /// Reads and checks a service config.
    ///
    /// # Errors
    ///
    /// [`ServiceConfigError`] when the text is not JSON, or a `retryPolicy`
    /// or `retryThrottling` is refused.
    ///
    /// # Examples
    ///
    /// See [`ServiceConfig`].
    pub fn from_json(json: &str) -> Result<Self, ServiceConfigError> {
        let raw: RawServiceConfig = serde_json::from_str(json)?;
        let mut methods = Vec::with_capacity(raw.method_config.len());
        for method in raw.method_config {
            let names = method
                .name
                .into_iter()
                .map(|n| (n.service, n.method))
                .collect();
            let policy = method
                .retry_policy
                .map(RetryPolicyConfig::check)
                .transpose()?;
            methods.push((names, policy));
        }
        let throttle = raw.retry_throttling.map(throttle).transpose()?;
        Ok(ServiceConfig { methods, throttle })
    }

    /// The retry policy of `service`'s `method`, found as gRPC finds a method
    /// config: a name with both the service and the method, else one with
    /// the service and no method, else the default (a name with neither).
    /// `None` when the method has no retry policy: it is not retried.
    ///
    /// # Examples
    ///
    /// See [`ServiceConfig`].
    pub fn retry_policy(&self, service: &str, method: &str) -> Option<RetryPolicyConfig> {
        let find = |service: &str, method: &str| {
            self.methods
                .iter()
                .find(|(names, _)| names.iter().any(|(s, m)| s == service && m == method))
        };
        let found = find(service, method)
            .or_else(|| find(service, ""))
            .or_else(|| find("", ""));
        found.and_then(|(_, policy)| *policy)
    }

    /// A full throttle made from `retryThrottling`, if the config has one:
    /// share it (in an `Arc`) between the layers of one channel.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::ServiceConfig;
    ///
    /// let json = r#"{"retryThrottling": {"maxTokens": 10, "tokenRatio": 0.1}}"#;
    /// let throttle = ServiceConfig::from_json(json).unwrap().throttle().unwrap();
    /// assert_eq!((throttle.tokens(), throttle.milli_ratio()), (10.0, 100));
    /// assert!(ServiceConfig::from_json("{}").unwrap().throttle().is_none());
    /// ```
    pub fn throttle(&self) -> Option<GrpcThrottle> {
        self.throttle
            .map(|t| GrpcThrottle::new(t.max_tokens, t.ratio))
    }
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
