//! Claims and records: a due message received under a visibility timeout
//! (the lease), then completed, rescheduled or dead-lettered by its
//! receipt handle.

use super::client::{MAX_VISIBILITY_SECS, Received, Sqs, delay_secs};
use super::envelope::{Attempt, Envelope, system_time, time};
use crate::error::Error;
use crate::history::{AttemptRecord, stop_reason_name};
use crate::job::{Claimed, Lease, Next};
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

/// Receives per kind in one claim, at most (10 messages each).
const RECEIVES_PER_KIND: usize = 10;

/// A job this store handle holds under a lease: what a record needs to
/// send its next message.
#[derive(Debug, Clone)]
struct Held {
    queue: String,
    receipt: String,
    key: String,
    /// The job as it goes on: the cut attempts appended, the attempt counted.
    envelope: Envelope,
    payload: Vec<u8>,
    until: SystemTime,
    /// The next message (retry or dead letter) is sent: a record retried
    /// after a failed delete only deletes.
    sent: bool,
}

/// The leases held by this store handle and its clones, by message id.
#[derive(Debug, Default)]
pub(super) struct Leases {
    held: Mutex<HashMap<String, Held>>,
}

/// A lease's visibility timeout in whole seconds: rounded up, 1 s to 12 h.
fn visibility_secs(lease: Duration) -> u64 {
    let secs = lease.as_secs() + u64::from(lease.subsec_nanos() > 0);
    secs.clamp(1, MAX_VISIBILITY_SECS)
}

impl Leases {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lease `token` names, if it is the message's current one.
    fn get(&self, id: &str, receipt: &str) -> Option<Held> {
        self.lock()
            .get(id)
            .filter(|h| h.receipt == receipt)
            .cloned()
    }

    fn update(&self, id: &str, receipt: &str, f: impl FnOnce(&mut Option<Held>)) {
        let mut held = self.lock();
        let mut entry = held.remove(id);
        if entry.as_ref().is_some_and(|h| h.receipt != receipt) {
            held.extend(entry.map(|h| (id.to_owned(), h)));
            return;
        }
        f(&mut entry);
        held.extend(entry.map(|h| (id.to_owned(), h)));
    }

    /// Forgets leases that ended over 12 hours before `now`: no record
    /// came, and SQS has let the message go again long ago.
    fn prune(&self, now: SystemTime) {
        let horizon = Duration::from_secs(MAX_VISIBILITY_SECS);
        self.lock()
            .retain(|_, h| h.until.checked_add(horizon).is_none_or(|end| end > now));
    }
}

/// Claims due jobs of `kinds` (one queue each).
pub(super) async fn claim(
    sqs: &Sqs,
    leases: &Leases,
    kinds: &[String],
    limit: usize,
    now: SystemTime,
    lease: Duration,
) -> Result<Vec<Claimed>, Error> {
    let mut claimed = Vec::new();
    if kinds.is_empty() || limit == 0 {
        return Ok(claimed);
    }
    leases.prune(now);
    let secs = visibility_secs(lease);
    let until = now + Duration::from_secs(secs);
    let visibility = i32::try_from(secs).unwrap_or(1);
    let mut seen = HashSet::new();
    for kind in kinds.iter().filter(|k| seen.insert(k.as_str())) {
        let queue = sqs.queues.of_kind(kind);
        for _ in 0..RECEIVES_PER_KIND {
            let want = (limit - claimed.len()).min(10);
            if want == 0 {
                break;
            }
            let received = match sqs.receive(&queue, want, visibility).await {
                Ok(r) => r,
                // What was received is claimed: return it, and let the next
                // claim meet the error.
                Err(error) if !claimed.is_empty() => {
                    tracing::warn!(target: "persevere_durable", %error, "claim cut short");
                    return Ok(claimed);
                }
                Err(error) => return Err(error),
            };
            let got = received.len();
            for r in received {
                if r.envelope.kind != *kind {
                    sqs.release(&queue, &[r.receipt]).await;
                } else if system_time(r.envelope.due) > now {
                    early(sqs, &queue, r, now).await;
                } else {
                    claimed.push(hold(leases, &queue, r, now, until));
                }
            }
            if got < want {
                break;
            }
        }
    }
    Ok(claimed)
}

