//! Why a [`send`](super::send) or [`read`](super::read) failed, and whether
//! its request may be replayed.

use std::error::Error;
use std::fmt;

/// Why a [`send`](super::send) or a [`read`](super::read) failed, and whether
/// the request was idempotent.
///
/// An error response is kept whole, so the caller can read the body of the
/// last one (from [`RetryError::into_inner`](crate::RetryError::into_inner)).
/// A response that is dropped unread closes its connection.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::classify::reqwest::{ReqwestErrors, send};
///
/// # let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let client = reqwest::Client::builder().no_proxy().build().unwrap();
/// let url = format!("http://127.0.0.1:{port}/orders"); // refused: nothing listens
/// let err = persevere::retry(|| send(client.post(&url)))
///     .classify(ReqwestErrors)
///     .await
///     .unwrap_err();
/// let failure = err.into_inner().unwrap();
/// assert!(!failure.is_idempotent()); // a POST, but refused, so retried anyway
/// assert!(failure.to_string().contains("error sending request"));
/// # }
/// ```
#[derive(Debug)]
pub struct Failure {
    cause: Cause,
    idempotent: bool,
}

/// What went wrong in a [`Failure`].
///
/// # Examples
///
/// ```
/// use persevere::classify::reqwest::Cause;
///
/// let cause = Cause::BodyTooLarge { limit: 1024 };
/// assert_eq!(cause.to_string(), "response body longer than 1024 bytes");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum Cause {
    /// The request failed: connect, send, timeout, or reading the head.
    Request(::reqwest::Error),
    /// The server answered with a 4xx or 5xx status.
    Status(::reqwest::Response),
    /// Reading the body of a successful response failed ([`read`](super::read)).
    Body(::reqwest::Error),
    /// The body of a successful response was longer than the limit given to
    /// [`read`](super::read). Terminal: another attempt would not shrink it.
    BodyTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
}

impl Failure {
    pub(super) fn new(cause: Cause, idempotent: bool) -> Self {
        Failure { cause, idempotent }
    }

    /// What went wrong.
    ///
    /// # Examples
    ///
    /// See [`Failure::into_response`].
    pub fn cause(&self) -> &Cause {
        &self.cause
    }

    /// What went wrong, by value.
    ///
    /// # Examples
    ///
    /// See [`Failure::into_response`].
    pub fn into_cause(self) -> Cause {
        self.cause
    }

    /// True when the request may be replayed after it reached the server:
    /// its method is idempotent (RFC 9110: `GET`, `HEAD`, `OPTIONS`, `TRACE`,
    /// `PUT`, `DELETE`), it carries an `Idempotency-Key` or a precondition
    /// (`If-Match`, `If-None-Match`, `If-Unmodified-Since`), or it was sent
    /// with [`send_idempotent`](super::send_idempotent) or
    /// [`read_idempotent`](super::read_idempotent).
    ///
    /// # Examples
    ///
    /// See [`Failure`].
    pub fn is_idempotent(&self) -> bool {
        self.idempotent
    }

    /// The error response, for a [`Cause::Status`].
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use persevere::classify::reqwest::{Cause, send};
    /// use tokio::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    /// let url = format!("http://{}/", listener.local_addr().unwrap());
    /// tokio::spawn(async move {
    ///     let (mut socket, _) = listener.accept().await.unwrap();
    ///     let _ = socket.read(&mut [0; 1024]).await;
    ///     let answer = "HTTP/1.1 404 Not Found\r\ncontent-length: 4\r\n\r\ngone";
    ///     socket.write_all(answer.as_bytes()).await.unwrap();
    /// });
    /// let client = reqwest::Client::builder().no_proxy().build().unwrap();
    /// let failure = send(client.get(&url)).await.unwrap_err();
    /// assert!(matches!(failure.cause(), Cause::Status(_)));
    /// let response = failure.into_response().unwrap();
    /// assert_eq!(response.text().await.unwrap(), "gone");
    /// # }
    /// ```
    pub fn into_response(self) -> Option<::reqwest::Response> {
        match self.cause {
            Cause::Status(response) => Some(response),
            _ => None,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cause.fmt(f)
    }
}

impl Error for Failure {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.cause.source()
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Request(error) => error.fmt(f),
            Cause::Status(response) => {
                let status = response.status();
                let class = if status.is_client_error() {
                    "client"
                } else {
                    "server"
                };
                write!(f, "HTTP status {class} error ({status})")
            }
            Cause::Body(error) => write!(f, "reading the response body: {error}"),
            Cause::BodyTooLarge { limit } => {
                write!(f, "response body longer than {limit} bytes")
            }
        }
    }
}

impl Error for Cause {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            Cause::Request(error) | Cause::Body(error) => Some(error),
            Cause::Status(_) | Cause::BodyTooLarge { .. } => None,
        }
    }
}
