//! The future of one request: the core's retry future, with the last
//! response handed back as the answer.

use super::Replay;
use super::service::Attempts;
use crate::budget::RetryBudget;
use crate::classify::{Classify, ClassifyOk, Idempotency};
use crate::error::RetryError;
use crate::future::RetryFuture;
use crate::guard::ReplayGuard;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use ::tower::Service;
use ::tower::util::Oneshot;
use pin_project_lite::pin_project;
use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

/// The core future that a request's call runs.
type Call<S, Req, P, C, K, N, B, R> = RetryFuture<
    Attempts<S, Req, R>,
    Oneshot<S, Req>,
    ReplayGuard<P>,
    Idempotency<C>,
    N,
    B,
    Idempotency<K>,
>;

pin_project! {
    /// The future of a request sent through a [`RetryService`](super::RetryService).
    ///
    /// It resolves to the first accepted response, or to the last response
    /// when the retries stop on one, or to a [`RetryError`] when they stop on
    /// an error.
    ///
    /// # Cancellation
    ///
    /// Dropping it drops the attempt in flight, or the sleep: no further
    /// attempt starts.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tower::RetryLayer;
    /// use tower::{Layer, Service, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut service = RetryLayer::new().layer(service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, std::io::Error>(http::Response::new("ok"))
    /// }));
    /// let future = service.call(http::Request::new(()));
    /// assert_eq!(*future.await.unwrap().body(), "ok");
    /// # }
    /// ```
    pub struct ResponseFuture<S, Req, P, C, K, N, B, R>
    where
        S: Service<Req>,
        R: Replay<Req>,
    {
        #[pin]
        call: Call<S, Req, P, C, K, N, B, R>,
    }
}

impl<S: Service<Req>, Req, P, C, K, N, B, R: Replay<Req>> ResponseFuture<S, Req, P, C, K, N, B, R> {
    pub(super) fn new(call: Call<S, Req, P, C, K, N, B, R>) -> Self {
        ResponseFuture { call }
    }
}

impl<S, Req, P, C, K, N, B, R> Future for ResponseFuture<S, Req, P, C, K, N, B, R>
where
    S: Service<Req> + Clone,
    S::Error: Debug,
    P: RetryPolicy,
    C: Classify<S::Error>,
    K: ClassifyOk<S::Response, Kept = S::Response>,
    N: Notify<S::Error>,
    B: RetryBudget,
    R: Replay<Req>,
{
    type Output = Result<S::Response, RetryError<S::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(match ready!(self.project().call.poll(cx)) {
            Ok(response) => Ok(response),
            Err(stopped) => stopped.split_value(),
        })
    }
}

impl<S: Service<Req>, Req, P: Debug, C: Debug, K, N, B: Debug, R: Replay<Req>> Debug
    for ResponseFuture<S, Req, P, C, K, N, B, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("call", &self.call)
            .finish()
    }
}
