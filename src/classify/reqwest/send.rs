//! Sending one attempt: a request that fails on an error status, and
//! optionally reads its body inside the attempt.

use super::{Cause, Failure};
use ::reqwest::header::{HeaderMap, IF_MATCH, IF_NONE_MATCH, IF_UNMODIFIED_SINCE};
use ::reqwest::{Request, RequestBuilder, Response, StatusCode};

/// Sends `request`, and turns a 4xx or 5xx response into a [`Cause::Status`]
/// failure, so that a retry sees it as an error.
///
/// The failure records whether the request is idempotent (see
/// [`Failure::is_idempotent`]), so that [`ReqwestErrors`](super::ReqwestErrors)
/// does not replay a `POST` that may have reached the server. The body is
/// left to the caller: a reset while reading it happens after the retry
/// ended. Use [`read`] to read it inside the attempt.
///
/// # Errors
///
/// [`Cause::Request`] when the request fails, [`Cause::Status`] for an error
/// status.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use persevere::classify::reqwest::{Cause, send};
///
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let client = reqwest::Client::builder().no_proxy().build().unwrap();
/// let failure = send(client.get(format!("http://127.0.0.1:{port}/"))).await.unwrap_err();
/// assert!(matches!(failure.cause(), Cause::Request(e) if e.is_connect()));
/// assert!(failure.is_idempotent()); // a GET
/// # }
/// ```
pub async fn send(request: RequestBuilder) -> Result<Response, Failure> {
    send_marked(request, false).await
}

/// [`send`] for a request that the caller vouches is safe to replay, whatever
/// its method: a `POST` whose server deduplicates by a key of its own, or a
/// `PATCH` that sets absolute values.
///
/// # Errors
///
/// As [`send`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use persevere::classify::reqwest::send_idempotent;
///
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let client = reqwest::Client::builder().no_proxy().build().unwrap();
/// let post = client.post(format!("http://127.0.0.1:{port}/")).body("{}");
/// assert!(send_idempotent(post).await.unwrap_err().is_idempotent());
/// # }
/// ```
pub async fn send_idempotent(request: RequestBuilder) -> Result<Response, Failure> {
    send_marked(request, true).await
}

/// Sends `request` as [`send`] does and reads the whole body of a successful
/// response inside the attempt, so that a connection reset in the middle of
/// the body fails the attempt and is retried (an idempotent request only).
///
/// A body longer than `limit` bytes fails with [`Cause::BodyTooLarge`]
/// (checked against `Content-Length` before reading, and while reading), a
/// terminal failure.
///
/// # Errors
///
/// As [`send`], and [`Cause::Body`] when reading the body fails,
/// [`Cause::BodyTooLarge`] past `limit`.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::classify::reqwest::{ReqwestErrors, read};
/// use tokio::io::{AsyncReadExt, AsyncWriteExt};
///
/// // The first answer is cut in the middle of its body, with a reset.
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
/// let url = format!("http://{}/", listener.local_addr().unwrap());
/// tokio::spawn(async move {
///     for body in ["hel", "hello"] {
///         let (mut socket, _) = listener.accept().await.unwrap();
///         let _ = socket.read(&mut [0; 1024]).await;
///         let head = "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 5\r\n\r\n";
///         socket.write_all(format!("{head}{body}").as_bytes()).await.unwrap();
///         socket.set_zero_linger().unwrap();
///     }
/// });
/// let client = reqwest::Client::builder().no_proxy().build().unwrap();
/// let fetched = persevere::retry(|| read(client.get(&url), 1 << 20))
///     .classify(ReqwestErrors)
///     .await
///     .unwrap();
/// assert_eq!(fetched.text().unwrap(), "hello");
/// # }
/// ```
pub async fn read(request: RequestBuilder, limit: usize) -> Result<Fetched, Failure> {
    read_marked(request, limit, false).await
}

/// [`read`] for a request that the caller vouches is safe to replay (see
/// [`send_idempotent`]).
///
/// # Errors
///
/// As [`read`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use persevere::classify::reqwest::read_idempotent;
///
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let client = reqwest::Client::builder().no_proxy().build().unwrap();
/// let post = client.post(format!("http://127.0.0.1:{port}/")).body("{}");
/// assert!(read_idempotent(post, 1024).await.unwrap_err().is_idempotent());
/// # }
/// ```
pub async fn read_idempotent(request: RequestBuilder, limit: usize) -> Result<Fetched, Failure> {
    read_marked(request, limit, true).await
}

/// A successful response read whole by [`read`].
///
/// # Examples
///
/// See [`read`].
#[derive(Debug, Clone)]
pub struct Fetched {
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

impl Fetched {
    /// The response's status (informational, success or redirection).
    ///
    /// # Examples
    ///
    /// See [`read`].
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The response's headers.
    ///
    /// # Examples
    ///
    /// See [`read`].
    pub fn headers(&self) -> &HeaderMap {
        &self.headers
    }

    /// The body's bytes.
    ///
    /// # Examples
    ///
    /// See [`read`].
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The body, by value.
    ///
    /// # Examples
    ///
    /// See [`read`].
    pub fn into_body(self) -> Vec<u8> {
        self.body
    }

    /// The body as UTF-8 text.
    ///
    /// # Errors
    ///
    /// When the body is not valid UTF-8.
    ///
    /// # Examples
    ///
    /// See [`read`].
    pub fn text(&self) -> Result<&str, std::str::Utf8Error> {
        std::str::from_utf8(&self.body)
    }
}

async fn send_marked(request: RequestBuilder, marked: bool) -> Result<Response, Failure> {
    execute(request, marked).await.map(|(response, _)| response)
}

/// Sends `request`; the response of a status that is not an error, and
/// whether the request is idempotent.
async fn execute(request: RequestBuilder, marked: bool) -> Result<(Response, bool), Failure> {
    let (client, request) = request.build_split();
    let request = request.map_err(|error| Failure::new(Cause::Request(error), marked))?;
    let idempotent = marked || is_idempotent(&request);
    let response = client
        .execute(request)
        .await
        .map_err(|error| Failure::new(Cause::Request(error), idempotent))?;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        Err(Failure::new(Cause::Status(response), idempotent))
    } else {
        Ok((response, idempotent))
    }
}

async fn read_marked(
    request: RequestBuilder,
    limit: usize,
    marked: bool,
) -> Result<Fetched, Failure> {
    let (mut response, idempotent) = execute(request, marked).await?;
    let too_large = || Failure::new(Cause::BodyTooLarge { limit }, idempotent);
    let announced = response.content_length().unwrap_or(0);
    if announced > limit as u64 {
        return Err(too_large());
    }
    // At most `limit` bytes, so the cast cannot truncate.
    let mut body = Vec::with_capacity(announced as usize);
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|error| Failure::new(Cause::Body(error), idempotent))?
    {
        if chunk.len() > limit - body.len() {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(Fetched {
        status: response.status(),
        headers: std::mem::take(response.headers_mut()),
        body,
    })
}

/// Whether `request` may be replayed after it reached the server: by its
/// method (RFC 9110), or because it carries an idempotency key or a
/// precondition that makes a repeat harmless.
fn is_idempotent(request: &Request) -> bool {
    let headers = request.headers();
    crate::classify::http::is_idempotent_method(request.method().as_str())
        || headers.contains_key("idempotency-key")
        || headers.contains_key(IF_MATCH)
        || headers.contains_key(IF_NONE_MATCH)
        || headers.contains_key(IF_UNMODIFIED_SINCE)
}
