//! `Retry-After` parsing on arbitrary bytes: no panic, the verdict's kind is
//! the status's alone, an accepted delay is attached only to a retryable
//! status and waited in full by a policy (or ends the call past its max), and delay-seconds read the same through the
//! `http` crate's types.
//!
//! The same bytes as `x-amz-retry-after` are read as milliseconds, and win
//! over `Retry-After` when valid.
//!
//! Run with `cargo +nightly fuzz run retry_after` from the crate's root.
#![no_main]

use libfuzzer_sys::fuzz_target;
use persevere::classify::http::{
    classify_parts, classify_response_at, classify_status, parse_retry_after,
    parse_x_amz_retry_after,
};
use persevere::{AttemptContext, Decision, Fixed, JitterRng, RetryPolicy, StopReason};
use std::time::{Duration, UNIX_EPOCH};

fuzz_target!(|data: &[u8]| {
    let Some((&status, value)) = data.split_first() else {
        return;
    };
    let status = 400 + u16::from(status) % 200;
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);

    if let Ok(text) = std::str::from_utf8(value) {
        let parsed = parse_retry_after(text, now);
        let verdict = classify_response_at(status, Some(text), now);
        assert_eq!(verdict.kind(), classify_status(status).kind());
        assert!(verdict.server_delay().is_none() || verdict.is_retryable());
        if let (Some(asked), Some(kind)) = (parsed, verdict.kind()) {
            let max = Duration::from_secs(60);
            let failed = AttemptContext::new(1, Duration::ZERO)
                .with_kind(kind)
                .with_server_delay(Some(asked));
            let decision = Fixed::new(Duration::from_secs(1))
                .with_max_delay(max)
                .decide(&failed, &mut JitterRng::from_seed(0));
            let exact = if asked <= max {
                Decision::Retry(asked)
            } else {
                Decision::Stop(StopReason::ServerDelayTooLong)
            };
            assert_eq!(decision, exact);
        }
    }

    // The same bytes as a header value, through the `http` crate's types.
    if let (Ok(header), Ok(code)) = (
        http::HeaderValue::from_bytes(value),
        http::StatusCode::from_u16(status),
    ) {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::RETRY_AFTER, header);
        // `classify_parts` reads the system clock: assert only what holds
        // whatever the time is.
        let verdict = classify_parts(code, &headers);
        assert_eq!(verdict.kind(), classify_status(status).kind());
        assert!(verdict.server_delay().is_none() || verdict.is_retryable());
        assert!(!verdict.was_never_sent());
        match headers[http::header::RETRY_AFTER].to_str() {
            // Delay-seconds do not depend on the clock.
            Ok(text) if verdict.is_retryable() && is_delay_seconds(text) => {
                assert_eq!(verdict.server_delay(), parse_retry_after(text, now));
            }
            Ok(_) => {}
            // A value that is not visible ASCII counts as malformed.
            Err(_) => assert_eq!(verdict.server_delay(), None),
        }

        // The same bytes as `x-amz-retry-after` (milliseconds), which wins
        // over `Retry-After` whenever it holds a valid value.
        let amz = headers[http::header::RETRY_AFTER].clone();
        headers.insert("x-amz-retry-after", amz);
        let with_amz = classify_parts(code, &headers);
        assert_eq!(with_amz.kind(), verdict.kind());
        let millis = headers["x-amz-retry-after"]
            .to_str()
            .ok()
            .and_then(parse_x_amz_retry_after);
        match millis {
            Some(delay) if with_amz.is_retryable() => {
                assert_eq!(with_amz.server_delay(), Some(delay))
            }
            Some(_) => assert_eq!(with_amz.server_delay(), None),
            // Malformed: it falls back to Retry-After, the same bytes.
            None if is_delay_seconds(headers["x-amz-retry-after"].to_str().unwrap_or("")) => {
                unreachable!("delay-seconds are valid milliseconds too")
            }
            None => {}
        }
    }
});

/// Digits, maybe with spaces or tabs around them: a value whose delay does
/// not depend on `now`.
fn is_delay_seconds(text: &str) -> bool {
    let digits = text.trim_matches([' ', '\t']);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}
