//! Why a call stopped retrying.

use std::fmt;

/// Why a call stopped retrying.
///
/// # Examples
///
/// ```
/// use persevere::StopReason;
///
/// assert_eq!(StopReason::Deadline.to_string(), "deadline reached");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The classifier said the error is terminal: another attempt cannot help.
    Terminal,
    /// The policy's attempt limit was reached.
    AttemptsExhausted,
    /// The overall deadline would have been passed: by the next sleep, by a
    /// server-requested delay, or by an attempt still running when it came
    /// (see [`RetryPolicy::deadline`](crate::RetryPolicy::deadline)).
    Deadline,
    /// The retry budget shared by many calls had no tokens left for a retry.
    BudgetExhausted,
    /// A user-defined policy decided to stop for a reason of its own.
    Policy,
    /// The next sleep would have brought the call's total sleep past the
    /// policy's maximum (see
    /// [`with_max_total_delay`](crate::RetryPolicyExt::with_max_total_delay)).
    TotalDelayExhausted,
    /// The server asked for a longer delay (such as `Retry-After`) than the
    /// policy's max delay allows, and the policy will not come back earlier
    /// than asked (see [`RetryAfter`](crate::policy::RetryAfter)).
    ServerDelayTooLong,
    /// A client-side rate limiter (such as
    /// [`ClientRateLimiter`](crate::budget::ClientRateLimiter)) would have
    /// made the next attempt wait past the deadline or longer than the
    /// attempt timeout.
    RateLimited,
    /// The request cannot be sent again (its body was streamed, not kept in
    /// memory), so the failure of its one attempt ends the call.
    NotReplayable,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::Terminal => "terminal error",
            StopReason::AttemptsExhausted => "gave up",
            StopReason::Deadline => "deadline reached",
            StopReason::BudgetExhausted => "retry budget exhausted",
            StopReason::Policy => "stopped by policy",
            StopReason::TotalDelayExhausted => "total sleep would pass its maximum",
            StopReason::ServerDelayTooLong => "server asked to wait longer than the max delay",
            StopReason::RateLimited => "client-side rate limit",
            StopReason::NotReplayable => "request cannot be replayed",
        })
    }
}
