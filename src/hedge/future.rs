//! The future a [`Hedge`] becomes when awaited: it runs up to
//! [`MAX_IN_FLIGHT`](super::MAX_IN_FLIGHT) attempts at once in an inline set,
//! with one timer for the next hedge and the deadline.

use super::builder::Hedge;
use super::call::{CallState, capped_after};
use super::delay::HedgeDelay;
use super::outcome::Hedged;
use super::slots::Slots;
use super::timer::{Timer, Wake, poll_timer};
use crate::budget::RetryBudget;
use crate::classify::{Classify, RetryKind};
use crate::error::{RetryError, StopReason};
use crate::future::MakeAttempt;
use crate::policy::{AttemptContext, Decision, RetryPolicy};
use crate::rng::JitterRng;
use pin_project_lite::pin_project;
use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::Instant;

pin_project! {
    /// The future of a hedged call; made by awaiting a [`Hedge`].
    ///
    /// Its attempts live inside it, in a fixed set of
    /// [`MAX_IN_FLIGHT`](super::MAX_IN_FLIGHT) slots: it allocates nothing of
    /// its own, and is about four times as large as one attempt's future.
    ///
    /// # Cancellation
    ///
    /// Dropping it drops every attempt in flight at once; no further attempt
    /// starts.
    ///
    /// # Panics
    ///
    /// Like any tokio timer, it panics when polled outside a tokio runtime
    /// with the time driver enabled, but only once it needs a timer: a first
    /// attempt that answers when first polled needs none. A panic in `op` or
    /// in an attempt propagates. Polling it again after it completed panics.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use persevere::hedge::HedgeFuture;
    /// use std::future::IntoFuture;
    ///
    /// let fut: HedgeFuture<_, _, _, _, _, _, _> =
    ///     persevere::hedge(|| async { Ok::<_, ()>(5) }).into_future();
    /// assert_eq!(fut.await.unwrap().into_inner(), 5);
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    #[project = HedgeFutureProj]
    pub struct HedgeFuture<Op, Fut, P, C, D, H, B> {
        op: Op,
        policy: P,
        classifier: C,
        delay: D,
        hedge_budget: H,
        budget: B,
        pub(super) max_in_flight: u8,
        pub(super) call: CallState,
        #[pin]
        pub(super) slots: Slots<Fut>,
        #[pin]
        pub(super) timer: Timer,
    }
}

impl<Op, Fut, P, C, D, H, B> HedgeFuture<Op, Fut, P, C, D, H, B> {
    #[inline]
    pub(crate) fn new(hedge: Hedge<Op, P, C, D, H, B>) -> Self {
        HedgeFuture {
            op: hedge.op,
            policy: hedge.policy,
            classifier: hedge.classifier,
            delay: hedge.delay,
            hedge_budget: hedge.hedge_budget,
            budget: hedge.budget,
            max_in_flight: hedge.max_in_flight,
            call: CallState::new(),
            slots: Slots::new(),
            timer: Timer::Off,
        }
    }
}

type Output<T, E> = Poll<Result<Hedged<T>, RetryError<E>>>;

impl<Op, Fut, T, E, P, C, D, H, B> Future for HedgeFuture<Op, Fut, P, C, D, H, B>
where
    Op: MakeAttempt<Fut>,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    D: HedgeDelay,
    H: RetryBudget,
    B: RetryBudget,
{
    type Output = Result<Hedged<T>, RetryError<E>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Output<T, E> {
        let mut this = self.as_mut().project();
        assert!(!this.call.done, "HedgeFuture polled after completion");
        if this.call.started == 0 {
            // The first attempt goes to the first slot: poll it alone, so
            // that an answer at once costs the call no more than that. The
            // rest of the machinery is out of line, and projects the future
            // anew: passing this projection to it would make the fast path
            // store every field's address first.
            begin(&mut this);
            match this.slots.as_mut().poll_first(cx) {
                Poll::Ready(Ok(value)) => return succeed(&mut this, 1, value),
                Poll::Ready(Err(error)) => return first_failed(self, error, cx),
                Poll::Pending => {}
            }
        }
        poll_slow(&mut self.project(), cx)
    }
}

