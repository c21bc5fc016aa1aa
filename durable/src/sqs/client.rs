//! The store's SQS calls: send, receive, delete, change visibility, each
//! on a queue by name (created on first use, and again if it vanished).

use super::envelope::{Envelope, system_time};
use super::errors::{Failure, failure};
use super::queues::Queues;
use crate::error::Error;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::primitives::Blob;
use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageAttributeValue,
    MessageSystemAttributeName,
};
use std::time::{Duration, SystemTime};

/// The message attribute that carries the [`Envelope`].
const JOB_ATTR: &str = "persevere-job";
/// The message attribute that carries the payload (absent when empty).
const PAYLOAD_ATTR: &str = "persevere-payload";
/// Every message's body (SQS wants one; the job is in the attributes).
const BODY: &str = "persevere-durable job";

/// The longest delay SQS gives a message: 15 minutes.
pub(super) const MAX_DELAY_SECS: u64 = 900;
/// The longest visibility timeout SQS holds a message for: 12 hours.
pub(super) const MAX_VISIBILITY_SECS: u64 = 43_200;

/// A message the store can read.
#[derive(Debug)]
pub(super) struct Received {
    pub(super) id: String,
    pub(super) receipt: String,
    pub(super) envelope: Envelope,
    pub(super) payload: Vec<u8>,
    /// How many times SQS delivered it (1 on the first receive).
    pub(super) count: u32,
    /// When SQS first delivered it, by SQS's clock.
    pub(super) first_receive: Option<SystemTime>,
}

/// The client and the queues.
#[derive(Debug)]
pub(super) struct Sqs {
    pub(super) client: Client,
    pub(super) queues: Queues,
}

/// The whole seconds from `now` to `due` (rounded down: SQS shows a message
/// up to a second early, never late), at most [`MAX_DELAY_SECS`].
pub(super) fn delay_secs(due: SystemTime, now: SystemTime) -> i32 {
    let secs = due.duration_since(now).unwrap_or(Duration::ZERO).as_secs();
    i32::try_from(secs.min(MAX_DELAY_SECS)).unwrap_or(0)
}

fn binary(bytes: Vec<u8>) -> Result<MessageAttributeValue, Failure> {
    MessageAttributeValue::builder()
        .data_type("Binary")
        .binary_value(Blob::new(bytes))
        .build()
        .map_err(|e| Failure::Other(Error::Backend(Box::new(e))))
}

impl Sqs {
    /// Sends `envelope` (capped: its oldest attempts may be dropped) with
    /// `payload` to queue `queue`, delayed by `delay` seconds.
    pub(super) async fn send(
        &self,
        queue: &str,
        envelope: &mut Envelope,
        payload: &[u8],
        delay: i32,
    ) -> Result<(), Error> {
        let job = envelope.encode();
        let client = &self.client;
        self.queues
            .on(client, queue, |url| {
                let (job, payload) = (job.clone(), payload.to_vec());
                async move {
                    let mut send = client
                        .send_message()
                        .queue_url(url)
                        .message_body(BODY)
                        .delay_seconds(delay)
                        .message_attributes(JOB_ATTR, binary(job)?);
                    if !payload.is_empty() {
                        send = send.message_attributes(PAYLOAD_ATTR, binary(payload)?);
                    }
                    send.send()
                        .await
                        .map(|_| ())
                        .map_err(|e| failure("SendMessage", e))
                }
            })
            .await
    }

