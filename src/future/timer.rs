//! The one timer of a retry future: what it is armed for, and arming it
//! no farther than tokio's timer can go.

use crate::call::CallState;
use pin_project_lite::pin_project;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

pin_project! {
    /// One timer, created when first needed and then reset: it bounds an
    /// attempt while the attempt runs, and is the backoff while the call
    /// sleeps.
    #[project = TimerProj]
    pub(super) enum Timer {
        Off,
        Armed { #[pin] sleep: Sleep, purpose: Purpose },
    }
}

/// What the armed timer is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Purpose {
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

/// Arms `timer` to fire `after` from now, reusing its `Sleep` if it has one.
pub(super) fn arm(mut timer: Pin<&mut Timer>, after: Duration, purpose: Purpose) {
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
pub(super) fn poll_backoff(timer: Pin<&mut Timer>, cx: &mut Context<'_>) -> Poll<()> {
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
pub(super) fn wait_for_permit(timer: Pin<&mut Timer>, call: &mut CallState, wait: Duration) {
    call.start_clock();
    arm(timer, wait, Purpose::Permit);
}

/// Waits for the first attempt's permit, if the timer holds one: true once
/// it was granted after a wait, false when no wait was asked for yet.
pub(super) fn poll_permit(timer: Pin<&mut Timer>, cx: &mut Context<'_>) -> Poll<bool> {
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
pub(super) fn arm_for_attempt(
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
