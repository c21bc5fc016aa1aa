//! The tower layer around a hyper-util client, against a hyper server on
//! 127.0.0.1 that resets connections (linger 0) and answers 503 with
//! `Retry-After`.
#![cfg(feature = "tower")]

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::{Body, Frame, Incoming};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioIo};
use persevere::budget::TokenBucket;
use persevere::tower::{Idempotent, ReplayEither, RetryLayer};
use persevere::{Exponential, Fixed, RetryEvent, RetryPolicyExt, StopReason};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tower::{Layer, ServiceBuilder, ServiceExt};

/// What the server does with one connection.
#[derive(Debug, Clone, Copy)]
enum Plan {
    /// Close at once with linger 0: the client reads a reset.
    Reset,
    /// Answer 503 with `Retry-After: 1`.
    Busy,
    /// Answer 200 with the request's body.
    Echo,
    /// Accept, read nothing and never answer; hold the connection (at most
    /// 30 s) until the client closes it.
    Hang,
}

/// A hyper server on 127.0.0.1: connection n follows `plans[n]` (the last
/// plan once they run out), one request per connection (`Connection:
/// close`). At most `limit` connections; every read is bounded.
struct Server {
    addr: SocketAddr,
    requests: Arc<AtomicUsize>,
    arrivals: Arc<Mutex<Vec<Instant>>>,
    task: JoinHandle<()>,
}

impl Server {
    async fn start(plans: Vec<Plan>, limit: usize) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(AtomicUsize::new(0));
        let arrivals = Arc::new(Mutex::new(Vec::new()));
        let (seen, times) = (requests.clone(), arrivals.clone());
        let task = tokio::spawn(async move {
            for n in 0..limit {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let plan = plans[n.min(plans.len() - 1)];
                match plan {
                    Plan::Reset => {
                        stream.set_zero_linger().unwrap();
                        drop(stream);
                        continue;
                    }
                    Plan::Hang => {
                        tokio::spawn(async move {
                            let mut stream = stream;
                            let mut buf = [0u8; 1024];
                            let held = async {
                                use tokio::io::AsyncReadExt;
                                while stream.read(&mut buf).await.is_ok_and(|n| n > 0) {}
                            };
                            let _ = timeout(Duration::from_secs(30), held).await;
                        });
                        continue;
                    }
                    _ => {}
                }
                let (seen, times) = (seen.clone(), times.clone());
                let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                    let (seen, times) = (seen.clone(), times.clone());
                    async move {
                        let body = req.into_body().collect().await?.to_bytes();
                        seen.fetch_add(1, SeqCst);
                        times.lock().unwrap().push(Instant::now());
                        let mut response = Response::new(Full::new(body));
                        response
                            .headers_mut()
                            .insert("connection", "close".parse().unwrap());
                        if let Plan::Busy = plan {
                            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
                            response
                                .headers_mut()
                                .insert("retry-after", "1".parse().unwrap());
                        }
                        Ok::<_, hyper::Error>(response)
                    }
                });
                tokio::spawn(async move {
                    let connection = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service);
                    let _ = timeout(Duration::from_secs(30), connection).await;
                });
            }
        });
        Server {
            addr,
            requests,
            arrivals,
            task,
        }
    }

    fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    fn requests(&self) -> usize {
        self.requests.load(SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn client<B>() -> Client<HttpConnector, B>
where
    B: Body + Send + 'static + Unpin,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build_http()
}

fn get(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::new(Bytes::new())).unwrap()
}

#[tokio::test(start_paused = true)]
async fn resets_and_503s_are_retried_after_the_servers_delay() {
    let server = Server::start(vec![Plan::Reset, Plan::Busy, Plan::Echo], 3).await;
    let service = ServiceBuilder::new()
        .layer(
            RetryLayer::new()
                .policy(Exponential::new().with_max_attempts(5))
                .attempt_timeout(Duration::from_secs(10)),
        )
        .service(client());
    let request = Request::put(server.url())
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"payload");
    // The reset reached no handler; the 503 and the 200 did, 1 s apart.
    assert_eq!(server.requests(), 2);
    let arrivals = server.arrivals.lock().unwrap().clone();
    let gap = arrivals[1] - arrivals[0];
    assert!(gap >= Duration::from_secs(1), "retried after {gap:?}");
    assert!(gap < Duration::from_secs(2), "retried after {gap:?}");
}

#[tokio::test(start_paused = true)]
async fn the_last_503_is_the_answer_when_the_attempts_run_out() {
    let server = Server::start(vec![Plan::Busy], 10).await;
    let service = RetryLayer::new()
        .policy(Fixed::new(Duration::from_secs(2)).with_max_attempts(3))
        .layer(client());
    let response = service.oneshot(get(&server.url())).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.requests(), 3);
}

