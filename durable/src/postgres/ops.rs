//! The store's statements. Each state change is one statement, so one
//! transaction: a claim selects `FOR UPDATE SKIP LOCKED`, records the cut
//! attempts and takes the leases in one; a record checks the lease,
//! moves the job on and appends its attempt in one.

use crate::history::{
    AttemptOutcome, AttemptRecord, kind_name, parse_classification, parse_stop_reason,
    stop_reason_name, truncate,
};
use crate::job::{Claimed, JobState, JobStatus, Lease, MAX_ERROR_LEN, Next};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio_postgres::Row;

pub(super) const PENDING: i16 = 0;
pub(super) const RUNNING: i16 = 1;
pub(super) const SUCCEEDED: i16 = 2;
pub(super) const DEAD: i16 = 3;

pub(super) const SUBMIT: &str =
    "INSERT INTO persevere_jobs (key, kind, payload, state, created_at, next_at)
     VALUES ($1, $2, $3, 0, $4, $5) ON CONFLICT (key) DO NOTHING";

pub(super) const STATE: &str = "SELECT state FROM persevere_jobs WHERE key = $1";

/// Claims up to `$3` jobs of kinds `$2` due at `$1`, leased until `$4`:
/// expired leases first (they were claimed before any job now due), then
/// due jobs, earliest first; a running job's cut attempt is recorded as
/// interrupted. One statement, so one round trip and one transaction.
pub(super) const CLAIM: &str = "WITH leased AS (
    SELECT key, state, attempt, claimed_at, next_at FROM persevere_jobs
    WHERE state = 1 AND next_at <= $1 AND kind = ANY($2)
    ORDER BY next_at LIMIT $3 FOR UPDATE SKIP LOCKED
), due AS (
    SELECT key, state, attempt, claimed_at, next_at FROM persevere_jobs
    WHERE state = 0 AND next_at <= $1 AND kind = ANY($2)
    ORDER BY next_at LIMIT $3 - (SELECT count(*) FROM leased) FOR UPDATE SKIP LOCKED
), picked AS (
    SELECT * FROM leased UNION ALL SELECT * FROM due
), cut AS (
    INSERT INTO persevere_attempts (key, attempt, started_at, ended_at, outcome)
    SELECT key, attempt, COALESCE(claimed_at, next_at), next_at, 'interrupted'
    FROM leased
    ON CONFLICT (key, attempt) DO NOTHING
)
UPDATE persevere_jobs j SET state = 1, attempt = j.attempt + 1, claimed_at = $1, next_at = $4,
    first_attempt_at = COALESCE(j.first_attempt_at, $1)
FROM picked p WHERE j.key = p.key
RETURNING j.key, j.kind, j.payload, j.attempt, j.round_base, j.first_attempt_at,
    j.previous_delay_us, p.state, p.next_at";

/// Moves the job `$1` leased as attempt `$2` to state `$3` and appends the
/// attempt; no row if the lease is not the job's.
pub(super) const RECORD: &str = "WITH moved AS (
    UPDATE persevere_jobs SET state = $3::smallint, next_at = $4::timestamptz,
        finished_at = $5::timestamptz, dead_reason = $6::text,
        previous_delay_us = CASE WHEN $3::smallint = 0 THEN $7::bigint ELSE previous_delay_us END
    WHERE key = $1::text AND state = 1 AND attempt = $2::integer
    RETURNING key
)
INSERT INTO persevere_attempts
    (key, attempt, started_at, ended_at, outcome, stop_reason, error, kind, server_delay_us, delay_us)
SELECT key, $2::integer, $8::timestamptz, $9::timestamptz, $10::text, $11::text, $12::text,
    $13::text, $14::bigint, $7::bigint
FROM moved
ON CONFLICT (key, attempt) DO UPDATE SET started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at, outcome = EXCLUDED.outcome, stop_reason = EXCLUDED.stop_reason,
    error = EXCLUDED.error, kind = EXCLUDED.kind, server_delay_us = EXCLUDED.server_delay_us,
    delay_us = EXCLUDED.delay_us";

