//! The dead-letter queue: read, requeue and purge by scanning it (SQS
//! finds no message by key).

use super::client::{Received, Sqs};
use super::envelope::time;
use crate::error::Error;
use crate::job::JobStatus;
use std::time::SystemTime;

/// The most dead letters one `requeue` or `purge` scans for its key.
pub(super) const MAX_SCAN: usize = 10_000;

/// How long a scan hides the dead letters it read, in seconds: they are
/// made visible again when it ends (or come back after this if it dies).
const SCAN_HOLD: i32 = 30;

/// Dead letters read by a scan, held until released.
struct Scan {
    read: Vec<Received>,
    /// The queue said there were no more.
    complete: bool,
}

/// Reads up to `max` dead letters (a batch may take it a few past), stopping
/// at the first for which `stop` is true (then last in `read`).
async fn scan(
    sqs: &Sqs,
    max: usize,
    mut stop: impl FnMut(&Received) -> bool,
) -> Result<Scan, Error> {
    let dead = sqs.queues.dead();
    let mut read: Vec<Received> = Vec::new();
    while read.len() < max {
        let want = (max - read.len()).min(10);
        let batch = match sqs.receive(&dead, want, SCAN_HOLD).await {
            Ok(batch) => batch,
            Err(e) => {
                release(sqs, read).await;
                return Err(e);
            }
        };
        if batch.is_empty() {
            return Ok(Scan {
                read,
                complete: true,
            });
        }
        let found = batch.iter().position(&mut stop).map(|i| read.len() + i);
        read.extend(batch);
        if let Some(i) = found {
            // The one found goes last; the rest are released with the others.
            let r = read.remove(i);
            read.push(r);
            return Ok(Scan {
                read,
                complete: false,
            });
        }
    }
    Ok(Scan {
        read,
        complete: false,
    })
}

async fn release(sqs: &Sqs, read: Vec<Received>) {
    let receipts: Vec<String> = read.into_iter().map(|r| r.receipt).collect();
    sqs.release(&sqs.queues.dead(), &receipts).await;
}

/// Up to `limit` dead letters, sorted by when they died, then key.
pub(super) async fn dead_letters(sqs: &Sqs, limit: usize) -> Result<Vec<JobStatus>, Error> {
    if limit == 0 {
        return Ok(Vec::new());
    }
    let scan = scan(sqs, limit, |_| false).await?;
    let mut out: Vec<_> = scan
        .read
        .iter()
        .map(|r| (r.envelope.finished.unwrap_or_default(), r.envelope.status()))
        .collect();
    release(sqs, scan.read).await;
    out.sort_by(|(a, x), (b, y)| a.cmp(b).then_with(|| x.key.cmp(&y.key)));
    Ok(out.into_iter().map(|(_, s)| s).collect())
}

/// The dead letter of `key`, found by a scan (the others are released), or
/// why not.
async fn find(sqs: &Sqs, key: &str) -> Result<Received, Error> {
    let mut scan = scan(sqs, MAX_SCAN, |r| r.envelope.key == key).await?;
    let found = match scan.read.last() {
        Some(r) if r.envelope.key == key => scan.read.pop(),
        _ => None,
    };
    let complete = scan.complete;
    release(sqs, scan.read).await;
    match found {
        Some(r) => Ok(r),
        None if complete => Err(Error::NotFound(key.to_owned())),
        None => Err(Error::Unsupported(
            "finding a dead letter beyond the first 10,000 of its queue",
        )),
    }
}

/// Sends the dead letter of `key` back to its kind's queue, due at `now`,
/// as a new round; then deletes the dead letter (sent first: at least once).
pub(super) async fn requeue(sqs: &Sqs, key: &str, now: SystemTime) -> Result<(), Error> {
    let mut r = find(sqs, key).await?;
    let e = &mut r.envelope;
    e.due = time(now);
    e.round_base = e.attempt;
    e.first = None;
    e.previous_delay = None;
    e.dead = None;
    e.finished = None;
    let queue = sqs.queues.of_kind(&e.kind);
    let sent = sqs.send(&queue, &mut r.envelope, &r.payload, 0).await;
    if let Err(e) = sent {
        release(sqs, vec![r]).await;
        return Err(e);
    }
    sqs.delete(&sqs.queues.dead(), &r.receipt).await
}

/// Deletes the dead letter of `key`.
pub(super) async fn purge(sqs: &Sqs, key: &str) -> Result<(), Error> {
    let r = find(sqs, key).await?;
    sqs.delete(&sqs.queues.dead(), &r.receipt).await
}