/// The first attempt failed when first polled: retry, or stop.
#[inline(never)]
fn first_failed<Op, Fut, T, E, P, C, D, H, B>(
    future: Pin<&mut HedgeFuture<Op, Fut, P, C, D, H, B>>,
    error: E,
    cx: &mut Context<'_>,
) -> Output<T, E>
where
    Op: MakeAttempt<Fut>,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    D: HedgeDelay,
    H: RetryBudget,
    B: RetryBudget,
{
    let mut this = future.project();
    if let Some(stop) = after_failure(&mut this, error, cx) {
        return stop;
    }
    poll_slow(&mut this, cx)
}

/// Every poll but the fast first one: starts an attempt owed, polls the
/// attempts in flight, and waits for the next hedge or the deadline.
#[inline(never)]
fn poll_slow<Op, Fut, T, E, P, C, D, H, B>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
    cx: &mut Context<'_>,
) -> Output<T, E>
where
    Op: MakeAttempt<Fut>,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    D: HedgeDelay,
    H: RetryBudget,
    B: RetryBudget,
{
    if this.call.owed {
        this.call.owed = false;
        start_attempt(this);
    }
    loop {
        match this.slots.as_mut().poll_next(cx) {
            Poll::Ready((winner, Ok(value))) => return succeed(this, winner, value),
            Poll::Ready((_, Err(error))) => {
                if let Some(stop) = after_failure(this, error, cx) {
                    return stop;
                }
                continue;
            }
            Poll::Pending => {}
        }
        match poll_timer(this, cx) {
            Poll::Ready(Wake::Deadline) => return stop_at_deadline(this),
            Poll::Ready(Wake::Hedge) => continue,
            Poll::Pending => return Poll::Pending,
        }
    }
}

/// Starts the call: tells the budgets, reads the delay, and starts the first
/// attempt. Reads the clock only under a deadline.
#[inline]
fn begin<Op, Fut, P: RetryPolicy, C, D: HedgeDelay, H: RetryBudget, B: RetryBudget>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
) where
    Op: MakeAttempt<Fut>,
{
    this.budget.on_call();
    this.hedge_budget.on_call();
    this.call.delay = this.delay.hedge_delay();
    if let Some(deadline) = this.policy.deadline() {
        let now = Instant::now();
        this.call.start = Some(now);
        this.call.deadline = capped_after(now, deadline);
        this.call.next_hedge = this.call.delay.and_then(|delay| capped_after(now, delay));
    }
    this.call.started = 1;
    let future = this.op.attempt(1);
    this.slots.as_mut().start_first(future);
}

/// Starts the next attempt and schedules the hedge after it.
#[inline]
pub(super) fn start_attempt<Op, Fut, P, C, D, H, B>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
) where
    Op: MakeAttempt<Fut>,
{
    let call = &mut *this.call;
    call.started = call.started.saturating_add(1);
    // The first attempt's hedge is scheduled once it turns out to be pending
    // (see `poll_timer`), so that an attempt answering at once reads no clock.
    call.next_hedge = match (call.start, call.delay) {
        (Some(_), Some(delay)) => capped_after(Instant::now(), delay),
        _ => None,
    };
    let future = this.op.attempt(call.started);
    let started = this.slots.as_mut().start(call.started, future);
    debug_assert!(started, "a free slot is checked for before each attempt");
}

/// Asks whether another attempt may start after a failure of `kind` (a
/// hedge: `Timeout`): the policy's caps, the deadline, then the budgets.
pub(super) fn may_start<Op, Fut, P: RetryPolicy, C, D, H: RetryBudget, B: RetryBudget>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
    kind: RetryKind,
    hedge: bool,
) -> Result<(), StopReason> {
    let call = &mut *this.call;
    let elapsed = call.elapsed();
    let failed = AttemptContext::new(call.started, elapsed).with_kind(kind);
    // The policy's delays are not used: a generator that seeds itself only
    // if the policy draws is enough, and costs the call no room.
    let mut rng = JitterRng::from_entropy();
    if let Decision::Stop(reason) = this.policy.decide(&failed, &mut rng) {
        return Err(reason);
    }
    if call.past_deadline() {
        return Err(StopReason::Deadline);
    }
    if hedge && this.hedge_budget.try_withdraw(kind).is_none() {
        return Err(StopReason::BudgetExhausted);
    }
    let tokens = this
        .budget
        .try_withdraw(kind)
        .ok_or(StopReason::BudgetExhausted)?;
    call.taken = call.taken.saturating_add(tokens);
    call.last_taken = tokens;
    Ok(())
}

