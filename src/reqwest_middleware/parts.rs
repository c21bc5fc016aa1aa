//! The middleware's parts: a request's own policy, and the default
//! classifiers of errors and responses.

use crate::classify::reqwest::{classify_error, classify_response};
use crate::classify::{Classification, Classify, ClassifyOk};
use crate::policy::RetryPolicy;
use ::reqwest::Response;
use ::reqwest_middleware::Error;
use std::fmt;
use std::sync::Arc;

/// A request's own policy, in place of the middleware's: insert it with
/// `RequestBuilder::with_extension`.
///
/// # Examples
///
/// ```
/// use persevere::reqwest_middleware::{PolicyOverride, RetryMiddleware};
/// use persevere::{Fixed, RetryPolicyExt};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new())
///     .build();
/// // This one request gets a single attempt.
/// let request = client
///     .get("http://127.0.0.1:9/")
///     .with_extension(PolicyOverride::new(Fixed::new(Duration::ZERO).with_max_attempts(1)));
/// # let _ = request;
/// # }
/// ```
#[derive(Clone)]
pub struct PolicyOverride(pub(super) Arc<dyn RetryPolicy>);

impl PolicyOverride {
    /// Wraps `policy` (allocated once, shared by the clones).
    ///
    /// # Examples
    ///
    /// See [`PolicyOverride`].
    pub fn new(policy: impl RetryPolicy + 'static) -> Self {
        PolicyOverride(Arc::new(policy))
    }
}

impl fmt::Debug for PolicyOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PolicyOverride")
    }
}

/// The default classifier of errors: reqwest's own errors by
/// [`classify_error`], errors of other middleware terminal.
///
/// # Examples
///
/// ```
/// use persevere::Classify;
/// use persevere::reqwest_middleware::MiddlewareErrors;
///
/// let other = reqwest_middleware::Error::middleware(std::io::Error::other("auth failed"));
/// assert!(MiddlewareErrors.classify(&other).is_terminal());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MiddlewareErrors;

impl Classify<Error> for MiddlewareErrors {
    fn classify(&self, error: &Error) -> Classification {
        match error {
            Error::Reqwest(error) => classify_error(error),
            _ => Classification::terminal(),
        }
    }
}

/// The default classifier of responses: a retryable status (429, 503, …)
/// is retried after the delay its headers ask for; every other response is
/// the answer.
///
/// # Examples
///
/// ```
/// use persevere::classify::ClassifyOk;
/// use persevere::reqwest_middleware::ReqwestResponses;
///
/// let busy = reqwest::Response::from(http::Response::builder().status(503).body("").unwrap());
/// assert!(ReqwestResponses.check(busy).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReqwestResponses;

impl ClassifyOk<Response> for ReqwestResponses {
    type Kept = Response;

    fn check(
        &self,
        response: Response,
    ) -> std::result::Result<Response, (Response, Classification)> {
        let verdict = classify_response(&response);
        if verdict.is_retryable() {
            Err((response, verdict))
        } else {
            Ok(response)
        }
    }
}
