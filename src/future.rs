//! The future that a [`Retry`] becomes when awaited: one state machine that
//! runs an attempt, sleeps, and runs the next, without allocating.

use crate::budget::{NoBudget, RetryBudget};
use crate::call::{CallState, Failure};
use crate::classify::{AcceptOk, Classify, ClassifyOk};
use crate::error::RetryError;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use crate::retry::Retry;
use pin_project_lite::pin_project;
use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};
use tracing::Span;

pin_project! {
    /// The future of a retrying call; made by awaiting a [`Retry`].
    ///
    /// # Cancellation
    ///
    /// Dropping it drops the attempt in flight, or the sleep: no further
    /// attempt starts.
    ///
    /// # Panics
    ///
    /// Like any tokio timer, it panics when polled outside a tokio runtime
    /// with the time driver enabled (`rt.enable_time()` or `enable_all()`),
    /// but only once it needs a timer: a first attempt that succeeds and has
    /// no attempt timeout or deadline needs none. A panic in `op` or in its
    /// future propagates. Polling it again after it completed panics.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread", start_paused = true)]
    /// # async fn main() {
    /// use std::future::IntoFuture;
    ///
    /// let fut: persevere::RetryFuture<_, _, _, _, _> =
    ///     persevere::retry(|| async { Ok::<_, &str>(5) }).into_future();
    /// assert_eq!(fut.await.unwrap(), 5);
    /// # }
    /// ```
    #[must_use = "futures do nothing unless polled"]
    #[project = RetryFutureProj]
    pub struct RetryFuture<Op, Fut, P, C, N, B = NoBudget, K = AcceptOk> {
        op: Op,
        policy: P,
        classifier: C,
        ok: K,
        notify: N,
        budget: B,
        attempt_timeout: Option<Duration>,
        call: CallState,
        #[pin]
        attempt: Attempt<Fut>,
        #[pin]
        timer: Timer,
    }
}

