//! What a store keeps about a job: its submission, its claims and its
//! history.

use crate::history::AttemptRecord;
use persevere::StopReason;
use std::time::{Duration, SystemTime};

/// The largest payload a store accepts, in bytes: 1 MiB.
pub const MAX_PAYLOAD: usize = 1 << 20;
/// The longest key, in bytes.
pub const MAX_KEY_LEN: usize = 1024;
/// The longest kind name, in bytes.
pub const MAX_KIND_LEN: usize = 256;
/// The longest error text kept per attempt, in bytes; longer texts are cut
/// at a character boundary.
pub const MAX_ERROR_LEN: usize = 4096;

/// A job to submit: a caller-given key, a kind and a payload.
///
/// The key is an idempotency key: a second submission with the same key is
/// the same job (see [`Submitted`]).
///
/// # Examples
///
/// ```
/// use persevere_durable::NewJob;
/// use std::time::{Duration, SystemTime};
///
/// let later = SystemTime::now() + Duration::from_secs(60);
/// let job = NewJob::new("order-42", "webhook", b"{}".to_vec()).not_before(later);
/// assert_eq!(job.key, "order-42");
/// assert_eq!(job.not_before, Some(later));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewJob {
    /// The job's unique key: 1 to [`MAX_KEY_LEN`] bytes.
    pub key: String,
    /// The kind, which picks the handler: 1 to [`MAX_KIND_LEN`] bytes.
    pub kind: String,
    /// The handler's input: at most [`MAX_PAYLOAD`] bytes.
    pub payload: Vec<u8>,
    /// The earliest time of the first attempt; `None` is as soon as possible.
    pub not_before: Option<SystemTime>,
}

impl NewJob {
    /// A job due at once.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::NewJob;
    /// assert_eq!(NewJob::new("k", "email", vec![]).not_before, None);
    /// ```
    pub fn new(key: impl Into<String>, kind: impl Into<String>, payload: Vec<u8>) -> Self {
        NewJob {
            key: key.into(),
            kind: kind.into(),
            payload,
            not_before: None,
        }
    }

    /// Makes the first attempt due at `at`, not before.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::NewJob; use std::time::SystemTime;
    /// let job = NewJob::new("k", "email", vec![]).not_before(SystemTime::UNIX_EPOCH);
    /// assert_eq!(job.not_before, Some(SystemTime::UNIX_EPOCH));
    /// ```
    pub fn not_before(mut self, at: SystemTime) -> Self {
        self.not_before = Some(at);
        self
    }
}

/// What a submission did.
///
/// # Examples
///
/// ```
/// use persevere_durable::{JobState, Submitted};
///
/// assert!(Submitted::Created.is_created());
/// assert!(!Submitted::Exists(JobState::Pending).is_created());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Submitted {
    /// A new job was recorded.
    Created,
    /// A job with this key already existed, in this state; nothing changed.
    Exists(JobState),
}

impl Submitted {
    /// True if the submission recorded a new job.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::Submitted;
    /// assert!(Submitted::Created.is_created());
    /// ```
    pub const fn is_created(self) -> bool {
        matches!(self, Submitted::Created)
    }
}

/// Where a job is in its life. Every job is in exactly one state.
///
/// # Examples
///
/// ```
/// use persevere_durable::JobState;
///
/// assert!(JobState::Succeeded.is_final());
/// assert!(!JobState::Running.is_final());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum JobState {
    /// Waiting until its next attempt is due.
    Pending,
    /// Claimed by a worker, whose lease has not been released yet.
    Running,
    /// An attempt succeeded.
    Succeeded,
    /// The retrying stopped; the reason is in [`JobStatus::dead_reason`].
    DeadLettered,
}

impl JobState {
    /// True for a job that no worker will run again (unless requeued).
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::JobState;
    /// assert!(JobState::DeadLettered.is_final());
    /// ```
    pub const fn is_final(self) -> bool {
        matches!(self, JobState::Succeeded | JobState::DeadLettered)
    }
}

