//! The store's queues: one per kind, and one for dead letters, named from a
//! prefix, created on first use and again if they vanish.

use super::errors::{Failure, error, failure};
use crate::error::Error;
use aws_sdk_sqs::Client;
use aws_sdk_sqs::types::QueueAttributeName;
use std::collections::HashMap;
use std::future::Future;
use std::sync::{Mutex, PoisonError};

/// The longest queue prefix, in bytes (SQS names are at most 80).
pub(super) const MAX_PREFIX_LEN: usize = 40;

/// How long SQS keeps a message nobody receives: 14 days, its maximum.
const RETENTION_SECS: &str = "1209600";

/// Queue names and URLs.
#[derive(Debug)]
pub(super) struct Queues {
    prefix: String,
    urls: Mutex<HashMap<String, String>>,
}

/// True for a name SQS accepts as (part of) a queue name.
pub(super) fn valid_name_part(s: &str) -> bool {
    s.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Queues {
    pub(super) fn new(prefix: String) -> Self {
        Queues {
            prefix,
            urls: Mutex::new(HashMap::new()),
        }
    }

    /// The queue of `kind`: `PREFIX-k-KIND`, or `PREFIX-h-HASH` for a kind
    /// that is not a valid queue name or too long for one.
    pub(super) fn of_kind(&self, kind: &str) -> String {
        let name = format!("{}-k-{kind}", self.prefix);
        if valid_name_part(kind) && name.len() <= 80 {
            name
        } else {
            format!("{}-h-{:016x}", self.prefix, fnv1a(kind.as_bytes()))
        }
    }

    /// The dead-letter queue: `PREFIX-dead`.
    pub(super) fn dead(&self) -> String {
        format!("{}-dead", self.prefix)
    }

    /// The URL of queue `name`, created if it does not exist.
    async fn url(&self, client: &Client, name: &str) -> Result<String, Error> {
        if let Some(url) = self.cached(name) {
            return Ok(url);
        }
        let created = client
            .create_queue()
            .queue_name(name)
            .attributes(QueueAttributeName::MessageRetentionPeriod, RETENTION_SECS)
            .send()
            .await;
        let url = match created {
            Ok(out) => out.queue_url().map(str::to_owned),
            // Created by someone else with other attributes: use it as it is.
            Err(e) if e.code() == Some("QueueNameExists") => client
                .get_queue_url()
                .queue_name(name)
                .send()
                .await
                .map_err(|e| error(failure("GetQueueUrl", e)))?
                .queue_url()
                .map(str::to_owned),
            Err(e) => return Err(error(failure("CreateQueue", e))),
        };
        let url = url.ok_or_else(|| Error::Backend("CreateQueue returned no queue URL".into()))?;
        self.urls
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(name.to_owned(), url.clone());
        Ok(url)
    }

    fn cached(&self, name: &str) -> Option<String> {
        let urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        urls.get(name).cloned()
    }

    fn forget(&self, name: &str) {
        let mut urls = self.urls.lock().unwrap_or_else(PoisonError::into_inner);
        urls.remove(name);
    }

    /// Runs `op` on the URL of queue `name`; if the queue is missing, it is
    /// created again and `op` runs once more.
    pub(super) async fn on<T, F, Fut>(&self, client: &Client, name: &str, op: F) -> Result<T, Error>
    where
        F: Fn(String) -> Fut,
        Fut: Future<Output = Result<T, Failure>>,
    {
        let url = self.url(client, name).await?;
        match op(url).await {
            Ok(t) => Ok(t),
            Err(Failure::Other(e)) => Err(e),
            Err(Failure::MissingQueue) => {
                tracing::warn!(target: "persevere_durable", queue = name, "queue missing: creating it again");
                self.forget(name);
                let url = self.url(client, name).await?;
                op(url).await.map_err(error)
            }
        }
    }
}

use aws_sdk_sqs::error::ProvideErrorMetadata;

/// FNV-1a, 64 bits: a stable name for a kind that cannot be one.
fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_name_their_queues() {
        let q = Queues::new("jobs".into());
        assert_eq!(q.of_kind("email"), "jobs-k-email");
        assert_eq!(q.dead(), "jobs-dead");
        let odd = q.of_kind("e.mail");
        assert!(odd.starts_with("jobs-h-") && odd.len() == 23, "{odd}");
        assert_eq!(odd, q.of_kind("e.mail"), "stable");
        assert_ne!(odd, q.of_kind("e:mail"));
        let long = q.of_kind(&"k".repeat(256));
        assert!(long.len() <= 80 && valid_name_part(&long));
    }
}
