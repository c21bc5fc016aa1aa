//! The AWS SDKs' client-side rate limiter (adaptive retry mode), on tokio's
//! clock.

use super::RetryBudget;
use super::cubic::{Cubic, FIRST_ATTEMPT_COST, RETRY_COST, TIMEOUT_RETRY_COST};
use crate::classify::RetryKind;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::Duration;
use tokio::time::Instant;

/// The client-side rate limiter of the AWS SDKs' *adaptive* retry mode: after
/// a throttling error it slows every attempt of the calls that share it,
/// first attempts included, then lets the rate grow back along a CUBIC curve
/// as successes return.
///
/// It is a [`RetryBudget`] that never refuses a retry; it answers
/// [`before_attempt`](RetryBudget::before_attempt) with the time an attempt
/// must wait for a token, and turns away (taking nothing) an attempt that
/// cannot wait that long before its call's deadline, so that a flood of calls
/// is shed instead of queued without end. Until the first throttling error it
/// is off and costs one atomic load per attempt. Pair it with the standard mode's retry
/// quota through [`AwsAdaptive`](super::AwsAdaptive) (or
/// [`presets::aws_adaptive`](crate::presets::aws_adaptive)).
///
/// # Algorithm
///
/// As the AWS SDKs (smithy-rs `client_rate_limiter.rs`, the AWS SDKs and Tools
/// Reference "Retry behavior"): a token bucket whose fill rate is the sending
/// rate; an attempt costs 1 token (a retry 5, a retry after a timeout 10), and
/// waits `(cost - tokens) / fill_rate` when the bucket is short (it is charged
/// all the same). Every response updates the rate: the responses per second
/// are measured over half-second buckets, smoothed by 0.8; a throttling error
/// sets the rate to `0.7 ×` the rate at the time (CUBIC's β); other responses
/// let it grow as `0.4 × (t - K)³ + W_max` (CUBIC's `C`); the new rate is at
/// most twice the measured one and at least 0.5 requests per second.
///
/// # Time and locking
///
/// It reads time from `tokio::time::Instant`, so tests on tokio's paused
/// clock drive it. Its state sits behind one `std::sync::Mutex`, held for a
/// few arithmetic operations: every response takes it (the measured rate
/// counts them all), and so does every attempt once the limiter is on.
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::budget::{ClientRateLimiter, RetryBudget};
/// use persevere::RetryKind;
///
/// let limiter = ClientRateLimiter::new();
/// assert!(!limiter.is_enabled());
/// limiter.on_failure(Some(RetryKind::Throttled)); // the server throttled
/// assert!(limiter.is_enabled());
/// // The bucket starts empty: a first attempt waits 2 s for its token.
/// let wait = limiter.before_attempt(None, None);
/// assert_eq!(wait, Some(std::time::Duration::from_secs(2)));
/// # }
/// ```
#[derive(Debug)]
pub struct ClientRateLimiter {
    origin: Instant,
    enabled: AtomicBool,
    state: Mutex<Cubic>,
}

impl ClientRateLimiter {
    /// A limiter that is off until the first throttling error.
    ///
    /// # Examples
    ///
    /// See [`ClientRateLimiter`].
    pub fn new() -> Self {
        ClientRateLimiter {
            origin: Instant::now(),
            enabled: AtomicBool::new(false),
            state: Mutex::new(Cubic::new(0.0)),
        }
    }

    /// Cuts the rate at most once per half second of throttling responses,
    /// as TCP's CUBIC reacts once per congestion event, instead of once per
    /// throttled response as the AWS SDKs do.
    ///
    /// With many calls in flight, a burst of throttles answers the attempts
    /// sent before the first cut could slow them; the SDKs' rule cuts the rate
    /// by 0.7 for each, down to its floor of 0.5 per second, and the rate then
    /// takes seconds to grow back. In `examples/storm` (1,000 calls/s at a
    /// dependency that serves 100/s) the SDKs' rule settles near 36 attempts/s
    /// and this one near 90.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::budget::{ClientRateLimiter, RetryBudget};
    /// use persevere::RetryKind;
    ///
    /// let limiter = ClientRateLimiter::new().with_coalesced_throttles();
    /// limiter.on_failure(Some(RetryKind::Throttled));
    /// let after_one = limiter.fill_rate();
    /// limiter.on_failure(Some(RetryKind::Throttled)); // at the same instant
    /// assert_eq!(limiter.fill_rate(), after_one);
    /// # }
    /// ```
    #[must_use]
    pub fn with_coalesced_throttles(mut self) -> Self {
        self.state
            .get_mut()
            .unwrap_or_else(PoisonError::into_inner)
            .coalesce = true;
        self
    }

    /// True once a throttling error has turned the limiter on.
    ///
    /// # Examples
    ///
    /// See [`ClientRateLimiter`].
    pub fn is_enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// The rate, in attempts per second, at which the bucket fills now; 0
    /// until the limiter is on.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::budget::{ClientRateLimiter, RetryBudget};
    /// use persevere::RetryKind;
    ///
    /// let limiter = ClientRateLimiter::new();
    /// limiter.on_failure(Some(RetryKind::Throttled));
    /// assert_eq!(limiter.fill_rate(), 0.5); // the floor, after one response
    /// # }
    /// ```
    pub fn fill_rate(&self) -> f64 {
        self.lock().fill_rate
    }

    fn now(&self) -> f64 {
        Instant::now()
            .saturating_duration_since(self.origin)
            .as_secs_f64()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Cubic> {
        // The state stays consistent between statements: a panic elsewhere
        // while it was held leaves nothing half-written.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn update(&self, throttled: bool) {
        let now = self.now();
        let mut state = self.lock();
        state.update(now, throttled);
        if state.enabled {
            self.enabled.store(true, Ordering::Relaxed);
        }
    }
}

impl Default for ClientRateLimiter {
    fn default() -> Self {
        ClientRateLimiter::new()
    }
}

/// The longest wait the limiter grants, whatever the call allows: a caller
/// that would wait longer is refused (a fill rate is never below 0.5 per
/// second, so only a deep debt comes near it).
const MAX_WAIT: Duration = Duration::from_secs(3600);

impl RetryBudget for ClientRateLimiter {
    /// Never refuses: the limiter slows attempts down, it does not drop them.
    fn try_withdraw(&self, _kind: RetryKind) -> Option<u32> {
        Some(0)
    }

    fn before_attempt(
        &self,
        retry_of: Option<RetryKind>,
        max_wait: Option<Duration>,
    ) -> Option<Duration> {
        if !self.is_enabled() {
            return Some(Duration::ZERO);
        }
        let cost = match retry_of {
            None => FIRST_ATTEMPT_COST,
            Some(RetryKind::Timeout) => TIMEOUT_RETRY_COST,
            Some(_) => RETRY_COST,
        };
        let max_wait = max_wait.unwrap_or(MAX_WAIT).min(MAX_WAIT).as_secs_f64();
        let now = self.now();
        let wait = self.lock().acquire(now, cost, max_wait)?;
        // At most `max_wait`, itself at most an hour: the conversion holds.
        Some(Duration::try_from_secs_f64(wait).unwrap_or(MAX_WAIT))
    }

    fn on_failure(&self, kind: Option<RetryKind>) {
        self.update(kind == Some(RetryKind::Throttled));
    }

    fn on_success(&self, _retried: bool, _taken: u32, _last: u32) {
        self.update(false);
    }
}
