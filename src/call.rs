//! The state of one call, shared by the async and the blocking combinator:
//! the attempt count, the clock, the previous delay, the jitter generator,
//! the budget tokens taken and the call's span; and what happens after a
//! failed attempt, reported to the notify hook and to tracing.

use crate::budget::RetryBudget;
use crate::classify::{Classification, Classify, RetryKind};
use crate::elapsed::Elapsed;
use crate::error::{RetryError, StopReason};
use crate::notify::{Notify, RetryEvent};
use crate::policy::{self, AttemptContext, Decision, RetryPolicy};
use crate::rng::JitterRng;
use std::fmt::{self, Debug};
use std::time::Duration;
use tokio::time::Instant;
use tracing::Span;

/// What the tracing events say in place of an error for an attempt that did
/// not finish in time.
struct TimedOut;

impl Debug for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("attempt timed out")
    }
}

/// What the tracing events say in place of a value that the value
/// classifier did not accept (the value's type need not be `Debug`).
struct ValueNotAccepted;

impl Debug for ValueNotAccepted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("value not accepted")
    }
}

/// A failed attempt: its error, its value that the value classifier did not
/// accept (with the verdict on it), or nothing for an attempt that did not
/// finish.
pub(crate) enum Failure<E, V> {
    Error(E),
    Value(V, Classification),
    TimedOut,
}

impl<E, V> Failure<E, V> {
    fn error(&self) -> Option<&E> {
        match self {
            Failure::Error(error) => Some(error),
            _ => None,
        }
    }

    /// The attempt's error as tracing shows it: its `Debug` form, or a
    /// stand-in for a value or an attempt that did not finish.
    fn shown(&self) -> &dyn Debug
    where
        E: Debug,
    {
        match self {
            Failure::Error(error) => error,
            Failure::Value(..) => &ValueNotAccepted,
            Failure::TimedOut => &TimedOut,
        }
    }
}

#[derive(Debug)]
pub(crate) struct CallState {
    attempt: u32,
    /// Budget tokens this call's retries took.
    taken: u32,
    start: Option<Instant>,
    previous_delay: Option<Duration>,
    rng: JitterRng,
    /// Opened when the first attempt fails, so that a call that succeeds at
    /// once costs no span.
    span: Option<Span>,
}

impl CallState {
    #[inline]
    pub(crate) fn new(seed: Option<u64>) -> Self {
        CallState {
            attempt: 0,
            taken: 0,
            start: None,
            previous_delay: None,
            rng: seed.map_or_else(JitterRng::from_entropy, JitterRng::from_seed),
            span: None,
        }
    }

    /// Counts a new attempt (and, the first time, a new call to the budget);
    /// reads the clock on the first one only when `timed` (a deadline or an
    /// attempt timeout needs it).
    #[inline]
    pub(crate) fn start_attempt<B: RetryBudget>(&mut self, timed: bool, budget: &B) -> u32 {
        if self.attempt == 0 {
            budget.on_call();
        }
        self.attempt = self.attempt.saturating_add(1);
        if timed {
            self.start();
        }
        self.attempt
    }

    /// The number of the latest attempt; 0 before the first.
    pub(crate) fn attempt(&self) -> u32 {
        self.attempt
    }

    /// The call's span, once an attempt has failed.
    pub(crate) fn span(&self) -> Option<&Span> {
        self.span.as_ref()
    }

    /// Time since the clock started, starting it now if it has not yet.
    pub(crate) fn elapsed(&mut self) -> Duration {
        let now = Instant::now();
        now.saturating_duration_since(*self.start.get_or_insert(now))
    }

    /// When the clock started, starting it now if it has not yet.
    fn start(&mut self) -> Instant {
        *self.start.get_or_insert_with(Instant::now)
    }

    /// Reports the successful attempt to the budget.
    #[inline]
    pub(crate) fn succeeded<B: RetryBudget>(&self, budget: &B) {
        budget.on_success(self.attempt > 1, self.taken);
    }

