//! The layer and its service: keep each request's body, then let the tower
//! layer's service retry it.

use super::body::{Kept, into_tonic, keep};
use super::{GrpcCodes, GrpcResponses, GrpcRetryPolicy, RetryPolicyConfig};
use crate::budget::{NoBudget, RetryBudget};
use crate::classify::{Classify, ClassifyOk, Idempotent};
use crate::error::RetryError;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::tower::{ReplayEither, ResponseFuture, RetryLayer, RetryService};
use ::tower::{Layer, Service};
use http::Request;
use pin_project_lite::pin_project;
use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::body::Body;

/// The largest request body kept for replay by default: 64 KiB.
pub const DEFAULT_BUFFER_LIMIT: usize = 64 * 1024;

/// A [`tower::Layer`](::tower::Layer) that retries the calls of a tonic
/// client's transport (a `Channel`) with a [`RetryLayer`]'s configuration
/// (see the [module docs](super)).
///
/// # Default
///
/// From [`from_config`](Self::from_config): the config's policy and codes, no
/// budget, no attempt timeout, a buffer limit of [`DEFAULT_BUFFER_LIMIT`].
///
/// # Examples
///
/// ```
/// use persevere::tonic::{GrpcRetryLayer, RetryPolicyConfig};
/// use persevere::budget::GrpcThrottle;
/// use std::sync::Arc;
///
/// let config = RetryPolicyConfig::from_json(r#"{"maxAttempts": 3, "initialBackoff": "0.1s",
///     "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}"#).unwrap();
/// let layer = GrpcRetryLayer::from_config(&config)
///     .budget(Arc::new(GrpcThrottle::new(10, 0.1)))
///     .with_buffer_limit(16 * 1024);
/// assert_eq!(layer.buffer_limit(), 16 * 1024);
/// ```
#[derive(Debug, Clone)]
pub struct GrpcRetryLayer<P, C, K, N, B> {
    retry: RetryLayer<P, C, K, N, B, ReplayEither>,
    limit: usize,
}

impl GrpcRetryLayer<GrpcRetryPolicy, GrpcCodes, GrpcResponses, (), NoBudget> {
    /// The layer of a service config's `retryPolicy`: its schedule, and its
    /// `retryableStatusCodes` for errors and trailers-only responses alike.
    ///
    /// # Examples
    ///
    /// See [`GrpcRetryLayer`].
    pub fn from_config(config: &RetryPolicyConfig) -> Self {
        GrpcRetryLayer::new(
            RetryLayer::new()
                .policy(config.policy())
                .classify(config.codes())
                .classify_responses(config.responses()),
        )
    }
}

impl<P, C, K, N, B> GrpcRetryLayer<P, C, K, N, B> {
    /// Wraps a tower [`RetryLayer`] configured by hand (its
    /// [`replay`](RetryLayer::replay) setting is replaced: the gRPC layer
    /// decides what is replayed). Give it [`GrpcCodes`] and
    /// [`GrpcResponses`]: the tower layer's defaults know HTTP, not gRPC.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::{GrpcCodes, GrpcResponses, GrpcRetryLayer};
    /// use persevere::{Exponential, RetryPolicyExt, tower::RetryLayer};
    ///
    /// let layer = GrpcRetryLayer::new(
    ///     RetryLayer::new()
    ///         .policy(Exponential::new().with_max_attempts(3))
    ///         .classify(GrpcCodes::new())
    ///         .classify_responses(GrpcResponses::new()),
    /// );
    /// # let _ = layer;
    /// ```
    pub fn new<R>(retry: RetryLayer<P, C, K, N, B, R>) -> Self {
        GrpcRetryLayer {
            retry: retry.replay(ReplayEither),
            limit: DEFAULT_BUFFER_LIMIT,
        }
    }

    /// Keeps request bodies of up to `bytes` for replay; a larger one is
    /// sent once.
    ///
    /// # Examples
    ///
    /// See [`GrpcRetryLayer`].
    pub fn with_buffer_limit(mut self, bytes: usize) -> Self {
        self.limit = bytes;
        self
    }

    /// The largest request body kept for replay.
    ///
    /// # Examples
    ///
    /// See [`GrpcRetryLayer`].
    pub fn buffer_limit(&self) -> usize {
        self.limit
    }

    /// Draws every call's retries from `budget`, as
    /// [`RetryLayer::budget`] does: share a
    /// [`GrpcThrottle`](crate::budget::GrpcThrottle) in an `Arc`.
    ///
    /// # Examples
    ///
    /// See [`GrpcRetryLayer`].
    pub fn budget<B2: RetryBudget>(self, budget: B2) -> GrpcRetryLayer<P, C, K, N, B2> {
        GrpcRetryLayer {
            retry: self.retry.budget(budget),
            limit: self.limit,
        }
    }

    /// Cuts an attempt that runs longer than `timeout` (until the response
    /// headers), as [`RetryLayer::attempt_timeout`] does.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere::tonic::{GrpcRetryLayer, RetryPolicyConfig};
    /// # let config = RetryPolicyConfig::from_json(r#"{"maxAttempts": 2, "initialBackoff": "1s",
    /// #     "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": [14]}"#).unwrap();
    /// use std::time::Duration;
    /// let layer = GrpcRetryLayer::from_config(&config).attempt_timeout(Duration::from_secs(1));
    /// # let _ = layer;
    /// ```
    pub fn attempt_timeout(self, timeout: Duration) -> Self {
        GrpcRetryLayer {
            retry: self.retry.attempt_timeout(timeout),
            limit: self.limit,
        }
    }
}

