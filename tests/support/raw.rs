//! A raw HTTP/1.1 client on `tokio::net::TcpStream`: its errors are the
//! socket's own `io::Error`s, unwrapped.

use std::io;
use std::net::SocketAddr;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A whole response: status, `Retry-After` value if any, body.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub retry_after: Option<String>,
    pub body: String,
}

/// Sends `GET path` with `Connection: close` and reads the whole response.
///
/// # Errors
///
/// The socket's `io::Error` (refused, reset, …), or `UnexpectedEof` for a
/// response cut short.
pub async fn get(addr: SocketAddr, path: &str) -> io::Result<Response> {
    let mut stream = TcpStream::connect(addr).await?;
    let request = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse(&raw).ok_or_else(|| io::Error::from(io::ErrorKind::UnexpectedEof))
}

fn parse(raw: &[u8]) -> Option<Response> {
    let text = std::str::from_utf8(raw).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let length: usize = super::header(head, "content-length")?.parse().ok()?;
    (body.len() == length).then(|| Response {
        status,
        retry_after: super::header(head, "retry-after").map(str::to_owned),
        body: body.to_owned(),
    })
}

/// Why [`get_ok`] failed: the socket, or an error status.
#[derive(Debug)]
pub enum Failure {
    Io(io::Error),
    Status(Response),
}

/// [`get`], with a 4xx or 5xx status turned into an error.
pub async fn get_ok(addr: SocketAddr, path: &str) -> Result<Response, Failure> {
    let response = get(addr, path).await.map_err(Failure::Io)?;
    if response.status >= 400 {
        return Err(Failure::Status(response));
    }
    Ok(response)
}

/// Classifies a [`Failure`] with persevere's io and http classifiers.
pub fn classify(failure: &Failure) -> persevere::Classification {
    match failure {
        Failure::Io(error) => persevere::classify::io::classify_error(error),
        Failure::Status(r) => {
            persevere::classify::http::classify_response(r.status, r.retry_after.as_deref())
        }
    }
}
