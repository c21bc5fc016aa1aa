//! Ready-made policies whose numbers come from published sources.
//!
//! | preset | initial | multiplier | max delay | jitter | limit | source |
//! |---|---|---|---|---|---|---|
//! | [`cloud_storage`] | 1 s | 2 | 32 s | + 0..=1 s | 600 s deadline | Cloud Storage "Retry strategy" and "Exponential backoff" docs |
//! | [`google_api_core`] | 1 s | 2 | 60 s | full | 120 s deadline | google-api-core `retry` defaults |
//! | [`aws_standard`] | 50 ms (1 s throttled) | 2 | 20 s | full | 3 attempts | AWS SDKs and Tools reference, "Retry behavior", 2026 update |
//! | [`aws_dynamodb`] | 25 ms (1 s throttled) | 2 | 20 s | full | 4 attempts | the same, for DynamoDB and DynamoDB Streams |
//! | [`aws_standard_legacy`] | 1 s | 2 | 20 s | full | 3 attempts | the same page before the 2026 update |
//! | [`grpc_connection_backoff`] | 1 s | 1.6 | 120 s | ± 20 % | none | gRPC `doc/connection-backoff.md` |
//! | [`gsutil`] | 1 s | 2 | 60 s | full | 24 attempts (23 retries) | gsutil help "Retry Handling Strategy" |
//!
//! Every preset is a plain value: change any number with the usual setters.
//!
//! The AWS presets are policies only: pair them with the retry quota,
//! [`TokenBucket`](crate::budget::TokenBucket) ([`TokenBucket::new`](crate::budget::TokenBucket::new)
//! for the 2026 costs, [`TokenBucket::legacy`](crate::budget::TokenBucket::legacy)
//! for the older ones), shared by the calls of one client.
//!
//! # Examples
//!
//! ```
//! use persevere::presets;
//! use std::time::Duration;
//!
//! let policy = presets::aws_standard().with_max_attempts(5);
//! assert_eq!(policy.inner().max_delay(), Duration::from_secs(20));
//! ```

use super::{Exponential, Limited, RetryAfter};
use crate::jitter::Jitter;
use std::time::Duration;

/// Cloud Storage's truncated exponential backoff: wait `min(2^n + up to 1 s,
/// 32 s)`, giving up after 600 s.
///
/// Source: Google Cloud Storage documentation, "Exponential backoff"
/// (`random_number_milliseconds` of at most 1000, `maximum_backoff` of 32 s)
/// and "Retry strategy".
///
/// # Examples
///
/// ```
/// use persevere::{presets, schedule};
/// use std::time::Duration;
///
/// let first = schedule(&presets::cloud_storage(), 1).next().unwrap();
/// assert!(Duration::from_secs(1) <= first && first <= Duration::from_secs(2));
/// ```
pub const fn cloud_storage() -> Limited<Exponential> {
    Limited::new(
        Exponential::new()
            .with_initial_delay(Duration::from_secs(1))
            .with_multiplier(2.0)
            .with_max_delay(Duration::from_secs(32))
            .with_jitter(Jitter::Additive(Duration::from_secs(1))),
    )
    .with_deadline(Duration::from_secs(600))
}

/// google-api-core's default retry: 1 s initial, doubling, 60 s max, full
/// jitter, 120 s overall.
///
/// Source: the Python `google-api-core` library, `google.api_core.retry`
/// (`_DEFAULT_INITIAL_DELAY`, `_DEFAULT_MAXIMUM_DELAY`, `_DEFAULT_DELAY_MULTIPLIER`,
/// `_DEFAULT_DEADLINE`).
///
/// # Examples
///
/// ```
/// use persevere::{RetryPolicy, presets};
/// use std::time::Duration;
///
/// assert_eq!(presets::google_api_core().deadline(), Some(Duration::from_secs(120)));
/// ```
pub const fn google_api_core() -> Limited<Exponential> {
    Limited::new(
        Exponential::new()
            .with_initial_delay(Duration::from_secs(1))
            .with_multiplier(2.0)
            .with_max_delay(Duration::from_secs(60))
            .with_jitter(Jitter::Full),
    )
    .with_deadline(Duration::from_secs(120))
}

