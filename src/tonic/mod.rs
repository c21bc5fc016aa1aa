//! gRPC retries for tonic clients (the `tonic` feature): classify
//! [`tonic::Status`] codes and trailers-only responses, read the server's
//! `grpc-retry-pushback-ms`, build policies from a service config's
//! `retryPolicy` and `retryThrottling` JSON, and retry a tonic client's
//! calls with a layer over its `Channel`.
//!
//! - [`GrpcCodes`] is the set of retryable codes and the classifier of
//!   errors: `UNAVAILABLE` (transient) and `RESOURCE_EXHAUSTED` (throttled)
//!   by default, `DEADLINE_EXCEEDED` (a timeout) only when added, every other
//!   code terminal; a negative or malformed pushback makes any code terminal.
//! - [`GrpcResponses`] classifies what the transport returns: a tonic client
//!   turns a trailers-only `http::Response` (`grpc-status` in its headers)
//!   into a `Status`, so below the client a failed call is a response, not an
//!   error.
//! - [`ServiceConfig`] and [`RetryPolicyConfig`] read a service config
//!   (serde_json), checked as gRPC's C-core checks it: a malformed config is
//!   a [`ServiceConfigError`], never a panic; [`GrpcRetryPolicy`] is its
//!   schedule (A6's full jitter, at most 5 attempts), and
//!   [`ServiceConfig::throttle`] its [`GrpcThrottle`](crate::budget::GrpcThrottle).
//! - [`GrpcRetryLayer`] wraps the `Channel`, so the generated client
//!   (`HealthClient::new(service)`) retries every call.
//!
//! # Replaying a call
//!
//! A tonic request's body (`tonic::body::Body`) is a stream that encodes
//! the messages as it is read, so it cannot be cloned, and the tower layer's
//! [`Replay`](crate::tower::Replay) is synchronous. [`GrpcRetryService`]
//! therefore reads the body into memory before the first attempt, and hands
//! the tower layer a request whose body is either kept (`Either::Left`,
//! replayed from the buffer) or not (`Either::Right`, sent once, with
//! [`ReplayEither`](crate::tower::ReplayEither)). A body is kept when it ends
//! within the [buffer limit](GrpcRetryLayer::with_buffer_limit) (64 KiB by
//! default) *without making the reader wait*: a unary or finite
//! client-streaming call. A larger body, or a live stream (a client-streaming
//! or bidirectional call whose messages come later), is sent once, as the
//! tower layer sends any request it cannot replay, and its failure stops the
//! call with [`StopReason::NotReplayable`](crate::StopReason::NotReplayable).
//! Waiting for a live stream to end would deadlock a bidirectional call
//! whose client waits for the server's reply before sending more.
//!
//! # One retry implementation
//!
//! The layer has no retry loop of its own: after keeping the body it calls a
//! [`RetryService`](crate::tower::RetryService), so a gRPC call gets the
//! same decisions, deadlines, budgets, attempt timeout, notify hook and
//! tracing as every other persevere call, and a fix to one is a fix to all.
//! A second loop written for gRPC would have to stay in step with the core
//! by hand.
//!
//! # Idempotency
//!
//! Every gRPC call is an HTTP `POST`, which the tower layer does not replay
//! on its own. Here every call carries the
//! [`Idempotent`](crate::classify::Idempotent) extension: in gRPC the
//! service owner's retry policy, with its list of retryable codes, is the
//! statement that a method may be retried (proposal A6).
//!
//! # What is retried
//!
//! As in A6, a call is retried only before it is committed: while the
//! response headers say it failed (trailers-only) or no response came. Once
//! a reply has started, its status arrives in the trailers after the
//! messages, and the tonic client reports it; the layer has already handed
//! the response on. Wrap the client's own method in
//! [`retry`](crate::retry) with [`GrpcCodes`] to retry on those
//! statuses too.
//!
//! One layer retries with one policy. A service config with different
//! policies per method needs a layer (over a clone of the same `Channel`)
//! per policy: [`ServiceConfig::retry_policy`] finds each method's.
//!
//! # Why tonic 0.13
//!
//! tonic 0.14 needs Rust 1.88, newer than persevere's `rust-version` (1.85);
//! 0.13 declares 1.75 and uses the same tower 0.5, hyper 1 and http 1.
//!
//! # Examples
//!
//! A transport that fails twice with `UNAVAILABLE` and a pushback of 50 ms,
//! then answers (the tests do the same through a real tonic server and
//! client on 127.0.0.1):
//!
//! ```
//! use persevere::tonic::{GrpcRetryLayer, ServiceConfig};
//! use std::sync::{Arc, atomic::{AtomicU32, Ordering}};
//! use std::time::Duration;
//! use tonic::body::Body;
//! use tower::{Layer, ServiceExt, service_fn};
//!
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! let config = ServiceConfig::from_json(r#"{
//!     "methodConfig": [{"name": [{}], "retryPolicy": {"maxAttempts": 4, "initialBackoff": "0.1s",
//!         "maxBackoff": "1s", "backoffMultiplier": 2, "retryableStatusCodes": ["UNAVAILABLE"]}}]
//! }"#).unwrap();
//! let policy = config.retry_policy("any.Service", "Method").unwrap();
//! let calls = Arc::new(AtomicU32::new(0));
//! let counted = calls.clone();
//! let transport = service_fn(move |_: http::Request<Body>| {
//!     let failed = counted.fetch_add(1, Ordering::SeqCst) < 2;
//!     async move {
//!         let mut response = http::Response::builder();
//!         if failed {
//!             response = response.header("grpc-status", "14").header("grpc-retry-pushback-ms", "50");
//!         }
//!         Ok::<_, std::io::Error>(response.body(Body::empty()).unwrap())
//!     }
//! });
//! let start = tokio::time::Instant::now();
//! let service = GrpcRetryLayer::from_config(&policy).layer(transport);
//! let response = service.oneshot(http::Request::new(Body::empty())).await.unwrap();
//! assert!(response.headers().get("grpc-status").is_none());
//! assert_eq!(calls.load(Ordering::SeqCst), 3);
//! assert_eq!(start.elapsed(), Duration::from_millis(100));
//! # }
//! ```

mod body;
mod codes;
mod config;
mod layer;
mod policy;
mod pushback;
mod responses;
mod service_config;

pub use codes::GrpcCodes;
pub use config::{RetryPolicyConfig, ServiceConfigError};
pub use layer::{DEFAULT_BUFFER_LIMIT, GrpcResponseFuture, GrpcRetryLayer, GrpcRetryService};
pub use policy::{GrpcRetryPolicy, MAX_ATTEMPTS};
pub use pushback::{PUSHBACK_HEADER, Pushback};
pub use responses::GrpcResponses;
pub use service_config::ServiceConfig;