const JOB_COLUMNS: &str =
    "j.key, j.kind, j.state, j.attempt, j.created_at, j.next_at, j.dead_reason,
    a.attempt, a.started_at, a.ended_at, a.outcome, a.stop_reason, a.error, a.kind,
    a.server_delay_us, a.delay_us";

/// A job and its attempts, one row per attempt (one with no attempt if it
/// has none), read in one statement.
pub(super) fn status_sql() -> String {
    format!(
        "SELECT {JOB_COLUMNS} FROM persevere_jobs j
         LEFT JOIN persevere_attempts a ON a.key = j.key
         WHERE j.key = $1 ORDER BY a.attempt"
    )
}

/// The first `$1` dead letters and their attempts, oldest first.
pub(super) fn dead_letters_sql() -> String {
    format!(
        "WITH d AS (SELECT * FROM persevere_jobs WHERE state = 3 ORDER BY finished_at, key LIMIT $1)
         SELECT {JOB_COLUMNS} FROM d j LEFT JOIN persevere_attempts a ON a.key = j.key
         ORDER BY j.finished_at, j.key, a.attempt"
    )
}

pub(super) const REQUEUE: &str = "UPDATE persevere_jobs SET state = 0, next_at = $2,
    round_base = attempt, first_attempt_at = NULL, previous_delay_us = NULL, dead_reason = NULL,
    finished_at = NULL
    WHERE key = $1 AND state = 3";

pub(super) const PURGE: &str = "DELETE FROM persevere_jobs WHERE key = $1 AND state = 3";

pub(super) const COUNTS: &str = "SELECT state, COUNT(*) FROM persevere_jobs GROUP BY state";

/// The latest time stored: the end of the year 9999 (PostgreSQL's range
/// ends later, but a client's date types often end there). Later times are
/// clamped to it; times before 1970 to 1970.
pub(super) const MAX_TIME: Duration = Duration::from_secs(253_402_300_799);

/// `t` within the range stored.
pub(super) fn clamp(t: SystemTime) -> SystemTime {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d > MAX_TIME => UNIX_EPOCH + MAX_TIME,
        Ok(_) => t,
        Err(_) => UNIX_EPOCH,
    }
}

/// `t` rounded up to a whole microsecond (PostgreSQL keeps microseconds and
/// rounds down), and clamped: for due times and lease expiries, never early.
pub(super) fn ceil_us(t: SystemTime) -> SystemTime {
    let t = clamp(t);
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) if d.subsec_nanos() % 1_000 != 0 => {
            t + Duration::from_nanos(u64::from(1_000 - d.subsec_nanos() % 1_000))
        }
        _ => t,
    }
}

/// A duration in microseconds, rounded up.
pub(super) fn micros(d: Duration) -> i64 {
    let us = d.as_micros() + u128::from(d.subsec_nanos() % 1_000 != 0);
    i64::try_from(us).unwrap_or(i64::MAX)
}