/// AWS SDK standard retry mode as updated in 2026 ("retry 2.1"): 3 attempts,
/// full jitter, a 50 ms base after transient errors and 1 s after throttling
/// errors, 20 s cap applied before jitter.
///
/// Source: AWS SDKs and Tools Reference Guide, "Retry behavior", and the AWS
/// Developer Tools Blog, "Announcing updated retry behavior for AWS SDKs and
/// Tools" (the default from November 2026); botocore's and smithy-rs's
/// standard retry strategies. The retry quota of that mode is a budget, not a
/// policy: [`TokenBucket`](crate::budget::TokenBucket). With jitter off, this
/// preset and the bucket replay smithy-kotlin's standard-mode integration
/// cases, the pre-2026 ones with [`TokenBucket::legacy`](crate::budget::TokenBucket::legacy)
/// and the SEP 2.1 ones with [`TokenBucket::new`](crate::budget::TokenBucket::new)
/// (`tests/conformance_aws.rs`).
///
/// # Examples
///
/// ```
/// use persevere::{AttemptContext, Decision, JitterRng, RetryKind, RetryPolicy, presets};
/// use std::time::Duration;
///
/// let policy = presets::aws_standard();
/// let throttled = AttemptContext::new(1, Duration::ZERO).with_kind(RetryKind::Throttled);
/// let delay = policy.decide(&throttled, &mut JitterRng::from_seed(0)).delay().unwrap();
/// assert!(delay <= Duration::from_secs(1));
/// ```
pub const fn aws_standard() -> Limited<Exponential> {
    Limited::new(
        Exponential::new()
            .with_initial_delay(Duration::from_millis(50))
            .with_throttled_initial_delay(Duration::from_secs(1))
            .with_multiplier(2.0)
            .with_max_delay(Duration::from_secs(20))
            .with_jitter(Jitter::Full)
            .with_retry_after(RetryAfter::AwsClamp),
    )
    .with_max_attempts(3)
}

/// AWS SDK standard retry mode for DynamoDB and DynamoDB Streams, as updated
/// in 2026: 4 attempts, full jitter, a 25 ms base after transient errors and
/// 1 s after throttling errors, 20 s cap.
///
/// DynamoDB is a low-latency service: a shorter base, and one more attempt
/// so that the last retry waits about as long as in [`aws_standard`].
///
/// Source: botocore `retries/standard.py` (`_DYNAMODB_BASE_SCALE`,
/// `_SERVICE_MAX_ATTEMPTS`), the AWS SDK for C++ tracking issue for the 2026
/// retry updates (aws/aws-sdk-cpp#3832), and the SEP 2.1 case "DynamoDB base
/// backoff and increased retries", replayed in `tests/conformance_aws.rs`.
///
/// # Examples
///
/// ```
/// use persevere::{Jitter, Limited, presets, schedule};
/// use std::time::Duration;
///
/// let ddb = presets::aws_dynamodb();
/// assert_eq!(ddb.max_attempts(), Some(4));
/// let unjittered = Limited::new(ddb.inner().with_jitter(Jitter::None)).with_max_attempts(4);
/// let delays: Vec<_> = schedule(&unjittered, 0).collect();
/// assert_eq!(delays, [25, 50, 100].map(Duration::from_millis));
/// ```
pub const fn aws_dynamodb() -> Limited<Exponential> {
    Limited::new(
        Exponential::new()
            .with_initial_delay(Duration::from_millis(25))
            .with_throttled_initial_delay(Duration::from_secs(1))
            .with_multiplier(2.0)
            .with_max_delay(Duration::from_secs(20))
            .with_jitter(Jitter::Full)
            .with_retry_after(RetryAfter::AwsClamp),
    )
    .with_max_attempts(4)
}

/// AWS SDK standard retry mode before the 2026 update: 3 attempts, full
/// jitter, a 1 s base for every retryable error, 20 s cap.
///
/// Source: AWS SDKs and Tools Reference Guide, "Retry behavior" (standard
/// mode, pre-2026 behaviour).
///
/// # Examples
///
/// ```
/// use persevere::presets;
/// use std::time::Duration;
///
/// assert_eq!(presets::aws_standard_legacy().inner().initial_delay(), Duration::from_secs(1));
/// ```
pub const fn aws_standard_legacy() -> Limited<Exponential> {
    Limited::new(
        Exponential::new()
            .with_initial_delay(Duration::from_secs(1))
            .with_multiplier(2.0)
            .with_max_delay(Duration::from_secs(20))
            .with_jitter(Jitter::Full)
            .with_retry_after(RetryAfter::AwsClamp),
    )
    .with_max_attempts(3)
}

