#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

mod blocking;
pub mod budget;
mod call;
pub mod classify;
mod elapsed;
mod error;
mod future;
#[cfg(any(feature = "tower", feature = "reqwest-middleware"))]
mod guard;
pub mod hedge;
mod jitter;
mod long_polling;
mod notify;
pub mod policy;
#[cfg(feature = "reqwest-middleware")]
pub mod reqwest_middleware;
mod retry;
mod retry_async;
mod rng;
pub mod testing;
#[cfg(feature = "tonic")]
#[cfg_attr(docsrs, doc(cfg(feature = "tonic")))]
pub mod tonic;
#[cfg(feature = "tower")]
pub mod tower;

pub use classify::{AlwaysRetry, Classification, Classify, RetryKind};
pub use error::{ConfigError, RetryError, StopReason};
pub use future::{MakeAttempt, RetryFuture};
pub use hedge::{hedge, hedge_with_attempt};
pub use jitter::Jitter;
pub use long_polling::{LongPolling, LongPollingFuture};
pub use notify::{Notify, RetryEvent};
pub use policy::{
    AttemptContext, DEFAULT_POLICY, Decision, DefaultPolicy, Exponential, Fixed, Limited,
    RetryPolicy, RetryPolicyExt, Schedule, presets, schedule,
};
pub use retry::{Retry, retry, retry_with_attempt};
pub use retry_async::{AsyncOp, retry_async};
pub use rng::JitterRng;
