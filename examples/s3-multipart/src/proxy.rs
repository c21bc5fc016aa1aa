//! A fault-injecting TCP proxy on 127.0.0.1, for tests and demos.
//!
//! It reads each HTTP/1.1 request the client sends (the request line and the
//! headers, then `Content-Length` bytes of body) and, per request, either
//! forwards it to the upstream server, resets it halfway (after half the body,
//! or half the head if there is no body) with linger 0 so the client sees
//! `ECONNRESET`, or holds the connection silent so the client's attempt
//! timeout must cut it. It can also reset every `UploadPart` request for one
//! part number (`partNumber=N` in the request line), which forces that part
//! to run out of attempts. And it can lose a response: forward a request
//! whole, let the server answer, then reset the client's connection before
//! any of the answer reaches it (the server did the work; the client cannot
//! know). Other responses flow back untouched.
//!
//! Each decision is drawn from a seeded generator in the order requests
//! arrive. The proxy binds only to 127.0.0.1, forwards only to a loopback
//! address, and is bounded: it accepts at most
//! [`max_connections`](Faults::max_connections) connections during its
//! [`lifetime`](Faults::lifetime), each connection lives at most 5 minutes
//! and idles at most 60 s, and it stops when dropped.

mod request;

pub use request::S3Request;

use crate::source::splitmix64;
use request::{find_head_end, parse_head, parse_response_head};
use std::collections::BTreeMap;
use std::io;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{ReadHalf, WriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout, timeout_at};

const MAX_HEAD: usize = 64 * 1024;
const READ_CHUNK: usize = 64 * 1024;
const IDLE: Duration = Duration::from_secs(60);
const CONNECTION_LIMIT: Duration = Duration::from_secs(300);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
const MAX_REQUESTS_PER_CONNECTION: usize = 10_000;
/// The most of a lost response's body the proxy keeps.
const MAX_LOST_BODY: u64 = 1024 * 1024;

/// Which faults the proxy injects.
///
/// # Default
///
/// No faults; holds last 30 s; seed 1; at most 10,000 connections in 10
/// minutes.
#[derive(Debug, Clone, PartialEq)]
pub struct Faults {
    /// The fraction of requests (`0.0..=1.0`) reset halfway, with linger 0.
    pub reset_fraction: f64,
    /// The fraction of requests held silent: never forwarded, never
    /// answered, until the client gives up or [`hold`](Self::hold) passes.
    pub silent_fraction: f64,
    /// How long a silent connection is held at most.
    pub hold: Duration,
    /// Reset every `UploadPart` request for this part number.
    pub fail_part: Option<i32>,
    /// Lose the response to the first [`LoseResponse::times`] requests of
    /// one kind: forwarded whole and answered by the server, but the client
    /// is reset (linger 0) before the answer reaches it.
    pub lose_response: Option<LoseResponse>,
    /// Seeds the fault decisions.
    pub seed: u64,
    /// How many connections the proxy accepts before it stops accepting.
    pub max_connections: u32,
    /// How long the proxy accepts connections.
    pub lifetime: Duration,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            reset_fraction: 0.0,
            silent_fraction: 0.0,
            hold: Duration::from_secs(30),
            fail_part: None,
            lose_response: None,
            seed: 1,
            max_connections: 10_000,
            lifetime: Duration::from_secs(600),
        }
    }
}

impl Faults {
    /// True if any fault is configured.
    pub fn any(&self) -> bool {
        self.reset_fraction > 0.0
            || self.silent_fraction > 0.0
            || self.fail_part.is_some()
            || self.lose_response.is_some_and(|lose| lose.times > 0)
    }
}

/// Which responses the proxy loses: the first `times` requests that are
/// `to`.
///
/// # Examples
///
/// ```
/// use s3_multipart::proxy::{Faults, LoseResponse, S3Request};
///
/// let faults = Faults {
///     lose_response: Some(LoseResponse { to: S3Request::CompleteMultipartUpload, times: 1 }),
///     ..Faults::default()
/// };
/// assert!(faults.any());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LoseResponse {
    /// The kind of request whose response is lost.
    pub to: S3Request,
    /// How many of them, counted from the first the proxy reads.
    pub times: u32,
}

