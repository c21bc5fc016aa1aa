//! A worker's writer task: the records of attempts that end together go to
//! the store in one [`Store::record_many`] call (one transaction on the
//! SQLite and PostgreSQL stores), not one call each.
//!
//! An attempt hands its record to the writer and waits for the store's
//! answer, so it holds its slot until its result is recorded, as before.
//! While a batch is being written, the records that arrive wait and go
//! together in the next: with one attempt at a time, each record is a
//! batch of one; with many, the batches grow with the load (group commit).

use super::Shared;
use crate::error::Error;
use crate::history::AttemptRecord;
use crate::job::{Lease, Next};
use crate::store::Store;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// The most records in one batch.
const BATCH: usize = 256;

type Entry = (
    (Lease, AttemptRecord, Next),
    oneshot::Sender<Result<(), Error>>,
);

/// The sending end; cloned into every attempt. The writer task ends when
/// the last clone is dropped and the records sent are written.
#[derive(Debug, Clone)]
pub(super) struct Recorder {
    entries: mpsc::UnboundedSender<Entry>,
}

impl Recorder {
    /// Starts the writer task on `store`.
    pub(super) fn start<S: Store>(shared: Arc<Shared<S>>) -> (Recorder, JoinHandle<()>) {
        let (entries, queue) = mpsc::unbounded_channel();
        let task = tokio::spawn(serve(shared, queue));
        (Recorder { entries }, task)
    }

    /// Records one attempt through the writer, and waits for the store's
    /// answer.
    pub(super) async fn record(
        &self,
        lease: &Lease,
        attempt: AttemptRecord,
        next: Next,
    ) -> Result<(), Error> {
        let stopped = || Error::Backend("the worker's writer task has stopped".into());
        let (reply, answer) = oneshot::channel();
        self.entries
            .send(((lease.clone(), attempt, next), reply))
            .map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

async fn serve<S: Store>(shared: Arc<Shared<S>>, mut queue: mpsc::UnboundedReceiver<Entry>) {
    let mut batch = Vec::with_capacity(BATCH);
    while queue.recv_many(&mut batch, BATCH).await > 0 {
        let (records, replies): (Vec<_>, Vec<_>) = batch.drain(..).unzip();
        let results = shared.store.record_many(records).await;
        let mut results = results.into_iter();
        for reply in replies {
            let result = results.next().unwrap_or_else(|| {
                Err(Error::Backend(
                    "the store answered fewer records than it was sent".into(),
                ))
            });
            let _ = reply.send(result);
        }
    }
}
