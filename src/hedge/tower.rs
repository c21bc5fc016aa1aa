//! A [`tower`](::tower) layer that hedges an `http::Request` service (the
//! `tower` feature): each request is one [`hedge`](super::hedge()) call.

use super::builder::{DefaultHedgePolicy, Hedge};
use super::delay::HedgeDelay;
use super::future::HedgeFuture;
use crate::budget::{NoBudget, RetryBudget};
use crate::classify::http::is_idempotent;
use crate::classify::{AlwaysRetry, Classify, Idempotency, Idempotent};
use crate::error::RetryError;
use crate::guard::ReplayGuard;
use crate::policy::RetryPolicy;
use crate::tower::{Attempts, Replay, ReplayClone};
use ::tower::util::Oneshot;
use ::tower::{Layer, Service};
use http::Request;
use pin_project_lite::pin_project;
use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;

/// A [`tower::Layer`](::tower::Layer) that hedges the requests of the
/// service it wraps, with the delays, budgets, policy and classifier of
/// [`hedge`](super::hedge()).
///
/// Each request through its [`HedgeService`] is one hedged call whose
/// attempts are copies of the request made by a [`Replay`]
/// ([`ReplayClone`] unless set), each sent through a clone of the inner
/// service (driven to readiness first, as tower's `Oneshot` does):
///
/// - an idempotent request (`GET`, `HEAD`, `OPTIONS`, `TRACE`, `PUT`,
///   `DELETE`, or one carrying the [`Idempotent`] extension) that can be
///   replayed is hedged; the first response wins and the other attempts are
///   dropped, which closes their connections;
/// - a request that is not idempotent (`POST`, `PATCH`) is **never hedged**:
///   it is sent alone, and retried after a failure only when the failure
///   proves it never reached the server ([`Idempotency`]);
/// - a request that cannot be replayed (a streamed body, under
///   [`ReplayEither`](crate::tower::ReplayEither)) is **sent once**: never
///   hedged, never retried.
///
/// Every response is an answer, a 503 as much as a 200: only the inner
/// service's errors are classified. For retries on a status, put a
/// [`RetryLayer`](crate::tower::RetryLayer) around this one.
///
/// Its parts are cloned for each request: share a
/// [`LatencyTracker`](super::LatencyTracker) or a budget through an `Arc`.
///
/// # Default
///
/// As [`hedge`](super::hedge()): a fixed 10 ms delay, at most 2 attempts in
/// flight and 3 in all ([`DefaultHedgePolicy`]), [`AlwaysRetry`] for errors,
/// no budgets; and [`ReplayClone`].
///
/// # Examples
///
/// ```
/// use persevere::hedge::{HedgeBudget, HedgeLayer, LatencyTracker};
/// use std::sync::{Arc, atomic::{AtomicU32, Ordering::SeqCst}};
/// use std::time::Duration;
/// use tower::{ServiceBuilder, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let sent = Arc::new(AtomicU32::new(0));
/// let counted = sent.clone();
/// let backend = service_fn(move |_: http::Request<String>| {
///     // The first copy is stuck; the second answers in 5 ms.
///     let slow = counted.fetch_add(1, SeqCst) == 0;
///     async move {
///         tokio::time::sleep(Duration::from_millis(if slow { 2_000 } else { 5 })).await;
///         Ok::<_, std::io::Error>(http::Response::new("row"))
///     }
/// });
/// let p95 = Arc::new(LatencyTracker::new(95.0).with_fallback(Duration::from_millis(20)));
/// let client = ServiceBuilder::new()
///     .layer(HedgeLayer::new().delay(p95).hedge_budget(Arc::new(HedgeBudget::new())))
///     .service(backend);
/// let response = client.oneshot(http::Request::new(String::new())).await.unwrap();
/// assert_eq!((*response.body(), sent.load(SeqCst)), ("row", 2));
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct HedgeLayer<
    P = DefaultHedgePolicy,
    C = AlwaysRetry,
    D = Duration,
    H = NoBudget,
    B = NoBudget,
    R = ReplayClone,
> {
    hedge: Hedge<(), P, C, D, H, B>,
    replay: R,
}

impl HedgeLayer {
    /// The layer with the defaults listed under [`HedgeLayer`].
    ///
    /// # Examples
    ///
    /// See [`HedgeLayer`].
    pub fn new() -> Self {
        HedgeLayer {
            hedge: Hedge::new(()),
            replay: ReplayClone,
        }
    }
}

