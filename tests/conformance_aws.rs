//! AWS SDK standard retry mode, replayed from the SDKs' own test vectors.
//!
//! Each case gives the policy's settings and the bucket's initial tokens,
//! then one response per attempt with what must follow it: the outcome, the
//! retry quota left and the delay before the next attempt. The numbers are
//! smithy-kotlin's:
//!
//! - `runtime/runtime-core/jvm/test/aws/smithy/kotlin/runtime/retries/impl/StandardRetryIntegrationTestResources.kt`,
//!   the six cases of standard mode before 2026 (legacy costs, 1 s base);
//! - `NewStandardRetryIntegrationTestResources.kt` in the same directory, the
//!   cases of the SEP's "retry 2.1" appendix A (2026 costs, 50 ms base).
//!
//! Like smithy-kotlin (`maxCapacity = initial_retry_tokens`), the bucket's
//! capacity is the case's initial tokens. Every call runs through
//! `persevere::retry` on tokio's paused clock, so delays are measured between
//! the starts of attempts, exactly.

use persevere::budget::TokenBucket;
use persevere::{
    Classification, Exponential, Jitter, Limited, RetryError, RetryPolicyExt, StopReason, presets,
};
use std::time::Duration;
use tokio::time::Instant;

/// What follows a response, as the SDK test vectors name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    RetryRequest,
    Success,
    MaxAttemptsExceeded,
    RetryQuotaExceeded,
}
use Outcome::*;

/// One response and what must follow it.
#[derive(Debug, Clone, Copy)]
struct Step {
    status: u16,
    /// The service's error code, such as `Throttling`.
    error_code: Option<&'static str>,
    /// The `x-amz-retry-after` header, in milliseconds.
    retry_after: Option<&'static str>,
    outcome: Outcome,
    quota: u32,
    /// The delay before the next attempt, in milliseconds.
    delay_ms: Option<u64>,
}

const fn step(status: u16, outcome: Outcome, quota: u32, delay_ms: Option<u64>) -> Step {
    Step {
        status,
        error_code: None,
        retry_after: None,
        outcome,
        quota,
        delay_ms,
    }
}

const fn retry(status: u16, quota: u32, delay_ms: u64) -> Step {
    step(status, RetryRequest, quota, Some(delay_ms))
}

const fn last(status: u16, outcome: Outcome, quota: u32) -> Step {
    step(status, outcome, quota, None)
}

const fn with_retry_after(mut s: Step, millis: &'static str) -> Step {
    s.retry_after = Some(millis);
    s
}

struct Case {
    name: &'static str,
    max_attempts: u32,
    initial_tokens: u32,
    max_backoff: Duration,
    steps: &'static [Step],
}

const fn case(
    name: &'static str,
    max_attempts: u32,
    initial_tokens: u32,
    max_backoff_ms: u64,
    steps: &'static [Step],
) -> Case {
    Case {
        name,
        max_attempts,
        initial_tokens,
        max_backoff: Duration::from_millis(max_backoff_ms),
        steps,
    }
}

/// The error of one scripted attempt.
#[derive(Debug)]
struct Response(Step);

/// The SDKs' standard-mode classification, as far as the cases need it: the
/// transient status codes, the throttling error codes, and
/// `x-amz-retry-after` in milliseconds (an invalid value is ignored).
fn classify_aws(response: &Response) -> Classification {
    let Response(step) = response;
    let verdict = match (step.status, step.error_code) {
        (_, Some("Throttling" | "ThrottlingException" | "SlowDown")) => Classification::throttled(),
        (500 | 502 | 503 | 504, _) => Classification::transient(),
        _ => Classification::terminal(),
    };
    match step.retry_after.and_then(|ms| ms.parse::<u64>().ok()) {
        Some(ms) if verdict.is_retryable() => verdict.with_server_delay(Duration::from_millis(ms)),
        _ => verdict,
    }
}

