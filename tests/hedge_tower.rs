//! The hedging tower layer around a hyper-util client, against a hyper
//! server on 127.0.0.1 whose answers are fast except for a scripted slow
//! fraction. The server journals each request: when it arrived, and whether
//! it answered or saw the client close the connection first (hyper drops
//! the handler when the client hangs up mid-request).
#![cfg(feature = "tower")]

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use persevere::hedge::{HedgeBudget, HedgeLayer};
use persevere::tower::{Idempotent, ReplayEither};
use persevere::{Fixed, RetryPolicyExt};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, sleep, timeout};
use tower::{Layer, ServiceExt};

const MS: Duration = Duration::from_millis(1);

/// How one request ended, as the server saw it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Open,
    Answered(Instant),
    /// The client closed the connection before the answer was due.
    ClosedByClient(Instant),
}

/// One request the server read: its path, the how-manieth request for that
/// path it was (from 1), when it arrived, how it ended.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    nth: u32,
    arrived: Instant,
    end: End,
}

type Journal = Arc<Mutex<Vec<Seen>>>;

/// Marks its request closed by the client when dropped before answering.
struct Watch(Journal, usize);

impl Drop for Watch {
    fn drop(&mut self) {
        let mut journal = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if journal[self.1].end == End::Open {
            journal[self.1].end = End::ClosedByClient(Instant::now());
        }
    }
}

/// A hyper server on 127.0.0.1 that answers request `nth` for `path` after
/// `delay(path, nth)` ms with the path as its body, one request per
/// connection (`Connection: close`); at most `limit` connections, each held
/// at most 30 s.
struct Server {
    addr: SocketAddr,
    journal: Journal,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(delay: fn(&str, u32) -> u64, limit: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let journal = Journal::default();
        let log = journal.clone();
        let task = tokio::spawn(async move {
            let mut connections = JoinSet::new();
            for _ in 0..limit {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let log = log.clone();
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let log = log.clone();
                    async move {
                        let path = req.uri().path().to_owned();
                        req.into_body().collect().await?;
                        let (index, nth) = {
                            let mut journal = log.lock().unwrap();
                            let nth = 1 + journal.iter().filter(|s| s.path == path).count();
                            let (arrived, end) = (Instant::now(), End::Open);
                            let nth = u32::try_from(nth).unwrap();
                            journal.push(Seen {
                                path: path.clone(),
                                nth,
                                arrived,
                                end,
                            });
                            (journal.len() - 1, nth)
                        };
                        let watch = Watch(log.clone(), index);
                        sleep(Duration::from_millis(delay(&path, nth))).await;
                        log.lock().unwrap()[watch.1].end = End::Answered(Instant::now());
                        let mut response = Response::new(Full::new(Bytes::from(path)));
                        let close = "close".parse().unwrap();
                        response.headers_mut().insert("connection", close);
                        Ok::<_, hyper::Error>(response)
                    }
                });
                connections.spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = timeout(Duration::from_secs(30), connection).await;
                });
            }
            while connections.join_next().await.is_some() {}
        });
        Server {
            addr,
            journal,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}/{path}", self.addr)
    }

    fn seen(&self) -> Vec<Seen> {
        self.journal.lock().unwrap().clone()
    }

    /// A few turns of the runtime and 1 ms of tokio's clock, for the server
    /// to notice what the client did.
    async fn settle(&self) {
        for _ in 0..4 {
            tokio::task::yield_now().await;
        }
        sleep(MS).await;
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn client<B>() -> Client<HttpConnector, B>
where
    B: hyper::body::Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

fn request(method: Method, url: &str) -> Request<Full<Bytes>> {
    let body = Full::new(Bytes::from_static(b"payload"));
    Request::builder()
        .method(method)
        .uri(url)
        .body(body)
        .unwrap()
}

/// Offsets from `t0`, in whole ms.
fn ms(at: Instant, t0: Instant) -> u64 {
    u64::try_from((at - t0).as_millis()).unwrap()
}

/// The first request for `/slow...` paths takes 1 s; everything else 5 ms.
fn slow_first(path: &str, nth: u32) -> u64 {
    if path.starts_with("/slow") && nth == 1 {
        1000
    } else {
        5
    }
}

#[tokio::test(start_paused = true)]
async fn a_slow_get_is_hedged_and_the_server_sees_the_loser_closed() {
    let server = Server::start(slow_first, 10).await;
    let service = HedgeLayer::new().delay(30 * MS).layer(client());
    let t0 = Instant::now();
    let response = service
        .oneshot(request(Method::GET, &server.url("slow")))
        .await
        .unwrap();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"/slow");
    server.settle().await;
    let seen = server.seen();
    assert_eq!(seen.len(), 2, "{seen:?}");
    let arrived: Vec<u64> = seen.iter().map(|s| ms(s.arrived, t0)).collect();
    assert_eq!(arrived, [0, 30]);
    // The hedge answered at 35 ms, and the client closed the first
    // connection then, long before its answer was due at 1 s.
    assert_eq!(seen[1].end, End::Answered(t0 + 35 * MS));
    let End::ClosedByClient(at) = seen[0].end else {
        panic!("the loser's connection stayed open: {:?}", seen[0].end)
    };
    assert!(
        (35..=36).contains(&ms(at, t0)),
        "closed at {} ms",
        ms(at, t0)
    );
}