    /// Up to `max` (at most 10) messages of queue `queue`, each hidden for
    /// `visibility` seconds. Messages the store cannot read are hidden for
    /// 12 hours and left out (logged).
    pub(super) async fn receive(
        &self,
        queue: &str,
        max: usize,
        visibility: i32,
    ) -> Result<Vec<Received>, Error> {
        let client = &self.client;
        let max = i32::try_from(max.clamp(1, 10)).unwrap_or(10);
        let (url, messages) = self
            .queues
            .on(client, queue, |url| async move {
                let out = client
                    .receive_message()
                    .queue_url(&url)
                    .max_number_of_messages(max)
                    .visibility_timeout(visibility)
                    .wait_time_seconds(0)
                    .message_attribute_names("All")
                    .message_system_attribute_names(
                        MessageSystemAttributeName::ApproximateReceiveCount,
                    )
                    .message_system_attribute_names(
                        MessageSystemAttributeName::ApproximateFirstReceiveTimestamp,
                    )
                    .send()
                    .await
                    .map_err(|e| failure("ReceiveMessage", e))?;
                Ok((url, out.messages.unwrap_or_default()))
            })
            .await?;
        let mut received = Vec::with_capacity(messages.len());
        for message in messages {
            match read(&message) {
                Some(r) => received.push(r),
                None => {
                    let id = message.message_id().unwrap_or_default();
                    tracing::warn!(target: "persevere_durable", queue, id, "not a persevere-durable job: hidden for 12 hours");
                    if let Some(receipt) = message.receipt_handle() {
                        let hide = i32::try_from(MAX_VISIBILITY_SECS).unwrap_or(0);
                        let _ = self.change_visibility(&url, receipt, hide).await;
                    }
                }
            }
        }
        Ok(received)
    }

    /// Deletes the message `receipt` of queue `queue`; a queue that is gone
    /// has nothing left to delete.
    pub(super) async fn delete(&self, queue: &str, receipt: &str) -> Result<(), Error> {
        let client = &self.client;
        let deleted = self
            .queues
            .on(client, queue, |url| async move {
                match client
                    .delete_message()
                    .queue_url(url)
                    .receipt_handle(receipt)
                    .send()
                    .await
                {
                    Ok(_) => Ok(true),
                    Err(e) => match failure("DeleteMessage", e) {
                        Failure::MissingQueue => Ok(false),
                        other => Err(other),
                    },
                }
            })
            .await;
        deleted.map(|_| ())
    }

    async fn change_visibility(&self, url: &str, receipt: &str, secs: i32) -> Result<(), Failure> {
        self.client
            .change_message_visibility()
            .queue_url(url)
            .receipt_handle(receipt)
            .visibility_timeout(secs)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| failure("ChangeMessageVisibility", e))
    }

    /// Makes the messages `receipts` of queue `queue` visible again at
    /// once. A failure only logs: the messages come back when their
    /// visibility timeout ends anyway.
    pub(super) async fn release(&self, queue: &str, receipts: &[String]) {
        let client = &self.client;
        for chunk in receipts.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, receipt)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            let released = self
                .queues
                .on(client, queue, |url| {
                    let entries = entries.clone();
                    async move {
                        let out = client
                            .change_message_visibility_batch()
                            .queue_url(url)
                            .set_entries(Some(entries))
                            .send()
                            .await
                            .map_err(|e| failure("ChangeMessageVisibilityBatch", e))?;
                        Ok(out.failed.len())
                    }
                })
                .await;
            match released {
                Ok(0) => {}
                Ok(failed) => {
                    tracing::debug!(target: "persevere_durable", queue, failed, "some messages not released: they return when their visibility ends");
                }
                Err(error) => {
                    tracing::debug!(target: "persevere_durable", queue, %error, "messages not released: they return when their visibility ends");
                }
            }
        }
    }
}

/// A received message as the store reads it, or `None` if it is not one of
/// its jobs.
fn read(message: &Message) -> Option<Received> {
    let attrs = message.message_attributes()?;
    let job = attrs.get(JOB_ATTR)?.binary_value()?;
    let envelope = Envelope::decode(job.as_ref())?;
    let payload = attrs
        .get(PAYLOAD_ATTR)
        .and_then(|p| p.binary_value())
        .map(|b| b.as_ref().to_vec())
        .unwrap_or_default();
    let system = message.attributes();
    let get = |name: MessageSystemAttributeName| system.and_then(|s| s.get(&name));
    let count = get(MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|c| c.parse().ok())
        .unwrap_or(1);
    let first_receive = get(MessageSystemAttributeName::ApproximateFirstReceiveTimestamp)
        .and_then(|ms| ms.parse::<u64>().ok())
        .map(|ms| system_time((ms / 1000, u32::try_from(ms % 1000).unwrap_or(0) * 1_000_000)));
    Some(Received {
        id: message.message_id()?.to_owned(),
        receipt: message.receipt_handle()?.to_owned(),
        envelope,
        payload,
        count,
        first_receive,
    })
}
