//! HTTP status codes, `Retry-After` and method idempotency, on plain `u16`s
//! and strings so that the core needs no HTTP crate.
//!
//! | status | verdict |
//! |---|---|
//! | 408 Request Timeout, 504 Gateway Timeout | timeout |
//! | 429 Too Many Requests, 503 Service Unavailable | throttled |
//! | 500 Internal Server Error, 502 Bad Gateway | transient |
//! | every other status, such as 400, 401, 403, 404, 409, 501, 505 | terminal |
//!
//! `Retry-After` (RFC 9110, section 10.2.3) is read in both of its forms,
//! delay-seconds (`120`) and HTTP-date (`Wed, 21 Oct 2015 07:28:00 GMT`), and
//! attached to a retryable verdict as the server's delay. A malformed or
//! negative value is ignored; a date in the past means "now"; an absurdly
//! large value is kept as is (saturating) and left to the policy.
//!
//! AWS services may also send `x-amz-retry-after`, in milliseconds
//! ([`parse_x_amz_retry_after`]); [`classify_parts`] reads it first, as the
//! AWS SDKs do, and falls back to `Retry-After`.
//!
//! What a policy does with the server's delay is its
//! [`RetryAfter`](crate::policy::RetryAfter) rule: by default it waits
//! exactly that long, and ends the call at once when that is longer than its
//! max delay or would pass its deadline.
//!
//! With the `http` feature, [`classify_parts`] and [`is_idempotent`] take the
//! `http` crate's types.

use super::Classification;
use std::time::{Duration, SystemTime};

/// The verdict for a response status (see the table above).
///
/// # Examples
///
/// ```
/// use persevere::{RetryKind, classify::http::classify_status};
///
/// assert_eq!(classify_status(503).kind(), Some(RetryKind::Throttled));
/// assert!(classify_status(404).is_terminal());
/// ```
pub const fn classify_status(status: u16) -> Classification {
    match status {
        408 | 504 => Classification::timeout(),
        429 | 503 => Classification::throttled(),
        500 | 502 => Classification::transient(),
        _ => Classification::terminal(),
    }
}

/// Parses a `Retry-After` value into the delay it asks for, counting an
/// HTTP-date from `now`. `None` for a malformed or negative value.
///
/// Delay-seconds too large for a `u64` saturate; leading and trailing
/// whitespace is allowed; anything else that is not exactly digits or an
/// HTTP-date is malformed.
///
/// # Examples
///
/// ```
/// use persevere::classify::http::parse_retry_after;
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_445_412_000); // 2015-10-21 07:20:00 UTC
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(
///     parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now),
///     Some(Duration::from_secs(480)),
/// );
/// assert_eq!(parse_retry_after("-5", now), None);
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() {
        return None;
    }
    if value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only overflow can fail, and a huge delay saturates.
        let seconds = value.parse::<u64>().unwrap_or(u64::MAX);
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// Parses an `x-amz-retry-after` value: the delay in milliseconds, digits
/// only (whitespace around them allowed). `None` for anything else, such as
/// a negative or fractional value; digits too large for a `u64` saturate.
///
/// # Examples
///
/// ```
/// use persevere::classify::http::parse_x_amz_retry_after;
/// use std::time::Duration;
///
/// assert_eq!(parse_x_amz_retry_after("1500"), Some(Duration::from_millis(1500)));
/// assert_eq!(parse_x_amz_retry_after(" 0 "), Some(Duration::ZERO));
/// assert_eq!(parse_x_amz_retry_after("-1"), None);
/// assert_eq!(parse_x_amz_retry_after("1.5"), None);
/// ```
pub fn parse_x_amz_retry_after(value: &str) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    if value.is_empty() || !value.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(Duration::from_millis(
        value.parse::<u64>().unwrap_or(u64::MAX),
    ))
}

/// The verdict for a response with `status` and an optional `Retry-After`
/// header value, counting an HTTP-date from `now`. The server's delay is
/// attached only to a retryable verdict.
///
/// # Examples
///
/// ```
/// use persevere::classify::http::classify_response_at;
/// use std::time::{Duration, SystemTime};
///
/// let c = classify_response_at(429, Some("3"), SystemTime::now());
/// assert_eq!(c.server_delay(), Some(Duration::from_secs(3)));
/// assert_eq!(classify_response_at(404, Some("3"), SystemTime::now()).server_delay(), None);
/// ```
pub fn classify_response_at(
    status: u16,
    retry_after: Option<&str>,
    now: SystemTime,
) -> Classification {
    with_retry_after(classify_status(status), retry_after, || now)
}

/// `verdict` with the delay `retry_after` asks for. A terminal verdict is
/// returned as it is, before the value is parsed or the clock read.
fn with_retry_after(
    verdict: Classification,
    retry_after: Option<&str>,
    now: impl FnOnce() -> SystemTime,
) -> Classification {
    let Some(value) = retry_after.filter(|_| verdict.is_retryable()) else {
        return verdict;
    };
    match parse_retry_after(value, now()) {
        Some(delay) => verdict.with_server_delay(delay),
        None => verdict,
    }
}

