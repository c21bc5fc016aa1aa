//! The service: one retrying call per request, and the op that sends each
//! attempt's copy through a clone of the inner service.

use super::future::ResponseFuture;
use super::{Replay, RetryLayer};
use crate::MakeAttempt;
use crate::budget::RetryBudget;
use crate::classify::http::is_idempotent;
use crate::classify::{Classify, ClassifyOk, Idempotency, Idempotent};
use crate::error::RetryError;
use crate::future::RetryFuture;
use crate::guard::ReplayGuard;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::retry::Retry;
use ::tower::Service;
use ::tower::util::Oneshot;
use http::Request;
use std::fmt::{self, Debug};
use std::task::{Context, Poll};

/// A service that retries the requests of `S`; made by [`RetryLayer`].
///
/// # Examples
///
/// ```
/// use persevere::tower::{RetryLayer, RetryService};
/// use tower::service_fn;
///
/// let inner = service_fn(|_: http::Request<()>| async {
///     Ok::<_, std::io::Error>(http::Response::new(()))
/// });
/// let service = RetryService::new(inner, RetryLayer::new());
/// # let _ = service;
/// ```
#[derive(Debug, Clone)]
pub struct RetryService<S, P, C, K, N, B, R> {
    inner: S,
    config: RetryLayer<P, C, K, N, B, R>,
}

impl<S, P, C, K, N, B, R> RetryService<S, P, C, K, N, B, R> {
    /// Wraps `inner`, retrying as `config` says.
    ///
    /// # Examples
    ///
    /// See [`RetryService`].
    pub fn new(inner: S, config: RetryLayer<P, C, K, N, B, R>) -> Self {
        RetryService { inner, config }
    }

    /// The wrapped service.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tower::{RetryLayer, RetryService};
    /// let service = RetryService::new(5u8, RetryLayer::new());
    /// assert_eq!(*service.get_ref(), 5);
    /// ```
    pub fn get_ref(&self) -> &S {
        &self.inner
    }
}

impl<S, Body, P, C, K, N, B, R> Service<Request<Body>> for RetryService<S, P, C, K, N, B, R>
where
    S: Service<Request<Body>> + Clone,
    S::Error: Debug,
    P: RetryPolicy + Clone,
    C: Classify<S::Error> + Clone,
    K: ClassifyOk<S::Response, Kept = S::Response> + Clone,
    N: Notify<S::Error> + Clone,
    B: RetryBudget + Clone,
    R: Replay<Request<Body>> + Clone,
{
    type Response = S::Response;
    type Error = RetryError<S::Error>;
    type Future = ResponseFuture<S, Request<Body>, P, C, K, N, B, R>;

    /// Always ready: each attempt waits for its own clone of the inner
    /// service (see the [module docs](super#readiness)).
    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: Request<Body>) -> Self::Future {
        let idempotent =
            is_idempotent(req.method()) || req.extensions().get::<Idempotent>().is_some();
        let config = &self.config;
        let (op, replayable) = Attempts::new(self.inner.clone(), config.replay.clone(), req);
        let retry = Retry {
            op,
            policy: ReplayGuard::new(config.policy.clone(), replayable),
            classifier: Idempotency::new(config.classifier.clone(), idempotent),
            notify: config.notify.clone(),
            attempt_timeout: config.attempt_timeout,
            seed: None,
            budget: config.budget.clone(),
            ok: Idempotency::new(config.responses.clone(), idempotent),
        };
        ResponseFuture::new(RetryFuture::new(retry))
    }
}

/// Where each attempt's request comes from.
enum Source<Req, Kept> {
    /// A replayable request: each attempt sends a copy.
    Kept(Kept),
    /// A request sent once: its one attempt takes it.
    Once(Option<Req>),
}

/// The op of one request's call: sends each attempt's request through a
/// clone of the inner service, driven to readiness first.
pub(crate) struct Attempts<S, Req, R: Replay<Req>> {
    service: S,
    replay: R,
    source: Source<Req, R::Kept>,
}

impl<S, Req, R: Replay<Req>> Attempts<S, Req, R> {
    /// The op of one call sending `req` through clones of `service`, and
    /// whether `replay` can send it more than once.
    pub(crate) fn new(service: S, replay: R, req: Req) -> (Self, bool) {
        let (source, replayable) = match replay.keep(req) {
            Ok(kept) => (Source::Kept(kept), true),
            Err(req) => (Source::Once(Some(req)), false),
        };
        let op = Attempts {
            service,
            replay,
            source,
        };
        (op, replayable)
    }
}

impl<S, Req, R> MakeAttempt<Oneshot<S, Req>> for Attempts<S, Req, R>
where
    S: Service<Req> + Clone,
    R: Replay<Req>,
{
    fn attempt(&mut self, _: u32) -> Oneshot<S, Req> {
        let req = match &mut self.source {
            Source::Kept(kept) => self.replay.copy(kept),
            // `ReplayGuard` stops every call whose request is not replayable
            // after its first attempt, so a second attempt never comes here.
            Source::Once(req) => req
                .take()
                .expect("a request that cannot be replayed is never retried"),
        };
        Oneshot::new(self.service.clone(), req)
    }
}

impl<S, Req, R: Replay<Req>> Debug for Attempts<S, Req, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Attempts")
            .field("replayable", &matches!(self.source, Source::Kept(_)))
            .finish_non_exhaustive()
    }
}