impl Default for HedgeLayer {
    fn default() -> Self {
        HedgeLayer::new()
    }
}

impl<P, C, D, H, B, R> HedgeLayer<P, C, D, H, B, R> {
    /// Sets the policy whose caps bound each request's call, as
    /// [`Hedge::policy`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Fixed, RetryPolicyExt, hedge::HedgeLayer};
    /// use std::time::Duration;
    /// let layer = HedgeLayer::new()
    ///     .policy(Fixed::new(Duration::ZERO).with_max_attempts(2).with_deadline(Duration::from_secs(1)));
    /// # let _ = layer;
    /// ```
    pub fn policy<P2: RetryPolicy>(self, policy: P2) -> HedgeLayer<P2, C, D, H, B, R> {
        HedgeLayer {
            hedge: self.hedge.policy(policy),
            replay: self.replay,
        }
    }

    /// Sets the classifier of the inner service's errors, as
    /// [`Hedge::classify`] does (wrapped in [`Idempotency`] per request).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{classify::io::IoErrors, hedge::HedgeLayer};
    /// let layer = HedgeLayer::new().classify(IoErrors);
    /// # let _ = layer;
    /// ```
    pub fn classify<C2>(self, classifier: C2) -> HedgeLayer<P, C2, D, H, B, R> {
        HedgeLayer {
            hedge: self.hedge.classify(classifier),
            replay: self.replay,
        }
    }

    /// Sets the hedge delay, as [`Hedge::delay`] does: a `Duration`, or an
    /// `Arc<LatencyTracker>` shared by every request.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::{HedgeLayer, LatencyTracker};
    /// use std::sync::Arc;
    /// let layer = HedgeLayer::new().delay(Arc::new(LatencyTracker::new(95.0)));
    /// # let _ = layer;
    /// ```
    pub fn delay<D2: HedgeDelay>(self, delay: D2) -> HedgeLayer<P, C, D2, H, B, R> {
        HedgeLayer {
            hedge: self.hedge.delay(delay),
            replay: self.replay,
        }
    }

    /// Sets how many attempts of a request may run at once, as
    /// [`Hedge::max_in_flight`] does (clamped into `1..=4`).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::HedgeLayer;
    /// let layer = HedgeLayer::new().max_in_flight(3);
    /// # let _ = layer;
    /// ```
    pub fn max_in_flight(mut self, max: usize) -> Self {
        self.hedge = self.hedge.max_in_flight(max);
        self
    }

    /// Draws the hedges from `budget`, as [`Hedge::hedge_budget`] does: pass
    /// an `Arc<HedgeBudget>` so that every request shares it.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::{HedgeBudget, HedgeLayer};
    /// use std::sync::Arc;
    /// let layer = HedgeLayer::new().hedge_budget(Arc::new(HedgeBudget::new()));
    /// # let _ = layer;
    /// ```
    pub fn hedge_budget<H2: RetryBudget>(self, budget: H2) -> HedgeLayer<P, C, D, H2, B, R> {
        HedgeLayer {
            hedge: self.hedge.hedge_budget(budget),
            replay: self.replay,
        }
    }

    /// Draws every extra attempt from `budget`, as [`Hedge::budget`] does
    /// (an `Arc`, to share it with other calls).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{budget::TokenBucket, hedge::HedgeLayer};
    /// use std::sync::Arc;
    /// let layer = HedgeLayer::new().budget(Arc::new(TokenBucket::new()));
    /// # let _ = layer;
    /// ```
    pub fn budget<B2: RetryBudget>(self, budget: B2) -> HedgeLayer<P, C, D, H, B2, R> {
        HedgeLayer {
            hedge: self.hedge.budget(budget),
            replay: self.replay,
        }
    }

    /// Sets which requests are replayed, and how (see [`Replay`]): one that
    /// is not is sent once.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{hedge::HedgeLayer, tower::ReplayEither};
    /// let layer = HedgeLayer::new().replay(ReplayEither);
    /// # let _ = layer;
    /// ```
    pub fn replay<R2>(self, replay: R2) -> HedgeLayer<P, C, D, H, B, R2> {
        HedgeLayer {
            hedge: self.hedge,
            replay,
        }
    }
}

