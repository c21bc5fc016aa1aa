//! A fault-injecting HTTP/1.1 server on 127.0.0.1 for the socket tests.
//!
//! Each accepted connection serves at most one request, answered as a
//! [`Script`] says, with `Connection: close`. Every fault is real at the
//! socket level: a reset is a close with `SO_LINGER` 0, so the client reads
//! `ECONNRESET`. The server counts the connections and requests it saw and
//! the connections the client has not closed yet, so a test can assert how
//! many attempts reached it and that none were leaked.
//!
//! Bounds: a server accepts at most its script's number of connections (then
//! closes its listener, so further connects are refused), waits at most
//! [`IO_LIMIT`] for any read, and is aborted with all its connections when
//! dropped.

#![allow(dead_code, unreachable_pub)] // each test file uses a part of it

pub mod raw;
pub mod slow;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, timeout};

/// The longest the server waits for a request, or for the client to close.
pub const IO_LIMIT: Duration = Duration::from_secs(30);

/// The body of every error response, 64 KiB: more than a client reads
/// ahead, so a client that holds an error response unread holds its
/// connection open too.
fn error_body() -> String {
    "try again later\n".repeat(4096)
}

/// What the server does with one connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Close at once with linger 0, before reading anything.
    ResetOnAccept,
    /// Read the whole request, then close with linger 0.
    ResetAfterRequest,
    /// Answer 200 with `Content-Length: 1000`, send 100 bytes, then reset.
    ResetMidBody,
    /// Read the request and never answer; hold the connection until the
    /// client closes it.
    NeverAnswer,
    /// Answer with this status and a short body.
    Status(u16),
    /// Answer with this status, a `Retry-After` header and a short body.
    StatusRetryAfter(u16, String),
    /// Answer 200 with this body.
    Ok(String),
}

impl Fault {
    /// `Status(code)` with a `Retry-After: value` header.
    ///
    /// # Panics
    ///
    /// If `self` is not a [`Fault::Status`].
    pub fn retry_after(self, value: &str) -> Fault {
        match self {
            Fault::Status(code) => Fault::StatusRetryAfter(code, value.to_owned()),
            other => panic!("only a status takes a Retry-After, not {other:?}"),
        }
    }

    /// Success with `body`.
    pub fn ok(body: &str) -> Fault {
        Fault::Ok(body.to_owned())
    }
}

/// How the server answers its connections.
#[derive(Debug, Clone)]
pub struct Script {
    plan: Plan,
    limit: usize,
}

#[derive(Debug, Clone)]
enum Plan {
    /// The n-th connection gets the n-th fault.
    Sequence(Vec<Fault>),
    /// The n-th request for a path gets the n-th fault, then `Ok(path)`.
    PerKey(Vec<Fault>),
}

impl Script {
    /// One fault per connection, in order; the server accepts no more
    /// connections than there are faults.
    pub fn new(faults: impl IntoIterator<Item = Fault>) -> Script {
        let faults: Vec<_> = faults.into_iter().collect();
        Script {
            limit: faults.len(),
            plan: Plan::Sequence(faults),
        }
    }

    /// Per request path (the key): its first requests get `failures` in
    /// order, the next ones 200 with the path as body. At most `limit`
    /// connections in all.
    ///
    /// # Panics
    ///
    /// On [`Fault::ResetOnAccept`], which comes before the key is known.
    pub fn per_key(failures: impl IntoIterator<Item = Fault>, limit: usize) -> Script {
        let failures: Vec<_> = failures.into_iter().collect();
        assert!(!failures.contains(&Fault::ResetOnAccept));
        Script {
            plan: Plan::PerKey(failures),
            limit,
        }
    }
}

/// What the server saw.
#[derive(Debug, Default)]
struct Stats {
    connections: AtomicUsize,
    /// Connections the client has not closed yet (a reset closes them).
    open: AtomicUsize,
    /// Connections the client never closed within [`IO_LIMIT`].
    lingering: AtomicUsize,
    per_key: Mutex<HashMap<String, usize>>,
    /// When each request had been read, in order; one entry per request.
    arrivals: Mutex<Vec<Instant>>,
    methods: Mutex<Vec<String>>,
}

