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
//! the request inside the closure and it is rebuilt for every attempt.
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

use super::{Classification, Classify, io};
use std::error::Error;
use std::fmt;

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

/// Why a [`send`] failed: the request failed, or the server answered with a
/// client or server error status.
///
/// The response is kept whole, so the caller can read the body of the last
/// one (from [`RetryError::into_inner`](crate::RetryError::into_inner)). A
/// response that is dropped unread closes its connection.
///
/// # Examples
///
/// ```
/// use persevere::classify::reqwest::Failure;
///
/// let response = reqwest::Response::from(http::Response::builder().status(404).body("").unwrap());
/// let failure = Failure::Status(response);
/// assert_eq!(failure.to_string(), "HTTP status client error (404 Not Found)");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Failure {
    /// The request failed: connect, send, timeout, or reading the head.
    Request(::reqwest::Error),
    /// The server answered with a 4xx or 5xx status.
    Status(::reqwest::Response),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Request(error) => error.fmt(f),
            Failure::Status(response) => {
                let status = response.status();
                let class = if status.is_client_error() {
                    "client"
                } else {
                    "server"
                };
                write!(f, "HTTP status {class} error ({status})")
            }
        }
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Failure::Request(error) => Some(error),
            Failure::Status(_) => None,
        }
    }
}

/// Sends `request`, and turns a 4xx or 5xx response into a
/// [`Failure::Status`], so that a retry sees it as an error.
///
/// # Errors
///
/// [`Failure::Request`] when the request fails, [`Failure::Status`] for an
/// error status.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use persevere::classify::reqwest::{Failure, send};
///
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let client = reqwest::Client::builder().no_proxy().build().unwrap();
/// let failure = send(client.get(format!("http://127.0.0.1:{port}/"))).await.unwrap_err();
/// assert!(matches!(failure, Failure::Request(e) if e.is_connect()));
/// # }
/// ```
pub async fn send(request: ::reqwest::RequestBuilder) -> Result<::reqwest::Response, Failure> {
    let response = request.send().await.map_err(Failure::Request)?;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        Err(Failure::Status(response))
    } else {
        Ok(response)
    }
}

/// A [`Classify`] for `reqwest::Error`, `reqwest::Response` and [`Failure`],
/// by [`classify_error`] and [`classify_response`].
///
/// # Examples
///
/// ```
/// use persevere::{Classify, classify::reqwest::{Failure, ReqwestErrors}};
///
/// let response = reqwest::Response::from(http::Response::builder().status(400).body("").unwrap());
/// assert!(ReqwestErrors.classify(&Failure::Status(response)).is_terminal());
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
        match failure {
            Failure::Request(error) => classify_error(error),
            Failure::Status(response) => classify_response(response),
        }
    }
}
