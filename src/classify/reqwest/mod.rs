//! `reqwest` errors and responses, classified (the `reqwest` feature).
//!
//! | failure | verdict |
//! |---|---|
//! | a timeout (the client's, or `TimedOut` in the chain) | timeout |
//! | a status from `error_for_status`, or an error response | [`classify_status`](super::http::classify_status), with `Retry-After` for a response |
//! | anything else | the `io::Error` in its `source()` chain, by [`io::classify_error`] |
//!
//! A connect error is also marked [never sent](Classification::never_sent):
//! no byte of the request was written, so even a `POST` may be sent again.
//!
//! Wrapping a call takes one line: [`send`] rebuilds nothing itself, so build
//! the request inside the closure and it is rebuilt for every attempt. [`read`]
//! also reads the body inside the attempt, so a connection reset in the
//! middle of the body is retried too.
//!
//! A request that is not idempotent is never replayed blindly: [`send`] and
//! [`read`] record whether the request is idempotent (by its method, RFC
//! 9110, or because it carries an `Idempotency-Key` or a precondition), and
//! [`ReqwestErrors`] lets a [`Failure`] of one that is not be retried only when
//! the request provably never left (see [`Failure::is_idempotent`]). Mark a
//! request you vouch for with [`send_idempotent`] or [`read_idempotent`].
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
//! # let url = format!("http://127.0.0.1:{port}/"); // nothing listens there any more
//! use persevere::classify::reqwest::{ReqwestErrors, send};
//!
//! let client = reqwest::Client::builder().no_proxy().build().unwrap();
//! let result = persevere::retry(|| send(client.get(&url))).classify(ReqwestErrors).await;
//! assert_eq!(result.unwrap_err().attempts(), 3); // refused three times
//! # }
//! ```

mod failure;
mod send;

pub use failure::{Cause, Failure};
pub use send::{Fetched, read, read_idempotent, send, send_idempotent};

use super::{Classification, Classify, io};

/// The verdict for a `reqwest::Error` (see the table above).
///
/// # Examples
///
/// Nothing listens on the port, so the connection is refused: retryable,
/// and never sent.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use persevere::classify::reqwest::classify_error;
///
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let client = reqwest::Client::builder().no_proxy().build().unwrap();
/// let err = client.get(format!("http://127.0.0.1:{port}/")).send().await.unwrap_err();
///
/// let c = classify_error(&err);
/// assert!(c.is_retryable() && c.was_never_sent());
/// # }
/// ```
pub fn classify_error(error: &::reqwest::Error) -> Classification {
    let verdict = if error.is_timeout() {
        Classification::timeout()
    } else if let Some(status) = error.status() {
        super::http::classify_status(status.as_u16())
    } else {
        io::classify_error(error)
    };
    // `is_connect` walks the source chain: only a retryable verdict needs it.
    if verdict.is_retryable() && error.is_connect() {
        verdict.never_sent()
    } else {
        verdict
    }
}

/// The verdict for a response: its status, and the delay its `Retry-After`
/// header asks for (see [`classify_parts`](super::http::classify_parts)).
///
/// # Examples
///
/// ```
/// use persevere::classify::reqwest::classify_response;
/// use std::time::Duration;
///
/// let response = reqwest::Response::from(
///     http::Response::builder().status(503).header("retry-after", "2").body("").unwrap(),
/// );
/// assert_eq!(classify_response(&response).server_delay(), Some(Duration::from_secs(2)));
/// ```
pub fn classify_response(response: &::reqwest::Response) -> Classification {
    super::http::classify_parts(response.status(), response.headers())
}

/// A [`Classify`] for `reqwest::Error`, `reqwest::Response` and [`Failure`],
/// by [`classify_error`] and [`classify_response`].
///
/// A [`Failure`] knows whether its request was idempotent, and one that was
/// not is retried only when it was [never sent](Classification::was_never_sent)
/// ([`Classification::for_request`]). A bare `reqwest::Error` or `Response`
/// does not know its request's method: wrap the classifier in
/// [`Idempotency::for_method`](super::Idempotency::for_method) for those.
///
/// # Examples
///
/// ```
/// use persevere::{Classify, classify::reqwest::ReqwestErrors};
///
/// let response = reqwest::Response::from(http::Response::builder().status(503).body("").unwrap());
/// assert!(ReqwestErrors.classify(&response).is_retryable());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ReqwestErrors;

impl Classify<::reqwest::Error> for ReqwestErrors {
    fn classify(&self, error: &::reqwest::Error) -> Classification {
        classify_error(error)
    }
}

impl Classify<::reqwest::Response> for ReqwestErrors {
    fn classify(&self, response: &::reqwest::Response) -> Classification {
        classify_response(response)
    }
}

impl Classify<Failure> for ReqwestErrors {
    fn classify(&self, failure: &Failure) -> Classification {
        let verdict = match failure.cause() {
            Cause::Request(error) | Cause::Body(error) => classify_error(error),
            Cause::Status(response) => classify_response(response),
            Cause::BodyTooLarge { .. } => Classification::terminal(),
        };
        verdict.for_request(failure.is_idempotent())
    }
}