#[tokio::test(start_paused = true)]
async fn a_scripted_slow_fraction_is_hedged_and_nothing_else() {
    // Every 10th path is slow on its first request.
    fn script(path: &str, nth: u32) -> u64 {
        let key: u32 = path.trim_start_matches('/').parse().unwrap();
        if key % 10 == 0 && nth == 1 { 2000 } else { 5 }
    }
    const CALLS: u32 = 50;
    let server = Server::start(script, 100).await;
    let budget = Arc::new(HedgeBudget::new());
    let service = HedgeLayer::new()
        .delay(20 * MS)
        .hedge_budget(budget)
        .layer(client());
    for key in 1..=CALLS {
        let t0 = Instant::now();
        let url = server.url(&key.to_string());
        let response = service
            .clone()
            .oneshot(request(Method::GET, &url))
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let took = ms(Instant::now(), t0);
        let expected = if key % 10 == 0 { 25 } else { 5 };
        assert_eq!(took, expected, "key {key}");
    }
    server.settle().await;
    let seen = server.seen();
    assert_eq!(
        seen.len(),
        50 + 5,
        "one hedge per slow key, none for the rest"
    );
    for s in &seen {
        let slow = s.path.ends_with('0') && s.nth == 1;
        assert_eq!(matches!(s.end, End::ClosedByClient(_)), slow, "{s:?}");
        assert_eq!(matches!(s.end, End::Answered(_)), !slow, "{s:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_post_is_never_hedged_unless_marked_idempotent() {
    let server = Server::start(slow_first, 10).await;
    let service = HedgeLayer::new()
        .delay(30 * MS)
        .policy(Fixed::new(Duration::ZERO).with_max_attempts(3))
        .layer(client());
    let t0 = Instant::now();
    let response = service
        .clone()
        .oneshot(request(Method::POST, &server.url("slow-post")))
        .await;
    assert_eq!(response.unwrap().status(), 200);
    assert_eq!(
        ms(Instant::now(), t0),
        1000,
        "the POST waited for its one attempt"
    );
    assert_eq!(server.seen().len(), 1, "a POST was hedged");

    let mut marked = request(Method::POST, &server.url("slow-keyed"));
    marked.extensions_mut().insert(Idempotent);
    let t1 = Instant::now();
    assert_eq!(service.oneshot(marked).await.unwrap().status(), 200);
    assert_eq!(ms(Instant::now(), t1), 35, "the marked POST was hedged");
    assert_eq!(server.seen().len(), 1 + 2);
}

#[tokio::test(start_paused = true)]
async fn a_request_that_cannot_be_replayed_is_sent_once() {
    type Mixed = Either<Full<Bytes>, Full<Bytes>>;
    let server = Server::start(slow_first, 10).await;
    let service = HedgeLayer::new()
        .delay(30 * MS)
        .replay(ReplayEither)
        .layer(client::<Mixed>());
    let body = || Full::new(Bytes::from_static(b"chunks"));

    // `Either::Right` stands for a streamed body: never copied.
    let streamed: Request<Mixed> = Request::get(server.url("slow-streamed"))
        .body(Either::Right(body()))
        .unwrap();
    let t0 = Instant::now();
    assert_eq!(
        service.clone().oneshot(streamed).await.unwrap().status(),
        200
    );
    assert_eq!(ms(Instant::now(), t0), 1000);
    assert_eq!(server.seen().len(), 1, "a streamed body was sent twice");

    let buffered: Request<Mixed> = Request::get(server.url("slow-buffered"))
        .body(Either::Left(body()))
        .unwrap();
    let t1 = Instant::now();
    assert_eq!(service.oneshot(buffered).await.unwrap().status(), 200);
    assert_eq!(ms(Instant::now(), t1), 35);
    assert_eq!(server.seen().len(), 1 + 2);
}
