//! The store's operations. Each runs inside a savepoint of a transaction
//! the writer holds (see `writer.rs`), so each is atomic on its own.

use super::JobCounts;
use super::OpError;
use crate::error::Error;
use crate::history::{
    AttemptOutcome, AttemptRecord, kind_name, parse_classification, parse_stop_reason,
    stop_reason_name, truncate,
};
use crate::job::{Claimed, JobState, JobStatus, Lease, MAX_ERROR_LEN, NewJob, Next, Submitted};
use rusqlite::types::Value;
use rusqlite::{Connection, OptionalExtension, Row, params};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PENDING: i64 = 0;
const RUNNING: i64 = 1;
const SUCCEEDED: i64 = 2;
// 3 is dead-lettered: any other code reads as it.

/// Microseconds since the epoch, rounded down (times before 1970 read as
/// 1970): for "now" and for history.
fn floor_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

/// Microseconds since the epoch, rounded up: for due times and lease
/// expiries, so that rounding never makes a job due early.
fn ceil_us(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| {
        let us = d.as_micros() + u128::from(d.subsec_nanos() % 1_000 != 0);
        i64::try_from(us).unwrap_or(i64::MAX)
    })
}

fn to_time(us: i64) -> SystemTime {
    UNIX_EPOCH + Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

/// A duration in microseconds, rounded up (a delay read back is never
/// shorter than the one chosen).
fn to_us(d: Duration) -> i64 {
    let us = d.as_micros() + u128::from(d.subsec_nanos() % 1_000 != 0);
    i64::try_from(us).unwrap_or(i64::MAX)
}

fn to_duration(us: i64) -> Duration {
    Duration::from_micros(u64::try_from(us).unwrap_or(0))
}

fn state_of(code: i64) -> JobState {
    match code {
        PENDING => JobState::Pending,
        RUNNING => JobState::Running,
        SUCCEEDED => JobState::Succeeded,
        _ => JobState::DeadLettered,
    }
}

fn attempt_u32(n: i64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

pub(super) fn submit(
    conn: &Connection,
    job: &NewJob,
    now: SystemTime,
) -> Result<Submitted, OpError> {
    let due = job.not_before.map_or(floor_us(now), ceil_us);
    let inserted = conn
        .prepare_cached(
            "INSERT INTO persevere_jobs (key, kind, payload, state, created_at, next_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (key) DO NOTHING",
        )?
        .execute(params![
            job.key,
            job.kind,
            job.payload,
            PENDING,
            floor_us(now),
            due
        ])?;
    let submitted = if inserted == 1 {
        Submitted::Created
    } else {
        let state: i64 = conn
            .prepare_cached("SELECT state FROM persevere_jobs WHERE key = ?1")?
            .query_row([&job.key], |r| r.get(0))?;
        Submitted::Exists(state_of(state))
    };
    Ok(submitted)
}

pub(super) fn claim(
    conn: &Connection,
    kinds: &[String],
    limit: usize,
    now: SystemTime,
    lease: Duration,
) -> Result<Vec<Claimed>, OpError> {
    let now_us = floor_us(now);
    let until = now.checked_add(lease).unwrap_or(now);
    let until_us = ceil_us(until);
    let placeholders = vec!["?"; kinds.len()].join(", ");
    // Abandoned jobs (expired leases) first: they were claimed before any
    // job now due; then due jobs, earliest first.
    let sql = |state: i64| {
        format!(
            "SELECT key, kind, payload, state, attempt, round_base, first_attempt_at, claimed_at,
                    next_at, previous_delay_us
             FROM persevere_jobs
             WHERE state = {state} AND next_at <= ? AND kind IN ({placeholders})
             ORDER BY next_at LIMIT ?"
        )
    };
    let args = |limit: usize| {
        let mut args = Vec::with_capacity(kinds.len() + 2);
        args.push(Value::Integer(now_us));
        args.extend(kinds.iter().map(|k| Value::Text(k.clone())));
        args.push(Value::Integer(i64::try_from(limit).unwrap_or(i64::MAX)));
        args
    };
    let mut claimed = Vec::new();
    {
        let mut interrupt = conn.prepare_cached(
            "INSERT OR IGNORE INTO persevere_attempts (key, attempt, started_at, ended_at, outcome)
             VALUES (?1, ?2, ?3, ?4, 'interrupted')",
        )?;
        let mut update = conn.prepare_cached(
            "UPDATE persevere_jobs SET state = 1, attempt = ?2, claimed_at = ?3, next_at = ?4,
                 first_attempt_at = COALESCE(first_attempt_at, ?3)
             WHERE key = ?1",
        )?;
        let mut due = Vec::new();
        for state in [RUNNING, PENDING] {
            let left = limit - due.len();
            if left == 0 {
                break;
            }
            let mut select = conn.prepare_cached(&sql(state))?;
            let mut rows = select.query(rusqlite::params_from_iter(args(left)))?;
            while let Some(row) = rows.next()? {
                due.push(DueRow::read(row)?);
            }
        }
        for row in due {
            let interrupted = row.state == RUNNING;
            if interrupted {
                interrupt.execute(params![
                    row.key,
                    row.attempt,
                    row.claimed_at.unwrap_or(row.next_at),
                    row.next_at
                ])?;
            }
            let attempt = row.attempt.saturating_add(1);
            update.execute(params![row.key, attempt, now_us, until_us])?;
            claimed.push(Claimed {
                lease: Lease {
                    key: row.key.clone(),
                    token: attempt.to_string(),
                    until,
                },
                key: row.key,
                kind: row.kind,
                payload: row.payload,
                attempt: attempt_u32(attempt),
                round_attempt: attempt_u32(attempt - row.round_base),
                first_attempt_at: row.first_attempt_at.map_or(to_time(now_us), to_time),
                previous_delay: row.previous_delay_us.map(to_duration),
                interrupted,
            });
        }
    }
    Ok(claimed)
}

struct DueRow {
    key: String,
    kind: String,
    payload: Vec<u8>,
    state: i64,
    attempt: i64,
    round_base: i64,
    first_attempt_at: Option<i64>,
    claimed_at: Option<i64>,
    next_at: i64,
    previous_delay_us: Option<i64>,
}

impl DueRow {
    fn read(r: &Row<'_>) -> rusqlite::Result<Self> {
        Ok(DueRow {
            key: r.get(0)?,
            kind: r.get(1)?,
            payload: r.get(2)?,
            state: r.get(3)?,
            attempt: r.get(4)?,
            round_base: r.get(5)?,
            first_attempt_at: r.get(6)?,
            claimed_at: r.get(7)?,
            next_at: r.get(8)?,
            previous_delay_us: r.get(9)?,
        })
    }
}

pub(super) fn record(
    conn: &Connection,
    lease: &Lease,
    attempt: &AttemptRecord,
    next: Next,
) -> Result<(), OpError> {
    let token: i64 = lease
        .token
        .parse()
        .map_err(|_| Error::LeaseLost(lease.key.clone()))?;
    let ended = floor_us(attempt.ended_at);
    let changed = match next {
        Next::Retry(at) => conn.prepare_cached(
            "UPDATE persevere_jobs SET state = 0, next_at = ?3, previous_delay_us = ?4
             WHERE key = ?1 AND state = 1 AND attempt = ?2")?.execute(
            params![lease.key, token, ceil_us(at), attempt.delay.map(to_us)],
        )?,
        Next::Complete => conn.prepare_cached(
            "UPDATE persevere_jobs SET state = 2, next_at = NULL, finished_at = ?3
             WHERE key = ?1 AND state = 1 AND attempt = ?2")?.execute(
            params![lease.key, token, ended],
        )?,
        Next::DeadLetter(reason) => conn.prepare_cached(
            "UPDATE persevere_jobs SET state = 3, next_at = NULL, finished_at = ?3, dead_reason = ?4
             WHERE key = ?1 AND state = 1 AND attempt = ?2")?.execute(
            params![lease.key, token, ended, stop_reason_name(reason)],
        )?,
    };
    if changed == 0 {
        return Err(Error::LeaseLost(lease.key.clone()).into());
    }
    let (outcome, stop) = outcome_names(attempt.outcome);
    let error = attempt.error.clone().map(|e| truncate(e, MAX_ERROR_LEN));
    let classification = attempt.classification;
    conn.prepare_cached(
        "INSERT OR REPLACE INTO persevere_attempts
             (key, attempt, started_at, ended_at, outcome, stop_reason, error, kind, server_delay_us, delay_us)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?
    .execute(params![
        lease.key,
        token,
        floor_us(attempt.started_at),
        ended,
        outcome,
        stop,
        error,
        classification.map(|c| kind_name(c.kind())),
        classification.and_then(|c| c.server_delay()).map(to_us),
        attempt.delay.map(to_us),
    ])?;
    Ok(())
}

fn outcome_names(outcome: AttemptOutcome) -> (&'static str, Option<&'static str>) {
    match outcome {
        AttemptOutcome::Succeeded => ("succeeded", None),
        AttemptOutcome::Retrying => ("retrying", None),
        AttemptOutcome::Stopped(r) => ("stopped", Some(stop_reason_name(r))),
        AttemptOutcome::NotStarted(r) => ("not_started", Some(stop_reason_name(r))),
        AttemptOutcome::Interrupted => ("interrupted", None),
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

pub(super) fn status(conn: &Connection, key: &str) -> Result<Option<JobStatus>, OpError> {
    let status = read_status(conn, key)?;
    Ok(status)
}

fn read_status(conn: &Connection, key: &str) -> Result<Option<JobStatus>, OpError> {
    let job = conn
        .prepare_cached(
            "SELECT key, kind, state, attempt, created_at, next_at, dead_reason
             FROM persevere_jobs WHERE key = ?1",
        )?
        .query_row([key], |r| {
            let state = state_of(r.get(2)?);
            let dead: Option<String> = r.get(6)?;
            Ok(JobStatus {
                key: r.get(0)?,
                kind: r.get(1)?,
                state,
                attempts: attempt_u32(r.get(3)?),
                created_at: to_time(r.get(4)?),
                next_at: r.get::<_, Option<i64>>(5)?.map(to_time),
                dead_reason: dead.as_deref().map(parse_stop_reason),
                history: Vec::new(),
            })
        })
        .optional()?;
    let Some(mut job) = job else {
        return Ok(None);
    };
    let mut history = conn.prepare_cached(
        "SELECT attempt, started_at, ended_at, outcome, stop_reason, error, kind, server_delay_us, delay_us
         FROM persevere_attempts WHERE key = ?1 ORDER BY attempt",
    )?;
    let rows = history.query_map([key], |r| {
        let outcome: String = r.get(3)?;
        let stop: Option<String> = r.get(4)?;
        let kind: Option<String> = r.get(6)?;
        let server_delay = r.get::<_, Option<i64>>(7)?.map(to_duration);
        Ok(AttemptRecord {
            attempt: attempt_u32(r.get(0)?),
            started_at: to_time(r.get(1)?),
            ended_at: to_time(r.get(2)?),
            outcome: parse_outcome(&outcome, stop.as_deref()),
            error: r.get(5)?,
            classification: kind.map(|k| parse_classification(&k, server_delay)),
            delay: r.get::<_, Option<i64>>(8)?.map(to_duration),
        })
    })?;
    for row in rows {
        job.history.push(row?);
    }
    Ok(Some(job))
}

pub(super) fn dead_letters(conn: &Connection, limit: usize) -> Result<Vec<JobStatus>, OpError> {
    let keys: Vec<String> = {
        let mut select = conn.prepare_cached(
            "SELECT key FROM persevere_jobs WHERE state = 3 ORDER BY finished_at, key LIMIT ?1",
        )?;
        let rows = select.query_map([i64::try_from(limit).unwrap_or(i64::MAX)], |r| r.get(0))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut out = Vec::with_capacity(keys.len());
    for key in keys {
        if let Some(status) = read_status(conn, &key)? {
            out.push(status);
        }
    }
    Ok(out)
}

pub(super) fn requeue(conn: &Connection, key: &str, now: SystemTime) -> Result<(), OpError> {
    let changed = conn.execute(
        "UPDATE persevere_jobs SET state = 0, next_at = ?2, round_base = attempt,
             first_attempt_at = NULL, previous_delay_us = NULL, dead_reason = NULL, finished_at = NULL
         WHERE key = ?1 AND state = 3",
        params![key, floor_us(now)],
    )?;
    if changed == 0 {
        return Err(Error::NotFound(key.to_owned()).into());
    }
    Ok(())
}

pub(super) fn purge(conn: &Connection, key: &str) -> Result<(), OpError> {
    let changed = conn.execute(
        "DELETE FROM persevere_jobs WHERE key = ?1 AND state = 3",
        [key],
    )?;
    if changed == 0 {
        return Err(Error::NotFound(key.to_owned()).into());
    }
    conn.execute("DELETE FROM persevere_attempts WHERE key = ?1", [key])?;
    Ok(())
}

pub(super) fn counts(conn: &Connection) -> Result<JobCounts, OpError> {
    let mut counts = JobCounts::default();
    let mut select =
        conn.prepare_cached("SELECT state, COUNT(*) FROM persevere_jobs GROUP BY state")?;
    let rows = select.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, i64>(1)?)))?;
    for row in rows {
        let (state, n) = row?;
        let n = u64::try_from(n).unwrap_or(0);
        match state {
            PENDING => counts.pending = n,
            RUNNING => counts.running = n,
            SUCCEEDED => counts.succeeded = n,
            _ => counts.dead_lettered = n,
        }
    }
    Ok(counts)
}