impl<S, P: Clone, C: Clone, K: Clone, N: Clone, B: Clone> Layer<S>
    for GrpcRetryLayer<P, C, K, N, B>
{
    type Service = GrpcRetryService<S, P, C, K, N, B>;

    fn layer(&self, inner: S) -> Self::Service {
        GrpcRetryService {
            retry: self.retry.layer(TonicBody(inner)),
            limit: self.limit,
        }
    }
}

/// The service of a [`GrpcRetryLayer`]: a `Service<http::Request<tonic::body::Body>>`,
/// as a tonic client needs its transport to be.
///
/// # Examples
///
/// ```
/// use persevere::tonic::{GrpcRetryLayer, RetryPolicyConfig};
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let config = RetryPolicyConfig::from_json(r#"{"maxAttempts": 2, "initialBackoff": "1s",
///     "maxBackoff": "1s", "backoffMultiplier": 1, "retryableStatusCodes": ["UNAVAILABLE"]}"#).unwrap();
/// let transport = service_fn(|_: http::Request<tonic::body::Body>| async {
///     Ok::<_, std::io::Error>(http::Response::new(tonic::body::Body::empty()))
/// });
/// let service = GrpcRetryLayer::from_config(&config).layer(transport);
/// let response = service.oneshot(http::Request::new(tonic::body::Body::empty())).await.unwrap();
/// assert_eq!(response.status(), 200);
/// # }
/// ```
pub struct GrpcRetryService<S, P, C, K, N, B> {
    retry: RetryService<TonicBody<S>, P, C, K, N, B, ReplayEither>,
    limit: usize,
}

impl<S: Clone, P: Clone, C: Clone, K: Clone, N: Clone, B: Clone> Clone
    for GrpcRetryService<S, P, C, K, N, B>
{
    fn clone(&self) -> Self {
        GrpcRetryService {
            retry: self.retry.clone(),
            limit: self.limit,
        }
    }
}

impl<S: Debug, P: Debug, C: Debug, K: Debug, N: Debug, B: Debug> Debug
    for GrpcRetryService<S, P, C, K, N, B>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcRetryService")
            .field("inner", &self.retry.get_ref().0)
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<S, P, C, K, N, B> Service<Request<Body>> for GrpcRetryService<S, P, C, K, N, B>
where
    S: Service<Request<Body>> + Clone,
    S::Error: Debug,
    P: RetryPolicy + Clone,
    C: Classify<S::Error> + Clone,
    K: ClassifyOk<S::Response, Kept = S::Response> + Clone,
    N: Notify<S::Error> + Clone,
    B: RetryBudget + Clone,
{
    type Response = S::Response;
    type Error = RetryError<S::Error>;
    type Future = GrpcResponseFuture<S, P, C, K, N, B>;

    /// Always ready, as [`RetryService`] is.
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: Request<Body>) -> Self::Future {
        // Every gRPC call is an HTTP POST: the retry policy, which the
        // service owner configures per method, is what says it may be sent
        // again (gRPC proposal A6), not the HTTP method.
        req.extensions_mut().insert(Idempotent);
        GrpcResponseFuture {
            call: self.retry.call(keep(req, self.limit)),
        }
    }
}

pin_project! {
    /// The future of a call through a [`GrpcRetryService`]: the tower layer's
    /// [`ResponseFuture`].
    ///
    /// # Cancellation
    ///
    /// Dropping it drops the attempt in flight, or the sleep: no further
    /// attempt starts.
    ///
    /// # Examples
    ///
    /// See [`GrpcRetryService`].
    pub struct GrpcResponseFuture<S, P, C, K, N, B>
    where
        S: Service<Request<Body>>,
    {
        #[pin]
        call: ResponseFuture<TonicBody<S>, Kept, P, C, K, N, B, ReplayEither>,
    }
}

impl<S, P, C, K, N, B> Future for GrpcResponseFuture<S, P, C, K, N, B>
where
    S: Service<Request<Body>> + Clone,
    S::Error: Debug,
    P: RetryPolicy,
    C: Classify<S::Error>,
    K: ClassifyOk<S::Response, Kept = S::Response>,
    N: Notify<S::Error>,
    B: RetryBudget,
{
    type Output = Result<S::Response, RetryError<S::Error>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        self.project().call.poll(cx)
    }
}

impl<S: Service<Request<Body>>, P, C, K, N, B> Debug for GrpcResponseFuture<S, P, C, K, N, B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrpcResponseFuture").finish_non_exhaustive()
    }
}

/// The transport, fed each attempt's request with its body as tonic's.
#[derive(Debug, Clone)]
pub(super) struct TonicBody<S>(S);

impl<S: Service<Request<Body>>> Service<Kept> for TonicBody<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Kept) -> S::Future {
        self.0.call(req.map(into_tonic))
    }
}
