//! One attempt of a claimed job: run it, decide what comes next, record
//! both.

use super::recorder::Recorder;
use super::{Shared, decide};
use crate::error::Error;
use crate::history::{AttemptOutcome, AttemptRecord};
use crate::job::{Claimed, Next};
use crate::store::Store;
use crate::worker::Delivery;
use persevere::{Classification, Decision, Exponential, RetryPolicy, RetryPolicyExt};
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// A claimed job's place in [`Worker::run`](super::Worker::run): a slot
/// while its handler runs, then a place among the records in flight while
/// its record is written, so that the slot (and the claim of the next job)
/// overlaps the record's round trip.
#[derive(Debug)]
pub(super) struct Slot {
    pub(super) running: OwnedSemaphorePermit,
    pub(super) recording: Arc<Semaphore>,
}

impl Slot {
    /// Gives the slot back once a place among the records in flight is
    /// free: the records a worker has not written yet are bounded.
    async fn into_recording(self) -> Option<OwnedSemaphorePermit> {
        let recording = self.recording.acquire_owned().await.ok();
        drop(self.running);
        recording
    }
}

pub(super) async fn run_in_slot<S: Store>(
    shared: Arc<Shared<S>>,
    recorder: Recorder,
    job: Claimed,
    slot: Slot,
) {
    process(shared, recorder, job, Some(slot)).await;
}

/// Runs one claimed attempt and records it (through the worker's writer
/// task, with the records of the attempts that end at the same time).
pub(super) async fn process<S: Store>(
    shared: Arc<Shared<S>>,
    recorder: Recorder,
    job: Claimed,
    slot: Option<Slot>,
) {
    let Some(handler) = shared.handlers.get(&job.kind) else {
        return; // claims name only this worker's kinds
    };
    let policy: &dyn RetryPolicy = &*handler.policy;
    let budget = handler.budget.as_deref();
    let started = shared.clock.now();
    let (outcome, next, failure, delay) = match decide::before_attempt(policy, &job, started) {
        Some(reason) => (
            AttemptOutcome::NotStarted(reason),
            Next::DeadLetter(reason),
            Some((
                "not started: the retrying stopped before this attempt".to_owned(),
                None,
            )),
            None,
        ),
        None => {
            if let (Some(budget), 1) = (budget, job.round_attempt) {
                budget.on_call();
            }
            let delivery = Delivery {
                key: job.key.clone(),
                kind: job.kind.clone(),
                payload: job.payload.clone(),
                attempt: job.attempt,
                round_attempt: job.round_attempt,
            };
            match handler.attempt(delivery).await {
                Ok(()) => {
                    if let Some(budget) = budget {
                        budget.on_success(job.round_attempt > 1, 0, 0);
                    }
                    (AttemptOutcome::Succeeded, Next::Complete, None, None)
                }
                Err((error, verdict)) => {
                    if let Some(budget) = budget {
                        budget.on_failure(verdict.kind());
                    }
                    let now = shared.clock.now();
                    match decide::after_failure(policy, budget, &job, verdict, now) {
                        Decision::Retry(delay) => (
                            AttemptOutcome::Retrying,
                            Next::Retry(due_after(now, delay)),
                            Some((error, Some(verdict))),
                            Some(delay),
                        ),
                        Decision::Stop(reason) => (
                            AttemptOutcome::Stopped(reason),
                            Next::DeadLetter(reason),
                            Some((error, Some(verdict))),
                            None,
                        ),
                    }
                }
            }
        }
    };
    let (error, classification) = match failure {
        Some((error, verdict)) => (Some(error), verdict),
        None => (None, None),
    };
    tracing::debug!(
        target: "persevere_durable",
        key = %job.key, attempt = job.attempt, ?outcome, ?delay, error = ?error,
        "attempt recorded"
    );
    let record = AttemptRecord {
        attempt: job.attempt,
        started_at: started,
        ended_at: shared.clock.now(),
        outcome,
        error,
        classification,
        delay,
    };
    // The handler is done: its slot can take the next job while this
    // record is written (the lease holds this job until it is committed).
    let _recording = match slot {
        Some(slot) => slot.into_recording().await,
        None => None,
    };
    // A store that fails for a moment (a locked database) is retried with
    // persevere itself; a lost lease is final.
    let recorded = persevere::retry(|| recorder.record(&job.lease, record.clone(), next))
        .policy(
            Exponential::new()
                .with_initial_delay(Duration::from_millis(20))
                .with_max_delay(Duration::from_secs(1))
                .with_max_attempts(RECORD_ATTEMPTS),
        )
        .classify(|error: &Error| match error {
            Error::LeaseLost(_) | Error::NotFound(_) | Error::Unsupported(_) => {
                Classification::terminal()
            }
            _ => Classification::transient(),
        })
        .await;
    if let Err(error) = recorded {
        tracing::warn!(
            target: "persevere_durable",
            key = %job.key, attempt = job.attempt, %error,
            "attempt not recorded; the job will be claimed again when its lease expires"
        );
    }
}

/// How many times a worker tries to record an attempt's result.
const RECORD_ATTEMPTS: u32 = 6;

/// `now + delay`, saturating at a far future time rather than overflowing.
fn due_after(now: SystemTime, delay: Duration) -> SystemTime {
    now.checked_add(delay)
        .unwrap_or_else(|| SystemTime::UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 16))
}
