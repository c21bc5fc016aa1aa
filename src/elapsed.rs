//! How long a call has run, read from the clock only when somebody asks.

use std::fmt;
use std::time::Duration;
use tokio::time::Instant;

/// The time since a call's clock started: a known value (a context built by
/// hand, or by [`schedule`](crate::schedule)), or the clock read when asked,
/// so that a retry nobody asks about costs no clock read.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Elapsed {
    Known(Duration),
    Since(Instant),
}

impl Elapsed {
    #[inline]
    pub(crate) fn get(self) -> Duration {
        match self {
            Elapsed::Known(elapsed) => elapsed,
            Elapsed::Since(start) => Instant::now().saturating_duration_since(start),
        }
    }
}

impl fmt::Debug for Elapsed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.get(), f)
    }
}