pin_project! {
    #[project = AttemptProj]
    enum Attempt<Fut> {
        Idle,
        Running { #[pin] future: Fut },
        Done,
    }
}

pin_project! {
    /// One timer, created when first needed and then reset: it bounds an
    /// attempt while the attempt runs, and is the backoff while the call
    /// sleeps.
    #[project = TimerProj]
    enum Timer {
        Off,
        Armed { #[pin] sleep: Sleep, purpose: Purpose },
    }
}

/// What the armed timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    /// Nothing any more: it fired, or the attempt it bounded ended.
    Spent,
    /// Cuts the attempt, which counts as a retryable timeout.
    AttemptTimeout,
    /// Cuts the attempt at the policy's deadline, which ends the call.
    Deadline,
    /// Ends the sleep before the next attempt.
    Backoff,
    /// Ends the wait a rate limiter asked for before the first attempt.
    Permit,
    /// The first attempt's wait is over: start it without asking again.
    Permitted,
}

impl<Op, Fut, P, C, N, B, K> RetryFuture<Op, Fut, P, C, N, B, K>
where
    P: RetryPolicy,
{
    /// After the call gave up because its budget refused a retry: how long
    /// a long-polling call still backs off (see
    /// [`Retry::long_polling`](crate::Retry::long_polling)).
    pub(crate) fn refused_backoff(self: Pin<&mut Self>) -> Option<Duration> {
        let this = self.project();
        this.call.refused_backoff(this.policy.deadline())
    }

    #[inline]
    pub(crate) fn new(retry: Retry<Op, P, C, N, B, K>) -> Self {
        RetryFuture {
            op: retry.op,
            policy: retry.policy,
            classifier: retry.classifier,
            ok: retry.ok,
            notify: retry.notify,
            budget: retry.budget,
            attempt_timeout: retry.attempt_timeout,
            call: CallState::new(retry.seed),
            attempt: Attempt::Idle,
            timer: Timer::Off,
        }
    }
}

/// Runs `f` inside the call's span once it has one: attempts after the
/// first run inside it.
#[inline]
fn in_span<R>(span: Option<&Span>, f: impl FnOnce() -> R) -> R {
    match span {
        None => f(),
        Some(span) => span.in_scope(f),
    }
}

/// Arms `timer` to fire `after` from now, reusing its `Sleep` if it has one.
fn arm(mut timer: Pin<&mut Timer>, after: Duration, purpose: Purpose) {
    let until = deadline_after(after);
    match timer.as_mut().project() {
        TimerProj::Armed {
            sleep,
            purpose: armed,
        } => {
            sleep.reset(until);
            *armed = purpose;
        }
        TimerProj::Off => timer.set(Timer::Armed {
            sleep: tokio::time::sleep_until(until),
            purpose,
        }),
    }
}

/// The longest a timer is armed for, as `tokio::time::sleep` caps a sleep:
/// about 30 years. Farther deadlines would overflow tokio's timer, which
/// rounds every deadline up to its next millisecond.
pub(crate) const FAR_FUTURE: Duration = Duration::from_secs(86_400 * 365 * 30);

/// The instant `after` from now, at most [`FAR_FUTURE`] away.
fn deadline_after(after: Duration) -> Instant {
    let now = Instant::now();
    let after = after.min(FAR_FUTURE);
    now.checked_add(after).unwrap_or(now)
}

/// Waits for the backoff sleep, if the timer holds one.
fn poll_backoff(timer: Pin<&mut Timer>, cx: &mut Context<'_>) -> Poll<()> {
    if let TimerProj::Armed { sleep, purpose } = timer.project() {
        if *purpose == Purpose::Backoff {
            ready!(sleep.poll(cx));
            *purpose = Purpose::Spent;
        }
    }
    Poll::Ready(())
}

/// Arms `timer` for the wait a rate limiter asked for before the first
/// attempt, starting the call's clock: the deadline counts the wait.
#[cold]
fn wait_for_permit(timer: Pin<&mut Timer>, call: &mut CallState, wait: Duration) {
    call.start_clock();
    arm(timer, wait, Purpose::Permit);
}

/// Waits for the first attempt's permit, if the timer holds one: true once
/// it was granted after a wait, false when no wait was asked for yet.
fn poll_permit(timer: Pin<&mut Timer>, cx: &mut Context<'_>) -> Poll<bool> {
    match timer.project() {
        TimerProj::Armed { sleep, purpose } => match *purpose {
            Purpose::Permit => {
                ready!(sleep.poll(cx));
                *purpose = Purpose::Permitted;
                Poll::Ready(true)
            }
            Purpose::Permitted => Poll::Ready(true),
            _ => Poll::Ready(false),
        },
        TimerProj::Off => Poll::Ready(false),
    }
}

/// Bounds the attempt about to start by the attempt timeout or what is left
/// before the deadline, whichever is shorter.
fn arm_for_attempt(
    timer: Pin<&mut Timer>,
    call: &mut CallState,
    attempt_timeout: Option<Duration>,
    deadline: Option<Duration>,
) {
    let left = deadline.map(|deadline| deadline.saturating_sub(call.elapsed()));
    match (attempt_timeout, left) {
        (None, None) => {}
        (Some(timeout), Some(left)) if timeout < left => {
            arm(timer, timeout, Purpose::AttemptTimeout)
        }
        (Some(timeout), None) => arm(timer, timeout, Purpose::AttemptTimeout),
        (_, Some(left)) => arm(timer, left, Purpose::Deadline),
    }
}

impl<Op, Fut, T, E, P, C, N, B, K> Future for RetryFuture<Op, Fut, P, C, N, B, K>
where
    Op: MakeAttempt<Fut>,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    type Output = Result<T, RetryError<E, K::Kept>>;

    #[inline]
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // The first attempt of a call with no deadline and no attempt timeout
        // needs no timer and no span: run it here, and leave the rest to the
        // state machine, kept out of line so that this path stays short.
        let mut this = self.as_mut().project();
        let untimed = this.attempt_timeout.is_none() && this.policy.deadline().is_none();
        let first_failure = 'inline: {
            if !untimed {
                break 'inline None;
            }
            match this.call.attempt() {
                // A timer that is still off means nothing has happened yet: a
                // first attempt waiting for a rate limiter has armed it.
                0 if matches!(*this.timer, Timer::Off) => {
                    match this.budget.before_attempt(None, None) {
                        Some(wait) if wait.is_zero() => {
                            let attempt = this.call.start_attempt(false, &*this.budget);
                            let future = this.op.attempt(attempt);
                            this.attempt.set(Attempt::Running { future });
                        }
                        Some(wait) => {
                            wait_for_permit(this.timer.as_mut(), this.call, wait);
                            break 'inline None;
                        }
                        None => {
                            this.attempt.set(Attempt::Done);
                            return Poll::Ready(Err(this.call.stop_rate_limited()));
                        }
                    }
                }
                // The first attempt, started on an earlier poll.
                1 => {}
                _ => break 'inline None,
            }
            // Straight from starting the attempt to polling it: the attempt
            // number is not tested again.
            let mut state = this.attempt;
            let AttemptProj::Running { future } = state.as_mut().project() else {
                break 'inline None;
            };
            match future.poll(cx) {
                Poll::Ready(Ok(value)) => match this.ok.check(value) {
                    Ok(value) => {
                        this.call.succeeded(&*this.budget);
                        state.set(Attempt::Done);
                        return Poll::Ready(Ok(value));
                    }
                    Err((value, verdict)) => Some(Failure::Value(value, verdict)),
                },
                Poll::Ready(Err(error)) => Some(Failure::Error(error)),
                Poll::Pending => return Poll::Pending,
            }
        };
        poll_machine(self.project(), first_failure, cx)
    }
}