/// A running fault-injecting server; dropping it stops it.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    stats: Arc<Stats>,
    task: JoinHandle<()>,
}

impl Server {
    /// Starts a server on a free port of 127.0.0.1. Must be called inside a
    /// tokio runtime with I/O enabled.
    pub fn start(script: Script) -> Server {
        Server::start_at("127.0.0.1:0".parse().unwrap(), script).unwrap()
    }

    /// Starts a server on `addr`, which must be on 127.0.0.1.
    pub fn start_at(addr: SocketAddr, script: Script) -> std::io::Result<Server> {
        assert!(addr.ip().is_loopback(), "tests only listen on 127.0.0.1");
        let socket = TcpSocket::new_v4()?;
        socket.set_reuseaddr(true)?;
        socket.bind(addr)?;
        // A deep backlog, so that hundreds of concurrent connects are not
        // dropped (and retried by the kernel a second later).
        let listener = socket.listen(1024)?;
        let addr = listener.local_addr()?;
        let stats = Arc::new(Stats::default());
        let task = tokio::spawn(serve(listener, script, Arc::clone(&stats)));
        Ok(Server { addr, stats, task })
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:port{path}`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    pub fn connections(&self) -> usize {
        self.stats.connections.load(SeqCst)
    }

    /// Requests read whole so far.
    pub fn requests(&self) -> usize {
        self.stats.arrivals.lock().unwrap().len()
    }

    /// Requests read for `path`.
    pub fn requests_for(&self, path: &str) -> usize {
        let per_key = self.stats.per_key.lock().unwrap();
        per_key.get(path).copied().unwrap_or(0)
    }

    /// The methods of the requests read, in order.
    pub fn methods(&self) -> Vec<String> {
        self.stats.methods.lock().unwrap().clone()
    }

    /// When each request had been read, in order (tokio's clock).
    pub fn arrivals(&self) -> Vec<Instant> {
        self.stats.arrivals.lock().unwrap().clone()
    }

    /// Connections the client has not closed yet.
    pub fn open(&self) -> usize {
        self.stats.open.load(SeqCst)
    }

    /// Connections the client held open past [`IO_LIMIT`].
    pub fn lingering(&self) -> usize {
        self.stats.lingering.load(SeqCst)
    }

    /// Waits (polling every 5 ms, at most `limit`) until the client has
    /// closed every connection; true if it has.
    pub async fn all_closed_within(&self, limit: Duration) -> bool {
        let start = Instant::now();
        while self.open() > 0 {
            if start.elapsed() >= limit {
                return false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        true
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// An address on 127.0.0.1 where nothing listens: connecting is refused.
pub fn refused_addr() -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap()
}

/// How many file descriptors this process has open.
pub fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

async fn serve(listener: TcpListener, script: Script, stats: Arc<Stats>) {
    let plan = Arc::new(script.plan);
    let mut connections = JoinSet::new();
    for n in 0..script.limit {
        let Ok((stream, _)) = listener.accept().await else {
            break;
        };
        stats.connections.fetch_add(1, SeqCst);
        stats.open.fetch_add(1, SeqCst);
        let fault = match &*plan {
            Plan::Sequence(faults) => Some(faults[n].clone()),
            Plan::PerKey(_) => None,
        };
        let (plan, stats) = (Arc::clone(&plan), Arc::clone(&stats));
        connections.spawn(async move {
            let open = Open(&stats);
            answer(stream, fault, &plan, open.0).await;
        });
    }
    drop(listener); // connect from now on is refused
    while connections.join_next().await.is_some() {}
}

/// Counts a connection closed when its task ends, however it ends.
struct Open<'a>(&'a Stats);

impl Drop for Open<'_> {
    fn drop(&mut self) {
        self.0.open.fetch_sub(1, SeqCst);
    }
}

async fn answer(mut stream: TcpStream, fault: Option<Fault>, plan: &Plan, stats: &Stats) {
    if fault == Some(Fault::ResetOnAccept) {
        return reset(stream);
    }
    let Some((method, path)) = read_request(&mut stream).await else {
        return;
    };
    let seen = {
        let mut per_key = stats.per_key.lock().unwrap();
        let count = per_key.entry(path.clone()).or_default();
        *count += 1;
        *count
    };
    stats.arrivals.lock().unwrap().push(Instant::now());
    stats.methods.lock().unwrap().push(method);
    let fault = fault.unwrap_or_else(|| match plan {
        Plan::PerKey(failures) => failures.get(seen - 1).cloned().unwrap_or(Fault::Ok(path)),
        Plan::Sequence(_) => unreachable!(),
    });
    let response = match fault {
        Fault::ResetOnAccept | Fault::ResetAfterRequest => return reset(stream),
        Fault::ResetMidBody => {
            let head = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nConnection: close\r\n\r\n";
            let _ = stream.write_all(head.as_bytes()).await;
            let _ = stream.write_all(&[b'x'; 100]).await;
            let _ = stream.flush().await;
            return reset(stream);
        }
        Fault::NeverAnswer => return wait_for_close(stream, stats).await,
        Fault::Status(code) => response(code, None, &error_body()),
        Fault::StatusRetryAfter(code, value) => response(code, Some(&value), &error_body()),
        Fault::Ok(body) => response(200, None, &body),
    };
    if stream.write_all(response.as_bytes()).await.is_ok() {
        let _ = stream.shutdown().await;
        wait_for_close(stream, stats).await;
    }
}

fn reset(stream: TcpStream) {
    stream.set_zero_linger().unwrap();
    drop(stream);
}

fn response(code: u16, retry_after: Option<&str>, body: &str) -> String {
    let retry_after = retry_after.map_or(String::new(), |v| format!("Retry-After: {v}\r\n"));
    format!(
        "HTTP/1.1 {code} Scripted\r\n{retry_after}Content-Type: text/plain\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
}

/// Reads until the client closes (EOF or error), at most [`IO_LIMIT`].
async fn wait_for_close(mut stream: TcpStream, stats: &Stats) {
    let mut sink = [0; 1024];
    let closed = timeout(IO_LIMIT, async {
        while matches!(stream.read(&mut sink).await, Ok(n) if n > 0) {}
    });
    if closed.await.is_err() {
        stats.lingering.fetch_add(1, SeqCst);
    }
}

/// Reads one request (head and `Content-Length` body); its method and path,
/// or `None` if the client closed first or sent garbage.
async fn read_request(stream: &mut TcpStream) -> Option<(String, String)> {
    const MAX_HEAD: usize = 16 * 1024;
    let mut buf = Vec::with_capacity(1024);
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        if buf.len() > MAX_HEAD {
            return None;
        }
        let mut chunk = [0; 1024];
        let n = read_some(stream, &mut chunk).await?;
        buf.extend_from_slice(&chunk[..n]);
    };
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let mut words = head.split_whitespace();
    let (method, path) = (words.next()?.to_owned(), words.next()?.to_owned());
    let length: usize = header(head, "content-length").map_or(Some(0), |v| v.parse().ok())?;
    let mut body_read = buf.len() - head_end;
    let mut chunk = [0; 1024];
    while body_read < length {
        body_read += read_some(stream, &mut chunk).await?;
    }
    Some((method, path))
}

/// The trimmed value of the first header `name` (any case) in an HTTP
/// message head.
fn header<'a>(head: &'a str, name: &str) -> Option<&'a str> {
    head.lines()
        .filter_map(|line| line.split_once(':'))
        .find(|(found, _)| found.eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

/// Reads at least one byte within `IO_LIMIT`; `None` on a timeout, an error
/// or the client closing.
async fn read_some(stream: &mut TcpStream, chunk: &mut [u8]) -> Option<usize> {
    let n = timeout(IO_LIMIT, stream.read(chunk)).await.ok()?.ok()?;
    (n > 0).then_some(n)
}
