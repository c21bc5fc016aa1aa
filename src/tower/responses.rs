//! The layer's default verdict on responses: HTTP status and server delay.

use crate::classify::http::classify_parts;
use crate::classify::{Classification, ClassifyOk};
use http::Response;

/// Retries a response whose status is retryable (408, 429, 500, 502, 503,
/// 504 and the others [`classify_status`](crate::classify::http::classify_status)
/// names), after the delay its `x-amz-retry-after` or `Retry-After` header
/// asks for; accepts every other response, a 404 as much as a 200.
///
/// # Examples
///
/// ```
/// use persevere::classify::ClassifyOk;
/// use persevere::tower::HttpResponses;
/// use std::time::Duration;
///
/// let busy = http::Response::builder().status(503).header("retry-after", "2").body(()).unwrap();
/// let (_, verdict) = HttpResponses.check(busy).unwrap_err();
/// assert_eq!(verdict.server_delay(), Some(Duration::from_secs(2)));
///
/// let missing = http::Response::builder().status(404).body(()).unwrap();
/// assert!(HttpResponses.check(missing).is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct HttpResponses;

impl<B> ClassifyOk<Response<B>> for HttpResponses {
    type Kept = Response<B>;

    fn check(&self, response: Response<B>) -> Result<Response<B>, (Response<B>, Classification)> {
        let verdict = classify_parts(response.status(), response.headers());
        if verdict.is_retryable() {
            Err((response, verdict))
        } else {
            Ok(response)
        }
    }
}
