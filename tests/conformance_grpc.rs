//! gRPC retry throttling (gRFC A6), replayed from gRPC C-core's own test
//! vector: `test/core/client_channel/retry_throttle_test.cc`, "Basic".
//!
//! C-core's `RecordFailure` takes a token and answers whether a retry may
//! follow; here that is `on_failure` then `try_withdraw`. `RecordSuccess` is
//! `on_success`.

use persevere::budget::{GrpcThrottle, RetryBudget};
use persevere::{Fixed, RetryKind, RetryPolicyExt, StopReason};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
enum Event {
    /// A failure, then whether a retry is allowed.
    Failure(bool),
    Success,
}
use Event::*;

/// "Basic": max tokens 4 (threshold 2), ratio 1.6; each event, and the token
/// count after it in thousandths (C-core's comments give it in tokens).
const BASIC: &[(Event, u64)] = &[
    (Failure(true), 3000),
    (Success, 4000), // not beyond the max
    (Failure(true), 3000),
    (Failure(false), 2000), // at the threshold: no retry
    (Failure(false), 1000),
    (Failure(false), 0),
    (Failure(false), 0), // not below 0
    (Success, 1600),
    (Success, 3200),
    (Failure(true), 2200),
    (Failure(false), 1200),
    (Success, 2800),
    (Failure(false), 1800),
    (Success, 3400),
    (Failure(true), 2400),
];

#[test]
fn c_core_basic_vector() {
    // C-core builds it from `maxTokens: 4, tokenRatio: 1.6`: 4000 and 1600.
    let throttle = GrpcThrottle::try_new(4, 1.6).unwrap();
    assert_eq!(
        (throttle.milli_tokens(), throttle.milli_ratio()),
        (4000, 1600)
    );
    for (i, (event, tokens)) in BASIC.iter().enumerate() {
        match *event {
            Failure(allowed) => {
                throttle.on_failure(Some(RetryKind::Transient));
                let got = throttle.try_withdraw(RetryKind::Transient);
                assert_eq!(got.is_some(), allowed, "event {i}: retry allowed");
                // A gRPC throttle takes nothing for the retry itself.
                assert_eq!(got.unwrap_or(0), 0, "event {i}");
            }
            Success => throttle.on_success(false, 0, 0),
        }
        assert_eq!(throttle.milli_tokens(), *tokens, "event {i}: tokens");
    }
}

/// The same vector's first steps through the combinator: each failed attempt
/// takes a token, and the call stops when the count reaches the threshold.
#[tokio::test(start_paused = true)]
async fn c_core_basic_vector_through_calls() {
    let throttle = GrpcThrottle::try_new(4, 1.6).unwrap();
    let policy = Fixed::new(Duration::from_millis(10)).with_max_attempts(5);
    // Fails once (3 tokens, above 2: retry), then succeeds (+1.6, capped at 4).
    let mut failures = 1;
    let ok = persevere::retry(|| {
        let fail = failures > 0;
        failures -= 1;
        async move { if fail { Err("unavailable") } else { Ok(()) } }
    })
    .policy(policy)
    .budget(&throttle)
    .await;
    assert!(ok.is_ok());
    assert_eq!(throttle.milli_tokens(), 4000);
    // Always fails: 3 (retry), 2 (at the threshold: stop).
    let err = persevere::retry(|| async { Err::<(), _>("unavailable") })
        .policy(policy)
        .budget(&throttle)
        .await
        .unwrap_err();
    assert_eq!(err.reason(), StopReason::BudgetExhausted);
    assert_eq!(err.attempts(), 2);
    assert_eq!(throttle.milli_tokens(), 2000);
}

/// C-core and Java truncate `tokenRatio` to three decimals.
#[test]
fn token_ratio_is_truncated_as_c_core_and_java() {
    for (ratio, milli) in [
        (0.1236, 123),
        (0.9999, 999),
        (0.1, 100),
        (1.6, 1600),
        (0.001, 1),
    ] {
        assert_eq!(GrpcThrottle::new(10, ratio).milli_ratio(), milli, "{ratio}");
        assert_eq!(
            GrpcThrottle::try_new(10, ratio).unwrap().milli_ratio(),
            milli
        );
    }
    let t = GrpcThrottle::new(10, 0.1236);
    t.on_failure(Some(RetryKind::Throttled));
    t.on_success(false, 0, 0);
    assert_eq!(t.milli_tokens(), 9123);
}
