//! What a policy does with a delay the server asked for (`Retry-After`,
//! `x-amz-retry-after`, gRPC pushback), and the one deadline rule that every
//! retry passes.

use super::{AttemptContext, Decision, RetryPolicy};
use crate::error::StopReason;
use crate::rng::JitterRng;
use std::time::Duration;

/// How a policy treats a delay the server asked for, such as HTTP
/// `Retry-After`, AWS `x-amz-retry-after` or gRPC's retry pushback.
///
/// Set it with `with_retry_after` on [`Exponential`](crate::Exponential) and
/// [`Fixed`](crate::Fixed). Whatever the rule, a call never starts a sleep
/// when the delay the server asked for would end after the policy's deadline:
/// it stops at once with [`StopReason::Deadline`] (see [`decide`]).
///
/// # Default
///
/// [`RetryAfter::NotEarlier`]: the next attempt never reaches the server
/// before it asked. The AWS presets use [`RetryAfter::AwsClamp`].
///
/// # Examples
///
/// ```
/// use persevere::{AttemptContext, Decision, Exponential, JitterRng, RetryPolicy, StopReason};
/// use persevere::policy::RetryAfter;
/// use std::time::Duration;
///
/// let asked = AttemptContext::new(1, Duration::ZERO).with_server_delay(Some(Duration::from_secs(30)));
/// let mut rng = JitterRng::from_seed(0);
/// let policy = Exponential::new().with_max_delay(Duration::from_secs(3));
///
/// // By default, a server that asks for more than the max delay ends the call.
/// assert_eq!(policy.decide(&asked, &mut rng), Decision::Stop(StopReason::ServerDelayTooLong));
/// // Capped, the call comes back after the max delay, earlier than asked.
/// let capped = policy.with_retry_after(RetryAfter::Capped);
/// assert_eq!(capped.decide(&asked, &mut rng), Decision::Retry(Duration::from_secs(3)));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RetryAfter {
    /// Sleep exactly what the server asked; if that is longer than the
    /// policy's max delay, stop at once with
    /// [`StopReason::ServerDelayTooLong`].
    #[default]
    NotEarlier,
    /// Sleep what the server asked, but at most the policy's max delay: the
    /// next attempt may reach the server earlier than it asked.
    Capped,
    /// The AWS SDKs' rule (retry behavior 2.1): the server's delay clamped to
    /// `[computed, computed + 5 s]`, where `computed` is the policy's own
    /// jittered delay; the max delay does not apply to it.
    AwsClamp,
}

/// How much later than asked a sleep may end: tokio rounds a timer's deadline
/// up to its next 1 ms tick.
const TIMER_SLACK: Duration = Duration::from_nanos(999_999);

/// The most an [`RetryAfter::AwsClamp`] delay exceeds the computed one.
const AWS_CLAMP_SPAN: Duration = Duration::from_secs(5);

impl RetryAfter {
    /// The decision for a server that asked for `asked`, under a policy whose
    /// max delay is `max` and whose own delay `computed` gives.
    #[inline]
    pub(crate) fn decide(
        self,
        asked: Duration,
        max: Duration,
        computed: impl FnOnce() -> Duration,
    ) -> Decision {
        match self {
            RetryAfter::NotEarlier if asked > max => Decision::Stop(StopReason::ServerDelayTooLong),
            RetryAfter::NotEarlier => Decision::Retry(asked),
            RetryAfter::Capped => Decision::Retry(asked.min(max)),
            RetryAfter::AwsClamp => {
                let computed = computed();
                Decision::Retry(asked.clamp(computed, computed.saturating_add(AWS_CLAMP_SPAN)))
            }
        }
    }
}

/// True when a retry after sleeping `delay`, `elapsed` into the call, starts
/// before `deadline`, with the server's `asked` delay, if longer, in place of
/// `delay`, and the timer's rounding counted for a sleep that is not zero.
#[inline]
pub(crate) fn starts_before(
    deadline: Duration,
    elapsed: Duration,
    delay: Duration,
    asked: Option<Duration>,
) -> bool {
    let wait = asked.map_or(delay, |asked| asked.max(delay));
    let starts = if wait.is_zero() {
        elapsed
    } else {
        elapsed.saturating_add(wait).saturating_add(TIMER_SLACK)
    };
    starts < deadline
}

/// The longest sleep that, started `elapsed` into the call, lets the next
/// attempt start before `deadline` (the rule of [`starts_before`]).
pub(crate) fn longest_sleep_before(deadline: Duration, elapsed: Duration) -> Duration {
    deadline
        .saturating_sub(elapsed)
        .saturating_sub(TIMER_SLACK + Duration::from_nanos(1))
}