/// [`classify_response_at`] with the system clock's `now`.
///
/// # Examples
///
/// ```
/// use persevere::classify::http::classify_response;
/// use std::time::Duration;
///
/// let c = classify_response(503, Some("2"));
/// assert!(c.is_retryable());
/// assert_eq!(c.server_delay(), Some(Duration::from_secs(2)));
/// ```
pub fn classify_response(status: u16, retry_after: Option<&str>) -> Classification {
    with_retry_after(classify_status(status), retry_after, SystemTime::now)
}

/// True for the methods RFC 9110 (section 9.2.2) defines as idempotent:
/// `GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`, `DELETE`. Method names are
/// case-sensitive.
///
/// # Examples
///
/// ```
/// use persevere::classify::http::is_idempotent_method;
///
/// assert!(is_idempotent_method("PUT"));
/// assert!(!is_idempotent_method("POST"));
/// assert!(!is_idempotent_method("get"));
/// ```
pub fn is_idempotent_method(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "OPTIONS" | "TRACE" | "PUT" | "DELETE"
    )
}

/// The verdict for an `http` crate status and headers: [`classify_response`]
/// with the server's delay from `x-amz-retry-after` when it holds a valid
/// value, else from `Retry-After` (a value that is not visible ASCII counts
/// as malformed).
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderValue, StatusCode, header::RETRY_AFTER};
/// use persevere::classify::http::classify_parts;
/// use std::time::Duration;
///
/// let mut headers = HeaderMap::new();
/// headers.insert(RETRY_AFTER, HeaderValue::from_static("7"));
/// let c = classify_parts(StatusCode::TOO_MANY_REQUESTS, &headers);
/// assert_eq!(c.server_delay(), Some(Duration::from_secs(7)));
///
/// headers.insert("x-amz-retry-after", HeaderValue::from_static("250"));
/// let c = classify_parts(StatusCode::SERVICE_UNAVAILABLE, &headers);
/// assert_eq!(c.server_delay(), Some(Duration::from_millis(250)));
/// ```
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub fn classify_parts(status: ::http::StatusCode, headers: &::http::HeaderMap) -> Classification {
    let verdict = classify_status(status.as_u16());
    if verdict.is_terminal() {
        return verdict; // no delay to attach: skip the header lookup
    }
    let amz = headers
        .get("x-amz-retry-after")
        .and_then(|value| value.to_str().ok())
        .and_then(parse_x_amz_retry_after);
    if let Some(delay) = amz {
        return verdict.with_server_delay(delay);
    }
    let retry_after = headers
        .get(::http::header::RETRY_AFTER)
        .and_then(|value| value.to_str().ok());
    with_retry_after(verdict, retry_after, SystemTime::now)
}