/// Replays `case` with `policy` and `bucket`, checking every step.
async fn replay(case: &Case, policy: Limited<Exponential>, bucket: TokenBucket) {
    let name = case.name;
    let bucket = bucket.with_capacity(case.initial_tokens);
    // (start of the attempt, tokens in the bucket then)
    let mut starts: Vec<(Instant, u32)> = Vec::new();
    let steps = case.steps;
    let result: Result<u16, RetryError<Response>> = persevere::retry_with_attempt(|n| {
        starts.push((Instant::now(), bucket.available()));
        let step = steps
            .get(n as usize - 1)
            .copied()
            .unwrap_or_else(|| panic!("{name}: attempt {n} has no response in the case"));
        async move {
            if step.status == 200 {
                Ok(200)
            } else {
                Err(Response(step))
            }
        }
    })
    .policy(policy)
    .classify(classify_aws)
    .budget(&bucket)
    .await;

    assert_eq!(starts.len(), steps.len(), "{name}: attempts made");
    for (i, step) in steps[..steps.len() - 1].iter().enumerate() {
        assert_eq!(step.outcome, RetryRequest, "{name}: step {i} of the case");
        let (start, _) = starts[i];
        let (next, quota) = starts[i + 1];
        assert_eq!(quota, step.quota, "{name}: retry quota after response {i}");
        let delay = Duration::from_millis(step.delay_ms.expect("a retry has a delay"));
        assert_eq!(next - start, delay, "{name}: delay after response {i}");
    }
    let end = steps[steps.len() - 1];
    let outcome = match &result {
        Ok(_) => Success,
        Err(e) if e.reason() == StopReason::AttemptsExhausted => MaxAttemptsExceeded,
        Err(e) if e.reason() == StopReason::BudgetExhausted => RetryQuotaExceeded,
        Err(e) => panic!("{name}: unexpected stop: {:?}", e.reason()),
    };
    assert_eq!(outcome, end.outcome, "{name}: outcome of the last response");
    assert_eq!(
        bucket.available(),
        end.quota,
        "{name}: retry quota at the end"
    );
    if let Err(e) = result {
        assert_eq!(e.attempts() as usize, steps.len(), "{name}");
        assert!(e.into_inner().is_some(), "{name}: the last error is kept");
    }
}

/// `presets::aws_standard()` with jitter off (the cases' `exponential_base:
/// 1`), and the case's attempt cap and max backoff.
fn aws_standard_for(case: &Case) -> Limited<Exponential> {
    let preset = presets::aws_standard();
    preset
        .inner()
        .with_jitter(Jitter::None)
        .with_max_delay(case.max_backoff)
        .with_max_attempts(case.max_attempts)
}

// Legacy standard mode: the six cases of StandardRetryIntegrationTestResources.kt.
// Every case has exponential_base 1 (s), exponential_power 2.
const LEGACY: &[Case] = &[
    case(
        "Retry eventually succeeds",
        3,
        500,
        20_000,
        &[
            retry(500, 495, 1000),
            retry(500, 490, 2000),
            last(200, Success, 495),
        ],
    ),
    case(
        "Fail due to max attempts reached",
        3,
        500,
        20_000,
        &[
            retry(502, 495, 1000),
            retry(502, 490, 2000),
            last(502, MaxAttemptsExceeded, 490),
        ],
    ),
    case(
        "Retry Quota reached after a single retry",
        3,
        5,
        20_000,
        &[retry(500, 0, 1000), last(502, RetryQuotaExceeded, 0)],
    ),
    case(
        "No retries at all if retry quota is 0",
        3,
        0,
        20_000,
        &[last(500, RetryQuotaExceeded, 0)],
    ),
    case(
        "Verifying exponential backoff timing",
        5,
        500,
        20_000,
        &[
            retry(500, 495, 1000),
            retry(500, 490, 2000),
            retry(500, 485, 4000),
            retry(500, 480, 8000),
            last(500, MaxAttemptsExceeded, 480),
        ],
    ),
    case(
        "Verify max backoff time",
        5,
        500,
        3_000,
        &[
            retry(500, 495, 1000),
            retry(500, 490, 2000),
            retry(500, 485, 3000),
            retry(500, 480, 3000),
            last(500, MaxAttemptsExceeded, 480),
        ],
    ),
];

#[tokio::test(start_paused = true)]
async fn legacy_standard_mode_replays_smithy_kotlin() {
    assert_eq!(LEGACY.len(), 6);
    for case in LEGACY {
        // The legacy base: 1 s for every error.
        let policy = Limited::new(
            aws_standard_for(case)
                .inner()
                .with_initial_delay(Duration::from_secs(1))
                .with_throttled_initial_delay(Duration::from_secs(1)),
        )
        .with_max_attempts(case.max_attempts);
        replay(case, policy, TokenBucket::legacy()).await;
        // The legacy preset gives the same numbers once its cap is the case's.
        let legacy = Limited::new(
            presets::aws_standard_legacy()
                .inner()
                .with_jitter(Jitter::None)
                .with_max_delay(case.max_backoff),
        )
        .with_max_attempts(case.max_attempts);
        replay(case, legacy, TokenBucket::legacy()).await;
    }
}

const THROTTLED: Step = Step {
    error_code: Some("Throttling"),
    ..retry(400, 495, 1000)
};

