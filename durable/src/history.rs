//! A job's history: one record per attempt, and the stable names stores
//! write for outcomes, stop reasons and classifications.

use persevere::{Classification, RetryKind, StopReason};
use std::time::{Duration, SystemTime};

/// How one attempt ended.
///
/// # Examples
///
/// ```
/// use persevere::StopReason;
/// use persevere_durable::AttemptOutcome;
///
/// assert!(AttemptOutcome::Stopped(StopReason::Terminal).is_failure());
/// assert!(!AttemptOutcome::Succeeded.is_failure());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AttemptOutcome {
    /// The handler succeeded.
    Succeeded,
    /// The handler failed and the job was rescheduled.
    Retrying,
    /// The handler failed and the retrying stopped for this reason.
    Stopped(StopReason),
    /// The attempt was not run: the retrying stopped before it (its deadline
    /// had passed, or the policy refused to retry a cut attempt).
    NotStarted(StopReason),
    /// The worker holding the attempt's lease vanished (killed, hung) and the
    /// lease expired with no result; the handler may or may not have run.
    Interrupted,
}

impl AttemptOutcome {
    /// True for every outcome but success.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::AttemptOutcome;
    /// assert!(AttemptOutcome::Interrupted.is_failure());
    /// ```
    pub const fn is_failure(self) -> bool {
        !matches!(self, AttemptOutcome::Succeeded)
    }
}

/// One attempt in a job's history.
///
/// # Examples
///
/// ```
/// use persevere::Classification;
/// use persevere_durable::{AttemptOutcome, AttemptRecord};
/// use std::time::{Duration, SystemTime};
///
/// let record = AttemptRecord {
///     attempt: 1,
///     started_at: SystemTime::UNIX_EPOCH,
///     ended_at: SystemTime::UNIX_EPOCH + Duration::from_millis(30),
///     outcome: AttemptOutcome::Retrying,
///     error: Some("503 Service Unavailable".into()),
///     classification: Some(Classification::throttled()),
///     delay: Some(Duration::from_secs(2)),
/// };
/// assert_eq!(record.duration(), Duration::from_millis(30));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttemptRecord {
    /// The attempt's number over the job's life ([`Claimed::attempt`](crate::Claimed::attempt)).
    pub attempt: u32,
    /// When it started (wall clock).
    pub started_at: SystemTime,
    /// When it ended, or, for an interrupted attempt, when its lease expired.
    pub ended_at: SystemTime,
    /// How it ended.
    pub outcome: AttemptOutcome,
    /// The error's text (or the panic's message), cut to [`MAX_ERROR_LEN`](crate::MAX_ERROR_LEN).
    pub error: Option<String>,
    /// The classifier's verdict on the error, with the server's delay.
    pub classification: Option<Classification>,
    /// The delay the policy chose before the next attempt.
    pub delay: Option<Duration>,
}

impl AttemptRecord {
    /// How long the attempt ran (zero if the clock says it ended before it
    /// started).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{AttemptOutcome, AttemptRecord}; use std::time::{Duration, SystemTime};
    /// let t = SystemTime::UNIX_EPOCH + Duration::from_secs(9);
    /// let r = AttemptRecord { attempt: 1, started_at: t, ended_at: SystemTime::UNIX_EPOCH,
    ///     outcome: AttemptOutcome::Succeeded, error: None, classification: None, delay: None };
    /// assert_eq!(r.duration(), Duration::ZERO);
    /// ```
    pub fn duration(&self) -> Duration {
        self.ended_at
            .duration_since(self.started_at)
            .unwrap_or(Duration::ZERO)
    }
}

/// The stable name of a stop reason, as stores write it.
pub(crate) fn stop_reason_name(reason: StopReason) -> &'static str {
    match reason {
        StopReason::Terminal => "terminal",
        StopReason::AttemptsExhausted => "attempts_exhausted",
        StopReason::Deadline => "deadline",
        StopReason::BudgetExhausted => "budget_exhausted",
        StopReason::TotalDelayExhausted => "total_delay_exhausted",
        StopReason::ServerDelayTooLong => "server_delay_too_long",
        StopReason::RateLimited => "rate_limited",
        StopReason::NotReplayable => "not_replayable",
        // `Policy`, and any reason a later persevere adds.
        _ => "policy",
    }
}

/// The stop reason a stored name stands for (an unknown name reads as
/// [`StopReason::Policy`]).
pub(crate) fn parse_stop_reason(name: &str) -> StopReason {
    match name {
        "terminal" => StopReason::Terminal,
        "attempts_exhausted" => StopReason::AttemptsExhausted,
        "deadline" => StopReason::Deadline,
        "budget_exhausted" => StopReason::BudgetExhausted,
        "total_delay_exhausted" => StopReason::TotalDelayExhausted,
        "server_delay_too_long" => StopReason::ServerDelayTooLong,
        "rate_limited" => StopReason::RateLimited,
        "not_replayable" => StopReason::NotReplayable,
        _ => StopReason::Policy,
    }
}

/// The stable name of a classification's kind (`terminal` for none).
pub(crate) fn kind_name(kind: Option<RetryKind>) -> &'static str {
    match kind {
        Some(RetryKind::Throttled) => "throttled",
        Some(RetryKind::Timeout) => "timeout",
        Some(_) => "transient",
        None => "terminal",
    }
}

/// The classification a stored kind name and server delay stand for.
pub(crate) fn parse_classification(kind: &str, server_delay: Option<Duration>) -> Classification {
    let base = match kind {
        "throttled" => Classification::throttled(),
        "timeout" => Classification::timeout(),
        "terminal" => Classification::terminal(),
        _ => Classification::transient(),
    };
    match server_delay {
        Some(delay) => base.with_server_delay(delay),
        None => base,
    }
}

/// `text` cut to at most `max` bytes at a character boundary.
pub(crate) fn truncate(mut text: String, max: usize) -> String {
    if text.len() > max {
        let mut end = max;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for reason in [
            StopReason::Terminal,
            StopReason::AttemptsExhausted,
            StopReason::Deadline,
            StopReason::BudgetExhausted,
            StopReason::Policy,
            StopReason::TotalDelayExhausted,
            StopReason::ServerDelayTooLong,
            StopReason::RateLimited,
            StopReason::NotReplayable,
        ] {
            assert_eq!(parse_stop_reason(stop_reason_name(reason)), reason);
        }
        for c in [
            Classification::transient(),
            Classification::throttled().with_server_delay(Duration::from_secs(3)),
            Classification::timeout(),
            Classification::terminal(),
        ] {
            assert_eq!(
                parse_classification(kind_name(c.kind()), c.server_delay()),
                c
            );
        }
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate("héllo".into(), 2), "h");
        assert_eq!(truncate("abc".into(), 10), "abc");
    }
}
