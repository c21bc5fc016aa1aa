//! The AWS SDKs' adaptive retry mode: the standard mode's retry quota and
//! the client-side rate limiter, as one budget.

use super::{ClientRateLimiter, RetryBudget, TokenBucket};
use crate::classify::RetryKind;
use std::time::Duration;

/// The budget of the AWS SDKs' *adaptive* retry mode: the standard mode's
/// retry quota ([`TokenBucket`]) decides whether a retry may happen at all,
/// and the [`ClientRateLimiter`] slows every attempt, first attempts
/// included, while the server throttles.
///
/// Share one per client (in an `Arc`), as the SDKs do, with the policy of
/// [`presets::aws_adaptive`](crate::presets::aws_adaptive).
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::budget::AwsAdaptive;
/// use persevere::{Classification, presets};
/// use std::sync::Arc;
///
/// let adaptive = Arc::new(AwsAdaptive::new());
/// let err = persevere::retry(|| async { Err::<(), _>("SlowDown") })
///     .policy(presets::aws_adaptive())
///     .classify(|_: &&str| Classification::throttled())
///     .budget(Arc::clone(&adaptive))
///     .await
///     .unwrap_err();
/// assert_eq!(err.attempts(), 3);
/// assert!(adaptive.limiter().is_enabled()); // the next calls are slowed
/// assert_eq!(adaptive.quota().available(), 500 - 2 * 5);
/// # }
/// ```
#[derive(Debug, Default)]
pub struct AwsAdaptive {
    quota: TokenBucket,
    limiter: ClientRateLimiter,
}

impl AwsAdaptive {
    /// The standard mode's default quota and a limiter that is off until the
    /// first throttling error.
    ///
    /// # Examples
    ///
    /// See [`AwsAdaptive`].
    pub fn new() -> Self {
        AwsAdaptive::with_quota(TokenBucket::new())
    }

    /// With a retry quota of its own (such as [`TokenBucket::legacy`]).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::budget::{AwsAdaptive, TokenBucket};
    ///
    /// let adaptive = AwsAdaptive::with_quota(TokenBucket::new().with_capacity(100));
    /// assert_eq!(adaptive.quota().available(), 100);
    /// # }
    /// ```
    pub fn with_quota(quota: TokenBucket) -> Self {
        AwsAdaptive {
            quota,
            limiter: ClientRateLimiter::new(),
        }
    }

    /// With a rate limiter of its own (such as one
    /// [with coalesced throttles](ClientRateLimiter::with_coalesced_throttles)).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::budget::{AwsAdaptive, ClientRateLimiter};
    ///
    /// let adaptive = AwsAdaptive::new().with_limiter(ClientRateLimiter::new().with_coalesced_throttles());
    /// assert!(!adaptive.limiter().is_enabled());
    /// # }
    /// ```
    #[must_use]
    pub fn with_limiter(mut self, limiter: ClientRateLimiter) -> Self {
        self.limiter = limiter;
        self
    }

    /// The retry quota.
    ///
    /// # Examples
    ///
    /// See [`AwsAdaptive`].
    pub fn quota(&self) -> &TokenBucket {
        &self.quota
    }

    /// The rate limiter.
    ///
    /// # Examples
    ///
    /// See [`AwsAdaptive`].
    pub fn limiter(&self) -> &ClientRateLimiter {
        &self.limiter
    }
}

impl RetryBudget for AwsAdaptive {
    fn try_withdraw(&self, kind: RetryKind) -> Option<u32> {
        self.quota.try_withdraw(kind)
    }

    fn before_attempt(
        &self,
        retry_of: Option<RetryKind>,
        max_wait: Option<Duration>,
    ) -> Option<Duration> {
        self.limiter.before_attempt(retry_of, max_wait)
    }

    fn on_call(&self) {
        self.quota.on_call();
    }

    fn on_failure(&self, kind: Option<RetryKind>) {
        self.quota.on_failure(kind);
        self.limiter.on_failure(kind);
    }

    fn on_success(&self, retried: bool, taken: u32, last: u32) {
        self.quota.on_success(retried, taken, last);
        self.limiter.on_success(retried, taken, last);
    }
}
