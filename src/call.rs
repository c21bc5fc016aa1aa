//! The state of one call, shared by the async and the blocking combinator:
//! the attempt count, the clock, the previous delay and the jitter generator,
//! and the tracing events that report them.

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
}

impl CallState {
    pub(crate) fn new(seed: Option<u64>) -> Self {
        CallState {
            attempt: 0,
            start: None,
            previous_delay: None,
            rng: seed.map_or_else(JitterRng::from_entropy, JitterRng::from_seed),
        }
    }

    /// Counts a new attempt; reads the clock on the first one only when
    /// `timed` (a deadline or an attempt timeout needs it).
    pub(crate) fn start_attempt(&mut self, timed: bool) -> u32 {
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

    /// Asks the policy what to do after a failure classified as `verdict`.
    pub(crate) fn decide<P: RetryPolicy + ?Sized>(
        &mut self,
        policy: &P,
        verdict: Classification,
    ) -> (Decision, Duration) {
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
            self.previous_delay = Some(delay);
        }
        (decision, elapsed)
    }

    /// Reports the stop and builds the caller's error.
    pub(crate) fn give_up<E: Debug>(
        &self,
        reason: StopReason,
        elapsed: Duration,
        last_error: Option<E>,
    ) -> RetryError<E> {
        match &last_error {
            Some(error) => report_give_up(self.attempt, elapsed, reason, error),
            None => report_give_up(self.attempt, elapsed, reason, &TimedOut),
        }
        RetryError::new(reason, self.attempt, elapsed, last_error)
    }
}

/// One event per failed attempt that will be retried.
pub(crate) fn report_retry(
    attempt: u32,
    error: Option<&dyn Debug>,
    verdict: Classification,
    delay: Duration,
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
        "attempt failed, retrying"
    );
}

fn report_give_up(attempt: u32, elapsed: Duration, reason: StopReason, error: &dyn Debug) {
    tracing::warn!(
        target: "persevere",
        attempts = attempt,
        elapsed = ?elapsed,
        reason = %reason,
        error = ?error,
        "giving up"
    );
}
