//! The one place a durable retry asks the policy what to do: "ask the
//! policy, held to its deadline by the core's own rule
//! ([`persevere::policy::decide`]), then the budget".

use crate::job::Claimed;
use persevere::budget::RetryBudget;
use persevere::{
    AttemptContext, Classification, Decision, JitterRng, RetryKind, RetryPolicy, StopReason,
};
use std::time::{Duration, SystemTime};

/// Time since the round's first attempt started, as the policy sees it; zero
/// if the clock reads earlier than the stored start (a clock set back).
pub(crate) fn elapsed(job: &Claimed, now: SystemTime) -> Duration {
    now.duration_since(job.first_attempt_at)
        .unwrap_or(Duration::ZERO)
}

/// What the policy knows about the failed attempt `attempt` of `job`.
fn context(job: &Claimed, attempt: u32, kind: RetryKind, now: SystemTime) -> AttemptContext {
    let failed = AttemptContext::new(attempt, elapsed(job, now)).with_kind(kind);
    match job.previous_delay {
        Some(previous) => failed.with_previous_delay(previous),
        None => failed,
    }
}

/// After the attempt of `job` failed with `verdict` at `now`: the delay
/// before the next attempt, or why to stop.
///
/// A terminal verdict stops; otherwise the policy decides (with the
/// server's delay), a retry whose sleep (or the server's delay) would end at
/// or past the policy's deadline stops with [`StopReason::Deadline`], as
/// [`persevere::policy::decide`] rules for every runner, and a budget that refuses
/// stops with [`StopReason::BudgetExhausted`].
pub(crate) fn after_failure(
    policy: &dyn RetryPolicy,
    budget: Option<&dyn RetryBudget>,
    job: &Claimed,
    verdict: Classification,
    now: SystemTime,
) -> Decision {
    let Some(kind) = verdict.kind() else {
        return Decision::Stop(StopReason::Terminal);
    };
    let failed =
        context(job, job.round_attempt, kind, now).with_server_delay(verdict.server_delay());
    // The in-process combinator's rule: a retry whose sleep, or the server's
    // asked delay, would end at or past the deadline stops.
    let decision = persevere::policy::decide(policy, &failed, &mut JitterRng::from_entropy());
    let Decision::Retry(_) = decision else {
        return decision;
    };
    if let Some(budget) = budget {
        if budget.try_withdraw(kind).is_none() {
            return Decision::Stop(StopReason::BudgetExhausted);
        }
    }
    decision
}

/// Before running the attempt of `job` at `now`: why not to run it, if the
/// retrying must stop first.
///
/// Stops when the policy's deadline has passed (the process may have been
/// down past it), and when the previous attempt was cut (its lease expired)
/// and the policy, told of it as a timeout, would not retry it: a job that
/// kills every worker that runs it is not run forever.
pub(crate) fn before_attempt(
    policy: &dyn RetryPolicy,
    job: &Claimed,
    now: SystemTime,
) -> Option<StopReason> {
    if job.round_attempt <= 1 {
        return None;
    }
    if policy
        .deadline()
        .is_some_and(|deadline| elapsed(job, now) >= deadline)
    {
        return Some(StopReason::Deadline);
    }
    if job.interrupted {
        let cut = context(job, job.round_attempt - 1, RetryKind::Timeout, now);
        if let Decision::Stop(reason) = policy.decide(&cut, &mut JitterRng::from_entropy()) {
            return Some(reason);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::Lease;
    use persevere::{Fixed, RetryPolicyExt};

    fn job(round_attempt: u32, interrupted: bool) -> Claimed {
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1000);
        Claimed {
            key: "k".into(),
            kind: "k".into(),
            payload: vec![],
            attempt: round_attempt,
            round_attempt,
            first_attempt_at: start,
            previous_delay: None,
            interrupted,
            lease: Lease {
                key: "k".into(),
                token: "1".into(),
                until: start,
            },
        }
    }

    #[test]
    fn deadline_counts_from_the_stored_first_attempt() {
        let policy = Fixed::new(Duration::from_secs(10)).with_deadline(Duration::from_secs(60));
        let j = job(2, false);
        let at = |s| j.first_attempt_at + Duration::from_secs(s);
        let t = Classification::transient();
        assert_eq!(
            after_failure(&policy, None, &j, t, at(49)),
            Decision::Retry(Duration::from_secs(10))
        );
        assert_eq!(
            after_failure(&policy, None, &j, t, at(50)),
            Decision::Stop(StopReason::Deadline)
        );
        assert_eq!(before_attempt(&policy, &j, at(59)), None);
        assert_eq!(
            before_attempt(&policy, &j, at(60)),
            Some(StopReason::Deadline)
        );
        // A clock set back reads as no time elapsed, never as an error.
        assert_eq!(
            after_failure(&policy, None, &j, t, SystemTime::UNIX_EPOCH),
            Decision::Retry(Duration::from_secs(10))
        );
    }

    /// A policy of the caller's own that names a deadline but does not
    /// check it itself.
    struct Unchecked;

    impl RetryPolicy for Unchecked {
        fn decide(&self, _: &AttemptContext, _: &mut JitterRng) -> Decision {
            Decision::Retry(Duration::from_secs(10))
        }
        fn deadline(&self) -> Option<Duration> {
            Some(Duration::from_secs(15))
        }
    }

    #[test]
    fn a_sleep_past_a_policys_own_deadline_stops() {
        let j = job(1, false);
        let t = Classification::transient();
        let at = |s| j.first_attempt_at + Duration::from_secs(s);
        assert_eq!(
            after_failure(&Unchecked, None, &j, t, at(4)),
            Decision::Retry(Duration::from_secs(10))
        );
        assert_eq!(
            after_failure(&Unchecked, None, &j, t, at(5)),
            Decision::Stop(StopReason::Deadline)
        );
        assert_eq!(
            after_failure(&Unchecked, None, &j, Classification::terminal(), at(0)),
            Decision::Stop(StopReason::Terminal)
        );
    }

    #[test]
    fn a_cut_last_attempt_is_not_run_again() {
        let policy = Fixed::new(Duration::from_secs(1)).with_max_attempts(3);
        let now = job(3, true).first_attempt_at;
        assert_eq!(before_attempt(&policy, &job(3, true), now), None);
        assert_eq!(
            before_attempt(&policy, &job(4, true), now),
            Some(StopReason::AttemptsExhausted)
        );
        assert_eq!(before_attempt(&policy, &job(4, false), now), None);
    }
}
