//! Google Cloud Storage's retry strategy: which responses to retry for which
//! kind of request, and which requests a precondition makes idempotent.
//!
//! | status | [`Other`](RequestKind::Other) | [`MultipartUpload`](RequestKind::MultipartUpload) | [`ResumableUpload`](RequestKind::ResumableUpload) |
//! |---|---|---|---|
//! | 408 Request Timeout | terminal | timeout | timeout |
//! | 429 Too Many Requests | throttled | throttled | terminal |
//! | 503 Service Unavailable, 508 Resource Limit Exceeded | throttled | throttled | throttled |
//! | 504 Gateway Timeout | timeout | timeout | timeout |
//! | every other 5xx | transient | transient | transient |
//! | every other status | terminal | terminal | terminal |
//!
//! Unlike [`classify::http`](super::http), which stops on 501 and 505, every
//! 5xx is retried here, as the Cloud Storage page says ("HTTP 408, 429, and
//! 5xx response codes") and as Google's Rust client does
//! (`google-cloud-storage`, `retry_policy::RecommendedPolicy`). 408 is
//! retried for uploads only: it is what a broken upload connection returns
//! (google-resumable-media-python, PR 270), and the page's earlier text named
//! it for resumable uploads alone. A 429 inside a resumable upload session is
//! not retried by resending the same request: the session's state must be
//! queried and the upload resumed from what the server has, which is the
//! caller's protocol.
//!
//! **508 (Resource Limit Exceeded) is retried, as throttling.** It is within
//! the page's "5xx", and a resource limit asks the client to back off as
//! after a 429, not to give up.
//!
//! A response is only half the answer: Cloud Storage says to retry only
//! idempotent requests, and that a precondition (a generation or
//! metageneration match, an ETag) makes a mutation idempotent. Wrap the
//! classifier with [`idempotency`] to get that right.
//!
//! Source: Google Cloud Storage documentation, "Retry strategy" (the
//! "Response" and "Conditional idempotency" sections) and the status codes of
//! the JSON and XML APIs.
//!
//! # Examples
//!
//! ```
//! use persevere::RetryKind;
//! use persevere::classify::cloud_storage::{RequestKind, classify_status};
//!
//! assert_eq!(classify_status(408, RequestKind::ResumableUpload).kind(), Some(RetryKind::Timeout));
//! assert!(classify_status(408, RequestKind::Other).is_terminal());
//! assert!(classify_status(429, RequestKind::ResumableUpload).is_terminal());
//! assert_eq!(classify_status(508, RequestKind::Other).kind(), Some(RetryKind::Throttled));
//! ```

use super::{Classification, Idempotency, http};
use std::time::SystemTime;

/// What a Cloud Storage request does, as far as retrying is concerned.
///
/// # Examples
///
/// ```
/// use persevere::classify::cloud_storage::RequestKind;
///
/// assert!(RequestKind::MultipartUpload.is_upload());
/// assert!(!RequestKind::Other.is_upload());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RequestKind {
    /// Any request that is not one of the uploads below: a download, a
    /// metadata read or update, a list, a delete.
    #[default]
    Other,
    /// A single-request upload of data and metadata (`uploadType=multipart`,
    /// or an XML API `PUT` of the whole object).
    MultipartUpload,
    /// A request of a resumable upload session (`uploadType=resumable`).
    ResumableUpload,
}

impl RequestKind {
    /// True for both kinds of upload.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::classify::cloud_storage::RequestKind;
    /// assert!(RequestKind::ResumableUpload.is_upload());
    /// ```
    pub const fn is_upload(self) -> bool {
        matches!(
            self,
            RequestKind::MultipartUpload | RequestKind::ResumableUpload
        )
    }
}

/// The verdict for a response status to a request of `kind` (see the table
/// above).
///
/// # Examples
///
/// ```
/// use persevere::classify::cloud_storage::{RequestKind, classify_status};
///
/// assert!(classify_status(429, RequestKind::Other).is_retryable());
/// assert!(classify_status(501, RequestKind::Other).is_retryable());
/// assert!(classify_status(412, RequestKind::Other).is_terminal());
/// ```
pub const fn classify_status(status: u16, kind: RequestKind) -> Classification {
    match status {
        408 if kind.is_upload() => Classification::timeout(),
        429 if matches!(kind, RequestKind::ResumableUpload) => Classification::terminal(),
        429 | 503 | 508 => Classification::throttled(),
        504 => Classification::timeout(),
        500..=599 => Classification::transient(),
        _ => Classification::terminal(),
    }
}

