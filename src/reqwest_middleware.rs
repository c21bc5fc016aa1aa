//! A [`reqwest_middleware::Middleware`] that retries with persevere's
//! policies, classifiers and budgets (the `reqwest-middleware` feature): a
//! drop-in for reqwest-retry's `RetryTransientMiddleware`.
//!
//! It sits where `RetryTransientMiddleware` does in a
//! [`ClientWithMiddleware`](::reqwest_middleware::ClientWithMiddleware)'s
//! chain and, like it, answers with the last response when the retries stop
//! on one (a 503 after the last attempt) and with the last error when they
//! stop on an error. On top of it:
//!
//! - persevere's policies, deadlines, attempt timeout, budgets and notify
//!   hook; the stop reason is traced (`WARN giving up`);
//! - `Retry-After` and `x-amz-retry-after` honoured, through
//!   [`classify_response`];
//! - a request whose method is not idempotent is retried only when the
//!   failure proves it was never sent, unless it carries
//!   [`Idempotent`] in its extensions
//!   (`RequestBuilder::with_extension`);
//! - a request whose body is a stream is sent once, never retried;
//! - a request can bring its own policy: [`PolicyOverride`] in its
//!   extensions.
//!
//! An attempt cut by the attempt timeout or the deadline has no error to
//! return: the call then fails with
//! [`Error::Middleware`] holding the
//! [`RetryError`](crate::RetryError).
//!
//! # Examples
//!
//! ```
//! use persevere::reqwest_middleware::RetryMiddleware;
//! use persevere::{Exponential, RetryPolicyExt, budget::TokenBucket};
//! use std::sync::Arc;
//!
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(
//!         RetryMiddleware::new()
//!             .policy(Exponential::new().with_max_attempts(4))
//!             .budget(Arc::new(TokenBucket::new())),
//!     )
//!     .build();
//! # let _ = client;
//! ```

use crate::budget::{NoBudget, RetryBudget};
use crate::classify::http::is_idempotent;
use crate::classify::reqwest::{classify_error, classify_response};
use crate::classify::{Classification, Classify, ClassifyOk, Idempotency, Idempotent};
use crate::guard::ReplayGuard;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::retry::{DefaultPolicy, Retry};
use crate::retry_async::{Lend, drive};
use ::reqwest::{Request, Response};
use ::reqwest_middleware::{Error, Middleware, Next, Result};
use http::Extensions;
use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// Retries the requests that pass through it (see the [module docs](self)).
///
/// # Default
///
/// [`DefaultPolicy`] (3 attempts, exponential backoff with full jitter),
/// [`MiddlewareErrors`], [`ReqwestResponses`], no budget, no notify hook, no
/// attempt timeout.
///
/// # Examples
///
/// See the [module docs](self).
#[derive(Debug, Clone)]
pub struct RetryMiddleware<
    P = DefaultPolicy,
    C = MiddlewareErrors,
    K = ReqwestResponses,
    B = NoBudget,
    N = (),
> {
    policy: P,
    classifier: C,
    responses: K,
    budget: B,
    notify: N,
    attempt_timeout: Option<Duration>,
}

impl RetryMiddleware {
    /// The middleware with the defaults listed under [`RetryMiddleware`].
    ///
    /// # Examples
    ///
    /// ```
    /// let retry = persevere::reqwest_middleware::RetryMiddleware::new();
    /// # let _ = retry;
    /// ```
    pub const fn new() -> Self {
        RetryMiddleware {
            policy: DefaultPolicy,
            classifier: MiddlewareErrors,
            responses: ReqwestResponses,
            budget: NoBudget,
            notify: (),
            attempt_timeout: None,
        }
    }
}

impl Default for RetryMiddleware {
    fn default() -> Self {
        RetryMiddleware::new()
    }
}

impl<P, C, K, B, N> RetryMiddleware<P, C, K, B, N> {
    /// Sets the policy of every request without a [`PolicyOverride`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{presets, reqwest_middleware::RetryMiddleware};
    /// let retry = RetryMiddleware::new().policy(presets::aws_standard());
    /// # let _ = retry;
    /// ```
    pub fn policy<P2: RetryPolicy>(self, policy: P2) -> RetryMiddleware<P2, C, K, B, N> {
        RetryMiddleware {
            policy,
            classifier: self.classifier,
            responses: self.responses,
            budget: self.budget,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Sets the classifier of errors, in place of [`MiddlewareErrors`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Classification, reqwest_middleware::RetryMiddleware};
    /// // Retry only timeouts.
    /// let retry = RetryMiddleware::new().classify(|e: &reqwest_middleware::Error| {
    ///     if e.is_timeout() { Classification::timeout() } else { Classification::terminal() }
    /// });
    /// # let _ = retry;
    /// ```
    pub fn classify<C2>(self, classifier: C2) -> RetryMiddleware<P, C2, K, B, N> {
        RetryMiddleware {
            policy: self.policy,
            classifier,
            responses: self.responses,
            budget: self.budget,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Sets the classifier of responses, in place of [`ReqwestResponses`].
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{Classification, reqwest_middleware::RetryMiddleware};
    /// let retry = RetryMiddleware::new().classify_responses(|r: &reqwest::Response| {
    ///     (r.status() == 503).then(Classification::throttled)
    /// });
    /// # let _ = retry;
    /// ```
    pub fn classify_responses<K2>(self, responses: K2) -> RetryMiddleware<P, C, K2, B, N> {
        RetryMiddleware {
            policy: self.policy,
            classifier: self.classifier,
            responses,
            budget: self.budget,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Draws every request's retries from `budget` (an `Arc` to share it
    /// with other clients).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{budget::RatioBudget, reqwest_middleware::RetryMiddleware};
    /// let retry = RetryMiddleware::new().budget(RatioBudget::new());
    /// # let _ = retry;
    /// ```
    pub fn budget<B2: RetryBudget>(self, budget: B2) -> RetryMiddleware<P, C, K, B2, N> {
        RetryMiddleware {
            policy: self.policy,
            classifier: self.classifier,
            responses: self.responses,
            budget,
            notify: self.notify,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Sets the hook that hears about each failed attempt before its retry
    /// (cloned for each request).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::{RetryEvent, reqwest_middleware::RetryMiddleware};
    /// let retry = RetryMiddleware::new().notify(|e: &RetryEvent<'_, reqwest_middleware::Error>| {
    ///     eprintln!("attempt {} failed, retrying in {:?}", e.attempt(), e.delay());
    /// });
    /// # let _ = retry;
    /// ```
    pub fn notify<N2>(self, notify: N2) -> RetryMiddleware<P, C, K, B, N2> {
        RetryMiddleware {
            policy: self.policy,
            classifier: self.classifier,
            responses: self.responses,
            budget: self.budget,
            notify,
            attempt_timeout: self.attempt_timeout,
        }
    }

    /// Cuts an attempt (the rest of the chain, up to the response head) that
    /// runs longer than `timeout`; it counts as a retryable timeout.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::reqwest_middleware::RetryMiddleware;
    /// use std::time::Duration;
    /// let retry = RetryMiddleware::new().attempt_timeout(Duration::from_secs(2));
    /// # let _ = retry;
    /// ```
    pub fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }
}

/// A request's own policy, in place of the middleware's: insert it with
/// `RequestBuilder::with_extension`.
///
/// # Examples
///
/// ```
/// use persevere::reqwest_middleware::{PolicyOverride, RetryMiddleware};
/// use persevere::{Fixed, RetryPolicyExt};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(RetryMiddleware::new())
///     .build();
/// // This one request gets a single attempt.
/// let request = client
///     .get("http://127.0.0.1:9/")
///     .with_extension(PolicyOverride::new(Fixed::new(Duration::ZERO).with_max_attempts(1)));
/// # let _ = request;
/// # }
/// ```
#[derive(Clone)]
pub struct PolicyOverride(Arc<dyn RetryPolicy>);

impl PolicyOverride {
    /// Wraps `policy` (allocated once, shared by the clones).
    ///
    /// # Examples
    ///
    /// See [`PolicyOverride`].
    pub fn new(policy: impl RetryPolicy + 'static) -> Self {
        PolicyOverride(Arc::new(policy))
    }
}

impl fmt::Debug for PolicyOverride {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PolicyOverride")
    }
}

/// The default classifier of errors: reqwest's own errors by
/// [`classify_error`], errors of other middleware terminal.
///
/// # Examples
///
/// ```
/// use persevere::Classify;
/// use persevere::reqwest_middleware::MiddlewareErrors;
///
/// let other = reqwest_middleware::Error::middleware(std::io::Error::other("auth failed"));
/// assert!(MiddlewareErrors.classify(&other).is_terminal());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct MiddlewareErrors;

impl Classify<Error> for MiddlewareErrors {
    fn classify(&self, error: &Error) -> Classification {
        match error {
            Error::Reqwest(error) => classify_error(error),
            _ => Classification::terminal(),
        }
    }
}

/// The default classifier of responses: a retryable status (429, 503, …)
/// is retried after the delay its headers ask for; every other response is
/// the answer.
///
/// # Examples
///
/// ```
/// use persevere::classify::ClassifyOk;
/// use persevere::reqwest_middleware::ReqwestResponses;
///
/// let busy = reqwest::Response::from(http::Response::builder().status(503).body("").unwrap());
/// assert!(ReqwestResponses.check(busy).is_err());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct ReqwestResponses;

impl ClassifyOk<Response> for ReqwestResponses {
    type Kept = Response;

    fn check(
        &self,
        response: Response,
    ) -> std::result::Result<Response, (Response, Classification)> {
        let verdict = classify_response(&response);
        if verdict.is_retryable() {
            Err((response, verdict))
        } else {
            Ok(response)
        }
    }
}

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
