//! The PostgreSQL schema, as migrations shipped with the crate.
//!
//! `persevere_durable_schema` holds the version. [`migrate`] applies the
//! migrations a database lacks in one transaction, under an advisory lock,
//! so that processes starting together migrate once.

use super::errors::map_pg;
use crate::error::Error;
use tokio_postgres::Client;

/// The migrations, in order; the schema version is how many were applied.
///
/// States: 0 pending, 1 running, 2 succeeded, 3 dead-lettered. For a
/// running job `next_at` is its lease's expiry, so that due jobs and
/// expired leases are both found on a partial index over `next_at`.
const MIGRATIONS: &[&str] = &[r#"
CREATE TABLE persevere_jobs (
    key               TEXT PRIMARY KEY,
    kind              TEXT NOT NULL,
    payload           BYTEA NOT NULL,
    state             SMALLINT NOT NULL,
    attempt           INTEGER NOT NULL DEFAULT 0,
    round_base        INTEGER NOT NULL DEFAULT 0,
    created_at        TIMESTAMPTZ NOT NULL,
    first_attempt_at  TIMESTAMPTZ,
    claimed_at        TIMESTAMPTZ,
    next_at           TIMESTAMPTZ,
    previous_delay_us BIGINT,
    dead_reason       TEXT,
    finished_at       TIMESTAMPTZ
);
CREATE INDEX persevere_jobs_due ON persevere_jobs (next_at) WHERE state = 0;
CREATE INDEX persevere_jobs_leased ON persevere_jobs (next_at) WHERE state = 1;
CREATE INDEX persevere_jobs_dead ON persevere_jobs (finished_at, key) WHERE state = 3;
CREATE TABLE persevere_attempts (
    key             TEXT NOT NULL REFERENCES persevere_jobs (key) ON DELETE CASCADE,
    attempt         INTEGER NOT NULL,
    started_at      TIMESTAMPTZ NOT NULL,
    ended_at        TIMESTAMPTZ NOT NULL,
    outcome         TEXT NOT NULL,
    stop_reason     TEXT,
    error           TEXT,
    kind            TEXT,
    server_delay_us BIGINT,
    delay_us        BIGINT,
    PRIMARY KEY (key, attempt)
);
"#];

/// The schema version this crate writes.
pub(crate) const VERSION: i32 = MIGRATIONS.len() as i32;

/// The advisory lock the migration holds (an arbitrary constant: "pdur").
const LOCK: i64 = 0x7064_7572;

/// Brings the schema up to [`VERSION`], in one transaction.
pub(super) async fn migrate(client: &mut Client) -> Result<(), Error> {
    let tx = client.transaction().await.map_err(map_pg)?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&LOCK])
        .await
        .map_err(map_pg)?;
    tx.batch_execute(
        "CREATE TABLE IF NOT EXISTS persevere_durable_schema (version INTEGER NOT NULL)",
    )
    .await
    .map_err(map_pg)?;
    let found: i32 = tx
        .query_opt("SELECT version FROM persevere_durable_schema", &[])
        .await
        .map_err(map_pg)?
        .map_or(0, |row| row.get(0));
    if found > VERSION {
        return Err(Error::SchemaTooNew {
            found: i64::from(found),
            supported: i64::from(VERSION),
        });
    }
    for migration in &MIGRATIONS[usize::try_from(found).unwrap_or(0)..] {
        tx.batch_execute(migration).await.map_err(map_pg)?;
    }
    if found == 0 {
        tx.execute(
            "INSERT INTO persevere_durable_schema (version) VALUES ($1)",
            &[&VERSION],
        )
        .await
        .map_err(map_pg)?;
    } else if found < VERSION {
        tx.execute(
            "UPDATE persevere_durable_schema SET version = $1",
            &[&VERSION],
        )
        .await
        .map_err(map_pg)?;
    }
    tx.commit().await.map_err(map_pg)
}
