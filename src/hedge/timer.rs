//! The one timer of a hedged call: created when first needed, then reset,
//! it wakes the call for the next hedge or at the deadline, whichever comes
//! first. The instants it is given are at most about 30 years away
//! (`capped_after`): tokio rounds a timer up to its next millisecond, which
//! overflows near the last instant `Instant` can hold.

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
