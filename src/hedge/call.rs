//! The state of one hedged call: what it started, when, and what it may
//! still do.

use crate::future::FAR_FUTURE;
use std::time::Duration;
use tokio::time::Instant;

/// The instant `after` from `now`, at most [`FAR_FUTURE`] (about 30 years)
/// away, as the retry future caps its timers: tokio rounds a timer up to its
/// next millisecond, which overflows (and panics) for an instant near the
/// last one `Instant` can hold. `None` only if even that overflows.
#[inline]
pub(crate) fn capped_after(now: Instant, after: Duration) -> Option<Instant> {
    now.checked_add(after.min(FAR_FUTURE))
}

#[derive(Debug)]
pub(crate) struct CallState {
    pub(crate) started: u32,
    /// Budget tokens this call's extra attempts took.
    pub(crate) taken: u32,
    /// Budget tokens the latest extra attempt took.
    pub(crate) last_taken: u32,
    /// When the first attempt started; read only once it is needed.
    pub(crate) start: Option<Instant>,
    pub(crate) deadline: Option<Instant>,
    /// The hedge delay, read when the call starts.
    pub(crate) delay: Option<Duration>,
    pub(crate) next_hedge: Option<Instant>,
    /// False once a hedge was refused: the call then sends no more.
    pub(crate) hedging: bool,
    /// A retry approved but not started yet: the task yielded first.
    pub(crate) owed: bool,
    pub(crate) done: bool,
}

impl CallState {
    #[inline]
    pub(crate) const fn new() -> Self {
        CallState {
            started: 0,
            taken: 0,
            last_taken: 0,
            start: None,
            deadline: None,
            delay: None,
            next_hedge: None,
            hedging: true,
            owed: false,
            done: false,
        }
    }

    /// Time since the first attempt started, starting the clock now if it
    /// has not yet.
    pub(crate) fn elapsed(&mut self) -> Duration {
        let now = Instant::now();
        now.saturating_duration_since(*self.start.get_or_insert(now))
    }

    /// True once the deadline, if any, has come.
    pub(crate) fn past_deadline(&self) -> bool {
        self.deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
    }
}
