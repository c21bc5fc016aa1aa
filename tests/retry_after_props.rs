//! Adversarial `Retry-After` values: the parsers never panic, and whatever
//! delay they accept, a policy waits exactly that long or stops, or, capped,
//! waits at most its max delay.

use persevere::classify::http::{classify_response_at, parse_retry_after, parse_x_amz_retry_after};
use persevere::policy::RetryAfter;
use persevere::{AttemptContext, Decision, Exponential, Fixed, JitterRng, RetryPolicy, StopReason};
use proptest::prelude::*;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Anything a server might send: arbitrary text, long digit runs with
/// whitespace, and HTTP-dates around now, well-formed or mangled.
fn header_value() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[ \t]{0,3}[0-9]{1,40}[ \t]{0,3}",
        "[-+]?[0-9]{0,25}(\\.[0-9]{0,5})?[eE]?[0-9a-z ]{0,4}",
        (0u64..8_000_000_000)
            .prop_map(|s| httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s))),
        (
            (0u64..8_000_000_000),
            any::<prop::sample::Index>(),
            any::<char>()
        )
            .prop_map(|(s, i, c)| {
                let mut date = httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(s));
                let at = i.index(date.len());
                if date.is_char_boundary(at) {
                    date.insert(at, c);
                }
                date
            }),
    ]
}

fn now() -> impl Strategy<Value = SystemTime> {
    (0u64..8_000_000_000).prop_map(|s| UNIX_EPOCH + Duration::from_secs(s))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn parse_never_panics(value in header_value(), now in now()) {
        let _ = parse_retry_after(&value, now);
    }

    #[test]
    fn x_amz_retry_after_is_whole_milliseconds_or_nothing(value in header_value()) {
        let digits = value.trim_matches([' ', '\t']);
        match parse_x_amz_retry_after(&value) {
            Some(delay) => {
                prop_assert!(!digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()));
                let ms = digits.parse::<u64>().unwrap_or(u64::MAX);
                prop_assert_eq!(delay, Duration::from_millis(ms));
            }
            None => prop_assert!(digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit())),
        }
    }

    #[test]
    fn a_delay_is_attached_only_to_a_retryable_status(
        status in prop_oneof![Just(429u16), Just(503), Just(500), Just(404), any::<u16>()],
        value in header_value(),
        now in now(),
    ) {
        let verdict = classify_response_at(status, Some(&value), now);
        prop_assert_eq!(verdict.kind(), classify_response_at(status, None, now).kind());
        if verdict.server_delay().is_some() {
            prop_assert!(verdict.is_retryable());
            prop_assert_eq!(verdict.server_delay(), parse_retry_after(&value, now));
        }
    }

    #[test]
    fn an_accepted_delay_is_waited_in_full_or_stops_the_call(
        value in header_value(),
        now in now(),
        max_ms in 100u64..120_000,
        seed in any::<u64>(),
    ) {
        let verdict = classify_response_at(503, Some(&value), now);
        let Some(asked) = verdict.server_delay() else { return Ok(()) };
        let max = Duration::from_millis(max_ms);
        let failed = AttemptContext::new(1, Duration::ZERO)
            .with_kind(verdict.kind().unwrap())
            .with_server_delay(Some(asked));
        let fixed = Fixed::new(Duration::from_millis(100)).with_max_delay(max);
        let exponential = Exponential::new().with_max_delay(max);
        let decide = |p: &dyn RetryPolicy| p.decide(&failed, &mut JitterRng::from_seed(seed));
        let exact = if asked <= max {
            Decision::Retry(asked)
        } else {
            Decision::Stop(StopReason::ServerDelayTooLong)
        };
        prop_assert_eq!(decide(&fixed), exact);
        prop_assert_eq!(decide(&exponential), exact);
        let capped = Decision::Retry(asked.min(max));
        prop_assert_eq!(decide(&fixed.with_retry_after(RetryAfter::Capped)), capped);
        prop_assert_eq!(decide(&exponential.with_retry_after(RetryAfter::Capped)), capped);
    }
}
