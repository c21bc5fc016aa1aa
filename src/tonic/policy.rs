//! The backoff of a gRPC `retryPolicy`, as proposal A6 defines it.

use crate::Exponential;
use crate::error::StopReason;
use crate::jitter::Jitter;
use crate::policy::{AttemptContext, Decision, RetryPolicy};
use crate::rng::JitterRng;
use std::time::Duration;

/// The most attempts a gRPC retry policy makes: A6 treats a larger
/// `maxAttempts` as 5.
pub const MAX_ATTEMPTS: u32 = 5;

/// A gRPC retry policy's schedule: attempt `n + 1` waits
/// `random(0, min(initialBackoff * backoffMultiplier^(n-1), maxBackoff))`
/// after attempt `n` fails ([`Exponential`] with [`Jitter::Full`]), at most
/// `maxAttempts` attempts (capped at [`MAX_ATTEMPTS`]), and a server's
/// pushback is waited exactly, even when longer than `maxBackoff`.
///
/// Built by [`RetryPolicyConfig::policy`](super::RetryPolicyConfig::policy)
/// or [`new`](Self::new).
///
/// # Differences from A6
///
/// - A multiplier below 1 counts as 1 (the [`Exponential`] clamp); A6 lets
///   the backoff shrink.
/// - After a pushback, A6 starts the backoff again from `initialBackoff`;
///   here the exponent keeps counting the call's attempts (a policy sees one
///   attempt at a time, and keeps no state between them).
///
/// # Examples
///
/// ```
/// use persevere::tonic::GrpcRetryPolicy;
/// use persevere::{AttemptContext, Decision, JitterRng, RetryPolicy, StopReason};
/// use std::time::Duration;
///
/// let policy = GrpcRetryPolicy::new(9, Duration::from_millis(100), Duration::from_secs(1), 2.0);
/// assert_eq!(policy.max_attempts(), 5);
/// let mut rng = JitterRng::from_seed(1);
/// let second = AttemptContext::new(2, Duration::ZERO);
/// let delay = policy.decide(&second, &mut rng).delay().unwrap();
/// assert!(delay <= Duration::from_millis(200));
/// let pushed = second.with_server_delay(Some(Duration::from_secs(3)));
/// assert_eq!(policy.decide(&pushed, &mut rng), Decision::Retry(Duration::from_secs(3)));
/// let fifth = AttemptContext::new(5, Duration::ZERO);
/// assert_eq!(policy.decide(&fifth, &mut rng), Decision::Stop(StopReason::AttemptsExhausted));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GrpcRetryPolicy {
    backoff: Exponential,
    max_attempts: u32,
}

impl GrpcRetryPolicy {
    /// The policy of a `retryPolicy` with these fields, unchecked: use
    /// [`RetryPolicyConfig`](super::RetryPolicyConfig) to read and check a
    /// service config. `max_attempts` is clamped into `1..=5`.
    ///
    /// # Examples
    ///
    /// See [`GrpcRetryPolicy`].
    pub fn new(max_attempts: u32, initial: Duration, max: Duration, multiplier: f64) -> Self {
        GrpcRetryPolicy {
            backoff: Exponential::new()
                .with_initial_delay(initial)
                .with_max_delay(max)
                .with_multiplier(multiplier)
                .with_jitter(Jitter::Full),
            max_attempts: max_attempts.clamp(1, MAX_ATTEMPTS),
        }
    }

    /// The most attempts, the first included.
    ///
    /// # Examples
    ///
    /// See [`GrpcRetryPolicy`].
    pub const fn max_attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The backoff between attempts.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::GrpcRetryPolicy;
    /// use std::time::Duration;
    ///
    /// let policy = GrpcRetryPolicy::new(3, Duration::from_millis(100), Duration::from_secs(1), 2.0);
    /// assert_eq!(policy.backoff().initial_delay(), Duration::from_millis(100));
    /// ```
    pub const fn backoff(&self) -> &Exponential {
        &self.backoff
    }
}

impl RetryPolicy for GrpcRetryPolicy {
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        if failed.attempt() >= self.max_attempts {
            return Decision::Stop(StopReason::AttemptsExhausted);
        }
        match failed.server_delay() {
            Some(pushback) => Decision::Retry(pushback),
            None => self.backoff.decide(failed, rng),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_under_the_capped_exponential() {
        let policy = GrpcRetryPolicy::new(
            5,
            Duration::from_millis(100),
            Duration::from_millis(300),
            2.0,
        );
        let caps = [100, 200, 300, 300].map(Duration::from_millis);
        let mut rng = JitterRng::from_seed(7);
        for (n, cap) in (1..).zip(caps) {
            let mut below_half = false;
            for _ in 0..200 {
                let delay = policy.decide(&AttemptContext::new(n, Duration::ZERO), &mut rng);
                let delay = delay.delay().unwrap();
                assert!(delay <= cap, "attempt {n}: {delay:?} > {cap:?}");
                below_half |= delay < cap / 2;
            }
            assert!(below_half, "attempt {n}: the jitter never went below half");
        }
        assert_eq!(
            GrpcRetryPolicy::new(0, Duration::ZERO, Duration::ZERO, 1.0).max_attempts(),
            1
        );
    }
}
