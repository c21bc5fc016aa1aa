//! The future that a [`Retry`] becomes when awaited: one state machine that
//! runs an attempt, sleeps, and runs the next, without allocating.

use crate::budget::{NoBudget, RetryBudget};
use crate::call::{CallState, report_retry};
use crate::classify::{Classification, Classify};
use crate::error::RetryError;
use crate::notify::{Notify, RetryEvent};
use crate::policy::{Decision, RetryPolicy};
use crate::retry::Retry;
use pin_project_lite::pin_project;
use std::fmt::{self, Debug};
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Sleep, sleep};

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
    pub struct RetryFuture<Op, Fut, P, C, N, B = NoBudget> {
        op: Op,
        policy: P,
        classifier: C,
        notify: N,
        budget: B,
        attempt_timeout: Option<Duration>,
        timed: bool,
        call: CallState,
        span: tracing::Span,
        #[pin]
        state: State<Fut>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<Fut> {
        Ready,
        Running { #[pin] attempt: Fut, #[pin] timer: Timer },
        Sleeping { #[pin] sleep: Sleep },
        Done,
    }
}

pin_project! {
    #[project = TimerProj]
    enum Timer {
        Unbounded,
        // `at_deadline`: the timer ends at the policy's deadline rather than
        // at the end of the attempt timeout.
        Bounded { #[pin] sleep: Sleep, at_deadline: bool },
    }
}

impl<Op, Fut, P, C, N, B> RetryFuture<Op, Fut, P, C, N, B>
where
    P: RetryPolicy,
{
    pub(crate) fn new(retry: Retry<Op, P, C, N, B>) -> Self {
        let timed = retry.attempt_timeout.is_some() || retry.policy.deadline().is_some();
        RetryFuture {
            op: retry.op,
            policy: retry.policy,
            classifier: retry.classifier,
            notify: retry.notify,
            budget: retry.budget,
            attempt_timeout: retry.attempt_timeout,
            timed,
            call: CallState::new(retry.seed),
            span: tracing::info_span!(target: "persevere", "retry"),
            state: State::Ready,
        }
    }
}

/// How long the attempt about to start may run: the attempt timeout or what
/// is left before the deadline, whichever is shorter.
fn attempt_timer(
    call: &mut CallState,
    attempt_timeout: Option<Duration>,
    deadline: Option<Duration>,
) -> Timer {
    let left = deadline.map(|deadline| deadline.saturating_sub(call.elapsed()));
    let (bound, at_deadline) = match (attempt_timeout, left) {
        (None, None) => return Timer::Unbounded,
        (Some(timeout), Some(left)) if timeout < left => (timeout, false),
        (Some(timeout), None) => (timeout, false),
        (_, Some(left)) => (left, true),
    };
    Timer::Bounded {
        sleep: sleep(bound),
        at_deadline,
    }
}

impl<Op, Fut, T, E, P, C, N, B> Future for RetryFuture<Op, Fut, P, C, N, B>
where
    Op: FnMut(u32) -> Fut,
    Fut: Future<Output = Result<T, E>>,
    E: Debug,
    P: RetryPolicy,
    C: Classify<E>,
    N: Notify<E>,
    B: RetryBudget,
{
    type Output = Result<T, RetryError<E>>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let _entered = this.span.enter();
        loop {
            let failure = match this.state.as_mut().project() {
                StateProj::Ready => {
                    let attempt = this.call.start_attempt(*this.timed, &*this.budget);
                    let timer = if *this.timed {
                        attempt_timer(this.call, *this.attempt_timeout, this.policy.deadline())
                    } else {
                        Timer::Unbounded
                    };
                    this.state.set(State::Running {
                        attempt: (this.op)(attempt),
                        timer,
                    });
                    continue;
                }
                StateProj::Running { attempt, timer } => match attempt.poll(cx) {
                    Poll::Ready(Ok(value)) => {
                        this.call.succeeded(&*this.budget);
                        this.state.set(State::Done);
                        return Poll::Ready(Ok(value));
                    }
                    Poll::Ready(Err(error)) => Some(error),
                    Poll::Pending => match timer.project() {
                        TimerProj::Unbounded => return Poll::Pending,
                        TimerProj::Bounded { sleep, at_deadline } => {
                            ready!(sleep.poll(cx));
                            if *at_deadline {
                                this.state.set(State::Done);
                                let err = this.call.give_up_at_deadline(&*this.budget);
                                return Poll::Ready(Err(err));
                            }
                            None
                        }
                    },
                },
                StateProj::Sleeping { sleep } => {
                    ready!(sleep.poll(cx));
                    this.state.set(State::Ready);
                    continue;
                }
                StateProj::Done => panic!("RetryFuture polled after completion"),
            };

            // The attempt failed with `failure` (or timed out, if `None`).
            let verdict = match &failure {
                Some(error) => this.classifier.classify(error),
                None => Classification::timeout(),
            };
            let (decision, elapsed) = this.call.decide(&*this.policy, &*this.budget, verdict);
            let delay = match decision {
                Decision::Retry(delay) => delay,
                Decision::Stop(reason) => {
                    this.state.set(State::Done);
                    return Poll::Ready(Err(this.call.give_up(reason, elapsed, failure)));
                }
            };
            let attempt = this.call.attempt();
            this.notify.notify(&RetryEvent {
                attempt,
                error: failure.as_ref(),
                classification: verdict,
                delay,
                elapsed,
            });
            report_retry(
                attempt,
                failure.as_ref().map(|e| e as &dyn Debug),
                verdict,
                delay,
                this.call.taken(),
            );
            // Drop the failed attempt's error, then its future (and with them
            // any response or connection they hold) before sleeping.
            drop(failure);
            if delay.is_zero() {
                // No timer for a zero delay: yield once so other tasks run.
                this.state.set(State::Ready);
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            this.state.set(State::Sleeping {
                sleep: sleep(delay),
            });
        }
    }
}

impl<Op, Fut, P: fmt::Debug, C: fmt::Debug, N, B: fmt::Debug> fmt::Debug
    for RetryFuture<Op, Fut, P, C, N, B>
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