#[tokio::test(start_paused = true)]
async fn a_reset_post_is_not_retried_unless_marked_idempotent() {
    let server = Server::start(vec![Plan::Reset, Plan::Reset, Plan::Echo], 4).await;
    let service = RetryLayer::new()
        .policy(Fixed::new(Duration::from_millis(10)).with_max_attempts(3))
        .layer(client());
    let post = || {
        Request::builder()
            .method(Method::POST)
            .uri(server.url())
            .body(Full::new(Bytes::from_static(b"order")))
            .unwrap()
    };
    let err = service.clone().oneshot(post()).await.unwrap_err();
    assert_eq!((err.reason(), err.attempts()), (StopReason::Terminal, 1));

    // Connection 2 is reset too, and the retry reaches connection 3.
    let mut marked = post();
    marked.extensions_mut().insert(Idempotent);
    assert_eq!(service.clone().oneshot(marked).await.unwrap().status(), 200);
    assert_eq!(server.requests(), 1);
}

#[tokio::test(start_paused = true)]
async fn one_budget_caps_the_retries_of_concurrent_requests() {
    let server = Server::start(vec![Plan::Busy], 20).await;
    // A throttled retry costs 5 tokens: 10 pay for two retries in all.
    let bucket = Arc::new(TokenBucket::new().with_capacity(10));
    let service = RetryLayer::new()
        .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(5))
        .budget(bucket.clone())
        .layer(client());
    let calls: Vec<_> = (0..4)
        .map(|_| tokio::spawn(service.clone().oneshot(get(&server.url()))))
        .collect();
    for call in calls {
        let response = call.await.unwrap().unwrap();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    }
    assert_eq!(server.requests(), 4 + 2);
    assert_eq!(bucket.available(), 0);
}

/// A streamed body: chunks produced on the fly, never kept, so it cannot
/// be sent twice.
struct Streamed {
    chunks: u32,
}

impl Body for Streamed {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if self.chunks == 0 {
            return Poll::Ready(None);
        }
        self.chunks -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"chunk")))))
    }
}

type MixedBody = Either<Full<Bytes>, Streamed>;

#[tokio::test(start_paused = true)]
async fn a_streamed_body_is_sent_exactly_once_and_a_buffered_one_is_replayed() {
    let server = Server::start(vec![Plan::Busy], 10).await;
    let service = RetryLayer::new()
        .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(3))
        .replay(ReplayEither)
        .layer(client::<MixedBody>());

    let streamed: Request<MixedBody> = Request::put(server.url())
        .body(Either::Right(Streamed { chunks: 3 }))
        .unwrap();
    let response = service.clone().oneshot(streamed).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(&body[..], b"chunkchunkchunk");
    assert_eq!(server.requests(), 1, "a streamed body was sent again");

    let buffered: Request<MixedBody> = Request::put(server.url())
        .body(Either::Left(Full::new(Bytes::from_static(b"kept"))))
        .unwrap();
    let response = service.clone().oneshot(buffered).await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(server.requests(), 1 + 3);
}

#[tokio::test(start_paused = true)]
async fn a_streamed_request_that_fails_stops_as_not_replayable() {
    let server = Server::start(vec![Plan::Reset], 3).await;
    let service = RetryLayer::new()
        .policy(Fixed::new(Duration::from_secs(1)).with_max_attempts(3))
        .replay(ReplayEither)
        .layer(client::<MixedBody>());
    let streamed: Request<MixedBody> = Request::put(server.url())
        .body(Either::Right(Streamed { chunks: 1 }))
        .unwrap();
    let err = service.oneshot(streamed).await.unwrap_err();
    assert_eq!(
        (err.reason(), err.attempts()),
        (StopReason::NotReplayable, 1)
    );
}

#[tokio::test(start_paused = true)]
async fn silent_attempts_are_cut_by_the_attempt_timeout_and_the_deadline() {
    let server = Server::start(vec![Plan::Hang], 10).await;
    let heard = Arc::new(AtomicUsize::new(0));
    let counted = heard.clone();
    let service = RetryLayer::new()
        .policy(
            Fixed::new(Duration::from_secs(1))
                .with_max_attempts(10)
                .with_deadline(Duration::from_secs(10)),
        )
        .attempt_timeout(Duration::from_secs(2))
        .notify(
            move |e: &RetryEvent<'_, hyper_util::client::legacy::Error>| {
                assert!(e.error().is_none(), "a timed-out attempt has no error");
                counted.fetch_add(1, SeqCst);
            },
        )
        .layer(client());
    let start = Instant::now();
    let err = service.oneshot(get(&server.url())).await.unwrap_err();
    // Attempts at 0, 3 and 6 s time out after 2 s; the one at 9 s is cut at
    // the deadline, 10 s.
    assert_eq!((err.reason(), err.attempts()), (StopReason::Deadline, 4));
    assert!(err.timed_out());
    assert_eq!(heard.load(SeqCst), 3);
    assert_eq!(start.elapsed(), Duration::from_secs(10));
    assert_eq!(server.requests(), 0);
}