/// A message that surfaced before its job is due (a wait longer than SQS's
/// 15 minutes, chained; or clocks that disagree) is sent again with the
/// time left, and the early one deleted. On failure it comes back when its
/// visibility ends.
async fn early(sqs: &Sqs, queue: &str, mut r: Received, now: SystemTime) {
    let delay = delay_secs(system_time(r.envelope.due), now);
    let resent = match sqs.send(queue, &mut r.envelope, &r.payload, delay).await {
        Ok(()) => sqs.delete(queue, &r.receipt).await,
        Err(e) => Err(e),
    };
    if let Err(error) = resent {
        tracing::warn!(target: "persevere_durable", key = %r.envelope.key, %error, "an early message was not sent again");
    }
}

/// Holds a due message under a lease: counts the attempt, and the cut ones
/// before it (SQS delivered it before, and no record came).
fn hold(leases: &Leases, queue: &str, r: Received, now: SystemTime, until: SystemTime) -> Claimed {
    let mut envelope = r.envelope;
    let attempt = envelope.attempt.saturating_add(r.count.max(1));
    let first_delivery = r.first_receive.unwrap_or(now).min(now);
    let first =
        envelope
            .first
            .map(system_time)
            .unwrap_or(if r.count > 1 { first_delivery } else { now });
    // SQS keeps no times of a cut attempt: it started when the message was
    // first delivered (or due) and ended by this claim at the latest.
    let cut_start = first_delivery.max(system_time(envelope.due));
    for n in envelope.attempt.saturating_add(1)..attempt {
        envelope
            .history
            .push(Attempt::interrupted(n, cut_start.min(now), now));
    }
    let previous_delay = envelope.previous_delay;
    let interrupted = r.count > 1;
    let round_attempt = attempt.saturating_sub(envelope.round_base);
    envelope.attempt = attempt;
    envelope.first = Some(time(first));
    let claimed = Claimed {
        key: envelope.key.clone(),
        kind: envelope.kind.clone(),
        payload: r.payload.clone(),
        attempt,
        round_attempt,
        first_attempt_at: first,
        previous_delay,
        interrupted,
        lease: Lease {
            key: envelope.key.clone(),
            token: format!("{} {}", r.id, r.receipt),
            until,
        },
    };
    let held = Held {
        queue: queue.to_owned(),
        receipt: r.receipt,
        key: envelope.key.clone(),
        envelope,
        payload: r.payload,
        until,
        sent: false,
    };
    // A message claimed again by this handle replaces its older lease.
    leases.lock().insert(r.id, held);
    claimed
}

/// Records an attempt under `lease`: sends the next message (a retry,
/// delayed; or a dead letter), then deletes the claimed one. Sent first:
/// if the delete fails, the job exists twice (at least once), never zero
/// times.
pub(super) async fn record(
    sqs: &Sqs,
    leases: &Leases,
    lease: &Lease,
    attempt: AttemptRecord,
    next: Next,
) -> Result<(), Error> {
    let lost = || Error::LeaseLost(lease.key.clone());
    let (id, receipt) = lease.token.split_once(' ').ok_or_else(lost)?;
    let held = leases
        .get(id, receipt)
        .filter(|h| h.key == lease.key)
        .ok_or_else(lost)?;
    if !held.sent {
        let mut envelope = held.envelope.clone();
        envelope.history.push(Attempt::new(&attempt));
        match next {
            Next::Retry(at) => {
                envelope.due = time(at);
                envelope.previous_delay = attempt.delay;
                let delay = delay_secs(at, attempt.ended_at);
                sqs.send(&held.queue, &mut envelope, &held.payload, delay)
                    .await?;
            }
            Next::DeadLetter(reason) => {
                envelope.dead = Some(stop_reason_name(reason).to_owned());
                envelope.finished = Some(time(attempt.ended_at));
                let dead = sqs.queues.dead();
                sqs.send(&dead, &mut envelope, &held.payload, 0).await?;
            }
            Next::Complete => {}
        }
        leases.update(id, receipt, |h| {
            if let Some(h) = h {
                h.sent = true;
            }
        });
    }
    sqs.delete(&held.queue, receipt).await?;
    leases.update(id, receipt, |h| *h = None);
    Ok(())
}
