//! Statements on many jobs at once: a multi-row submit, and the records of
//! attempts that ended together, each as one statement over arrays
//! (`UNNEST`), so one round trip and one transaction.

use super::errors::map_pg;
use super::ops::{self, RecordArgs};
use crate::error::Error;
use crate::history::AttemptRecord;
use crate::job::{Lease, NewJob, Next, Submitted};
use deadpool_postgres::Object;
use std::collections::HashSet;
use std::time::SystemTime;
use tokio_postgres::types::ToSql;

/// The most jobs or records in one statement: a bound on its size.
pub(super) const CHUNK: usize = 512;

/// Inserts the jobs `$1` (keys), `$2` (kinds), `$3` (payloads), `$4` (due
/// times) created at `$5`, unless their keys exist. One row per job, in
/// order: whether this statement created it (a key twice in the input is
/// created once, by its first), and the state of a job that existed before.
const SUBMIT_MANY: &str = "WITH input AS (
    SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::timestamptz[])
        WITH ORDINALITY AS u(key, kind, payload, due, n)
), first AS (
    SELECT DISTINCT ON (key) key, kind, payload, due, n FROM input ORDER BY key, n
), inserted AS (
    INSERT INTO persevere_jobs (key, kind, payload, state, created_at, next_at)
    SELECT key, kind, payload, 0, $5::timestamptz, due FROM first ORDER BY n
    ON CONFLICT (key) DO NOTHING
    RETURNING key
)
SELECT i.n, (ins.key IS NOT NULL AND f.n = i.n) AS created, j.state
FROM input i
JOIN first f ON f.key = i.key
LEFT JOIN inserted ins ON ins.key = i.key
LEFT JOIN persevere_jobs j ON j.key = i.key
ORDER BY i.n";

/// Submits `jobs` (checked already), a chunk per statement.
pub(super) async fn submit_many(
    client: &Object,
    jobs: &[NewJob],
    now: SystemTime,
) -> Result<Vec<Submitted>, Error> {
    let now = ops::clamp(now);
    let statement = client.prepare_cached(SUBMIT_MANY).await.map_err(map_pg)?;
    let mut answers = Vec::with_capacity(jobs.len());
    for chunk in jobs.chunks(CHUNK) {
        let keys: Vec<&str> = chunk.iter().map(|j| j.key.as_str()).collect();
        let kinds: Vec<&str> = chunk.iter().map(|j| j.kind.as_str()).collect();
        let payloads: Vec<&[u8]> = chunk.iter().map(|j| j.payload.as_slice()).collect();
        let due: Vec<SystemTime> = chunk
            .iter()
            .map(|j| j.not_before.map_or(now, ops::ceil_us))
            .collect();
        let params: [&(dyn ToSql + Sync); 5] = [&keys, &kinds, &payloads, &due, &now];
        let rows = client.query(&statement, &params).await.map_err(map_pg)?;
        for (job, row) in chunk.iter().zip(&rows) {
            let answer = match (row.get::<_, bool>(1), row.get::<_, Option<i16>>(2)) {
                (true, _) => Submitted::Created,
                (false, Some(state)) => Submitted::Exists(ops::state_of(state)),
                // Inserted by this statement under a key given earlier in
                // it, or by a transaction that committed after this
                // statement's snapshot: read it again, now committed.
                (false, None) => {
                    let statements = super::submit::SubmitStatements::cached(client).await?;
                    super::submit::submit_on(&***client, &statements, job, now).await?
                }
            };
            answers.push(answer);
        }
    }
    Ok(answers)
}

/// Moves each job `$1` leased as attempt `$2` to state `$3` and appends its
/// attempt, for every element of the arrays; returns the keys moved (a key
/// not returned had lost its lease). The keys must be distinct.
const RECORD_MANY: &str = "WITH r AS (
    SELECT * FROM unnest($1::text[], $2::integer[], $3::smallint[], $4::timestamptz[],
        $5::timestamptz[], $6::text[], $7::bigint[], $8::timestamptz[], $9::timestamptz[],
        $10::text[], $11::text[], $12::text[], $13::text[], $14::bigint[])
        AS r(key, token, state, next_at, finished_at, dead_reason, delay_us, started_at,
            ended_at, outcome, stop_reason, error, kind, server_delay_us)
), moved AS (
    UPDATE persevere_jobs j SET state = r.state, next_at = r.next_at,
        finished_at = r.finished_at, dead_reason = r.dead_reason,
        previous_delay_us = CASE WHEN r.state = 0 THEN r.delay_us ELSE j.previous_delay_us END
    FROM r WHERE j.key = r.key AND j.state = 1 AND j.attempt = r.token
    RETURNING j.key
)
INSERT INTO persevere_attempts
    (key, attempt, started_at, ended_at, outcome, stop_reason, error, kind, server_delay_us, delay_us)
SELECT r.key, r.token, r.started_at, r.ended_at, r.outcome, r.stop_reason, r.error, r.kind,
    r.server_delay_us, r.delay_us