/// The state machine: handles the failure of the first attempt if the inline
/// path saw one, then waits for each backoff, starts each attempt (bounded by
/// the attempt timeout and the deadline) inside the call's span, and polls it.
#[inline(never)]
fn poll_machine<Op, Fut, T, E, P, C, N, B, K>(
    mut this: RetryFutureProj<'_, Op, Fut, P, C, N, B, K>,
    first_failure: Option<Failure<E, K::Kept>>,
    cx: &mut Context<'_>,
) -> Poll<Result<T, RetryError<E, K::Kept>>>
where
    Op: MakeAttempt<Fut>,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    if let Some(failure) = first_failure {
        if let Some(stopped_or_yielded) = after_failure(&mut this, failure, cx) {
            return stopped_or_yielded;
        }
    }
    loop {
        let failure = match this.attempt.as_mut().project() {
            AttemptProj::Idle => {
                let deadline = this.policy.deadline();
                if this.call.attempt() > 0 {
                    ready!(poll_backoff(this.timer.as_mut(), cx));
                    if this.call.past_deadline(deadline) {
                        this.attempt.set(Attempt::Done);
                        return Poll::Ready(Err(this.call.stop_at_deadline()));
                    }
                } else if !ready!(poll_permit(this.timer.as_mut(), cx)) {
                    match this
                        .call
                        .first_permit(&*this.budget, deadline, *this.attempt_timeout)
                    {
                        Err(stopped) => {
                            this.attempt.set(Attempt::Done);
                            return Poll::Ready(Err(stopped));
                        }
                        Ok(wait) if !wait.is_zero() => {
                            arm(this.timer.as_mut(), wait, Purpose::Permit);
                            continue;
                        }
                        Ok(_) => {}
                    }
                }
                let timed = deadline.is_some() || this.attempt_timeout.is_some();
                let attempt = this.call.start_attempt(timed, &*this.budget);
                if timed {
                    arm_for_attempt(
                        this.timer.as_mut(),
                        this.call,
                        *this.attempt_timeout,
                        deadline,
                    );
                }
                let future = in_span(this.call.span(), || this.op.attempt(attempt));
                this.attempt.set(Attempt::Running { future });
                continue;
            }
            AttemptProj::Running { future } => {
                match in_span(this.call.span(), || future.poll(cx)) {
                    Poll::Ready(Ok(value)) => match this.ok.check(value) {
                        Ok(value) => {
                            this.call.succeeded(&*this.budget);
                            this.attempt.set(Attempt::Done);
                            return Poll::Ready(Ok(value));
                        }
                        Err((value, verdict)) => Failure::Value(value, verdict),
                    },
                    Poll::Ready(Err(error)) => Failure::Error(error),
                    Poll::Pending => {
                        let TimerProj::Armed { sleep, purpose } = this.timer.as_mut().project()
                        else {
                            return Poll::Pending;
                        };
                        if !matches!(*purpose, Purpose::AttemptTimeout | Purpose::Deadline) {
                            return Poll::Pending;
                        }
                        ready!(sleep.poll(cx));
                        if *purpose == Purpose::Deadline {
                            this.attempt.set(Attempt::Done);
                            return Poll::Ready(Err(this.call.give_up_at_deadline(&*this.budget)));
                        }
                        *purpose = Purpose::Spent;
                        Failure::TimedOut
                    }
                }
            }
            AttemptProj::Done => panic!("RetryFuture polled after completion"),
        };
        // The attempt failed, returned a value not accepted, or timed out.
        if let Some(stopped_or_yielded) = after_failure(&mut this, failure, cx) {
            return stopped_or_yielded;
        }
    }
}