impl<S, P: Clone, C: Clone, D: Clone, H: Clone, B: Clone, R: Clone> Layer<S>
    for HedgeLayer<P, C, D, H, B, R>
{
    type Service = HedgeService<S, P, C, D, H, B, R>;

    fn layer(&self, inner: S) -> Self::Service {
        HedgeService {
            inner,
            config: self.clone(),
        }
    }
}

/// A service that hedges the requests of `S`; made by [`HedgeLayer`].
///
/// Always ready: each attempt drives its own clone of the inner service to
/// readiness.
///
/// # Examples
///
/// ```
/// use persevere::hedge::{HedgeLayer, HedgeService};
/// use tower::{Layer, service_fn};
///
/// let inner = service_fn(|_: http::Request<()>| async {
///     Ok::<_, std::io::Error>(http::Response::new(()))
/// });
/// let service: HedgeService<_, _, _, _, _, _, _> = HedgeLayer::new().layer(inner);
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct HedgeService<S, P, C, D, H, B, R> {
    inner: S,
    config: HedgeLayer<P, C, D, H, B, R>,
}

impl<S, Body, P, C, D, H, B, R> Service<Request<Body>> for HedgeService<S, P, C, D, H, B, R>
where
    S: Service<Request<Body>> + Clone,
    S::Error: Debug,
    P: RetryPolicy + Clone,
    C: Classify<S::Error> + Clone,
    D: HedgeDelay + Clone,
    H: RetryBudget + Clone,
    B: RetryBudget + Clone,
    R: Replay<Request<Body>> + Clone,
{
    type Response = S::Response;
    type Error = RetryError<S::Error>;
    type Future = HedgeResponseFuture<S, Request<Body>, P, C, D, H, B, R>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let idempotent =
            is_idempotent(req.method()) || req.extensions().get::<Idempotent>().is_some();
        let config = &self.config.hedge;
        let (op, replayable) = Attempts::new(self.inner.clone(), self.config.replay.clone(), req);
        let hedged = Hedge {
            op,
            policy: ReplayGuard::new(config.policy.clone(), replayable),
            classifier: Idempotency::new(config.classifier.clone(), idempotent),
            delay: config.delay.clone(),
            hedge_budget: config.hedge_budget.clone(),
            budget: config.budget.clone(),
            // One attempt at a time for a request that must not be hedged.
            max_in_flight: if idempotent && replayable {
                config.max_in_flight
            } else {
                1
            },
        };
        HedgeResponseFuture {
            call: HedgeFuture::new(hedged),
        }
    }
}

pin_project! {
    /// The future of a request sent through a [`HedgeService`]: the first
    /// response, or a [`RetryError`] when the call stops on an error.
    ///
    /// # Cancellation
    ///
    /// Dropping it drops every attempt in flight (closing its connection).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::hedge::HedgeLayer;
    /// use tower::{Layer, Service, service_fn};
    ///
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// let mut service = HedgeLayer::new().layer(service_fn(|_: http::Request<()>| async {
    ///     Ok::<_, std::io::Error>(http::Response::new("ok"))
    /// }));
    /// let future = service.call(http::Request::new(()));
    /// assert_eq!(*future.await.unwrap().body(), "ok");
    /// # }
    /// ```
    pub struct HedgeResponseFuture<S, Req, P, C, D, H, B, R>
    where
        S: Service<Req>,
        R: Replay<Req>,
    {
        #[pin]
        call: HedgeFuture<Attempts<S, Req, R>, Oneshot<S, Req>, ReplayGuard<P>, Idempotency<C>, D, H, B>,
    }
}

impl<S, Req, P, C, D, H, B, R> Future for HedgeResponseFuture<S, Req, P, C, D, H, B, R>
where
    S: Service<Req> + Clone,
    S::Error: Debug,
    P: RetryPolicy,
    C: Classify<S::Error>,
    D: HedgeDelay,
    H: RetryBudget,
    B: RetryBudget,
    R: Replay<Req>,
{
    type Output = Result<S::Response, RetryError<S::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        Poll::Ready(ready!(self.project().call.poll(cx)).map(|won| won.into_inner()))
    }
}

impl<S: Service<Req>, Req, P: Debug, C: Debug, D: Debug, H: Debug, B: Debug, R: Replay<Req>> Debug
    for HedgeResponseFuture<S, Req, P, C, D, H, B, R>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeResponseFuture")
            .field("call", &self.call)
            .finish()
    }
}
