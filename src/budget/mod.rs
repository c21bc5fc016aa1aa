//! Retry budgets: a cap on retries shared by many calls.
//!
//! A policy limits the retries of *one* call; a budget limits the retries of
//! *all* the calls that share it. Plug one into a call with
//! [`Retry::budget`](crate::Retry::budget); share it between calls by
//! reference or in an [`Arc`].
//!
//! | budget | retries allowed | source |
//! |---|---|---|
//! | [`TokenBucket`] | while a bucket of 500 tokens can pay 5 (throttling) or 14 (other) per retry; a retried success refunds the latest retry | AWS SDKs, standard retry mode (2.1) |
//! | [`GrpcThrottle`] | while the token count, -1 per failure and +ratio per success, is above half its maximum | gRPC retry design (A6), `retryThrottling` |
//! | [`RatioBudget`] | at most 10 % of calls over a sliding window, plus a floor per second | Google SRE book, Linkerd, tower |
//! | [`AdaptiveThrottle`] | rejected locally with probability `max(0, (requests - K * accepts) / (requests + 1))` | Google SRE book, "Handling Overload" |
//! | [`ClientRateLimiter`] | all; every attempt, the first included, waits for a token while the server throttles | AWS SDKs, adaptive retry mode |
//! | [`AwsAdaptive`] | as [`TokenBucket`], with the [`ClientRateLimiter`] | AWS SDKs, adaptive retry mode |
//!
//! Budgets and rate limiters share one extension point, [`RetryBudget`]: a
//! budget refuses retries ([`try_withdraw`](RetryBudget::try_withdraw)), a
//! limiter delays attempts ([`before_attempt`](RetryBudget::before_attempt)).
//!
//! # Why budgets
//!
//! Retries multiply load exactly when a service is down: with 3 attempts per
//! call, an outage triples the traffic that reaches the failing dependency,
//! and 3 layers of 3 attempts make it 27 times. A budget lets retries through
//! while failures are rare, and stops them when most calls fail, so that an
//! outage costs about one attempt per call. The `storm` example simulates it.
//!
//! # Examples
//!
//! ```
//! # #[tokio::main(flavor = "current_thread", start_paused = true)]
//! # async fn main() {
//! use persevere::{StopReason, budget::TokenBucket};
//!
//! // A bucket of 20 tokens pays for one retry of a transient error (14).
//! let bucket = TokenBucket::new().with_capacity(20);
//! let err = persevere::retry(|| async { Err::<(), _>("reset") })
//!     .budget(&bucket)
//!     .await
//!     .unwrap_err();
//! assert_eq!(err.reason(), StopReason::BudgetExhausted);
//! assert_eq!(err.attempts(), 2);
//! assert_eq!(bucket.available(), 6);
//! # }
//! ```

mod adaptive;
mod aws_adaptive;
mod cubic;
mod grpc;
mod rate_limiter;
mod ratio;
mod token_bucket;
mod window;

pub use adaptive::AdaptiveThrottle;
pub use aws_adaptive::AwsAdaptive;
pub use grpc::GrpcThrottle;
pub use rate_limiter::ClientRateLimiter;
pub use ratio::RatioBudget;
pub use token_bucket::{Refund, TokenBucket};

use crate::classify::RetryKind;
use std::sync::Arc;
use std::time::Duration;

/// A cap on retries, shared by the calls that use it.
///
/// The combinator calls [`try_withdraw`](Self::try_withdraw) before each
/// retry and stops with
/// [`StopReason::BudgetExhausted`](crate::StopReason::BudgetExhausted) when
/// it refuses. It reports every attempt's outcome so that the budget can
/// earn tokens back. Every method must be cheap and must not block for long:
/// it runs on every call.
///
/// The trait is object-safe, and implemented for `&B` and `Arc<B>`, so one
/// budget serves many calls.
///
/// # Examples
///
/// A budget that allows a fixed number of retries in all:
///
/// ```
/// use persevere::{RetryKind, StopReason, budget::RetryBudget};
/// use std::sync::atomic::{AtomicU32, Ordering};
///
/// struct Allowance(AtomicU32);
///
/// impl RetryBudget for Allowance {
///     fn try_withdraw(&self, _kind: RetryKind) -> Option<u32> {
///         self.0
///             .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
///             .ok()
///             .map(|_| 1)
///     }
/// }
///
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// let allowance = Allowance(AtomicU32::new(3));
/// for _ in 0..2 {
///     let _ = persevere::retry(|| async { Err::<(), _>("down") }).budget(&allowance).await;
/// }
/// // The first call retried twice, the second once before the allowance ran out.
/// assert_eq!(allowance.0.load(Ordering::Relaxed), 0);
/// # }
/// ```
pub trait RetryBudget: Send + Sync {
    /// Asks to retry after a failure of `kind`: the number of tokens taken
    /// (given back to [`on_success`](Self::on_success)), or `None` to refuse.
    fn try_withdraw(&self, kind: RetryKind) -> Option<u32>;

