//! The SQLite schema, as migrations shipped with the crate.
//!
//! `persevere_durable_schema` holds the version; opening a store applies
//! the migrations it lacks, all in one transaction.

use super::OpError;
use crate::error::Error;
use rusqlite::{Connection, OptionalExtension, TransactionBehavior};

/// The migrations, in order; the schema version is how many were applied.
///
/// States: 0 pending, 1 running, 2 succeeded, 3 dead-lettered. Times are
/// microseconds since the Unix epoch, UTC. For a running job `next_at` is
/// its lease's expiry, so one index finds both due and abandoned jobs.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE persevere_jobs (
    key               TEXT PRIMARY KEY NOT NULL,
    kind              TEXT NOT NULL,
    payload           BLOB NOT NULL,
    state             INTEGER NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 0,
    round_base        INTEGER NOT NULL DEFAULT 0,
    created_at        INTEGER NOT NULL,
    first_attempt_at  INTEGER,
    claimed_at        INTEGER,
    next_at           INTEGER,
    previous_delay_us INTEGER,
    dead_reason       TEXT,
    finished_at       INTEGER
);
CREATE INDEX persevere_jobs_due ON persevere_jobs (next_at) WHERE state = 0;
CREATE INDEX persevere_jobs_leased ON persevere_jobs (next_at) WHERE state = 1;
CREATE INDEX persevere_jobs_dead ON persevere_jobs (finished_at) WHERE state = 3;
CREATE TABLE persevere_attempts (
    key             TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    started_at      INTEGER NOT NULL,
    ended_at        INTEGER NOT NULL,
    outcome         TEXT NOT NULL,
    stop_reason     TEXT,
    error           TEXT,
    kind            TEXT,
    server_delay_us INTEGER,
    delay_us        INTEGER,
    PRIMARY KEY (key, attempt)
) WITHOUT ROWID;
"#];

/// The schema version this crate writes.
pub(crate) const VERSION: i64 = MIGRATIONS.len() as i64;

/// Brings the schema of `conn` up to [`VERSION`].
pub(crate) fn migrate(conn: &mut Connection) -> Result<(), OpError> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS persevere_durable_schema (version INTEGER NOT NULL)",
    )?;
    let found: i64 = tx
        .query_row("SELECT version FROM persevere_durable_schema", [], |r| {
            r.get(0)
        })
        .optional()?
        .unwrap_or(0);
    if found > VERSION {
        return Err(OpError::Store(Error::SchemaTooNew {
            found,
            supported: VERSION,
        }));
    }
    for migration in &MIGRATIONS[found as usize..] {
        tx.execute_batch(migration)?;
    }
    if found == 0 {
        tx.execute(
            "INSERT INTO persevere_durable_schema (version) VALUES (?1)",
            [VERSION],
        )?;
    } else if found < VERSION {
        tx.execute(
            "UPDATE persevere_durable_schema SET version = ?1",
            [VERSION],
        )?;
    }
    tx.commit()?;
    Ok(())
}
