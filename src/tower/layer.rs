//! The layer: the configuration every request's retrying call is made from.

use super::{HttpResponses, ReplayClone, RetryService};
use crate::budget::{NoBudget, RetryBudget};
use crate::classify::AlwaysRetry;
use crate::policy::RetryPolicy;
use crate::retry::DefaultPolicy;
use std::time::Duration;

/// A [`tower::Layer`](::tower::Layer) that retries the requests of the
/// service it wraps (see the [module docs](super)).
///
/// Its parts are cloned for each request: keep them small, and share a
/// budget or a hook's state through an `Arc`.
///
/// # Default
///
/// [`DefaultPolicy`] (3 attempts, exponential backoff with full jitter),
/// [`AlwaysRetry`] for errors, [`HttpResponses`] for responses, no notify
/// hook, no budget, no attempt timeout, [`ReplayClone`].
///
/// # Examples
///
/// ```
/// use persevere::tower::RetryLayer;
/// use tower::{Layer, ServiceExt, service_fn};
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let echo = service_fn(|req: http::Request<String>| async move {
///     Ok::<_, std::io::Error>(http::Response::new(req.into_body()))
/// });
/// let service = RetryLayer::new().layer(echo);
/// let response = service.oneshot(http::Request::new("ping".into())).await.unwrap();
/// assert_eq!(response.body(), "ping");
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct RetryLayer<
    P = DefaultPolicy,
    C = AlwaysRetry,
    K = HttpResponses,
    N = (),
    B = NoBudget,
    R = ReplayClone,
> {
    pub(super) policy: P,
    pub(super) classifier: C,
    pub(super) responses: K,
    pub(super) notify: N,
    pub(super) budget: B,
    pub(super) replay: R,
    pub(super) attempt_timeout: Option<Duration>,
}

impl RetryLayer {
    /// The layer with the defaults listed under [`RetryLayer`].
    ///
    /// # Examples
    ///
    /// See [`RetryLayer`].
    pub const fn new() -> Self {
        RetryLayer {
            policy: DefaultPolicy,
            classifier: AlwaysRetry,
            responses: HttpResponses,
            notify: (),
            budget: NoBudget,
            replay: ReplayClone,
            attempt_timeout: None,
        }
    }
}

impl Default for RetryLayer {
    fn default() -> Self {
        RetryLayer::new()
    }
}

impl<P, C, K, N, B, R> RetryLayer<P, C, K, N, B, R> {
    /// Sets the policy, as [`Retry::policy`](crate::Retry::policy) does.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{presets, tower::RetryLayer};
    /// let layer = RetryLayer::new().policy(presets::aws_standard());
    /// # let _ = layer;
    /// ```
    pub fn policy<P2: RetryPolicy>(self, policy: P2) -> RetryLayer<P2, C, K, N, B, R> {
        RetryLayer {
            policy,
            classifier: self.classifier,
            responses: self.responses,
            notify: self.notify,
            budget: self.budget,
            replay: self.replay,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Sets the classifier of the inner service's errors.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{classify::io::IoErrors, tower::RetryLayer};
    /// let layer = RetryLayer::new().classify(IoErrors);
    /// # let _ = layer;
    /// ```
    pub fn classify<C2>(self, classifier: C2) -> RetryLayer<P, C2, K, N, B, R> {
        RetryLayer {
            policy: self.policy,
            classifier,
            responses: self.responses,
            notify: self.notify,
            budget: self.budget,
            replay: self.replay,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Sets the classifier of responses (a
    /// [`ClassifyOk`](crate::classify::ClassifyOk) over the inner service's
    /// response type), in place of [`HttpResponses`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Classification, tower::RetryLayer};
    /// // Retry only 503, and ignore its Retry-After.
    /// let layer = RetryLayer::new().classify_responses(|r: &http::Response<()>| {
    ///     (r.status() == 503).then(Classification::throttled)
    /// });
    /// # let _ = layer;
    /// ```
    pub fn classify_responses<K2>(self, responses: K2) -> RetryLayer<P, C, K2, N, B, R> {
        RetryLayer {
            policy: self.policy,
            classifier: self.classifier,
            responses,
            notify: self.notify,
            budget: self.budget,
            replay: self.replay,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Sets the hook that hears about each failed attempt before its retry
    /// (cloned for each request).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryEvent, tower::RetryLayer};
    /// let layer = RetryLayer::new().notify(|e: &RetryEvent<'_, std::io::Error>| {
    ///     eprintln!("attempt {} failed, retrying in {:?}", e.attempt(), e.delay());
    /// });
    /// # let _ = layer;
    /// ```
    pub fn notify<N2>(self, notify: N2) -> RetryLayer<P, C, K, N2, B, R> {
        RetryLayer {
            policy: self.policy,
            classifier: self.classifier,
            responses: self.responses,
            notify,
            budget: self.budget,
            replay: self.replay,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Draws every request's retries from `budget`: pass an `Arc`, so that
    /// all requests through the layer (and its clones) share it.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{budget::RatioBudget, tower::RetryLayer};
    /// use std::sync::Arc;
    /// let layer = RetryLayer::new().budget(Arc::new(RatioBudget::new()));
    /// # let _ = layer;
    /// ```
    pub fn budget<B2: RetryBudget>(self, budget: B2) -> RetryLayer<P, C, K, N, B2, R> {
        RetryLayer {
            policy: self.policy,
            classifier: self.classifier,
            responses: self.responses,
            notify: self.notify,
            budget,
            replay: self.replay,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Sets which requests are replayed, and how (see [`Replay`](super::Replay)).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tower::{ReplayEither, RetryLayer};
    /// let layer = RetryLayer::new().replay(ReplayEither);
    /// # let _ = layer;
    /// ```
    pub fn replay<R2>(self, replay: R2) -> RetryLayer<P, C, K, N, B, R2> {
        RetryLayer {
            policy: self.policy,
            classifier: self.classifier,
            responses: self.responses,
            notify: self.notify,
            budget: self.budget,
            replay,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Cuts an attempt (readiness, request and response head) that runs
    /// longer than `timeout`; it counts as a retryable timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tower::RetryLayer;
    /// use std::time::Duration;
    /// let layer = RetryLayer::new().attempt_timeout(Duration::from_secs(2));
    /// # let _ = layer;
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }
}

impl<S, P: Clone, C: Clone, K: Clone, N: Clone, B: Clone, R: Clone> ::tower::Layer<S>
    for RetryLayer<P, C, K, N, B, R>
{
    type Service = RetryService<S, P, C, K, N, B, R>;

    fn layer(&self, inner: S) -> Self::Service {
        RetryService::new(inner, self.clone())
    }
}