/// gRPC connection backoff: 1 s initial, ×1.6, ±20 % jitter, 120 s max, no
/// limit (a channel reconnects until it is closed).
///
/// Source: gRPC, `doc/connection-backoff.md` (`INITIAL_BACKOFF`, `MULTIPLIER`,
/// `JITTER`, `MAX_BACKOFF`). Unlike gRPC, whose jitter may exceed
/// `MAX_BACKOFF` by 20 %, no delay exceeds 120 s here.
///
/// # Examples
///
/// ```
/// use persevere::{presets, schedule};
/// use std::time::Duration;
///
/// let second = schedule(&presets::grpc_connection_backoff(), 3).nth(1).unwrap();
/// assert!(Duration::from_millis(1280) <= second && second <= Duration::from_millis(1920));
/// ```
pub const fn grpc_connection_backoff() -> Exponential {
    Exponential::new()
        .with_initial_delay(Duration::from_secs(1))
        .with_multiplier(1.6)
        .with_max_delay(Duration::from_secs(120))
        .with_jitter(Jitter::Proportional(0.2))
}

/// gsutil's retry handling: random waits in `0..=1 s`, `0..=2 s`, `0..=4 s`, …
/// each at most 60 s, for 23 retries (24 attempts, about 10 minutes).
///
/// Source: gsutil help, "Retry Handling Strategy" (`num_retries = 23`,
/// `max_retry_delay = 60`).
///
/// # Examples
///
/// ```
/// use persevere::{presets, schedule};
///
/// assert_eq!(schedule(&presets::gsutil(), 0).count(), 23);
/// ```
pub const fn gsutil() -> Limited<Exponential> {
    Limited::new(
        Exponential::new()
            .with_initial_delay(Duration::from_secs(1))
            .with_multiplier(2.0)
            .with_max_delay(Duration::from_secs(60))
            .with_jitter(Jitter::Full),
    )
    .with_max_attempts(24)
}

