//! A [`tower`] layer that retries an `http::Request` service with
//! persevere's policies, classifiers, budgets and hooks (the `tower`
//! feature).
//!
//! [`RetryLayer`] wraps a service (a hyper-util client, a tonic channel, an
//! axum router) into a [`RetryService`]. Each request is one retrying call:
//!
//! - the policy, the attempt timeout and the policy's deadline bound it, as
//!   for [`retry`](crate::retry);
//! - errors are classified by the layer's [`Classify`](crate::Classify)
//!   ([`AlwaysRetry`](crate::AlwaysRetry) unless set; use
//!   [`IoErrors`](crate::classify::io::IoErrors) for hyper-util's errors),
//!   and responses by a [`ClassifyOk`](crate::classify::ClassifyOk),
//!   [`HttpResponses`] unless set: 429, 5xx and friends with `Retry-After`
//!   and `x-amz-retry-after` read by
//!   [`classify_parts`](crate::classify::http::classify_parts);
//! - a request whose method is not idempotent (`POST`, `PATCH`) is retried
//!   only when the failure proves it was never sent, as
//!   [`Idempotency`](crate::classify::Idempotency) says, unless it carries
//!   the [`Idempotent`] extension;
//! - a budget shared by the layer's clones caps the retries of all requests.
//!
//! When the retries stop on a response (a 503 after the last attempt), that
//! response is the service's answer, as with tower's and reqwest-retry's
//! retries; when they stop on an error, the service fails with a
//! [`RetryError`](crate::RetryError) that says why and after how many
//! attempts.
//!
//! # Replaying requests
//!
//! A request is sent again only if it can be replayed, as its
//! [`Replay`] says. With [`ReplayClone`], the default, the request type must
//! be `Clone` (`http::Request<Full<Bytes>>`, `Request<String>`): each attempt
//! sends a clone, the original is kept for the next. With [`ReplayEither`], a
//! request whose body is `Either::Left` (in memory) is replayed and one whose
//! body is `Either::Right` (a stream) is **sent once and never retried**: its
//! failure stops the call with
//! [`StopReason::NotReplayable`](crate::StopReason::NotReplayable), whatever
//! the classifier says.
//!
//! # Why a layer of its own, not `tower::retry::Policy`
//!
//! `tower::retry::Policy` sees each result and returns a future to wait on;
//! it cannot cut an attempt that runs too long (attempt timeout, deadline),
//! and it mutates a policy cloned per request. Here the layer wires the core
//! [`RetryFuture`](crate::RetryFuture) to the service, so the adapter has no
//! retry loop or backoff of its own: the same decisions, deadlines, budgets,
//! notify hook and tracing as every other persevere call.
//!
//! # Readiness
//!
//! The service is always ready: each attempt drives its own clone of the
//! inner service to readiness (tower's `Oneshot`), so waiting for readiness
//! counts towards the attempt timeout, and a readiness error is the
//! attempt's error, classified like any other.
//!
//! # Examples
//!
//! ```
//! use persevere::tower::RetryLayer;
//! use persevere::{Exponential, RetryPolicyExt, budget::TokenBucket};
//! use std::sync::Arc;
//! use std::time::Duration;
//! use tower::{ServiceBuilder, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let calls = Arc::new(std::sync::atomic::AtomicU32::new(0));
//! let counted = calls.clone();
//! let backend = service_fn(move |_: http::Request<String>| {
//!     let n = counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
//!     let status = if n < 2 { 503 } else { 200 };
//!     async move { Ok::<_, std::io::Error>(http::Response::builder().status(status).body(()).unwrap()) }
//! });
//! let client = ServiceBuilder::new()
//!     .layer(
//!         RetryLayer::new()
//!             .policy(Exponential::new().with_max_attempts(4))
//!             .budget(Arc::new(TokenBucket::new()))
//!             .attempt_timeout(Duration::from_secs(5)),
//!     )
//!     .service(backend);
//! let response = client.oneshot(http::Request::new(String::from("hi"))).await.unwrap();
//! assert_eq!((response.status().as_u16(), calls.load(std::sync::atomic::Ordering::SeqCst)), (200, 3));
//! # }
//! ```

mod future;
mod layer;
mod replay;
mod responses;
mod service;

pub use future::ResponseFuture;
pub use layer::RetryLayer;
pub use replay::{Replay, ReplayClone, ReplayEither};
pub use responses::HttpResponses;
pub use service::RetryService;
// The op that sends each attempt's copy, for the hedging layer too.
pub(crate) use service::Attempts;

pub use crate::classify::Idempotent;