    /// Handles a failed attempt: reports it to the budget, asks
    /// the policy what to do and, for a retry, the budget whether it may.
    ///
    /// On a retry it tells the notify hook and tracing, drops the error (and
    /// whatever connection it holds) and returns the delay to sleep; on a stop
    /// it returns the caller's error.
    #[cold]
    pub(crate) fn after_failure<E, V, P, C, N, B>(
        &mut self,
        failure: Failure<E, V>,
        policy: &P,
        classifier: &C,
        notify: &mut N,
        budget: &B,
    ) -> Result<Duration, RetryError<E, V>>
    where
        E: Debug,
        P: RetryPolicy + ?Sized,
        C: Classify<E>,
        N: Notify<E>,
        B: RetryBudget,
    {
        let verdict = match &failure {
            Failure::Error(error) => classifier.classify(error),
            Failure::Value(_, verdict) => *verdict,
            Failure::TimedOut => Classification::timeout(),
        };
        budget.on_failure(verdict.kind());
        let start = self.start();
        let delay = match self.decide(policy, budget, verdict, start) {
            Decision::Retry(delay) => delay,
            Decision::Stop(reason) => return Err(self.give_up(reason, failure)),
        };
        notify.notify(&RetryEvent {
            attempt: self.attempt,
            error: failure.error(),
            value: matches!(failure, Failure::Value(..)),
            classification: verdict,
            delay,
            elapsed: Elapsed::Since(start),
        });
        let (attempt, taken) = (self.attempt, self.taken);
        tracing::info!(
            target: "persevere",
            parent: self.open_span(),
            attempt,
            error = ?failure.shown(),
            kind = ?verdict.kind().unwrap_or(RetryKind::Transient),
            server_delay = ?verdict.server_delay(),
            delay = ?delay,
            budget_taken = taken,
            "attempt failed, retrying"
        );
        Ok(delay)
    }

    /// The policy's decision, then the budget's for a retry.
    fn decide<P: RetryPolicy + ?Sized, B: RetryBudget>(
        &mut self,
        policy: &P,
        budget: &B,
        verdict: Classification,
        start: Instant,
    ) -> Decision {
        let Some(kind) = verdict.kind() else {
            return Decision::Stop(StopReason::Terminal);
        };
        // Under a deadline the decision needs the elapsed time: read the clock
        // once for the policy and the deadline check both.
        let mut failed = match policy.deadline() {
            Some(_) => AttemptContext::new(
                self.attempt,
                Instant::now().saturating_duration_since(start),
            ),
            None => AttemptContext::started_at(self.attempt, start),
        }
        .with_kind(kind)
        .with_server_delay(verdict.server_delay());
        if let Some(previous) = self.previous_delay {
            failed = failed.with_previous_delay(previous);
        }
        let decision = policy::decide(policy, &failed, &mut self.rng);
        if let Decision::Retry(delay) = decision {
            let Some(tokens) = budget.try_withdraw(kind) else {
                return Decision::Stop(StopReason::BudgetExhausted);
            };
            self.taken = self.taken.saturating_add(tokens);
            self.previous_delay = Some(delay);
        }
        decision
    }

    /// True when a retry would start at or after `deadline`. The decision
    /// already made sure the sleep ends before it, but a sleep on a real
    /// clock can end late (a busy thread, a suspended machine). Reads the
    /// clock only under a deadline.
    #[inline]
    pub(crate) fn past_deadline(&mut self, deadline: Option<Duration>) -> bool {
        match deadline {
            Some(deadline) => self.elapsed() >= deadline,
            None => false,
        }
    }

    /// Gives up before starting an attempt, the deadline having passed.
    pub(crate) fn stop_at_deadline<E: Debug, V>(&mut self) -> RetryError<E, V> {
        self.give_up(StopReason::Deadline, Failure::TimedOut)
    }

    /// Reports an attempt cut at the deadline to the budget, and gives up.
    #[cold]
    pub(crate) fn give_up_at_deadline<B: RetryBudget, E: Debug, V>(
        &mut self,
        budget: &B,
    ) -> RetryError<E, V> {
        budget.on_failure(Some(RetryKind::Timeout));
        self.stop_at_deadline()
    }

    /// Reports the stop and builds the caller's error.
    fn give_up<E: Debug, V>(
        &mut self,
        reason: StopReason,
        last: Failure<E, V>,
    ) -> RetryError<E, V> {
        let elapsed = self.elapsed();
        let (attempts, taken) = (self.attempt, self.taken);
        tracing::warn!(
            target: "persevere",
            parent: self.open_span(),
            attempts,
            elapsed = ?elapsed,
            reason = %reason,
            budget_taken = taken,
            error = ?last.shown(),
            "giving up"
        );
        let (error, value) = match last {
            Failure::Error(error) => (Some(error), None),
            Failure::Value(value, _) => (None, Some(value)),
            Failure::TimedOut => (None, None),
        };
        RetryError::new(reason, self.attempt, elapsed, error, value)
    }

    fn open_span(&mut self) -> &Span {
        self.span
            .get_or_insert_with(|| tracing::info_span!(target: "persevere", "retry"))
    }
}