/// What a call ends with.
type Outcome<T, E, V> = Result<T, RetryError<E, V>>;

/// Handles a failed attempt. Returns the call's
/// result when it stops, `Pending` when the task must yield before a
/// zero-delay retry, and `None` when the machine goes on: the backoff timer is
/// armed, or a zero-delay retry starts at once.
#[inline(never)]
fn after_failure<Op, Fut, T, E, P, C, N, B, K>(
    this: &mut RetryFutureProj<'_, Op, Fut, P, C, N, B, K>,
    failure: Failure<E, K::Kept>,
    cx: &mut Context<'_>,
) -> Option<Poll<Outcome<T, E, K::Kept>>>
where
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
    K: ClassifyOk<T>,
{
    let outcome = this.call.after_failure(
        failure,
        &*this.policy,
        &*this.classifier,
        this.notify,
        &*this.budget,
        *this.attempt_timeout,
    );
    // On a retry the error is already dropped: drop the attempt's future
    // too, with anything it holds, before sleeping.
    let delay = match outcome {
        Ok(delay) => {
            this.attempt.set(Attempt::Idle);
            delay
        }
        Err(error) => {
            this.attempt.set(Attempt::Done);
            return Some(Poll::Ready(Err(error)));
        }
    };
    if delay.is_zero() {
        if let TimerProj::Armed { purpose, .. } = this.timer.as_mut().project() {
            *purpose = Purpose::Spent;
        }
        // No timer for a zero delay: retry at once while the task has
        // cooperative budget left, as tokio's own resources do; once it runs
        // out, yield so that other tasks run.
        return match tokio::task::coop::poll_proceed(cx) {
            Poll::Ready(progress) => {
                progress.made_progress();
                None
            }
            Poll::Pending => Some(Poll::Pending),
        };
    }
    arm(this.timer.as_mut(), delay, Purpose::Backoff);
    None
}

impl<Op, Fut, P: fmt::Debug, C: fmt::Debug, N, B: fmt::Debug, K> fmt::Debug
    for RetryFuture<Op, Fut, P, C, N, B, K>
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RetryFuture")
            .field("policy", &self.policy)
            .field("classifier", &self.classifier)
            .field("budget", &self.budget)
            .field("attempt_timeout", &self.attempt_timeout)
            .field("attempt", &self.call.attempt())
            .finish_non_exhaustive()
    }
}

/// Starts attempt number `attempt` (from 1) of a call: what a
/// [`RetryFuture`] calls for each attempt.
///
/// Implemented for every `FnMut(u32) -> Fut`, the ops that
/// [`retry_with_attempt`](crate::retry_with_attempt) takes; adapters such as
/// the `tower` layer implement it for an op type they can name.
///
/// # Examples
///
/// ```
/// use persevere::MakeAttempt;
///
/// let mut op = |attempt: u32| async move { Ok::<_, ()>(attempt) };
/// let _first = op.attempt(1);
/// ```
pub trait MakeAttempt<Fut> {
    /// The future of attempt number `attempt`.
    fn attempt(&mut self, attempt: u32) -> Fut;
}

impl<F: FnMut(u32) -> Fut, Fut> MakeAttempt<Fut> for F {
    #[inline(always)]
    fn attempt(&mut self, attempt: u32) -> Fut {
        self(attempt)
    }
}