    /// How long the attempt about to start must wait, for a rate limiter
    /// such as [`ClientRateLimiter`]; `None` when it would have to wait
    /// longer than `max_wait` (then it must take nothing: the call stops with
    /// [`StopReason::RateLimited`](crate::StopReason::RateLimited) and makes
    /// no attempt). The default is no wait.
    ///
    /// `retry_of` is `None` for a call's first attempt, which waits right
    /// before it starts. For a retry it is the kind of the failure, and it is
    /// asked when the retry is decided, after
    /// [`try_withdraw`](Self::try_withdraw) granted it: the call then sleeps
    /// the longer of the policy's delay and this wait. `max_wait` is what the
    /// call's deadline and attempt timeout allow (`None`: no limit).
    fn before_attempt(
        &self,
        retry_of: Option<RetryKind>,
        max_wait: Option<Duration>,
    ) -> Option<Duration> {
        let _ = (retry_of, max_wait);
        Some(Duration::ZERO)
    }

    /// A call is about to make its first attempt. The default does nothing.
    fn on_call(&self) {}

    /// An attempt failed: with a retryable `kind`, or a terminal error
    /// (`None`). The default does nothing.
    fn on_failure(&self, kind: Option<RetryKind>) {
        let _ = kind;
    }

    /// An attempt succeeded. `retried` is true if it was not the call's first
    /// attempt, `taken` is the sum of what this call's withdrawals took, and
    /// `last` what the latest of them took (0 when there was none): the AWS
    /// SDKs give back only the latest. The default does nothing.
    fn on_success(&self, retried: bool, taken: u32, last: u32) {
        let _ = (retried, taken, last);
    }
}

/// The budget of a call that has none: every retry is free and allowed.
///
/// # Examples
///
/// ```
/// use persevere::{RetryKind, budget::{NoBudget, RetryBudget}};
///
/// assert_eq!(NoBudget.try_withdraw(RetryKind::Transient), Some(0));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NoBudget;

impl RetryBudget for NoBudget {
    #[inline]
    fn try_withdraw(&self, _kind: RetryKind) -> Option<u32> {
        Some(0)
    }
}

macro_rules! forward_budget {
    ($($pointer:ty),*) => {$(
        impl<B: RetryBudget + ?Sized> RetryBudget for $pointer {
            #[inline]
            fn try_withdraw(&self, kind: RetryKind) -> Option<u32> {
                (**self).try_withdraw(kind)
            }
            #[inline]
            fn before_attempt(
                &self,
                retry_of: Option<RetryKind>,
                max_wait: Option<Duration>,
            ) -> Option<Duration> {
                (**self).before_attempt(retry_of, max_wait)
            }
            #[inline]
            fn on_call(&self) {
                (**self).on_call()
            }
            #[inline]
            fn on_failure(&self, kind: Option<RetryKind>) {
                (**self).on_failure(kind)
            }
            #[inline]
            fn on_success(&self, retried: bool, taken: u32, last: u32) {
                (**self).on_success(retried, taken, last)
            }
        }
    )*};
}

forward_budget!(&B, Box<B>, Arc<B>);

/// Fixed-point arithmetic in thousandths, for token counts with a fraction.
pub(crate) const MILLI: u64 = 1000;

/// `x` in thousandths, rounded to the nearest and clamped into `0..=u32::MAX`
/// whole units; NaN counts as 0.
pub(crate) fn to_milli(x: f64) -> u64 {
    if x.is_nan() || x <= 0.0 {
        return 0;
    }
    // Float-to-int casts saturate.
    ((x * MILLI as f64).round() as u64).min(u64::from(u32::MAX) * MILLI)
}

// The trait must stay object-safe and every budget shareable across threads.
const _: () = {
    fn _object_safe(_: &dyn RetryBudget) {}
    fn _send_sync<T: Send + Sync>() {}
    fn _budgets_are_send_sync() {
        _send_sync::<TokenBucket>();
        _send_sync::<GrpcThrottle>();
        _send_sync::<RatioBudget>();
        _send_sync::<AdaptiveThrottle>();
        _send_sync::<ClientRateLimiter>();
        _send_sync::<AwsAdaptive>();
        _send_sync::<Arc<dyn RetryBudget>>();
    }
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milli_conversion_clamps() {
        assert_eq!(to_milli(0.1), 100);
        assert_eq!(to_milli(f64::NAN), 0);
        assert_eq!(to_milli(-3.0), 0);
        assert_eq!(to_milli(f64::INFINITY), u64::from(u32::MAX) * MILLI);
    }

    #[test]
    fn forwarding_reaches_the_budget() {
        let bucket = Arc::new(TokenBucket::new().with_capacity(20));
        let shared: Arc<dyn RetryBudget> = bucket.clone();
        assert_eq!(shared.try_withdraw(RetryKind::Throttled), Some(5));
        let by_ref: &dyn RetryBudget = &&*bucket;
        assert_eq!(by_ref.try_withdraw(RetryKind::Throttled), Some(5));
        assert_eq!(bucket.available(), 10);
    }
}
