//! A submit on one connection or transaction: insert unless the key
//! exists, then read the state of the job that did.

use super::errors::map_pg;
use super::ops;
use crate::error::Error;
use crate::job::{NewJob, Submitted};
use deadpool_postgres::Object;
use std::time::SystemTime;
use tokio_postgres::GenericClient;

/// The statements of a submit, prepared on the client that runs them.
pub(super) struct SubmitStatements {
    insert: tokio_postgres::Statement,
    state: tokio_postgres::Statement,
}

impl SubmitStatements {
    /// Prepared once per pooled connection, then cached: no round trip.
    pub(super) async fn cached(client: &Object) -> Result<Self, Error> {
        Ok(SubmitStatements {
            insert: client.prepare_cached(ops::SUBMIT).await.map_err(map_pg)?,
            state: client.prepare_cached(ops::STATE).await.map_err(map_pg)?,
        })
    }

    /// Prepared on `client` (the caller's transaction) for this call.
    pub(super) async fn on(client: &impl GenericClient) -> Result<Self, Error> {
        Ok(SubmitStatements {
            insert: client.prepare(ops::SUBMIT).await.map_err(map_pg)?,
            state: client.prepare(ops::STATE).await.map_err(map_pg)?,
        })
    }
}

/// Inserts `job` unless its key exists, on any client or transaction.
pub(super) async fn submit_on(
    client: &impl GenericClient,
    statements: &SubmitStatements,
    job: &NewJob,
    now: SystemTime,
) -> Result<Submitted, Error> {
    let now = ops::clamp(now);
    let due = job.not_before.map_or(now, ops::ceil_us);
    // A job purged between the insert and the read is inserted again.
    for _ in 0..3 {
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 5] =
            [&job.key, &job.kind, &job.payload, &now, &due];
        let inserted = client
            .execute(&statements.insert, &params)
            .await
            .map_err(map_pg)?;
        if inserted == 1 {
            return Ok(Submitted::Created);
        }
        let row = client
            .query_opt(&statements.state, &[&job.key])
            .await
            .map_err(map_pg)?;
        if let Some(row) = row {
            return Ok(Submitted::Exists(ops::state_of(row.get(0))));
        }
    }
    Err(Error::Backend(
        "the job was purged while it was submitted, three times".into(),
    ))
}