/// [`classify_status`] with the delay a `Retry-After` value asks for, read
/// with [`http::parse_retry_after`] against the system clock. The value is
/// read only for a retryable status; a malformed one is ignored.
///
/// # Examples
///
/// ```
/// use persevere::classify::cloud_storage::{RequestKind, classify_response};
/// use std::time::Duration;
///
/// let c = classify_response(503, Some("4"), RequestKind::Other);
/// assert_eq!(c.server_delay(), Some(Duration::from_secs(4)));
/// assert_eq!(classify_response(429, Some("4"), RequestKind::ResumableUpload).server_delay(), None);
/// ```
pub fn classify_response(
    status: u16,
    retry_after: Option<&str>,
    kind: RequestKind,
) -> Classification {
    let verdict = classify_status(status, kind);
    match retry_after.filter(|_| verdict.is_retryable()) {
        Some(value) => match http::parse_retry_after(value, SystemTime::now()) {
            Some(delay) => verdict.with_server_delay(delay),
            None => verdict,
        },
        None => verdict,
    }
}

/// The request headers that make a Cloud Storage mutation conditional, and so
/// idempotent: the XML API's generation and metageneration matches and the
/// ETag match. Compared without regard to case.
pub const PRECONDITION_HEADERS: [&str; 3] = [
    "x-goog-if-generation-match",
    "x-goog-if-metageneration-match",
    "if-match",
];

/// The query parameters that do the same in the JSON API. Compared exactly,
/// as the API spells them.
pub const PRECONDITION_PARAMS: [&str; 2] = ["ifGenerationMatch", "ifMetagenerationMatch"];

/// True if a request carries a precondition that makes it idempotent: one of
/// [`PRECONDITION_HEADERS`] among `headers` (name, value) or one of
/// [`PRECONDITION_PARAMS`] in `query` (the URL's query string, without the
/// `?`), with a value that is not empty.
///
/// `ifGenerationMatch=0` counts: "only if no live object exists" makes a
/// create idempotent too. `If-None-Match` and the `NotMatch` variants do not:
/// they do not pin the state that a retry would change.
///
/// # Examples
///
/// ```
/// use persevere::classify::cloud_storage::has_precondition;
///
/// assert!(has_precondition([("X-Goog-If-Generation-Match", "1712")], None));
/// assert!(has_precondition([], Some("uploadType=media&ifGenerationMatch=0")));
/// assert!(!has_precondition([("If-None-Match", "*")], Some("ifGenerationNotMatch=3")));
/// assert!(!has_precondition([("If-Match", "")], Some("ifGenerationMatch=")));
/// ```
pub fn has_precondition<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    query: Option<&str>,
) -> bool {
    let in_headers = headers.into_iter().any(|(name, value)| {
        !value.trim().is_empty()
            && PRECONDITION_HEADERS
                .iter()
                .any(|wanted| name.trim().eq_ignore_ascii_case(wanted))
    });
    in_headers
        || query.is_some_and(|query| {
            query.split('&').any(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                !value.is_empty() && PRECONDITION_PARAMS.contains(&name)
            })
        })
}

/// Wraps `inner` for a Cloud Storage request with HTTP `method`: idempotent by
/// its method (as [`Idempotency::for_method`] says), or because it carries a
/// precondition ([`has_precondition`]), as the Cloud Storage client libraries
/// decide by default.
///
/// # Examples
///
/// ```
/// use persevere::Classify;
/// use persevere::classify::cloud_storage::{RequestKind, classify_status, idempotency};
///
/// let by_status = |status: &u16| classify_status(*status, RequestKind::MultipartUpload);
/// // A POST upload without a precondition is not replayed after a 503...
/// let plain = idempotency(by_status, "POST", [], Some("uploadType=multipart"));
/// assert!(plain.classify(&503).is_terminal());
/// // ...but with `ifGenerationMatch` it is.
/// let guarded = idempotency(by_status, "POST", [], Some("uploadType=multipart&ifGenerationMatch=0"));
/// assert!(guarded.classify(&503).is_retryable());
/// ```
pub fn idempotency<'a, C>(
    inner: C,
    method: &str,
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    query: Option<&str>,
) -> Idempotency<C> {
    Idempotency::for_method(inner, method, has_precondition(headers, query))
}

