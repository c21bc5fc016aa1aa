//! What a message carries: the job, its attempt count and its history,
//! encoded as JSON in a binary message attribute, capped in size.

use crate::history::{
    AttemptOutcome, AttemptRecord, kind_name, parse_classification, parse_stop_reason,
    stop_reason_name, truncate,
};
use crate::job::{JobState, JobStatus, MAX_ERROR_LEN};
use serde::{Deserialize, Serialize};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The largest encoded envelope (job, attempt count and history), in bytes:
/// 96 KiB. Beyond it the oldest attempts are dropped from the history
/// (and counted).
pub(super) const MAX_ENVELOPE: usize = 96 << 10;

/// A time as whole seconds and nanoseconds since the Unix epoch (times
/// before it are stored as the epoch).
pub(super) type Time = (u64, u32);

pub(super) fn time(t: SystemTime) -> Time {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    (d.as_secs(), d.subsec_nanos())
}

/// The time `t` stands for; one past what the platform holds reads as a far
/// future time (never as the past, which would make a job due early).
pub(super) fn system_time((secs, nanos): Time) -> SystemTime {
    let d = Duration::new(secs, nanos.min(999_999_999));
    UNIX_EPOCH.checked_add(d).unwrap_or_else(far)
}

/// The far future: the year 10,889 or so.
fn far() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(u64::from(u32::MAX) * 64)
}

/// One attempt, as a message carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Attempt {
    n: u32,
    start: Time,
    end: Time,
    outcome: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    class: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    server_delay: Option<Duration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    delay: Option<Duration>,
}

impl Attempt {
    pub(super) fn new(record: &AttemptRecord) -> Self {
        let (outcome, stop) = match record.outcome {
            AttemptOutcome::Succeeded => ("succeeded", None),
            AttemptOutcome::Retrying => ("retrying", None),
            AttemptOutcome::Stopped(r) => ("stopped", Some(stop_reason_name(r))),
            AttemptOutcome::NotStarted(r) => ("not_started", Some(stop_reason_name(r))),
            AttemptOutcome::Interrupted => ("interrupted", None),
        };
        let c = record.classification;
        Attempt {
            n: record.attempt,
            start: time(record.started_at),
            end: time(record.ended_at),
            outcome: outcome.to_owned(),
            stop: stop.map(str::to_owned),
            error: record.error.clone().map(|e| truncate(e, MAX_ERROR_LEN)),
            class: c.map(|c| kind_name(c.kind()).to_owned()),
            server_delay: c.and_then(|c| c.server_delay()),
            delay: record.delay,
        }
    }

    /// A cut attempt: its lease expired with no result.
    pub(super) fn interrupted(n: u32, start: SystemTime, end: SystemTime) -> Self {
        Attempt::new(&AttemptRecord {
            attempt: n,
            started_at: start,
            ended_at: end,
            outcome: AttemptOutcome::Interrupted,
            error: None,
            classification: None,
            delay: None,
        })
    }

    fn record(&self) -> AttemptRecord {
        let reason = || parse_stop_reason(self.stop.as_deref().unwrap_or(""));
        let outcome = match self.outcome.as_str() {
            "succeeded" => AttemptOutcome::Succeeded,
            "retrying" => AttemptOutcome::Retrying,
            "stopped" => AttemptOutcome::Stopped(reason()),
            "not_started" => AttemptOutcome::NotStarted(reason()),
            _ => AttemptOutcome::Interrupted,
        };
        AttemptRecord {
            attempt: self.n,
            started_at: system_time(self.start),
            ended_at: system_time(self.end),
            outcome,
            error: self.error.clone(),
            classification: self
                .class
                .as_deref()
                .map(|k| parse_classification(k, self.server_delay)),
            delay: self.delay,
        }
    }
}

/// A job as one message carries it (its payload travels beside it, in an
/// attribute of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(super) struct Envelope {
    /// The format's version.
    pub(super) v: u32,
    pub(super) key: String,
    pub(super) kind: String,
    pub(super) created: Time,
    /// When the next attempt is due.
    pub(super) due: Time,
    /// Attempts started before this message was sent.
    pub(super) attempt: u32,
    /// `attempt` when the round began (0, or the attempts before a requeue).
    pub(super) round_base: u32,
    /// When the round's first attempt started.
    #[serde(default)]
    pub(super) first: Option<Time>,
    #[serde(default)]
    pub(super) previous_delay: Option<Duration>,
    /// For a dead letter: why, and when.
    #[serde(default)]
    pub(super) dead: Option<String>,
    #[serde(default)]
    pub(super) finished: Option<Time>,
    /// The oldest attempts dropped from `history` to keep under
    /// [`MAX_ENVELOPE`].
    #[serde(default)]
    pub(super) dropped: u32,
    pub(super) history: Vec<Attempt>,
}

