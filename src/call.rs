//! The state of one call, shared by the async and the blocking combinator:
//! the attempt count, the clock, the previous delay, the jitter generator and
//! the budget tokens taken, and the tracing events that report them.

use crate::budget::RetryBudget;
use crate::classify::{Classification, RetryKind};
use crate::error::{RetryError, StopReason};
use crate::policy::{AttemptContext, Decision, RetryPolicy};
use crate::rng::JitterRng;
use std::fmt::{self, Debug};
use std::time::Duration;
use tokio::time::Instant;

/// What the tracing events say in place of an error for an attempt that did
/// not finish in time.
struct TimedOut;

impl Debug for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("attempt timed out")
    }
}

#[derive(Debug)]
pub(crate) struct CallState {
    attempt: u32,
    start: Option<Instant>,
    previous_delay: Option<Duration>,
    rng: JitterRng,
    /// Budget tokens this call's retries took.
    taken: u32,
}

impl CallState {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        CallState {
            attempt: 0,
            start: None,
            previous_delay: None,
            rng: seed.map_or_else(JitterRng::from_entropy, JitterRng::from_seed),
            taken: 0,
        }
    }

    /// Counts a new attempt (and, the first time, a new call to the budget);
    /// reads the clock on the first one only when `timed` (a deadline or an
    /// attempt timeout needs it).
    pub(crate) fn start_attempt<B: RetryBudget>(&mut self, timed: bool, budget: &B) -> u32 {
        if self.attempt == 0 {
            budget.on_call();
        }
        self.attempt = self.attempt.saturating_add(1);
        if timed && self.start.is_none() {
            self.start = Some(Instant::now());
        }
        self.attempt
    }

    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// Time since the clock started, starting it now if it has not yet.
    pub(crate) fn elapsed(&mut self) -> Duration {
        let now = Instant::now();
        now.saturating_duration_since(*self.start.get_or_insert(now))
    }

    /// Reports the successful attempt to the budget.
    pub(crate) fn succeeded<B: RetryBudget>(&self, budget: &B) {
        budget.on_success(self.attempt > 1, self.taken);
    }

    /// Budget tokens this call's retries took so far.
    pub(crate) fn taken(&self) -> u32 {
        self.taken
    }

    /// Reports the failure classified as `verdict` to the budget, then asks
    /// the policy what to do, then, for a retry, the budget whether it may.
    pub(crate) fn decide<P: RetryPolicy + ?Sized, B: RetryBudget>(
        &mut self,
        policy: &P,
        budget: &B,
        verdict: Classification,
    ) -> (Decision, Duration) {
        budget.on_failure(verdict.kind());
        let elapsed = self.elapsed();
        let Some(kind) = verdict.kind() else {
            return (Decision::Stop(StopReason::Terminal), elapsed);
        };
        let mut failed = AttemptContext::new(self.attempt, elapsed)
            .with_kind(kind)
            .with_server_delay(verdict.server_delay());
        if let Some(previous) = self.previous_delay {
            failed = failed.with_previous_delay(previous);
        }
        let decision = policy.decide(&failed, &mut self.rng);
        if let Decision::Retry(delay) = decision {
            let Some(tokens) = budget.try_withdraw(kind) else {
                return (Decision::Stop(StopReason::BudgetExhausted), elapsed);
            };
            self.taken = self.taken.saturating_add(tokens);
            self.previous_delay = Some(delay);
        }
        (decision, elapsed)
    }

    /// Reports an attempt cut at the deadline to the budget, and gives up.
    pub(crate) fn give_up_at_deadline<B: RetryBudget, E: Debug>(
        &mut self,
        budget: &B,
    ) -> RetryError<E> {
        budget.on_failure(Some(RetryKind::Timeout));
        let elapsed = self.elapsed();
        self.give_up(StopReason::Deadline, elapsed, None)
    }

    /// Reports the stop and builds the caller's error.
    pub(crate) fn give_up<E: Debug>(
        &self,
        reason: StopReason,
        elapsed: Duration,
        last_error: Option<E>,
    ) -> RetryError<E> {
        let error = match &last_error {
            Some(error) => error as &dyn Debug,
            None => &TimedOut,
        };
        report_give_up(self.attempt, elapsed, reason, self.taken, error);
        RetryError::new(reason, self.attempt, elapsed, last_error)
    }
}

/// One event per failed attempt that will be retried.
pub(crate) fn report_retry(
    attempt: u32,
    error: Option<&dyn Debug>,
    verdict: Classification,
    delay: Duration,
    budget_taken: u32,
) {
    let error = error.unwrap_or(&TimedOut);
    let kind = verdict.kind().unwrap_or(RetryKind::Transient);
    tracing::info!(
        target: "persevere",
        attempt,
        error = ?error,
        kind = ?kind,
        server_delay = ?verdict.server_delay(),
        delay = ?delay,
        budget_taken,
        "attempt failed, retrying"
    );
}

fn report_give_up(
    attempt: u32,
    elapsed: Duration,
    reason: StopReason,
    budget_taken: u32,
    error: &dyn Debug,
) {
    tracing::warn!(
        target: "persevere",
        attempts = attempt,
        elapsed = ?elapsed,
        reason = %reason,
        budget_taken,
        error = ?error,
        "giving up"
    );
}
