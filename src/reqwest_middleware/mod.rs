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
//!   [`classify_response`](crate::classify::reqwest::classify_response);
//! - a request whose method is not idempotent is retried only when the
//!   failure proves it was never sent, unless it carries
//!   [`Idempotent`](crate::classify::Idempotent) in its extensions
//!   (`RequestBuilder::with_extension`);
//! - a request whose body is a stream is sent once, never retried;
//! - a request can bring its own policy: [`PolicyOverride`] in its
//!   extensions.
//!
//! An attempt cut by the attempt timeout or the deadline has no error to
//! return: the call then fails with
//! [`Error::Middleware`](::reqwest_middleware::Error::Middleware) holding the
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

mod middleware;
mod parts;

pub use parts::{MiddlewareErrors, PolicyOverride, ReqwestResponses};

use crate::budget::{NoBudget, RetryBudget};
use crate::policy::RetryPolicy;
use crate::retry::DefaultPolicy;
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
