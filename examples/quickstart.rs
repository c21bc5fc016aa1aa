//! Retries an HTTP GET against a flaky server that this example starts on
//! 127.0.0.1: the first connection is reset, the second answers 503 with
//! `Retry-After: 1`, the third answers 200.
//!
//! Run it with `cargo run --example quickstart`.

use persevere::classify::{http, io as io_errors};
use persevere::{Classification, Exponential, RetryEvent, RetryPolicyExt};
use std::error::Error;
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn Error>> {
    let addr = start_flaky_server().await?;
    println!("flaky server listening on http://{addr}/");

    let started = Instant::now();
    let body = persevere::retry(|| get(addr))
        .policy(
            Exponential::new()
                .with_initial_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_max_attempts(5)
                .with_deadline(Duration::from_secs(30)),
        )
        .classify(classify)
        .attempt_timeout(Duration::from_secs(5))
        .notify(|event: &RetryEvent<'_, FetchError>| {
            let error = event
                .error()
                .map_or("timed out".to_string(), ToString::to_string);
            println!(
                "attempt {} failed: {error} ({:?}); retrying in {:?}",
                event.attempt(),
                event.classification().kind().unwrap(),
                event.delay(),
            );
        })
        .await?;
    println!("succeeded after {:.1?}: {body}", started.elapsed());
    Ok(())
}

/// A failed GET: the socket failed, or the server answered an error status.
#[derive(Debug)]
enum FetchError {
    Io(std::io::Error),
    Status {
        code: u16,
        retry_after: Option<String>,
    },
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FetchError::Io(e) => write!(f, "{e}"),
            FetchError::Status {
                code,
                retry_after: Some(after),
            } => {
                write!(f, "HTTP {code} (Retry-After: {after})")
            }
            FetchError::Status { code, .. } => write!(f, "HTTP {code}"),
        }
    }
}

impl Error for FetchError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            FetchError::Io(e) => Some(e),
            FetchError::Status { .. } => None,
        }
    }
}

/// The io classifier for socket errors; the HTTP one for statuses.
fn classify(error: &FetchError) -> Classification {
    match error {
        FetchError::Io(_) => io_errors::classify_error(error),
        FetchError::Status { code, retry_after } => {
            http::classify_response(*code, retry_after.as_deref())
        }
    }
}

/// A minimal HTTP/1.1 GET over a fresh connection.
async fn get(addr: SocketAddr) -> Result<String, FetchError> {
    let mut stream = TcpStream::connect(addr).await.map_err(FetchError::Io)?;
    let request = format!("GET / HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(FetchError::Io)?;
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .await
        .map_err(FetchError::Io)?;

    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| FetchError::Io(std::io::ErrorKind::InvalidData.into()))?;
    let retry_after = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().to_string())
    });
    if code == 200 {
        Ok(body.to_string())
    } else {
        Err(FetchError::Status { code, retry_after })
    }
}

/// Serves three connections: a reset, a 503 asking for one second, a 200.
async fn start_flaky_server() -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        for connection in 0..3 {
            let Ok((mut stream, _)) = listener.accept().await else {
                return;
            };
            let mut request = [0u8; 1024];
            let _ = stream.read(&mut request).await;
            let reply = match connection {
                0 => {
                    // Linger 0: closing sends RST, so the client reads ECONNRESET.
                    let _ = stream.set_zero_linger();
                    drop(stream);
                    continue;
                }
                1 => {
                    "HTTP/1.1 503 Service Unavailable\r\nRetry-After: 1\r\nContent-Length: 0\r\n\r\n"
                }
                _ => "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, world!",
            };
            let _ = stream.write_all(reply.as_bytes()).await;
        }
    });
    Ok(addr)
}
