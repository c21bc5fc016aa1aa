//! What a run of an upload reports: each part's attempts and outcome, and
//! how the upload ended.

use crate::state::ResumeState;
use persevere::StopReason;
use std::time::Duration;

/// How one part ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartOutcome {
    /// Uploaded in this run.
    Uploaded,
    /// Uploaded by an earlier run: not sent again.
    AlreadyDone,
    /// Gave up: why, and the last error.
    Failed {
        /// Why retrying stopped.
        reason: StopReason,
        /// The last attempt's error, with its causes.
        error: String,
    },
    /// Never started, because another part hit a terminal error.
    NotStarted,
}

/// What happened to one part.
#[derive(Debug, Clone)]
pub struct PartReport {
    /// The part number, from 1.
    pub part_number: i32,
    /// Its size in bytes.
    pub size: u64,
    /// How many attempts it took in this run (0 if not sent).
    pub attempts: u32,
    /// How it ended.
    pub outcome: PartOutcome,
    /// One line per failed attempt that was retried.
    pub retries: Vec<String>,
}

impl PartReport {
    /// The bytes of this part sent again after a failed attempt.
    pub fn bytes_resent(&self) -> u64 {
        u64::from(self.attempts.saturating_sub(1)) * self.size
    }
}

/// What happened in one run of an upload.
#[derive(Debug, Clone)]
pub struct UploadReport {
    /// The multipart upload id.
    pub upload_id: String,
    /// Every part, in part-number order.
    pub parts: Vec<PartReport>,
    /// How long the parts took, from the first to the last.
    pub elapsed: Duration,
    /// Uploads for the key that this run started and did not use (a
    /// `CreateMultipartUpload` whose response was lost), aborted: see
    /// [`lost`](crate::lost).
    pub orphans_aborted: Vec<String>,
    /// What went wrong on the side, without stopping the upload (an orphan
    /// that could not be looked for or aborted).
    pub warnings: Vec<String>,
}

impl UploadReport {
    /// Attempts made for all parts in this run.
    pub fn total_attempts(&self) -> u32 {
        self.parts.iter().map(|p| p.attempts).sum()
    }

    /// Retries made for all parts in this run: attempts after each part's first.
    pub fn total_retries(&self) -> u32 {
        self.parts
            .iter()
            .map(|p| p.attempts.saturating_sub(1))
            .sum()
    }

    /// Bytes sent again after failed attempts.
    pub fn bytes_resent(&self) -> u64 {
        self.parts.iter().map(PartReport::bytes_resent).sum()
    }

    /// The part numbers sent in this run (uploaded or not).
    pub fn parts_sent(&self) -> Vec<i32> {
        self.parts
            .iter()
            .filter(|p| p.attempts > 0)
            .map(|p| p.part_number)
            .collect()
    }
}

/// A finished upload.
#[derive(Debug, Clone)]
pub struct Completed {
    /// What happened in the run that finished it.
    pub report: UploadReport,
    /// The final state: every part with its ETag.
    pub state: ResumeState,
    /// The object's ETag, as `CompleteMultipartUpload` answered (or
    /// `HeadObject`, for a [`Completion::Confirmed`] upload).
    pub etag: Option<String>,
    /// How the completion is known.
    pub completion: Completion,
}

/// How an upload is known to be complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Completion {
    /// `CompleteMultipartUpload` answered success.
    Answered,
    /// A retried `CompleteMultipartUpload` answered `NoSuchUpload` (an
    /// earlier attempt had completed it, and its response was lost), and
    /// `HeadObject` found this upload's object at the key.
    Confirmed,
}

/// An upload that stopped before it completed, and the state to resume it.
#[derive(Debug, Clone)]
pub struct Incomplete {
    /// Save this and pass it to [`resume`](super::resume).
    pub state: ResumeState,
    /// What happened in this run.
    pub report: UploadReport,
    /// Why `CompleteMultipartUpload` failed, when every part was there.
    pub complete_error: Option<String>,
}