/// Whether an `http::Method` is idempotent, as the `http` crate's own
/// [`Method::is_idempotent`](::http::Method::is_idempotent) says.
///
/// It agrees with [`is_idempotent_method`] on every method RFC 9110 defines,
/// and follows the `http` crate beyond them: `QUERY` (a safe method, known to
/// `http` 1.5 and later) is idempotent here but not for
/// [`is_idempotent_method`], which keeps to RFC 9110's list.
///
/// # Examples
///
/// ```
/// use http::Method;
/// use persevere::classify::http::is_idempotent;
///
/// assert!(is_idempotent(&Method::DELETE));
/// assert!(!is_idempotent(&Method::PATCH));
/// ```
#[cfg(feature = "http")]
#[cfg_attr(docsrs, doc(cfg(feature = "http")))]
pub fn is_idempotent(method: &::http::Method) -> bool {
    method.is_idempotent()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryKind;
    use std::time::UNIX_EPOCH;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn status_table() {
        let kind = |s| classify_status(s).kind();
        assert_eq!(kind(408), Some(RetryKind::Timeout));
        assert_eq!(kind(504), Some(RetryKind::Timeout));
        assert_eq!(kind(429), Some(RetryKind::Throttled));
        assert_eq!(kind(503), Some(RetryKind::Throttled));
        assert_eq!(kind(500), Some(RetryKind::Transient));
        assert_eq!(kind(502), Some(RetryKind::Transient));
        for terminal in [
            200,
            301,
            400,
            401,
            403,
            404,
            409,
            412,
            501,
            505,
            0,
            999,
            u16::MAX,
        ] {
            assert_eq!(kind(terminal), None, "{terminal}");
        }
    }

    #[test]
    fn retry_after_in_both_forms() {
        let now = at(1_445_412_000);
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        assert_eq!(
            parse_retry_after("\t17", now),
            Some(Duration::from_secs(17))
        );
        // IMF-fixdate, RFC 850 and asctime forms, all 8 minutes after `now`.
        for date in [
            "Wed, 21 Oct 2015 07:28:00 GMT",
            "Wednesday, 21-Oct-15 07:28:00 GMT",
            "Wed Oct 21 07:28:00 2015",
        ] {
            assert_eq!(
                parse_retry_after(date, now),
                Some(Duration::from_secs(480)),
                "{date}"
            );
        }
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
    }

    #[test]
    fn malformed_retry_after_is_ignored() {
        let now = at(0);
        for bad in [
            "",
            " ",
            "-1",
            "+1",
            "1.5",
            "1e3",
            "0x10",
            "12 s",
            "Wed, 32 Oct 2015 07:28:00 GMT",
            "\u{663}",
        ] {
            assert_eq!(parse_retry_after(bad, now), None, "{bad:?}");
        }
    }

    #[test]
    fn absurd_retry_after_saturates() {
        let huge = "99999999999999999999999999999999";
        assert_eq!(
            parse_retry_after(huge, at(0)),
            Some(Duration::from_secs(u64::MAX))
        );
    }

    #[test]
    fn server_delay_only_on_retryable_statuses() {
        let now = at(0);
        assert_eq!(
            classify_response_at(503, Some("4"), now).server_delay(),
            Some(Duration::from_secs(4))
        );
        assert_eq!(
            classify_response_at(503, Some("nope"), now),
            classify_status(503)
        );
        assert_eq!(
            classify_response_at(400, Some("4"), now),
            Classification::terminal()
        );
        assert_eq!(
            classify_response_at(500, None, now),
            Classification::transient()
        );
    }

    #[test]
    fn a_terminal_status_leaves_retry_after_unparsed() {
        let date = Some("Wed, 21 Oct 2015 07:28:00 GMT");
        let unread = || -> SystemTime { panic!("the clock was read for a terminal status") };
        assert_eq!(
            with_retry_after(classify_status(404), date, unread),
            Classification::terminal()
        );
        assert_eq!(
            with_retry_after(classify_status(503), None, unread),
            Classification::throttled()
        );
        assert_eq!(
            with_retry_after(classify_status(503), date, || at(1_445_412_000)).server_delay(),
            Some(Duration::from_secs(480))
        );
    }

    #[test]
    fn x_amz_retry_after_is_milliseconds_and_wins_over_retry_after() {
        assert_eq!(
            parse_x_amz_retry_after("\t42 "),
            Some(Duration::from_millis(42))
        );
        for bad in ["", " ", "+5", "-5", "5ms", "1e3", "٣"] {
            assert_eq!(parse_x_amz_retry_after(bad), None, "{bad:?}");
        }
        assert_eq!(
            parse_x_amz_retry_after(&"9".repeat(40)),
            Some(Duration::from_millis(u64::MAX))
        );
    }

    #[cfg(feature = "http")]
    #[test]
    fn classify_parts_reads_x_amz_retry_after_first() {
        use ::http::{HeaderMap, HeaderValue, StatusCode};
        let mut headers = HeaderMap::new();
        headers.insert("retry-after", HeaderValue::from_static("3"));
        headers.insert("x-amz-retry-after", HeaderValue::from_static("soon"));
        // A malformed x-amz-retry-after falls back to Retry-After.
        let delay = |h: &HeaderMap, s| classify_parts(s, h).server_delay();
        assert_eq!(
            delay(&headers, StatusCode::SERVICE_UNAVAILABLE),
            Some(Duration::from_secs(3))
        );
        headers.insert("x-amz-retry-after", HeaderValue::from_static("1200"));
        assert_eq!(
            delay(&headers, StatusCode::SERVICE_UNAVAILABLE),
            Some(Duration::from_millis(1200))
        );
        assert_eq!(delay(&headers, StatusCode::NOT_FOUND), None);
    }

    #[test]
    fn idempotent_methods() {
        for m in ["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"] {
            assert!(is_idempotent_method(m));
        }
        for m in ["POST", "PATCH", "CONNECT", "get", "", "PUT "] {
            assert!(!is_idempotent_method(m));
        }
    }

    #[cfg(feature = "http")]
    #[test]
    fn the_http_method_adapter_agrees_on_rfc_9110_methods() {
        use ::http::Method;
        for m in [
            "GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE", "POST", "PATCH", "CONNECT",
        ] {
            let method = Method::from_bytes(m.as_bytes()).unwrap();
            assert_eq!(is_idempotent(&method), is_idempotent_method(m), "{m}");
        }
        // Beyond RFC 9110 the adapter follows the `http` crate.
        assert!(is_idempotent(&Method::from_bytes(b"QUERY").unwrap()));
        assert!(!is_idempotent_method("QUERY"));
        assert!(!is_idempotent(&Method::from_bytes(b"get").unwrap()));
    }
}