#[inline]
fn succeed<Op, Fut, T, E, P, C, D: HedgeDelay, H, B: RetryBudget>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
    winner: u32,
    value: T,
) -> Output<T, E> {
    if this.slots.running() > 0 {
        this.slots.as_mut().clear();
    }
    let call = &mut *this.call;
    call.done = true;
    let elapsed = match call.start {
        Some(start) => Instant::now().saturating_duration_since(start),
        None => Duration::ZERO,
    };
    this.delay.record(elapsed);
    this.budget
        .on_success(call.started > 1, call.taken, call.last_taken);
    Poll::Ready(Ok(Hedged {
        value,
        attempts: call.started,
        winner,
        elapsed,
    }))
}

/// Handles a failed attempt: a terminal one ends the call; a retryable one
/// starts the next attempt at once if the caps and budget allow, or else
/// ends the call unless other attempts are in flight. `None`: go on.
#[cold]
fn after_failure<Op, Fut, T, E, P, C, D, H, B>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
    error: E,
    cx: &mut Context<'_>,
) -> Option<Output<T, E>>
where
    Op: MakeAttempt<Fut>,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    H: RetryBudget,
    B: RetryBudget,
{
    let verdict = this.classifier.classify(&error);
    this.budget.on_failure(verdict.kind());
    let stop = match verdict.kind() {
        None => Some(StopReason::Terminal),
        Some(kind) => may_start(this, kind, false).err(),
    };
    match stop {
        None => {
            drop(error);
            // A long run of failures that retry at once must not starve the
            // other tasks: yield once tokio's cooperative budget runs out.
            match tokio::task::coop::poll_proceed(cx) {
                Poll::Ready(progress) => {
                    progress.made_progress();
                    start_attempt(this);
                }
                Poll::Pending => {
                    this.call.owed = true;
                    return Some(Poll::Pending);
                }
            }
            None
        }
        Some(reason) if reason == StopReason::Terminal || this.slots.running() == 0 => {
            Some(give_up(this, reason, Some(error)))
        }
        // Others are in flight: wait for them (the error, and whatever it
        // holds, is dropped now).
        Some(_) => None,
    }
}

fn stop_at_deadline<Op, Fut, T, E: Debug, P, C, D, H, B: RetryBudget>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
) -> Output<T, E> {
    this.budget.on_failure(Some(RetryKind::Timeout));
    give_up(this, StopReason::Deadline, None)
}

fn give_up<Op, Fut, T, E: Debug, P, C, D, H, B>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
    reason: StopReason,
    error: Option<E>,
) -> Output<T, E> {
    this.slots.as_mut().clear();
    let call = &mut *this.call;
    call.done = true;
    let elapsed = call.elapsed();
    tracing::warn!(
        target: "persevere",
        attempts = call.started,
        elapsed = ?elapsed,
        reason = %reason,
        budget_taken = call.taken,
        error = ?error,
        "hedged call gave up"
    );
    Poll::Ready(Err(RetryError::new(
        reason,
        call.started,
        elapsed,
        error,
        None,
    )))
}

impl<Op, Fut, P: Debug, C: Debug, D: Debug, H: Debug, B: Debug> Debug
    for HedgeFuture<Op, Fut, P, C, D, H, B>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HedgeFuture")
            .field("policy", &self.policy)
            .field("classifier", &self.classifier)
            .field("delay", &self.delay)
            .field("hedge_budget", &self.hedge_budget)
            .field("budget", &self.budget)
            .field("max_in_flight", &self.max_in_flight)
            .field("attempts", &self.call.started)
            .field("in_flight", &self.slots.running())
            .finish_non_exhaustive()
    }
}
