//! Service config parsing (`persevere::tonic`), on the cases of grpc-go's
//! `service_config_test.go` and C-core's `retry_service_config.cc` checks,
//! and on random input (never a panic).
#![cfg(feature = "tonic")]

use persevere::ConfigError;
use persevere::tonic::{RetryPolicyConfig, ServiceConfig, ServiceConfigError};
use proptest::prelude::*;
use std::time::Duration;
use tonic::Code;

/// A service config with one method config named `names` whose retry policy
/// has `fields` (JSON object members) over a valid base.
fn config(names: &str, fields: &[(&str, &str)]) -> String {
    let mut policy = vec![
        ("maxAttempts", "2"),
        ("initialBackoff", "\"2s\""),
        ("maxBackoff", "\"10s\""),
        ("backoffMultiplier", "2"),
        ("retryableStatusCodes", "[\"UNAVAILABLE\"]"),
    ];
    for (name, value) in fields {
        policy.retain(|(n, _)| n != name);
        if !value.is_empty() {
            policy.push((name, value));
        }
    }
    let members: Vec<String> = policy
        .iter()
        .map(|(n, v)| format!("\"{n}\": {v}"))
        .collect();
    format!(
        r#"{{"methodConfig": [{{"name": {names}, "retryPolicy": {{{}}}}}]}}"#,
        members.join(", ")
    )
}

