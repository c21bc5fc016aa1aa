//! The retry future's state machine: every poll after the inline first
//! attempt, and what happens after a failed attempt.

use super::timer::{Purpose, TimerProj, arm, arm_for_attempt, poll_backoff, poll_permit};
use super::{Attempt, AttemptProj, MakeAttempt, RetryFutureProj};
use crate::budget::RetryBudget;
use crate::call::Failure;
use crate::classify::{Classify, ClassifyOk};
use crate::error::RetryError;
use crate::notify::Notify;
use crate::policy::RetryPolicy;
use std::fmt::Debug;
use std::future::Future;
use std::task::{Context, Poll, ready};
use tracing::Span;

/// Runs `f` inside the call's span once it has one: attempts after the
/// first run inside it.
#[inline]
fn in_span<R>(span: Option<&Span>, f: impl FnOnce() -> R) -> R {
    match span {
        None => f(),
        Some(span) => span.in_scope(f),
    }
}

/// The state machine: handles the failure of the first attempt if the inline
/// path saw one, then waits for each backoff, starts each attempt (bounded by
/// the attempt timeout and the deadline) inside the call's span, and polls it.
#[inline(never)]
pub(super) fn poll_machine<Op, Fut, T, E, P, C, N, B, K>(
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