/// A claim on a job: who may record its attempt, and until when.
///
/// The token is opaque and store-defined (a random id, a receipt handle).
///
/// # Examples
///
/// ```
/// use persevere_durable::Lease;
/// use std::time::SystemTime;
///
/// let lease = Lease { key: "k".into(), token: "t".into(), until: SystemTime::UNIX_EPOCH };
/// assert_eq!(lease.key, "k");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// The job's key.
    pub key: String,
    /// The store's proof of this claim.
    pub token: String,
    /// When the lease expires and the job may be claimed again.
    pub until: SystemTime,
}

/// A job claimed by a worker, with what the policy needs to know.
///
/// # Examples
///
/// ```
/// use persevere_durable::{Lease, Claimed};
/// use std::time::SystemTime;
///
/// let now = SystemTime::UNIX_EPOCH;
/// let job = Claimed {
///     key: "k".into(), kind: "email".into(), payload: vec![], attempt: 1, round_attempt: 1,
///     first_attempt_at: now, previous_delay: None, interrupted: false,
///     lease: Lease { key: "k".into(), token: "t".into(), until: now },
/// };
/// assert_eq!(job.attempt, 1);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claimed {
    /// The job's key.
    pub key: String,
    /// The job's kind.
    pub kind: String,
    /// The payload as submitted.
    pub payload: Vec<u8>,
    /// The number of this attempt over the job's whole life, starting at 1;
    /// it numbers the history and never repeats.
    pub attempt: u32,
    /// The number of this attempt since the job was submitted or last
    /// requeued, starting at 1: what the policy counts.
    pub round_attempt: u32,
    /// When the round's first attempt started (this one's start, for a first
    /// attempt): the policy's elapsed time is measured from it.
    pub first_attempt_at: SystemTime,
    /// The delay chosen after the previous attempt, if any.
    pub previous_delay: Option<Duration>,
    /// True if the previous attempt was cut: its lease expired with no
    /// result recorded (the store recorded it as
    /// [`AttemptOutcome::Interrupted`](crate::AttemptOutcome::Interrupted)).
    pub interrupted: bool,
    /// The claim.
    pub lease: Lease,
}

/// What to do with a claimed job after its attempt.
///
/// # Examples
///
/// ```
/// use persevere::StopReason;
/// use persevere_durable::Next;
///
/// assert_ne!(Next::Complete, Next::DeadLetter(StopReason::Terminal));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Next {
    /// Make the next attempt due at this time.
    Retry(SystemTime),
    /// The job succeeded.
    Complete,
    /// Stop retrying, for this reason.
    DeadLetter(StopReason),
}

/// A job's state and full history, as [`Store::status`](crate::Store::status)
/// reads it.
///
/// # Examples
///
/// ```
/// use persevere_durable::{JobState, JobStatus};
/// use std::time::SystemTime;
///
/// let status = JobStatus {
///     key: "k".into(), kind: "email".into(), state: JobState::Pending, attempts: 0,
///     created_at: SystemTime::UNIX_EPOCH, next_at: Some(SystemTime::UNIX_EPOCH),
///     dead_reason: None, history: vec![],
/// };
/// assert!(status.history.is_empty());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobStatus {
    /// The job's key.
    pub key: String,
    /// The job's kind.
    pub kind: String,
    /// Where it is.
    pub state: JobState,
    /// Attempts started over the job's life.
    pub attempts: u32,
    /// When it was first submitted.
    pub created_at: SystemTime,
    /// For a pending job, when its next attempt is due; for a running one,
    /// when its lease expires; `None` for a final state.
    pub next_at: Option<SystemTime>,
    /// Why the retrying stopped, for a dead-lettered job.
    pub dead_reason: Option<StopReason>,
    /// Every attempt, in order.
    pub history: Vec<AttemptRecord>,
}