/// A response the proxy kept from the client.
#[derive(Clone, PartialEq, Eq)]
pub struct LostResponse {
    /// The request's line (`POST /bucket/key?uploads HTTP/1.1`).
    pub request_line: String,
    /// The status the server answered with (0 if it answered no HTTP
    /// status line before it closed or the proxy stopped waiting).
    pub status: u16,
    /// The start of the answer's body (at most 1 MiB), by its
    /// `Content-Length`.
    pub body: Vec<u8>,
}

impl std::fmt::Debug for LostResponse {
    /// The body as text (lossily), since S3 answers in XML.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LostResponse")
            .field("request_line", &self.request_line)
            .field("status", &self.status)
            .field("body", &String::from_utf8_lossy(&self.body))
            .finish()
    }
}

/// What the proxy saw and did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ProxyStats {
    /// Connections accepted.
    pub connections: u64,
    /// Requests read.
    pub requests: u64,
    /// Requests reset halfway at random.
    pub resets: u64,
    /// Requests held silent.
    pub silent: u64,
    /// Requests reset because they were for [`Faults::fail_part`].
    pub part_failures: u64,
    /// Requests whose response the proxy chose to lose
    /// ([`Faults::lose_response`]).
    pub lost: u64,
    /// `UploadPart` requests read, by part number.
    pub upload_parts_seen: BTreeMap<i32, u32>,
    /// `UploadPart` requests forwarded whole to the server, by part number.
    pub upload_parts_forwarded: BTreeMap<i32, u32>,
    /// Requests of each [`S3Request`] kind forwarded whole to the server
    /// (those whose response was lost included).
    pub forwarded: BTreeMap<String, u32>,
    /// The responses lost on purpose, in order.
    pub lost_responses: Vec<LostResponse>,
}

struct Shared {
    upstream: SocketAddr,
    faults: Faults,
    stats: Mutex<ProxyStats>,
    rng: Mutex<u64>,
}

/// The name [`ProxyStats::forwarded`] counts a request under.
fn kind_name(request: S3Request) -> &'static str {
    match request {
        S3Request::CreateMultipartUpload => "CreateMultipartUpload",
        S3Request::UploadPart(_) => "UploadPart",
        S3Request::CompleteMultipartUpload => "CompleteMultipartUpload",
    }
}

