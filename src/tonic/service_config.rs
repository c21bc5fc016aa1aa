//! A whole service config: its method configs, found by name, and its
//! `retryThrottling`.

use super::config::{RetryPolicyConfig, ServiceConfigError, integer, invalid};
use crate::budget::GrpcThrottle;
use crate::error::ConfigError;
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawThrottling {
    #[serde(alias = "MaxTokens")]
    max_tokens: Option<serde_json::Value>,
    #[serde(alias = "TokenRatio")]
    token_ratio: Option<f64>,
}

#[derive(Deserialize)]
struct RawName {
    // "", null and absent are the same (service_config.proto).
    service: Option<String>,
    method: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMethodConfig {
    #[serde(default)]
    name: Vec<RawName>,
    retry_policy: Option<super::config::RawRetryPolicy>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawServiceConfig {
    #[serde(default)]
    method_config: Vec<RawMethodConfig>,
    retry_throttling: Option<RawThrottling>,
}

/// A service config's `retryThrottling`, checked as [`GrpcThrottle::try_new`]
/// checks it.
fn throttle(raw: RawThrottling) -> Result<RawThrottle, ServiceConfigError> {
    let refused = ServiceConfigError::Throttling;
    let max_tokens = match integer("retryThrottling.maxTokens", raw.max_tokens)? {
        n if n <= 0 => return Err(refused(ConfigError::ZeroTokens)),
        n => u32::try_from(n).unwrap_or(u32::MAX),
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
    methods: Vec<MethodConfig>,
    throttle: Option<RawThrottle>,
}

/// One entry of `methodConfig`: its names (service, method; empty when
/// absent) and its checked `retryPolicy`.
#[derive(Debug)]
struct MethodConfig {
    names: Vec<(String, String)>,
    policy: Option<RetryPolicyConfig>,
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
            let mut names = Vec::with_capacity(method.name.len());
            for name in method.name {
                let service = name.service.unwrap_or_default();
                let method = name.method.unwrap_or_default();
                if service.is_empty() && !method.is_empty() {
                    return Err(invalid(
                        "methodConfig.name",
                        "a method name needs its service",
                    ));
                }
                let name = (service, method);
                let taken = |config: &MethodConfig| config.names.contains(&name);
                if names.contains(&name) || methods.iter().any(taken) {
                    return Err(invalid("methodConfig.name", "a name appears twice"));
                }
                names.push(name);
            }
            let policy = method
                .retry_policy
                .map(RetryPolicyConfig::check)
                .transpose()?;
            methods.push(MethodConfig { names, policy });
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
            self.methods.iter().find(|config| {
                config
                    .names
                    .iter()
                    .any(|(s, m)| s == service && m == method)
            })
        };
        let found = find(service, method)
            .or_else(|| find(service, ""))
            .or_else(|| find("", ""));
        found.and_then(|config| config.policy)
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
