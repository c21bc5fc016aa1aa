//! A scripted HTTP/1.1 server on 127.0.0.1 and a minimal client, for the
//! webhook tests and example.
//!
//! The server answers one request per connection as its script says for
//! the request's key (the path), and records when each request arrived and
//! when the next one may come: after a `Retry-After`, or after the delay
//! the caller's policy promises. A reset is a close with linger 0, so the
//! client reads `ECONNRESET`.
//!
//! Bounds: every read and write waits at most [`IO_LIMIT`]; a request is at
//! most 64 KiB; the server stops when dropped.

use persevere::Classification;
use persevere::Classify;
use persevere::classify::http::classify_response;
use persevere::classify::io::IoErrors;
use persevere_durable::Clock;
use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;
use tokio::time::timeout;

/// The longest any read or write waits.
pub const IO_LIMIT: Duration = Duration::from_secs(10);

/// What the server does with one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reply {
    /// Read the request, then close with linger 0.
    Reset,
    /// Answer with this status and `Retry-After: seconds`.
    RetryAfter(u16, u64),
    /// Answer with this status; a 200's body is the key.
    Status(u16),
}

/// The replies for a key's requests, in order; past the end, 200.
pub type Plan = Arc<dyn Fn(&str) -> Vec<Reply> + Send + Sync>;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    /// When it was read whole (the shared clock).
    pub at: SystemTime,
    /// Its `Idempotency-Key` header.
    pub idempotency_key: Option<String>,
    /// What the server did.
    pub reply: Reply,
    /// The earliest time the next request for this key may come.
    pub next_allowed: SystemTime,
}

/// A running server; dropping it stops it.
pub struct Server {
    addr: SocketAddr,
    seen: Arc<Mutex<HashMap<String, Vec<Seen>>>>,
    task: JoinHandle<()>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Server").field("addr", &self.addr).finish()
    }
}

