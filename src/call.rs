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
    retries: Retries,
    start: Option<Instant>,
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
            retries: Retries::default(),
            start: None,
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
    #[inline]
    fn start(&mut self) -> Instant {
        *self.start.get_or_insert_with(Instant::now)
    }

    /// Reports the successful attempt to the budget.
    #[inline]
    pub(crate) fn succeeded<B: RetryBudget>(&self, budget: &B) {
        budget.on_success(
            self.attempt > 1,
            self.retries.taken,
            self.retries.last_taken,
        );
    }

    /// Handles a failed attempt: reports it to the budget, asks
    /// the policy what to do and, for a retry, the budget whether it may.
    ///
    /// On a retry it tells the notify hook and tracing, drops the error (and
    /// whatever connection it holds) and returns the delay to sleep; on a stop
    /// it returns the caller's error.
    #[inline]
    pub(crate) fn after_failure<E, V, P, C, N, B>(
        &mut self,
        failure: Failure<E, V>,
        policy: &P,
        classifier: &C,
        notify: &mut N,
        budget: &B,
        attempt_timeout: Option<Duration>,
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
        let start = self.start();
        let delay = match self.decide(policy, budget, verdict, start, attempt_timeout) {
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
        let (attempt, taken) = (self.attempt, self.retries.taken);
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

    /// The decision after a failed attempt, reading the clock as the policy
    /// needs it.
    fn decide<P: RetryPolicy + ?Sized, B: RetryBudget>(
        &mut self,
        policy: &P,
        budget: &B,
        verdict: Classification,
        start: Instant,
        attempt_timeout: Option<Duration>,
    ) -> Decision {
        let attempt = self.attempt;
        // Under a deadline the decision needs the elapsed time: read the clock
        // once for the policy and the deadline check both.
        let failed = || match policy.deadline() {
            Some(_) => {
                AttemptContext::new(attempt, Instant::now().saturating_duration_since(start))
            }
            None => AttemptContext::started_at(attempt, start),
        };
        self.retries.decide(
            policy,
            budget,
            verdict,
            failed,
            attempt_timeout,
            &mut self.rng,
        )
    }

    /// How long a long-polling call still backs off after its budget
    /// refused a retry: the policy's delay for it, ending before the deadline.
    pub(crate) fn refused_backoff(&mut self, deadline: Option<Duration>) -> Option<Duration> {
        // After a refusal, the previous delay is the one the budget refused.
        let delay = self.retries.previous_delay?;
        Some(match deadline {
            Some(deadline) => delay.min(policy::longest_sleep_before(deadline, self.elapsed())),
            None => delay,
        })
    }

    /// Asks the budget's rate limiter before the call's first attempt: the
    /// wait (zero to start at once; the clock starts with a wait, so the
    /// deadline counts it), or the call's error when the wait would pass the
    /// deadline or the attempt timeout.
    pub(crate) fn first_permit<B: RetryBudget, E: Debug, V>(
        &mut self,
        budget: &B,
        deadline: Option<Duration>,
        attempt_timeout: Option<Duration>,
    ) -> Result<Duration, RetryError<E, V>> {
        let max_wait = max_wait_at(Duration::ZERO, deadline, attempt_timeout);
        match budget.before_attempt(None, max_wait) {
            None => Err(self.stop_rate_limited()),
            Some(wait) => {
                if !wait.is_zero() {
                    self.start();
                }
                Ok(wait)
            }
        }
    }

    /// Starts the clock, if it has not started: a call's first attempt that
    /// waits for a rate limiter counts the wait in its elapsed time.
    pub(crate) fn start_clock(&mut self) {
        self.start();
    }

    /// Gives up before the first attempt: a rate limiter would make it wait
    /// too long.
    #[cold]
    pub(crate) fn stop_rate_limited<E: Debug, V>(&mut self) -> RetryError<E, V> {
        self.give_up(StopReason::RateLimited, Failure::TimedOut)
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
        let (attempts, taken) = (self.attempt, self.retries.taken);
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

/// What a call remembers of its retries, and the decision after a failed
/// attempt, apart from the clock: the part of a call that every runner and
/// the testing kit's replay share, so that they apply the same rules.
#[derive(Debug, Default)]
pub(crate) struct Retries {
    /// Budget tokens this call's retries took.
    pub(crate) taken: u32,
    /// Budget tokens the latest retry took.
    pub(crate) last_taken: u32,
    pub(crate) previous_delay: Option<Duration>,
    /// The sum of the delays decided so far.
    slept: Duration,
}

impl Retries {
    /// After an attempt that failed with `verdict`: reports the failure to
    /// the budget; stops on a terminal verdict; otherwise asks the policy,
    /// held to its deadline by [`policy::decide`], about the failure that
    /// `failed` describes (its attempt number and elapsed time), and for a
    /// retry asks the budget, then how long a rate limiter makes it wait
    /// (the call sleeps the longer of that and the policy's delay).
    #[inline]
    pub(crate) fn decide<P: RetryPolicy + ?Sized, B: RetryBudget>(
        &mut self,
        policy: &P,
        budget: &B,
        verdict: Classification,
        failed: impl FnOnce() -> AttemptContext,
        attempt_timeout: Option<Duration>,
        rng: &mut JitterRng,
    ) -> Decision {
        budget.on_failure(verdict.kind());
        let Some(kind) = verdict.kind() else {
            return Decision::Stop(StopReason::Terminal);
        };
        let failed = failed().with_failure(
            kind,
            verdict.server_delay(),
            self.previous_delay,
            self.slept,
        );
        let decision = policy::decide(policy, &failed, rng);
        let Decision::Retry(delay) = decision else {
            return decision;
        };
        let Some(tokens) = budget.try_withdraw(kind) else {
            // The call stops: keep the refused delay in place of the last
            // one, for a long-polling call that backs off all the same.
            self.previous_delay = Some(delay);
            return Decision::Stop(StopReason::BudgetExhausted);
        };
        self.taken = self.taken.saturating_add(tokens);
        self.last_taken = tokens;
        // Jitter grows from the policy's own delay, not from a limiter's wait.
        self.previous_delay = Some(delay);
        let deadline = policy.deadline();
        let elapsed = if deadline.is_some() {
            failed.elapsed()
        } else {
            Duration::ZERO
        };
        let max_wait = max_wait_at(elapsed, deadline, attempt_timeout);
        let Some(wait) = budget.before_attempt(Some(kind), max_wait) else {
            return Decision::Stop(StopReason::RateLimited);
        };
        let sleep = delay.max(wait);
        self.slept = self.slept.saturating_add(sleep);
        Decision::Retry(sleep)
    }
}

/// The longest wait for a rate limiter, `elapsed` into a call: at most the
/// attempt timeout, and short enough that the attempt starts before the
/// deadline. A first attempt asks at an `elapsed` of zero: its clock starts
/// with the wait.
#[inline]
pub(crate) fn max_wait_at(
    elapsed: Duration,
    deadline: Option<Duration>,
    attempt_timeout: Option<Duration>,
) -> Option<Duration> {
    let before_deadline = deadline.map(|deadline| policy::longest_sleep_before(deadline, elapsed));
    match (before_deadline, attempt_timeout) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}