// Standard mode 2.1: NewStandardRetryIntegrationTestResources.kt (SEP 2.1,
// appendix A). Defaults: 3 attempts, 500 tokens, 20 s max backoff.
const V2_1: &[Case] = &[
    case(
        "Retry eventually succeeds",
        3,
        500,
        20_000,
        &[
            retry(500, 486, 50),
            retry(500, 472, 100),
            last(200, Success, 486),
        ],
    ),
    case(
        "Fail due to max attempts reached",
        3,
        500,
        20_000,
        &[
            retry(502, 486, 50),
            retry(502, 472, 100),
            last(502, MaxAttemptsExceeded, 472),
        ],
    ),
    case(
        "Retry Quota reached after a single retry",
        3,
        14,
        20_000,
        &[retry(500, 0, 50), last(500, RetryQuotaExceeded, 0)],
    ),
    case(
        "No retries at all if retry quota is 0",
        3,
        0,
        20_000,
        &[last(500, RetryQuotaExceeded, 0)],
    ),
    case(
        "Verifying exponential backoff timing",
        5,
        500,
        20_000,
        &[
            retry(500, 486, 50),
            retry(500, 472, 100),
            retry(500, 458, 200),
            retry(500, 444, 400),
            last(500, MaxAttemptsExceeded, 444),
        ],
    ),
    case(
        "Verify max backoff time",
        5,
        500,
        200,
        &[
            retry(500, 486, 50),
            retry(500, 472, 100),
            retry(500, 458, 200),
            retry(500, 444, 200),
            last(500, MaxAttemptsExceeded, 444),
        ],
    ),
    case(
        "Retry stops after retry quota exhaustion",
        5,
        20,
        20_000,
        &[retry(500, 6, 50), last(502, RetryQuotaExceeded, 6)],
    ),
    case(
        "Throttling error token bucket drain and backoff duration",
        3,
        500,
        20_000,
        &[THROTTLED, last(200, Success, 500)],
    ),
    case(
        "Honor x-amz-retry-after header",
        3,
        500,
        20_000,
        &[
            with_retry_after(retry(500, 486, 1500), "1500"),
            last(200, Success, 500),
        ],
    ),
    case(
        "x-amz-retry-after minimum is exponential backoff duration",
        3,
        500,
        20_000,
        &[
            with_retry_after(retry(500, 486, 50), "0"),
            last(200, Success, 500),
        ],
    ),
    case(
        "x-amz-retry-after maximum is 5+exponential backoff duration",
        3,
        500,
        20_000,
        &[
            with_retry_after(retry(500, 486, 5050), "10000"),
            last(200, Success, 500),
        ],
    ),
    case(
        "Invalid x-amz-retry-after falls back to exponential backoff",
        3,
        500,
        20_000,
        &[
            with_retry_after(retry(500, 486, 50), "invalid"),
            last(200, Success, 500),
        ],
    ),
];

#[tokio::test(start_paused = true)]
async fn standard_mode_2_1_replays_smithy_kotlin() {
    for case in V2_1 {
        replay(case, aws_standard_for(case), TokenBucket::new()).await;
    }
}

#[tokio::test(start_paused = true)]
async fn dynamodb_replays_the_2_1_case() {
    const CASE: Case = case(
        "DynamoDB base backoff and increased retries",
        4,
        500,
        20_000,
        &[
            retry(500, 486, 25),
            retry(500, 472, 50),
            retry(500, 458, 100),
            last(500, MaxAttemptsExceeded, 458),
        ],
    );
    let case = &CASE;
    let preset = presets::aws_dynamodb();
    assert_eq!(preset.max_attempts(), Some(case.max_attempts));
    let policy =
        Limited::new(preset.inner().with_jitter(Jitter::None)).with_max_attempts(case.max_attempts);
    replay(case, policy, TokenBucket::new()).await;
}

/// The presets' full jitter stays within the unjittered delays the cases
/// check, so the replay above holds for the jittered presets as a bound.
#[test]
fn jittered_presets_stay_under_the_replayed_delays() {
    use persevere::schedule;
    for seed in 0..64 {
        let delays: Vec<_> = schedule(&presets::aws_standard(), seed).collect();
        assert_eq!(delays.len(), 2);
        assert!(delays[0] <= Duration::from_millis(50) && delays[1] <= Duration::from_millis(100));
        let ddb: Vec<_> = schedule(&presets::aws_dynamodb(), seed).collect();
        assert_eq!(ddb.len(), 3);
        for (d, max) in ddb.iter().zip([25, 50, 100]) {
            assert!(*d <= Duration::from_millis(max), "seed {seed}: {d:?}");
        }
    }
}