/// [`has_precondition`] for the `http` crate's request parts: its headers
/// (values that are not visible ASCII are ignored) and its URI's query.
///
/// # Examples
///
/// ```
/// use http::Request;
/// use persevere::classify::cloud_storage::has_precondition_parts;
///
/// let (parts, ()) = Request::put("https://storage.googleapis.com/b/o")
///     .header("x-goog-if-metageneration-match", "7")
///     .body(())
///     .unwrap()
///     .into_parts();
/// assert!(has_precondition_parts(&parts));
/// ```
#[cfg(feature = "http")]
pub fn has_precondition_parts(parts: &::http::request::Parts) -> bool {
    let headers = parts
        .headers
        .iter()
        .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
    has_precondition(headers, parts.uri.query())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryKind;

    const KINDS: [RequestKind; 3] = [
        RequestKind::Other,
        RequestKind::MultipartUpload,
        RequestKind::ResumableUpload,
    ];

    #[test]
    fn status_table() {
        use RequestKind::*;
        let kind = |status, request| classify_status(status, request).kind();
        assert_eq!(kind(408, Other), None);
        assert_eq!(kind(408, MultipartUpload), Some(RetryKind::Timeout));
        assert_eq!(kind(408, ResumableUpload), Some(RetryKind::Timeout));
        assert_eq!(kind(429, Other), Some(RetryKind::Throttled));
        assert_eq!(kind(429, MultipartUpload), Some(RetryKind::Throttled));
        assert_eq!(kind(429, ResumableUpload), None);
        for request in KINDS {
            assert_eq!(kind(503, request), Some(RetryKind::Throttled));
            assert_eq!(kind(508, request), Some(RetryKind::Throttled));
            assert_eq!(kind(504, request), Some(RetryKind::Timeout));
            for transient in [500, 501, 502, 505, 507, 599] {
                assert_eq!(kind(transient, request), Some(RetryKind::Transient));
            }
            for terminal in [
                0,
                200,
                206,
                308,
                400,
                401,
                403,
                404,
                409,
                410,
                412,
                600,
                u16::MAX,
            ] {
                assert_eq!(kind(terminal, request), None, "{terminal} {request:?}");
            }
        }
    }

    #[test]
    fn retry_after_only_on_a_retryable_verdict() {
        let c = classify_response(508, Some("2"), RequestKind::ResumableUpload);
        assert_eq!(c.server_delay(), Some(std::time::Duration::from_secs(2)));
        let c = classify_response(408, Some("2"), RequestKind::Other);
        assert!(c.is_terminal() && c.server_delay().is_none());
        let c = classify_response(500, Some("soon"), RequestKind::Other);
        assert!(c.is_retryable() && c.server_delay().is_none());
    }

    #[test]
    fn preconditions() {
        for name in [
            "If-Match",
            "if-match",
            "X-GOOG-IF-GENERATION-MATCH",
            " x-goog-if-metageneration-match ",
        ] {
            assert!(has_precondition([(name, "\"etag\"")], None), "{name}");
        }
        assert!(!has_precondition([("If-Match", "  ")], None));
        assert!(!has_precondition(
            [("x-goog-if-generation-not-match", "3")],
            None
        ));
        assert!(has_precondition([], Some("ifMetagenerationMatch=4")));
        assert!(has_precondition([], Some("a=1&&ifGenerationMatch=9&b")));
        // Names are exact in the JSON API, and a value is needed.
        for query in [
            "ifgenerationmatch=1",
            "ifGenerationMatch",
            "xifGenerationMatch=1",
            "",
            "&&=",
        ] {
            assert!(!has_precondition([], Some(query)), "{query}");
        }
    }

    #[test]
    fn idempotency_gate() {
        use crate::Classify;
        let always = |_: &()| Classification::transient();
        assert!(
            idempotency(always, "GET", [], None)
                .classify(&())
                .is_retryable()
        );
        assert!(
            idempotency(always, "PATCH", [], None)
                .classify(&())
                .is_terminal()
        );
        let etag = [("If-Match", "\"abc\"")];
        assert!(
            idempotency(always, "PATCH", etag, None)
                .classify(&())
                .is_retryable()
        );
    }
}
