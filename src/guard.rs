//! The adapters' policy wrapper: a request that cannot be replayed gets one
//! attempt.

use crate::JitterRng;
use crate::error::StopReason;
use crate::policy::{AttemptContext, Decision, RetryPolicy};
use std::time::Duration;

/// An adapter's policy: stops after the first attempt of a request that
/// cannot be replayed, and defers to the configured policy otherwise.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ReplayGuard<P> {
    inner: P,
    replayable: bool,
}

impl<P> ReplayGuard<P> {
    pub(crate) fn new(inner: P, replayable: bool) -> Self {
        ReplayGuard { inner, replayable }
    }
}

impl<P: RetryPolicy> RetryPolicy for ReplayGuard<P> {
    fn decide(&self, failed: &AttemptContext, rng: &mut JitterRng) -> Decision {
        if self.replayable {
            self.inner.decide(failed, rng)
        } else {
            Decision::Stop(StopReason::NotReplayable)
        }
    }

    fn deadline(&self) -> Option<Duration> {
        self.inner.deadline()
    }
}