impl Shared {
    fn stats(&self) -> std::sync::MutexGuard<'_, ProxyStats> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Uniform in `0.0..1.0`.
    fn draw(&self) -> f64 {
        let mut state = self.rng.lock().unwrap_or_else(PoisonError::into_inner);
        (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// A running proxy; stops (and drops its connections) when dropped.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: JoinHandle<()>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("upstream", &self.upstream)
            .field("faults", &self.faults)
            .finish_non_exhaustive()
    }
}

impl Proxy {
    /// Starts a proxy on 127.0.0.1 (a free port) in front of `upstream`.
    ///
    /// # Errors
    ///
    /// `InvalidInput` if `upstream` is not a loopback address; any error
    /// binding the listener.
    pub async fn start(upstream: SocketAddr, faults: Faults) -> io::Result<Proxy> {
        if !upstream.ip().is_loopback() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!("the proxy only forwards to loopback, not {upstream}"),
            ));
        }
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            upstream,
            rng: Mutex::new(faults.seed),
            faults,
            stats: Mutex::new(ProxyStats::default()),
        });
        let task = tokio::spawn(accept(listener, Arc::clone(&shared)));
        Ok(Proxy { addr, shared, task })
    }

    /// The proxy's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The proxy as an endpoint URL, `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// What the proxy saw and did so far.
    pub fn stats(&self) -> ProxyStats {
        self.shared.stats().clone()
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// The loopback socket address of an `http://host:port` endpoint.
///
/// # Errors
///
/// `InvalidInput` for an endpoint that is not `http://`, has no port, or
/// does not resolve to a loopback address.
pub async fn loopback_addr(endpoint: &str) -> io::Result<SocketAddr> {
    let invalid =
        |why: &str| io::Error::new(io::ErrorKind::InvalidInput, format!("{endpoint}: {why}"));
    let rest = endpoint
        .strip_prefix("http://")
        .ok_or_else(|| invalid("not an http:// URL"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let mut addrs = tokio::net::lookup_host(authority)
        .await
        .map_err(|e| invalid(&e.to_string()))?;
    addrs
        .find(|a| a.ip().is_loopback())
        .ok_or_else(|| invalid("not a loopback address"))
}

async fn accept(listener: TcpListener, shared: Arc<Shared>) {
    let deadline = Instant::now() + shared.faults.lifetime;
    let mut connections = JoinSet::new();
    for _ in 0..shared.faults.max_connections {
        let client = match timeout_at(deadline, listener.accept()).await {
            Err(_) => break,
            Ok(Err(_)) => continue,
            Ok(Ok((client, _))) => client,
        };
        while connections.try_join_next().is_some() {}
        shared.stats().connections += 1;
        connections.spawn(timeout(
            CONNECTION_LIMIT,
            connection(client, Arc::clone(&shared)),
        ));
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

/// How a connection's request pump ended.
enum End {
    ClientClosed,
    UpstreamClosed,
    Reset,
    Silent,
    /// The request was forwarded whole: read the server's answer, then reset
    /// the client.
    LoseResponse(String),
}

async fn connection(mut client: TcpStream, shared: Arc<Shared>) {
    let _ = client.set_nodelay(true);
    let mut upstream = match timeout(CONNECT_TIMEOUT, TcpStream::connect(shared.upstream)).await {
        Ok(Ok(upstream)) => upstream,
        _ => {
            let _ = client.set_zero_linger();
            return;
        }
    };
    let _ = upstream.set_nodelay(true);
    let end = {
        let (mut client_read, mut client_write) = client.split();
        let (mut upstream_read, mut upstream_write) = upstream.split();
        tokio::select! {
            end = pump(&mut client_read, &mut upstream_write, &shared) => end,
            _ = tokio::io::copy(&mut upstream_read, &mut client_write) => End::UpstreamClosed,
        }
    };
    match end {
        End::Reset => {
            // Linger 0: closing sends RST, so both sides see ECONNRESET.
            let _ = client.set_zero_linger();
            let _ = upstream.set_zero_linger();
        }
        End::Silent => {
            hold(&mut client, shared.faults.hold).await;
            let _ = upstream.set_zero_linger();
        }
        End::LoseResponse(request_line) => {
            // No byte of the answer has gone to the client: the request's
            // last byte was written in the poll that ended the pump.
            let (status, body) = read_response(&mut upstream).await;
            let _ = client.set_zero_linger();
            drop(client);
            shared.stats().lost_responses.push(LostResponse {
                request_line,
                status,
                body,
            });
        }
        End::ClientClosed | End::UpstreamClosed => {}
    }
}

/// Reads one response from the server: its status and the start of its
/// body. Bounded by [`IDLE`] per read and [`MAX_HEAD`] and [`MAX_LOST_BODY`]
/// in size; whatever arrived when the server closes or a bound is hit.
async fn read_response(upstream: &mut TcpStream) -> (u16, Vec<u8>) {
    let mut buf = Vec::with_capacity(READ_CHUNK);
    let mut scratch = vec![0; READ_CHUNK];
    let head_len = loop {
        if let Some(end) = find_head_end(&buf) {
            break end;
        }
        match timeout(IDLE, upstream.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 && buf.len() <= MAX_HEAD => buf.extend_from_slice(&scratch[..n]),
            _ => return (0, buf),
        }
    };
    let (status, content_length) = parse_response_head(&buf[..head_len]);
    let want = usize::try_from(content_length.min(MAX_LOST_BODY)).unwrap_or(0);
    let mut body = buf.split_off(head_len);
    while body.len() < want {
        match timeout(IDLE, upstream.read(&mut scratch)).await {
            Ok(Ok(n)) if n > 0 => body.extend_from_slice(&scratch[..n]),
            _ => break,
        }
    }
    body.truncate(want);
    (status, body)
}

/// Reads and discards what the client sends until it closes the connection
/// or `limit` passes.
async fn hold(client: &mut TcpStream, limit: Duration) {
    let deadline = Instant::now() + limit;
    let mut scratch = vec![0; READ_CHUNK];
    while let Ok(Ok(n)) = timeout_at(deadline, client.read(&mut scratch)).await {
        if n == 0 {
            break;
        }
    }
}

/// What to do with one request.
enum Action {
    Forward,
    Reset,
    FailPart,
    Silent,
    LoseResponse,
}

/// Appends what the client sends next to `buf`; 0 at end of stream.
async fn read_more(client: &mut ReadHalf<'_>, buf: &mut Vec<u8>) -> io::Result<usize> {
    let start = buf.len();
    buf.resize(start + READ_CHUNK, 0);
    let read = timeout(IDLE, client.read(&mut buf[start..])).await;
    let n = match read {
        Ok(Ok(n)) => n,
        Ok(Err(e)) => {
            buf.truncate(start);
            return Err(e);
        }
        Err(_) => {
            buf.truncate(start);
            return Err(io::ErrorKind::TimedOut.into());
        }
    };
    buf.truncate(start + n);
    Ok(n)
}

/// Forwards `len` bytes of body: first what `buf` holds, then what the
/// client sends.
async fn forward_body(
    client: &mut ReadHalf<'_>,
    upstream: &mut WriteHalf<'_>,
    buf: &mut Vec<u8>,
    len: u64,
) -> io::Result<()> {
    let mut left = len;
    while left > 0 {
        if buf.is_empty() && read_more(client, buf).await? == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let take = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
        upstream.write_all(&buf[..take]).await?;
        buf.drain(..take);
        left -= take as u64;
    }
    Ok(())
}

/// Reads the client's requests one by one and acts on each.
async fn pump(client: &mut ReadHalf<'_>, upstream: &mut WriteHalf<'_>, shared: &Shared) -> End {
    let mut buf = Vec::with_capacity(2 * READ_CHUNK);
    for _ in 0..MAX_REQUESTS_PER_CONNECTION {
        let head_len = loop {
            if let Some(end) = find_head_end(&buf) {
                break end;
            }
            if buf.len() > MAX_HEAD {
                return End::Reset;
            }
            match read_more(client, &mut buf).await {
                Ok(0) | Err(_) => return End::ClientClosed,
                Ok(_) => {}
            }
        };
        let head = parse_head(&buf[..head_len]);
        let action = {
            let mut stats = shared.stats();
            stats.requests += 1;
            if let Some(part) = head.upload_part() {
                *stats.upload_parts_seen.entry(part).or_default() += 1;
            }
            let lose = shared
                .faults
                .lose_response
                .filter(|lose| head.request == Some(lose.to));
            let action =
                if head.upload_part().is_some() && head.upload_part() == shared.faults.fail_part {
                    Action::FailPart
                } else if lose.is_some_and(|lose| stats.lost < u64::from(lose.times)) {
                    stats.lost += 1;
                    Action::LoseResponse
                } else {
                    let r = shared.draw();
                    if r < shared.faults.reset_fraction {
                        Action::Reset
                    } else if r < shared.faults.reset_fraction + shared.faults.silent_fraction {
                        Action::Silent
                    } else {
                        Action::Forward
                    }
                };
            match action {
                Action::Reset => stats.resets += 1,
                Action::FailPart => stats.part_failures += 1,
                Action::Silent => stats.silent += 1,
                Action::Forward | Action::LoseResponse => {}
            }
            action
        };
        match action {
            Action::Silent => return End::Silent,
            Action::Reset | Action::FailPart => {
                // Half the request reaches the server, then both sides are
                // reset: the server never sees a whole request.
                if head.content_length == 0 || head.chunked {
                    let _ = upstream.write_all(&buf[..head_len / 2]).await;
                } else {
                    let whole_head: Vec<u8> = buf.drain(..head_len).collect();
                    if upstream.write_all(&whole_head).await.is_ok() {
                        let _ =
                            forward_body(client, upstream, &mut buf, head.content_length / 2).await;
                    }
                }
                return End::Reset;
            }
            Action::Forward | Action::LoseResponse => {
                let whole_head: Vec<u8> = buf.drain(..head_len).collect();
                if upstream.write_all(&whole_head).await.is_err() {
                    return End::UpstreamClosed;
                }
                if head.chunked {
                    // Framing this proxy does not parse: pass the rest through.
                    let _ = upstream.write_all(&buf).await;
                    let _ = tokio::io::copy(client, upstream).await;
                    return End::ClientClosed;
                }
                if forward_body(client, upstream, &mut buf, head.content_length)
                    .await
                    .is_err()
                {
                    return End::ClientClosed;
                }
                {
                    let mut stats = shared.stats();
                    if let Some(part) = head.upload_part() {
                        *stats.upload_parts_forwarded.entry(part).or_default() += 1;
                    }
                    if let Some(request) = head.request {
                        *stats
                            .forwarded
                            .entry(kind_name(request).to_owned())
                            .or_default() += 1;
                    }
                }
                if matches!(action, Action::LoseResponse) {
                    // Return in the same poll as the last write: the server
                    // cannot have answered yet, so the response pump has
                    // passed nothing of the answer on.
                    return End::LoseResponse(head.request_line);
                }
            }
        }
    }
    End::ClientClosed
}

#[cfg(test)]
mod tests;