FROM r JOIN moved m ON m.key = r.key
ON CONFLICT (key, attempt) DO UPDATE SET started_at = EXCLUDED.started_at,
    ended_at = EXCLUDED.ended_at, outcome = EXCLUDED.outcome, stop_reason = EXCLUDED.stop_reason,
    error = EXCLUDED.error, kind = EXCLUDED.kind, server_delay_us = EXCLUDED.server_delay_us,
    delay_us = EXCLUDED.delay_us
RETURNING key";

/// One record's place in the input and its parsed lease token.
struct Item<'a> {
    index: usize,
    key: &'a str,
    token: i32,
    args: RecordArgs,
}

/// Records every `(lease, attempt, next)`, each on its own (a lost lease
/// fails only its record): a statement per group of distinct keys of up to
/// [`CHUNK`] records.
pub(super) async fn record_many(
    client: &Object,
    records: &[(Lease, AttemptRecord, Next)],
) -> Vec<Result<(), Error>> {
    let mut results: Vec<Result<(), Error>> = records
        .iter()
        .map(|(lease, _, _)| Err(Error::LeaseLost(lease.key.clone())))
        .collect();
    // A token that does not parse is no lease of this store's: lost.
    let mut items: Vec<Item<'_>> = records
        .iter()
        .enumerate()
        .filter_map(|(index, (lease, attempt, next))| {
            let token = lease.token.parse::<i32>().ok()?;
            let args = RecordArgs::new(attempt, *next);
            Some(Item {
                index,
                key: &lease.key,
                token,
                args,
            })
        })
        .collect();
    let statement = match client.prepare_cached(RECORD_MANY).await.map_err(map_pg) {
        Ok(statement) => statement,
        Err(error) => return fail_all(&error, &items, results),
    };
    while !items.is_empty() {
        // The first record of each key, up to a chunk; a key recorded twice
        // goes to the next statement (where its spent lease fails it).
        let mut keys = HashSet::new();
        let (group, rest): (Vec<_>, Vec<_>) = items
            .into_iter()
            .partition(|item| keys.len() < CHUNK && keys.insert(item.key));
        items = rest;
        match run_group(client, &statement, &group).await {
            Ok(moved) => {
                for item in &group {
                    if moved.contains(item.key) {
                        results[item.index] = Ok(());
                    }
                }
            }
            Err(error) => results = fail_all(&error, &group, results),
        }
    }
    results
}

async fn run_group(
    client: &Object,
    statement: &tokio_postgres::Statement,
    group: &[Item<'_>],
) -> Result<HashSet<String>, Error> {
    let keys: Vec<&str> = group.iter().map(|i| i.key).collect();
    let tokens: Vec<i32> = group.iter().map(|i| i.token).collect();
    let a: Vec<&RecordArgs> = group.iter().map(|i| &i.args).collect();
    let states: Vec<i16> = a.iter().map(|a| a.state).collect();
    let next_at: Vec<Option<SystemTime>> = a.iter().map(|a| a.next_at).collect();
    let finished_at: Vec<Option<SystemTime>> = a.iter().map(|a| a.finished_at).collect();
    let dead_reason: Vec<Option<&str>> = a.iter().map(|a| a.dead_reason).collect();
    let delay_us: Vec<Option<i64>> = a.iter().map(|a| a.delay_us).collect();
    let started_at: Vec<SystemTime> = a.iter().map(|a| a.started_at).collect();
    let ended_at: Vec<SystemTime> = a.iter().map(|a| a.ended_at).collect();
    let outcome: Vec<&str> = a.iter().map(|a| a.outcome).collect();
    let stop_reason: Vec<Option<&str>> = a.iter().map(|a| a.stop_reason).collect();
    let error: Vec<Option<&str>> = a.iter().map(|a| a.error.as_deref()).collect();
    let kind: Vec<Option<&str>> = a.iter().map(|a| a.kind).collect();
    let server_delay_us: Vec<Option<i64>> = a.iter().map(|a| a.server_delay_us).collect();
    let params: [&(dyn ToSql + Sync); 14] = [
        &keys,
        &tokens,
        &states,
        &next_at,
        &finished_at,
        &dead_reason,
        &delay_us,
        &started_at,
        &ended_at,
        &outcome,
        &stop_reason,
        &error,
        &kind,
        &server_delay_us,
    ];
    let rows = client.query(statement, &params).await.map_err(map_pg)?;
    Ok(rows.iter().map(|row| row.get::<_, String>(0)).collect())
}

/// `error` for every record of `items`: the statement failed as a whole
/// and changed nothing.
fn fail_all(
    error: &Error,
    items: &[Item<'_>],
    mut results: Vec<Result<(), Error>>,
) -> Vec<Result<(), Error>> {
    for item in items {
        results[item.index] = Err(copy(error));
    }
    results
}

/// An error for each record of a statement that failed as a whole.
fn copy(error: &Error) -> Error {
    match error {
        Error::Unavailable(e) => Error::Unavailable(e.to_string().into()),
        other => Error::Backend(other.to_string().into()),
    }
}