fn duration(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

pub(super) fn state_of(code: i16) -> JobState {
    match code {
        PENDING => JobState::Pending,
        RUNNING => JobState::Running,
        SUCCEEDED => JobState::Succeeded,
        _ => JobState::DeadLettered,
    }
}

fn attempt_u32(n: i32) -> u32 {
    u32::try_from(n).unwrap_or(0)
}

/// A row of [`CLAIM`] as a claimed job.
pub(super) fn claimed(row: &Row, until: SystemTime) -> Claimed {
    let key: String = row.get(0);
    let attempt: i32 = row.get(3);
    let round_base: i32 = row.get(4);
    let first: SystemTime = row.get(5);
    Claimed {
        lease: Lease {
            key: key.clone(),
            token: attempt.to_string(),
            until,
        },
        kind: row.get(1),
        payload: row.get(2),
        attempt: attempt_u32(attempt),
        round_attempt: attempt_u32(attempt - round_base),
        first_attempt_at: first,
        previous_delay: row.get::<_, Option<i64>>(6).map(duration),
        interrupted: row.get::<_, i16>(7) == RUNNING,
        key,
    }
}

/// The parameters of [`RECORD`] after the lease's key and token.
pub(super) struct RecordArgs {
    pub(super) state: i16,
    pub(super) started_at: SystemTime,
    pub(super) ended_at: SystemTime,
    pub(super) next_at: Option<SystemTime>,
    pub(super) finished_at: Option<SystemTime>,
    pub(super) dead_reason: Option<&'static str>,
    pub(super) delay_us: Option<i64>,
    pub(super) outcome: &'static str,
    pub(super) stop_reason: Option<&'static str>,
    pub(super) error: Option<String>,
    pub(super) kind: Option<&'static str>,
    pub(super) server_delay_us: Option<i64>,
}

impl RecordArgs {
    pub(super) fn new(attempt: &AttemptRecord, next: Next) -> Self {
        let ended_at = clamp(attempt.ended_at);
        let (state, next_at, finished_at, dead_reason) = match next {
            Next::Retry(at) => (PENDING, Some(ceil_us(at)), None, None),
            Next::Complete => (SUCCEEDED, None, Some(ended_at), None),
            Next::DeadLetter(r) => (DEAD, None, Some(ended_at), Some(stop_reason_name(r))),
        };
        let (outcome, stop_reason) = match attempt.outcome {
            AttemptOutcome::Succeeded => ("succeeded", None),
            AttemptOutcome::Retrying => ("retrying", None),
            AttemptOutcome::Stopped(r) => ("stopped", Some(stop_reason_name(r))),
            AttemptOutcome::NotStarted(r) => ("not_started", Some(stop_reason_name(r))),
            AttemptOutcome::Interrupted => ("interrupted", None),
        };
        let c = attempt.classification;
        RecordArgs {
            state,
            started_at: clamp(attempt.started_at),
            ended_at,
            next_at,
            finished_at,
            dead_reason,
            delay_us: attempt.delay.map(micros),
            outcome,
            stop_reason,
            error: attempt.error.clone().map(|e| truncate(e, MAX_ERROR_LEN)),
            kind: c.map(|c| kind_name(c.kind())),
            server_delay_us: c.and_then(|c| c.server_delay()).map(micros),
        }
    }
}

fn parse_outcome(name: &str, stop: Option<&str>) -> AttemptOutcome {
    let reason = || parse_stop_reason(stop.unwrap_or(""));
    match name {
        "succeeded" => AttemptOutcome::Succeeded,
        "retrying" => AttemptOutcome::Retrying,
        "stopped" => AttemptOutcome::Stopped(reason()),
        "not_started" => AttemptOutcome::NotStarted(reason()),
        _ => AttemptOutcome::Interrupted,
    }
}

/// Rows of [`status_sql`] or [`dead_letters_sql`] as jobs, in order.
pub(super) fn statuses(rows: &[Row]) -> Vec<JobStatus> {
    let mut out: Vec<JobStatus> = Vec::new();
    for row in rows {
        let key: String = row.get(0);
        if out.last().is_none_or(|last| last.key != key) {
            let dead: Option<String> = row.get(6);
            out.push(JobStatus {
                key,
                kind: row.get(1),
                state: state_of(row.get(2)),
                attempts: attempt_u32(row.get(3)),
                created_at: row.get(4),
                next_at: row.get(5),
                dead_reason: dead.as_deref().map(parse_stop_reason),
                history: Vec::new(),
            });
        }
        let Some(attempt) = row.get::<_, Option<i32>>(7) else {
            continue;
        };
        let outcome: String = row.get(10);
        let stop: Option<String> = row.get(11);
        let kind: Option<String> = row.get(13);
        let server_delay = row.get::<_, Option<i64>>(14).map(duration);
        if let Some(job) = out.last_mut() {
            job.history.push(AttemptRecord {
                attempt: attempt_u32(attempt),
                started_at: row.get(8),
                ended_at: row.get(9),
                outcome: parse_outcome(&outcome, stop.as_deref()),
                error: row.get(12),
                classification: kind.map(|k| parse_classification(&k, server_delay)),
                delay: row.get::<_, Option<i64>>(15).map(duration),
            });
        }
    }
    out
}
