//! A line-protocol server on 127.0.0.1 whose answers are fast except for a
//! scripted slow fraction, for the hedging tests.
//!
//! A client sends one line, `GET <key> <attempt>\n`; the server asks the
//! script for a [`Reply`] to that request, waits its delay (on tokio's
//! clock, so a paused test clock drives it) and answers one line: `ok
//! <key>`, `retry` or `fatal`, then closes. While it waits it watches the
//! connection, so it records when the client closes it first: what a hedged
//! call's dropped attempt looks like from the server.
//!
//! Bounds: at most `limit` connections (then the listener closes and
//! connects are refused); every read is bounded by [`IO_LIMIT`]; dropping the
//! server aborts it and its connections.

use super::IO_LIMIT;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, timeout};

/// What the server answers, after how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    pub after: Duration,
    pub answer: Answer,
}

/// The answer line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Ok,
    /// A failure worth retrying.
    Retry,
    /// A failure that retrying cannot help.
    Fatal,
}

impl Reply {
    pub fn ok_after(ms: u64) -> Reply {
        Reply {
            after: Duration::from_millis(ms),
            answer: Answer::Ok,
        }
    }

    pub fn fail_after(ms: u64, answer: Answer) -> Reply {
        Reply {
            after: Duration::from_millis(ms),
            answer,
        }
    }
}

/// How a connection ended, as the server saw it (tokio's clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Still waiting.
    Open,
    /// The server answered.
    Answered(Instant),
    /// The client closed the connection before the answer.
    ClosedByClient(Instant),
}

/// One connection the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conn {
    pub key: u32,
    pub attempt: u32,
    /// When the request line had been read.
    pub arrived: Instant,
    pub end: End,
}

type Log = Arc<Mutex<Vec<Conn>>>;

/// A running server; dropping it stops it.
#[derive(Debug)]
pub struct SlowServer {
    addr: SocketAddr,
    log: Log,
    task: JoinHandle<()>,
}

impl SlowServer {
    /// Starts on a free port of 127.0.0.1, answering each request as
    /// `script(key, attempt)` says, for at most `limit` connections.
    pub async fn start(
        script: impl Fn(u32, u32) -> Reply + Send + Sync + 'static,
        limit: usize,
    ) -> SlowServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let log = Log::default();
        let task = tokio::spawn(serve(listener, Arc::new(script), Arc::clone(&log), limit));
        SlowServer { addr, log, task }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Every request read so far, in the order they arrived.
    pub fn connections(&self) -> Vec<Conn> {
        self.log.lock().unwrap().clone()
    }

    /// Lets the server notice what the client did: a few turns of the
    /// runtime on tokio's clock (1 ms of it, on a paused clock).
    pub async fn settle(&self) {
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        sleep(Duration::from_millis(1)).await;
    }
}

impl Drop for SlowServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn serve<S>(listener: TcpListener, script: Arc<S>, log: Log, limit: usize)
where
    S: Fn(u32, u32) -> Reply + Send + Sync + 'static,
{
    let mut connections = JoinSet::new();
    for _ in 0..limit {
        let Ok((stream, _)) = listener.accept().await else {
            break;
        };
        connections.spawn(handle(stream, Arc::clone(&script), Arc::clone(&log)));
    }
    drop(listener);
    while connections.join_next().await.is_some() {}
}

async fn handle<S>(stream: TcpStream, script: Arc<S>, log: Log)
where
    S: Fn(u32, u32) -> Reply,
{
    let mut reader = BufReader::new(stream);
    let mut line = String::new();
    let Ok(Ok(_)) = timeout(IO_LIMIT, reader.read_line(&mut line)).await else {
        return;
    };
    let mut words = line
        .split_whitespace()
        .skip(1)
        .map(|w| w.parse().unwrap_or(0));
    let (key, attempt) = (words.next().unwrap_or(0), words.next().unwrap_or(0));
    let reply = script(key, attempt);
    let index = {
        let mut log = log.lock().unwrap();
        log.push(Conn {
            key,
            attempt,
            arrived: Instant::now(),
            end: End::Open,
        });
        log.len() - 1
    };
    let mut stream = reader.into_inner();
    let mut byte = [0; 1];
    let end = tokio::select! {
        _ = sleep(reply.after) => {
            let text = match reply.answer {
                Answer::Ok => format!("ok {key}\n"),
                Answer::Retry => "retry\n".to_owned(),
                Answer::Fatal => "fatal\n".to_owned(),
            };
            let _ = stream.write_all(text.as_bytes()).await;
            let _ = stream.shutdown().await;
            End::Answered(Instant::now())
        }
        // A well-behaved client sends nothing more: a read that ends is the
        // client closing (EOF) or resetting the connection.
        _ = stream.read(&mut byte) => End::ClosedByClient(Instant::now()),
    };
    log.lock().unwrap()[index].end = end;
}

/// Why a request failed.
#[derive(Debug)]
pub enum Failure {
    Io(io::Error),
    Retry,
    Fatal,
}

/// Sends `GET key attempt` and reads the answer: the key echoed on `ok`.
pub async fn get(addr: SocketAddr, key: u32, attempt: u32) -> Result<u32, Failure> {
    let mut stream = TcpStream::connect(addr).await.map_err(Failure::Io)?;
    stream
        .write_all(format!("GET {key} {attempt}\n").as_bytes())
        .await
        .map_err(Failure::Io)?;
    let mut answer = String::new();
    stream
        .read_to_string(&mut answer)
        .await
        .map_err(Failure::Io)?;
    match answer.split_whitespace().collect::<Vec<_>>()[..] {
        ["ok", echoed] => echoed
            .parse()
            .map_err(|_| Failure::Io(io::ErrorKind::InvalidData.into())),
        ["retry"] => Err(Failure::Retry),
        ["fatal"] => Err(Failure::Fatal),
        _ => Err(Failure::Io(io::ErrorKind::UnexpectedEof.into())),
    }
}

/// `fatal` is terminal; everything else is worth another attempt.
pub fn classify(failure: &Failure) -> persevere::Classification {
    match failure {
        Failure::Fatal => persevere::Classification::terminal(),
        _ => persevere::Classification::transient(),
    }
}