fn parse(fields: &[(&str, &str)]) -> Result<RetryPolicyConfig, ServiceConfigError> {
    let config = ServiceConfig::from_json(&config(r#"[{"service": "foo"}]"#, fields))?;
    Ok(config
        .retry_policy("foo", "Bar")
        .expect("the service's policy"))
}

fn field_of(err: ServiceConfigError) -> &'static str {
    match err {
        ServiceConfigError::Invalid { field, .. } => field,
        other => panic!("not a field error: {other}"),
    }
}

#[test]
fn grpc_go_valid_policy() {
    let policy = parse(&[]).unwrap();
    assert_eq!(policy.max_attempts(), 2);
    assert_eq!(policy.initial_backoff(), Duration::from_secs(2));
    assert_eq!(policy.max_backoff(), Duration::from_secs(10));
    assert_eq!(policy.backoff_multiplier(), 2.0);
    assert!(policy.codes().contains(Code::Unavailable));
    assert!(!policy.codes().contains(Code::ResourceExhausted));
}

#[test]
fn grpc_go_invalid_policies() {
    let cases: [(&[(&str, &str)], &str); 8] = [
        (&[("maxAttempts", "-1")], "retryPolicy.maxAttempts"),
        (&[("maxAttempts", "")], "retryPolicy.maxAttempts"),
        (&[("maxAttempts", "1")], "retryPolicy.maxAttempts"),
        (&[("maxAttempts", "\"4.5\"")], "retryPolicy.maxAttempts"),
        (
            &[("initialBackoff", "\"0s\"")],
            "retryPolicy.initialBackoff",
        ),
        (&[("maxBackoff", "\"0s\"")], "retryPolicy.maxBackoff"),
        (
            &[("backoffMultiplier", "0")],
            "retryPolicy.backoffMultiplier",
        ),
        (
            &[("retryableStatusCodes", "[]")],
            "retryPolicy.retryableStatusCodes",
        ),
    ];
    for (fields, field) in cases {
        assert_eq!(field_of(parse(fields).unwrap_err()), field, "{fields:?}");
    }
}

#[test]
fn integers_strings_and_the_cap_of_five() {
    assert_eq!(
        parse(&[("maxAttempts", "\"4\"")]).unwrap().max_attempts(),
        4
    );
    assert_eq!(parse(&[("maxAttempts", "6")]).unwrap().max_attempts(), 5);
    let huge = i64::MAX.to_string();
    assert_eq!(
        parse(&[("maxAttempts", huge.as_str())])
            .unwrap()
            .max_attempts(),
        5
    );
    assert_eq!(
        parse(&[("maxAttempts", "1e30")]).unwrap_err().to_string(),
        "retryPolicy.maxAttempts: not an integer"
    );
    assert!(parse(&[("maxAttempts", "true")]).is_err());
}

#[test]
fn durations_are_proto3_json() {
    let initial = |text: &str| parse(&[("initialBackoff", text)]).map(|p| p.initial_backoff());
    assert_eq!(initial("\".01s\"").unwrap(), Duration::from_millis(10));
    assert_eq!(initial("\"1.5s\"").unwrap(), Duration::from_millis(1500));
    assert_eq!(
        initial("\"0.000000001s\"").unwrap(),
        Duration::from_nanos(1)
    );
    for bad in [
        "\"1\"",
        "\"-1s\"",
        "\"1.0000000001s\"",
        "\"1m\"",
        "\"\"",
        "\"s\"",
    ] {
        assert_eq!(
            field_of(initial(bad).unwrap_err()),
            "retryPolicy.initialBackoff",
            "{bad}"
        );
    }
    // Not a string at all: the JSON has the wrong type.
    assert!(matches!(
        initial("1").unwrap_err(),
        ServiceConfigError::Json(_)
    ));
}

#[test]
fn status_codes_by_name_or_number() {
    let codes = parse(&[(
        "retryableStatusCodes",
        r#"["ABORTED", 14, "DEADLINE_EXCEEDED"]"#,
    )])
    .unwrap()
    .codes();
    for code in [Code::Aborted, Code::Unavailable, Code::DeadlineExceeded] {
        assert!(codes.contains(code), "{code:?}");
    }
    for bad in [
        r#"["unavailable"]"#,
        r#"["NOPE"]"#,
        "[17]",
        "[-1]",
        "[1.5]",
        "[null]",
    ] {
        let err = parse(&[("retryableStatusCodes", bad)]).unwrap_err();
        assert!(
            matches!(err, ServiceConfigError::UnknownCode(_)),
            "{bad}: {err}"
        );
    }
    let ok = parse(&[("retryableStatusCodes", r#"["OK"]"#)]).unwrap_err();
    assert_eq!(field_of(ok), "retryPolicy.retryableStatusCodes");
}

#[test]
fn grpc_go_example_in_pascal_case() {
    let json = r#"{"methodConfig": [{"name": [{"service": "grpc.examples.echo.Echo"}], "waitForReady": true,
        "retryPolicy": {"MaxAttempts": 4, "InitialBackoff": ".01s", "MaxBackoff": ".01s",
                        "BackoffMultiplier": 1.0, "RetryableStatusCodes": ["UNAVAILABLE"]}}]}"#;
    let config = ServiceConfig::from_json(json).unwrap();
    let policy = config
        .retry_policy("grpc.examples.echo.Echo", "UnaryEcho")
        .unwrap();
    assert_eq!(
        (policy.max_attempts(), policy.max_backoff()),
        (4, Duration::from_millis(10))
    );
}

#[test]
fn method_names_and_the_most_specific_match() {
    // grpc-go TestParseDefaultMethodConfig: {}, a null service and an empty
    // one are all the default; a method without its service is an error.
    for names in [r#"[{}]"#, r#"[{"service": null}]"#, r#"[{"service": ""}]"#] {
        let config = ServiceConfig::from_json(&config(names, &[])).unwrap();
        assert!(
            config.retry_policy("any.Service", "Any").is_some(),
            "{names}"
        );
    }
    for names in [
        r#"[{"method": "Bar"}]"#,
        r#"[{"service": "", "method": "Bar"}]"#,
        r#"[{"service": "foo"}, {"service": "foo"}]"#,
    ] {
        assert_eq!(
            field_of(ServiceConfig::from_json(&config(names, &[])).unwrap_err()),
            "methodConfig.name",
            "{names}"
        );
    }
    // service_config.proto's example: the exact name, then the service, then
    // the default; a matching config without a retryPolicy means no retries.
    let json = r#"{"methodConfig": [
        {"name": [{}], "retryPolicy": {"maxAttempts": 2, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [14]}},
        {"name": [{"service": "MyService"}], "retryPolicy": {"maxAttempts": 3, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [14]}},
        {"name": [{"service": "MyService", "method": "Foo"}], "retryPolicy": {"maxAttempts": 4, "initialBackoff": "1s", "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [14]}},
        {"name": [{"service": "MyService", "method": "NoRetry"}], "timeout": "1s"}
    ]}"#;
    let config = ServiceConfig::from_json(json).unwrap();
    let attempts = |s, m| config.retry_policy(s, m).map(|p| p.max_attempts());
    assert_eq!(attempts("MyService", "Foo"), Some(4));
    assert_eq!(attempts("MyService", "Bar"), Some(3));
    assert_eq!(attempts("AnotherService", "Baz"), Some(2));
    assert_eq!(attempts("MyService", "NoRetry"), None);
    // One bad policy refuses the whole config.
    let bad = json.replacen("\"maxAttempts\": 3", "\"maxAttempts\": 0", 1);
    assert!(ServiceConfig::from_json(&bad).is_err());
}

#[test]
fn retry_throttling() {
    let throttling = |members: &str| {
        ServiceConfig::from_json(&format!(r#"{{"retryThrottling": {{{members}}}}}"#))
    };
    let throttle = throttling(r#""maxTokens": "10", "tokenRatio": 0.1236"#)
        .unwrap()
        .throttle()
        .unwrap();
    // C-core keeps three decimals of the ratio.
    assert_eq!((throttle.tokens(), throttle.milli_ratio()), (10.0, 123));
    let refused = |members| match throttling(members).unwrap_err() {
        ServiceConfigError::Throttling(err) => err,
        other => panic!("{other}"),
    };
    assert_eq!(
        refused(r#""maxTokens": 0, "tokenRatio": 0.1"#),
        ConfigError::ZeroTokens
    );
    assert_eq!(
        refused(r#""maxTokens": -3, "tokenRatio": 0.1"#),
        ConfigError::ZeroTokens
    );
    assert!(matches!(
        refused(r#""maxTokens": 10, "tokenRatio": 0.0009"#),
        ConfigError::TokenRatio(_)
    ));
    assert!(matches!(
        refused(r#""maxTokens": 10, "tokenRatio": -1"#),
        ConfigError::TokenRatio(_)
    ));
    assert_eq!(
        field_of(throttling(r#""tokenRatio": 0.1"#).unwrap_err()),
        "retryThrottling.maxTokens"
    );
    assert_eq!(
        field_of(throttling(r#""maxTokens": 10"#).unwrap_err()),
        "retryThrottling.tokenRatio"
    );
    // Each throttle made is a fresh, full one.
    let config = throttling(r#""maxTokens": 4, "tokenRatio": 1"#).unwrap();
    assert_eq!(config.throttle().unwrap().tokens(), 4.0);
}

#[test]
fn not_json_or_the_wrong_shape() {
    for text in [
        "",
        "{",
        "[]",
        "null",
        r#"{"methodConfig": {}}"#,
        r#"{"methodConfig": [{"name": "foo"}]}"#,
    ] {
        assert!(
            matches!(
                ServiceConfig::from_json(text),
                Err(ServiceConfigError::Json(_))
            ),
            "{text}"
        );
    }
    assert!(
        ServiceConfig::from_json(r#"{"loadBalancingPolicy": "round_robin"}"#)
            .unwrap()
            .retry_policy("a", "b")
            .is_none()
    );
}

proptest! {
    #[test]
    fn any_text_is_an_answer_not_a_panic(text in ".{0,200}") {
        let _ = ServiceConfig::from_json(&text);
        let _ = RetryPolicyConfig::from_json(&text);
    }

    #[test]
    fn any_field_values_are_an_answer_not_a_panic(
        attempts in prop_oneof![any::<i64>().prop_map(|n| n.to_string()), any::<f64>().prop_map(|n| format!("{n:?}"))],
        backoff in "\"[0-9.]{0,25}s?\"",
        multiplier in any::<f64>().prop_map(|n| if n.is_finite() { format!("{n:?}") } else { "1".into() }),
        code in any::<i64>(),
    ) {
        let code = format!("[{code}]");
        let fields = [
            ("maxAttempts", attempts.as_str()),
            ("initialBackoff", backoff.as_str()),
            ("backoffMultiplier", multiplier.as_str()),
            ("retryableStatusCodes", code.as_str()),
        ];
        if let Ok(policy) = parse(&fields) {
            prop_assert!((2..=5).contains(&policy.max_attempts()));
            prop_assert!(!policy.initial_backoff().is_zero());
        }
    }
}