/// The envelope format this crate writes and reads.
pub(super) const VERSION: u32 = 1;

impl Envelope {
    pub(super) fn new(key: &str, kind: &str, created: SystemTime, due: SystemTime) -> Self {
        Envelope {
            v: VERSION,
            key: key.to_owned(),
            kind: kind.to_owned(),
            created: time(created),
            due: time(due),
            attempt: 0,
            round_base: 0,
            first: None,
            previous_delay: None,
            dead: None,
            finished: None,
            dropped: 0,
            history: Vec::new(),
        }
    }

    /// The JSON of the envelope, the oldest attempts dropped (and counted)
    /// until it fits in [`MAX_ENVELOPE`].
    pub(super) fn encode(&mut self) -> Vec<u8> {
        loop {
            // Serializing plain structs of strings and numbers cannot fail.
            let bytes = serde_json::to_vec(self).unwrap_or_default();
            if bytes.len() <= MAX_ENVELOPE || self.history.is_empty() {
                return bytes;
            }
            // Drop about as many attempts as the excess takes, at least one.
            let per = bytes.len() / self.history.len().max(1) + 1;
            let excess = (bytes.len() - MAX_ENVELOPE) / per + 1;
            let n = excess.min(self.history.len());
            self.history.drain(..n);
            self.dropped = self
                .dropped
                .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        }
    }

    /// The envelope in `bytes`, or `None` if they are not one this crate
    /// can read.
    pub(super) fn decode(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice::<Envelope>(bytes)
            .ok()
            .filter(|e| e.v == VERSION)
    }

    /// A dead letter's status.
    pub(super) fn status(&self) -> JobStatus {
        JobStatus {
            key: self.key.clone(),
            kind: self.kind.clone(),
            state: JobState::DeadLettered,
            attempts: self.attempt,
            created_at: system_time(self.created),
            next_at: None,
            dead_reason: self.dead.as_deref().map(parse_stop_reason),
            history: self.history.iter().map(Attempt::record).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use persevere::{Classification, StopReason};

    fn failed(n: u32, error: String) -> AttemptRecord {
        AttemptRecord {
            attempt: n,
            started_at: UNIX_EPOCH + Duration::new(1_750_000_000, 7),
            ended_at: UNIX_EPOCH + Duration::new(1_750_000_001, 999_999_999),
            outcome: AttemptOutcome::Stopped(StopReason::Deadline),
            error: Some(error),
            classification: Some(
                Classification::throttled().with_server_delay(Duration::from_millis(1500)),
            ),
            delay: Some(Duration::from_nanos(3)),
        }
    }

    #[test]
    fn attempts_round_trip_exactly() {
        let record = failed(4, "503 é".into());
        let mut e = Envelope::new("k", "email", UNIX_EPOCH, UNIX_EPOCH);
        e.history.push(Attempt::new(&record));
        e.attempt = 4;
        let back = Envelope::decode(&e.encode()).expect("decodes");
        assert_eq!(back, e);
        assert_eq!(back.status().history, [record]);
    }

    #[test]
    fn the_cap_drops_the_oldest_attempts_and_counts_them() {
        let mut e = Envelope::new("k", "email", UNIX_EPOCH, UNIX_EPOCH);
        for n in 1..=100 {
            e.history
                .push(Attempt::new(&failed(n, "x".repeat(MAX_ERROR_LEN))));
        }
        let bytes = e.encode();
        assert!(bytes.len() <= MAX_ENVELOPE, "{}", bytes.len());
        let kept = e.history.len();
        assert!(kept > 10 && kept < 100, "{kept}");
        assert_eq!(e.dropped as usize + kept, 100);
        assert_eq!(
            e.history.first().map(|a| a.n),
            Some(e.dropped + 1),
            "the oldest went"
        );
        assert_eq!(e.history.last().map(|a| a.n), Some(100), "the latest stays");
    }

    #[test]
    fn foreign_or_newer_bodies_are_not_envelopes() {
        assert_eq!(Envelope::decode(b"not json"), None);
        let mut e = Envelope::new("k", "email", UNIX_EPOCH, UNIX_EPOCH);
        e.v = VERSION + 1;
        assert_eq!(Envelope::decode(&serde_json::to_vec(&e).unwrap()), None);
    }

    #[test]
    fn times_clamp_instead_of_overflowing() {
        assert_eq!(time(UNIX_EPOCH - Duration::from_secs(5)), (0, 0));
        assert_eq!(system_time((u64::MAX, u32::MAX)), far());
        let far = UNIX_EPOCH + Duration::from_secs(1 << 44);
        assert_eq!(system_time(time(far)), far);
    }
}