/// AWS SDK adaptive retry mode: the policy of [`aws_standard`], to be used
/// with the [`AwsAdaptive`](crate::budget::AwsAdaptive) budget (the standard
/// retry quota and the client-side rate limiter), shared by a client's calls.
///
/// Source: AWS SDKs and Tools Reference Guide, "Retry behavior" (adaptive
/// mode), and smithy-rs `client_rate_limiter.rs`, whose test vectors
/// `budget::ClientRateLimiter` replays.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::{budget::AwsAdaptive, presets};
/// use std::sync::Arc;
///
/// let adaptive = Arc::new(AwsAdaptive::new()); // one per client
/// let value = persevere::retry(|| async { Ok::<_, &str>(7) })
///     .policy(presets::aws_adaptive())
///     .budget(Arc::clone(&adaptive))
///     .await;
/// assert_eq!(value.unwrap(), 7);
/// # }
/// ```
pub const fn aws_adaptive() -> Limited<Exponential> {
    aws_standard()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::classify::RetryKind;
    use crate::policy::{AttemptContext, Decision, RetryPolicy, schedule};
    use crate::rng::JitterRng;

    fn unjittered(policy: Limited<Exponential>) -> Limited<Exponential> {
        Limited::new(policy.inner().with_jitter(Jitter::None))
            .with_max_attempts(policy.max_attempts().unwrap_or(u32::MAX))
    }

    fn secs(v: &[u64]) -> Vec<Duration> {
        v.iter().map(|s| Duration::from_secs(*s)).collect()
    }

    #[test]
    fn every_preset_is_valid() {
        for p in [
            cloud_storage(),
            google_api_core(),
            aws_standard(),
            aws_dynamodb(),
            aws_standard_legacy(),
            gsutil(),
        ] {
            assert!(p.inner().validate().is_ok());
            assert!(p.validate().is_ok());
        }
        assert!(grpc_connection_backoff().validate().is_ok());
    }

    #[test]
    fn cloud_storage_before_jitter_doubles_to_32_s() {
        let got: Vec<_> = schedule(&unjittered(cloud_storage()), 0).take(8).collect();
        assert_eq!(got, secs(&[1, 2, 4, 8, 16, 32, 32, 32]));
    }

    #[test]
    fn cloud_storage_adds_up_to_one_second_and_stops_at_600_s() {
        let p = cloud_storage();
        let mut plan = schedule(&p, 7);
        let delays: Vec<_> = plan.by_ref().collect();
        for (n, d) in delays.iter().enumerate() {
            let base = Duration::from_secs(1 << n.min(5));
            assert!(
                base <= *d && *d <= base + Duration::from_secs(1),
                "{n}: {d:?}"
            );
        }
        assert!(plan.elapsed() < Duration::from_secs(600));
        assert_eq!(plan.stop_reason(), Some(crate::StopReason::Deadline));
    }

    #[test]
    fn aws_standard_pins_its_seeded_schedule() {
        let a: Vec<_> = schedule(&aws_standard(), 2026).collect();
        assert_eq!(a.len(), 2);
        assert!(a[0] <= Duration::from_millis(50) && a[1] <= Duration::from_millis(100));
        assert_eq!(a, schedule(&aws_standard(), 2026).collect::<Vec<_>>());
        let legacy: Vec<_> = schedule(&unjittered(aws_standard_legacy()), 0).collect();
        assert_eq!(legacy, secs(&[1, 2]));
    }

    #[test]
    fn aws_dynamodb_backs_off_from_25_ms_for_3_retries() {
        let got: Vec<_> = schedule(&unjittered(aws_dynamodb()), 0).collect();
        assert_eq!(got, [25, 50, 100].map(Duration::from_millis));
        let throttled = AttemptContext::new(2, Duration::ZERO).with_kind(RetryKind::Throttled);
        let d = unjittered(aws_dynamodb()).decide(&throttled, &mut JitterRng::from_seed(0));
        assert_eq!(d, Decision::Retry(Duration::from_secs(2)));
    }

    #[test]
    fn grpc_grows_by_1_6_within_20_percent() {
        let got: Vec<_> = schedule(&grpc_connection_backoff().with_jitter(Jitter::None), 0)
            .take(12)
            .collect();
        assert_eq!(got[2], Duration::from_millis(2560));
        assert_eq!(got[11], Duration::from_secs(120)); // 1.6^11 = 176 s, capped
        for (d, base) in schedule(&grpc_connection_backoff(), 4).zip(got) {
            assert!(d.as_secs_f64() >= base.as_secs_f64() * 0.8 - 1e-9);
            assert!(d.as_secs_f64() <= (base.as_secs_f64() * 1.2).min(120.0) + 1e-9);
        }
    }

    #[test]
    fn gsutil_makes_23_retries_capped_at_60_s() {
        let got: Vec<_> = schedule(&unjittered(gsutil()), 0).collect();
        assert_eq!(got.len(), 23);
        assert_eq!(&got[..7], &secs(&[1, 2, 4, 8, 16, 32, 60])[..]);
        assert!(got.iter().all(|d| *d <= Duration::from_secs(60)));
        assert_eq!(google_api_core().deadline(), Some(Duration::from_secs(120)));
    }

    #[test]
    fn seeded_schedules_are_pinned_for_every_preset() {
        let millis = |p: &dyn RetryPolicy| -> Vec<u128> {
            schedule(p, 7).take(8).map(|d| d.as_millis()).collect()
        };
        let expected: [(&str, &dyn RetryPolicy, &[u128]); 6] = [
            (
                "cloud_storage",
                &cloud_storage(),
                &[1056, 2332, 4795, 8744, 16050, 32000, 32000, 32000],
            ),
            (
                "google_api_core",
                &google_api_core(),
                &[56, 664, 3181, 5955, 812, 24109, 41979],
            ),
            ("aws_standard", &aws_standard(), &[2, 33]),
            ("aws_standard_legacy", &aws_standard_legacy(), &[56, 664]),
            (
                "gsutil",
                &gsutil(),
                &[56, 664, 3181, 5955, 812, 24109, 41979, 55996],
            ),
            (
                "grpc",
                &grpc_connection_backoff(),
                &[822, 1492, 2862, 4496, 5375, 11548, 18117, 31495],
            ),
        ];
        for (name, policy, delays) in expected {
            assert_eq!(millis(policy), delays, "{name}");
        }
    }
}
