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
use std::task::{Context, Poll};
use std::time::Duration;

mod machine;
mod make_attempt;
mod timer;

use machine::poll_machine;
pub use make_attempt::MakeAttempt;
pub(crate) use timer::FAR_FUTURE;
use timer::{Timer, wait_for_permit};

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
