//! The `Middleware` impl: one retrying call per request, whose attempts
//! send copies of the request down the rest of the chain.

use super::{PolicyOverride, RetryMiddleware};
use crate::budget::RetryBudget;
use crate::classify::http::is_idempotent;
use crate::classify::{Classify, ClassifyOk, Idempotency, Idempotent};
use crate::guard::ReplayGuard;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::retry::Retry;
use crate::retry_async::{Lend, drive};
use ::reqwest::{Request, Response};
use ::reqwest_middleware::{Error, Middleware, Next, Result};
use http::Extensions;
use std::future::Future;

/// What an attempt fails with if it has no request to send: never, as a
/// request that cannot be replayed gets one attempt.
#[derive(Debug, thiserror::Error)]
#[error("the request cannot be sent again: its body is a stream")]
struct NotReplayable;

#[async_trait::async_trait]
impl<P, C, K, B, N> Middleware for RetryMiddleware<P, C, K, B, N>
where
    P: RetryPolicy + 'static,
    C: Classify<Error> + Clone + Send + Sync + 'static,
    K: ClassifyOk<Response, Kept = Response> + Clone + Send + Sync + 'static,
    B: RetryBudget + 'static,
    N: Notify<Error> + Clone + Send + Sync + 'static,
{
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let idempotent = is_idempotent(req.method()) || extensions.get::<Idempotent>().is_some();
        let replayable = req.body().is_none_or(|body| body.as_bytes().is_some());
        let own = extensions.get::<PolicyOverride>().cloned();
        let policy: &dyn RetryPolicy = match &own {
            Some(PolicyOverride(policy)) => &**policy,
            None => &self.policy,
        };
        let op = Attempts {
            next,
            extensions,
            original: Some(req),
            replayable,
        };
        let call = Retry {
            op,
            policy: ReplayGuard::new(policy, replayable),
            classifier: Idempotency::new(self.classifier.clone(), idempotent),
            notify: self.notify.clone(),
            attempt_timeout: self.attempt_timeout,
            seed: None,
            budget: &self.budget,
            ok: Idempotency::new(self.responses.clone(), idempotent),
        };
        match drive(call).await {
            Ok(response) => Ok(response),
            Err(stopped) => match stopped.split_value() {
                Ok(response) => Ok(response),
                Err(stopped) => Err(match stopped.into_error() {
                    Ok(error) => error,
                    Err(timed_out) => Error::middleware(timed_out),
                }),
            },
        }
    }
}

/// The op of one request's call: each attempt sends a copy of the request
/// (or, for a streamed body, the request itself, once) down the rest of the
/// chain, lending it the request's extensions.
struct Attempts<'a> {
    next: Next<'a>,
    extensions: &'a mut Extensions,
    original: Option<Request>,
    replayable: bool,
}

impl Lend for Attempts<'_> {
    type Ok = Response;
    type Err = Error;

    fn attempt(&mut self, _: u32) -> impl Future<Output = Result<Response>> {
        let req = match self.replayable {
            true => self.original.as_ref().and_then(Request::try_clone),
            false => self.original.take(),
        };
        let next = self.next.clone();
        let extensions = &mut *self.extensions;
        async move {
            match req {
                Some(req) => next.run(req, extensions).await,
                None => Err(Error::middleware(NotReplayable)),
            }
        }
    }
}