impl Server {
    /// Starts a server on a free port of 127.0.0.1; the next request for a
    /// key after a reply without `Retry-After` may come `min_delay` later.
    pub async fn start(plan: Plan, clock: Arc<dyn Clock>, min_delay: Duration) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(HashMap::new()));
        let state = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let (plan, clock, seen) =
                    (Arc::clone(&plan), Arc::clone(&clock), Arc::clone(&state));
                tokio::spawn(async move {
                    let _ = serve(stream, &*plan, &*clock, &seen, min_delay).await;
                });
            }
        });
        Server { addr, seen, task }
    }

    /// The server's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request seen for each key, in order.
    pub fn seen(&self) -> HashMap<String, Vec<Seen>> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve(
    mut stream: TcpStream,
    plan: &(dyn Fn(&str) -> Vec<Reply> + Send + Sync),
    clock: &dyn Clock,
    seen: &Mutex<HashMap<String, Vec<Seen>>>,
    min_delay: Duration,
) -> std::io::Result<()> {
    let request = timeout(IO_LIMIT, read_request(&mut stream)).await??;
    let key = request.path.trim_start_matches('/').to_owned();
    let reply = {
        let mut seen = seen.lock().unwrap();
        let earlier = seen.entry(key.clone()).or_default();
        let reply = plan(&key)
            .get(earlier.len())
            .copied()
            .unwrap_or(Reply::Status(200));
        let at = clock.now();
        let wait = match reply {
            Reply::RetryAfter(_, secs) => Duration::from_secs(secs),
            _ => min_delay,
        };
        earlier.push(Seen {
            at,
            idempotency_key: request.idempotency_key,
            reply,
            next_allowed: at + wait,
        });
        reply
    };
    let response = match reply {
        Reply::Reset => {
            stream.set_zero_linger()?;
            return Ok(());
        }
        Reply::RetryAfter(status, secs) => {
            format!(
                "HTTP/1.1 {status} Busy\r\nRetry-After: {secs}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        }
        Reply::Status(200) => format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{key}",
            key.len()
        ),
        Reply::Status(status) => {
            format!("HTTP/1.1 {status} Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        }
    };
    timeout(IO_LIMIT, stream.write_all(response.as_bytes())).await??;
    let _ = stream.shutdown().await;
    Ok(())
}

struct Request {
    path: String,
    idempotency_key: Option<String>,
}

/// Reads one request's head and body (at most 64 KiB).
async fn read_request(stream: &mut TcpStream) -> std::io::Result<Request> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let mut buf = Vec::new();
    let mut chunk = [0; 4096];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > 64 * 1024 {
            return Err(bad("request too large"));
        }
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("closed mid-request"));
        }
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let path = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .ok_or_else(|| bad("no request line"))?
        .to_owned();
    let mut length = 0;
    let mut idempotency_key = None;
    for line in lines {
        if let Some((name, value)) = line.split_once(':') {
            match name.trim().to_ascii_lowercase().as_str() {
                "content-length" => length = value.trim().parse().map_err(|_| bad("length"))?,
                "idempotency-key" => idempotency_key = Some(value.trim().to_owned()),
                _ => {}
            }
        }
    }
    while buf.len() < head_end + length.min(64 * 1024) {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Err(bad("closed mid-body"));
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    Ok(Request {
        path,
        idempotency_key,
    })
}

/// Why a POST failed.
#[derive(Debug)]
pub enum PostError {
    /// The connection failed (reset, refused) or timed out.
    Io(std::io::Error),
    /// The server answered with an error status.
    Status(u16, Option<String>),
    /// A 200 whose body is not the key: a response for another request.
    WrongBody(String),
}

impl fmt::Display for PostError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PostError::Io(e) => write!(f, "{e}"),
            PostError::Status(s, Some(after)) => write!(f, "HTTP {s}, Retry-After: {after}"),
            PostError::Status(s, None) => write!(f, "HTTP {s}"),
            PostError::WrongBody(b) => write!(f, "a response for another key: {b:?}"),
        }
    }
}

/// persevere's classifiers for a POST's failure.
pub fn classify(error: &PostError) -> Classification {
    match error {
        PostError::Io(e) => IoErrors.classify(e),
        PostError::Status(status, after) => classify_response(*status, after.as_deref()),
        PostError::WrongBody(_) => Classification::terminal(),
    }
}

/// POSTs `body` to `http://addr/key` with an `Idempotency-Key: key` header;
/// Ok if the server answered 200 with the key as body.
pub async fn post(addr: SocketAddr, key: &str, body: &[u8]) -> Result<(), PostError> {
    match timeout(IO_LIMIT, exchange(addr, key, body)).await {
        Ok(result) => result,
        Err(_) => Err(PostError::Io(std::io::ErrorKind::TimedOut.into())),
    }
}

async fn exchange(addr: SocketAddr, key: &str, body: &[u8]) -> Result<(), PostError> {
    let mut stream = TcpStream::connect(addr).await.map_err(PostError::Io)?;
    let head = format!(
        "POST /{key} HTTP/1.1\r\nHost: {addr}\r\nIdempotency-Key: {key}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream
        .write_all(head.as_bytes())
        .await
        .map_err(PostError::Io)?;
    stream.write_all(body).await.map_err(PostError::Io)?;
    let mut response = Vec::new();
    stream
        .read_to_end(&mut response)
        .await
        .map_err(PostError::Io)?;
    let text = String::from_utf8_lossy(&response);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| PostError::Io(std::io::ErrorKind::InvalidData.into()))?;
    let retry_after = head.split("\r\n").find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.eq_ignore_ascii_case("retry-after")
            .then(|| value.trim().to_owned())
    });
    match status {
        200 if body == key => Ok(()),
        200 => Err(PostError::WrongBody(body.to_owned())),
        _ => Err(PostError::Status(status, retry_after)),
    }
}
