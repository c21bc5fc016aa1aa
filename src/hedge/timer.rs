//! The one timer of a hedged call: created when first needed, then reset,
//! it wakes the call for the next hedge or at the deadline, whichever comes
//! first. The instants it is given are at most about 30 years away
//! (`capped_after`): tokio rounds a timer up to its next millisecond, which
//! overflows near the last instant `Instant` can hold. `poll_timer` waits on
//! it and starts the hedge that is due.

use super::call::capped_after;
use super::future::{HedgeFutureProj, may_start, start_attempt};
use crate::budget::RetryBudget;
use crate::classify::RetryKind;
use crate::future::MakeAttempt;
use crate::policy::RetryPolicy;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use tokio::time::{Instant, Sleep};

pin_project! {
    #[project = TimerProj]
    pub(crate) enum Timer {
        Off,
        Armed { #[pin] sleep: Sleep, at: Instant },
    }
}

impl Timer {
    /// Waits until `at`: arms the timer the first time, resets it when `at`
    /// moved, and polls it.
    pub(crate) fn poll_until(
        mut self: Pin<&mut Self>,
        at: Instant,
        cx: &mut Context<'_>,
    ) -> Poll<()> {
        match self.as_mut().project() {
            TimerProj::Armed {
                mut sleep,
                at: armed,
            } => {
                if *armed != at {
                    sleep.as_mut().reset(at);
                    *armed = at;
                }
                return sleep.poll(cx);
            }
            TimerProj::Off => self.as_mut().set(Timer::Armed {
                sleep: tokio::time::sleep_until(at),
                at,
            }),
        }
        match self.project() {
            TimerProj::Armed { sleep, .. } => sleep.poll(cx),
            TimerProj::Off => Poll::Pending,
        }
    }
}

/// Why the timer woke the call.
pub(super) enum Wake {
    Deadline,
    /// A hedge started.
    Hedge,
}

/// Waits for the deadline or the next hedge, whichever comes first, and
/// starts the hedge when it is due and allowed. A refused hedge turns
/// hedging off for the call, which then waits for its attempts in flight.
pub(super) fn poll_timer<Op, Fut, P, C, D, H, B>(
    this: &mut HedgeFutureProj<'_, Op, Fut, P, C, D, H, B>,
    cx: &mut Context<'_>,
) -> Poll<Wake>
where
    Op: MakeAttempt<Fut>,
    P: RetryPolicy,
    H: RetryBudget,
    B: RetryBudget,
{
    if this.call.start.is_none() {
        // The first attempt did not answer at once: start its clock now.
        let now = Instant::now();
        this.call.start = Some(now);
        this.call.next_hedge = this.call.delay.and_then(|delay| capped_after(now, delay));
    }
    loop {
        let call = &*this.call;
        let can_hedge = call.hedging && this.slots.running() < usize::from(*this.max_in_flight);
        let hedge_at = call.next_hedge.filter(|_| can_hedge);
        let Some(at) = [hedge_at, call.deadline].into_iter().flatten().min() else {
            return Poll::Pending;
        };
        if this.timer.as_mut().poll_until(at, cx).is_pending() {
            return Poll::Pending;
        }
        if call.past_deadline() {
            return Poll::Ready(Wake::Deadline);
        }
        match may_start(this, RetryKind::Timeout, true) {
            Ok(()) => {
                tracing::debug!(target: "persevere", attempt = this.call.started + 1, "sending hedge");
                start_attempt(this);
                return Poll::Ready(Wake::Hedge);
            }
            Err(reason) => {
                tracing::debug!(target: "persevere", reason = %reason, "hedge refused");
                this.call.hedging = false;
            }
        }
    }
}
