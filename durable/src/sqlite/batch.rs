//! Operations on many jobs at once, each in one transaction of the
//! writer's: many submits, and the records of attempts that ended together.

use super::OpError;
use super::ops;
use crate::history::AttemptRecord;
use crate::job::{Lease, NewJob, Next, Submitted};
use rusqlite::Connection;
use std::time::SystemTime;

/// Submits every job, in order, in the writer's transaction.
pub(super) fn submit_many(
    conn: &Connection,
    jobs: &[NewJob],
    now: SystemTime,
) -> Result<Vec<Submitted>, OpError> {
    jobs.iter().map(|job| ops::submit(conn, job, now)).collect()
}

/// Records each attempt in a savepoint of its own, so that one that fails
/// (a lost lease) rolls back alone and the others commit.
pub(super) fn record_many(
    conn: &Connection,
    records: &[(Lease, AttemptRecord, Next)],
) -> Result<Vec<Result<(), OpError>>, OpError> {
    let mut results = Vec::with_capacity(records.len());
    for (lease, attempt, next) in records {
        conn.execute_batch("SAVEPOINT persevere_record")?;
        let result = ops::record(conn, lease, attempt, *next);
        if result.is_err() {
            conn.execute_batch("ROLLBACK TO persevere_record")?;
        }
        conn.execute_batch("RELEASE persevere_record")?;
        results.push(result);
    }
    Ok(results)
}