/// What the combinator does after a retryable failure: asks `policy`, then
/// holds its answer to the policy's [deadline](RetryPolicy::deadline)
/// whatever the policy answered.
///
/// A retry is turned into [`StopReason::Deadline`] when its sleep could end
/// at or after the deadline, counting the timer's 1 ms resolution, or when the
/// server asked for a delay that ends after it (even if the policy sleeps
/// less). So a retry that the combinator announces (to its notify hook and to
/// tracing) always runs, and a policy of your own cannot make a call oversleep
/// its deadline. The durable and blocking runners use the same rule.
///
/// # Examples
///
/// A policy of its own that ignores its deadline:
///
/// ```
/// use persevere::policy::decide;
/// use persevere::{AttemptContext, Decision, JitterRng, RetryPolicy, StopReason};
/// use std::time::Duration;
///
/// struct Careless;
/// impl RetryPolicy for Careless {
///     fn decide(&self, _: &AttemptContext, _: &mut JitterRng) -> Decision {
///         Decision::Retry(Duration::from_secs(60))
///     }
///     fn deadline(&self) -> Option<Duration> {
///         Some(Duration::from_secs(5))
///     }
/// }
///
/// let failed = AttemptContext::new(1, Duration::from_secs(1));
/// let mut rng = JitterRng::from_seed(0);
/// assert_eq!(Careless.decide(&failed, &mut rng), Decision::Retry(Duration::from_secs(60)));
/// assert_eq!(decide(&Careless, &failed, &mut rng), Decision::Stop(StopReason::Deadline));
/// ```
#[inline(always)]
pub fn decide<P: RetryPolicy + ?Sized>(
    policy: &P,
    failed: &AttemptContext,
    rng: &mut JitterRng,
) -> Decision {
    let decision = policy.decide(failed, rng);
    match (decision, policy.deadline()) {
        (Decision::Retry(delay), Some(deadline))
            if !starts_before(deadline, failed.elapsed(), delay, failed.server_delay()) =>
        {
            Decision::Stop(StopReason::Deadline)
        }
        _ => decision,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const NS: Duration = Duration::from_nanos(1);

    #[test]
    fn the_three_rules() {
        let (asked, max) = (30_000 * MS, 3_000 * MS);
        let computed = || 200 * MS;
        let stop = Decision::Stop(StopReason::ServerDelayTooLong);
        assert_eq!(RetryAfter::NotEarlier.decide(asked, max, computed), stop);
        assert_eq!(
            RetryAfter::NotEarlier.decide(max, max, computed),
            Decision::Retry(max)
        );
        assert_eq!(
            RetryAfter::Capped.decide(asked, max, computed),
            Decision::Retry(max)
        );
        // Clamped to [200 ms, 5.2 s] whatever the max delay.
        let aws = |asked| RetryAfter::AwsClamp.decide(asked, max, computed);
        assert_eq!(aws(asked), Decision::Retry(5_200 * MS));
        assert_eq!(aws(10 * MS), Decision::Retry(200 * MS));
        assert_eq!(aws(4_000 * MS), Decision::Retry(4_000 * MS));
        assert_eq!(
            RetryAfter::AwsClamp.decide(Duration::MAX, max, || Duration::MAX),
            Decision::Retry(Duration::MAX)
        );
    }

    #[test]
    fn the_deadline_counts_the_timer_tick_and_the_server_delay() {
        let deadline = 1_000 * MS;
        // 900 ms + 99.5 ms could end on the 1,000 ms tick: not started.
        assert!(!starts_before(deadline, 900 * MS, 99_500_000 * NS, None));
        assert!(starts_before(deadline, 899 * MS, 100 * MS, None));
        assert!(!starts_before(deadline, 900 * MS, 100 * MS, None));
        // A zero delay needs no timer: it starts now.
        assert!(starts_before(deadline, 999 * MS, Duration::ZERO, None));
        assert!(!starts_before(deadline, deadline, Duration::ZERO, None));
        // The server's delay counts when it is the longer one.
        assert!(!starts_before(deadline, Duration::ZERO, MS, Some(deadline)));
        assert!(starts_before(deadline, Duration::ZERO, 10 * MS, Some(MS)));
        assert!(!starts_before(
            Duration::MAX,
            Duration::MAX,
            Duration::MAX,
            None
        ));
    }

    #[test]
    fn the_longest_sleep_is_the_last_that_starts_before_the_deadline() {
        let deadline = 1_000 * MS;
        for elapsed in [0, 1, 500, 998, 999, 1000, 5000].map(|ms| ms * MS) {
            let longest = longest_sleep_before(deadline, elapsed);
            if !longest.is_zero() {
                assert!(starts_before(deadline, elapsed, longest, None));
            }
            assert!(!starts_before(deadline, elapsed, longest + NS, None) || longest.is_zero());
        }
        assert_eq!(longest_sleep_before(deadline, 500 * MS), 499 * MS);
    }
}
