//! The crash worker's SQS target (`sqs` feature), also read by
//! `tests/crash_sqs/`: `sqs+http://HOST:PORT/PREFIX` names an
//! SQS-compatible server over plain HTTP (moto, in the tests) and the
//! prefix of the store's queues. SQS cannot count a store's jobs, so
//! [`Queues`] asks the server, with `GetQueueAttributes`, how many messages
//! each of the crash test's kinds' queues holds: a store with none visible,
//! in flight or delayed has no job pending or running.

use persevere_durable::aws_sdk_sqs::config::timeout::TimeoutConfig;
use persevere_durable::aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use persevere_durable::aws_sdk_sqs::types::QueueAttributeName;
use persevere_durable::aws_sdk_sqs::{Client, Config};
use persevere_durable::{
    AttemptRecord, Claimed, Error, JobStatus, Lease, NewJob, Next, SqsOptions, SqsStore, Store,
    Submitted,
};
use std::fs::File;
use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// The crash test's job kinds, one queue each.
pub const KINDS: [&str; 2] = ["script", "exhaust"];

/// A server and a queue prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// `http://HOST:PORT`.
    pub endpoint: String,
    /// The store's queue prefix.
    pub prefix: String,
}

impl Target {
    /// Reads `sqs+http://HOST:PORT/PREFIX`, or `None` if `target` is not one.
    pub fn parse(target: &str) -> Option<Target> {
        let rest = target.strip_prefix("sqs+http://")?;
        let (host, prefix) = rest.split_once('/')?;
        if host.is_empty() || prefix.is_empty() || prefix.contains('/') {
            return None;
        }
        Some(Target {
            endpoint: format!("http://{host}"),
            prefix: prefix.to_owned(),
        })
    }

    /// The store on this server under this prefix.
    pub fn store(&self) -> SqsStore {
        let options = SqsOptions::new()
            .with_prefix(&self.prefix)
            .with_timeout(Duration::from_secs(5));
        SqsStore::local(&self.endpoint, options).expect("store")
    }

    /// The queues' message counts on this server.
    pub fn queues(&self) -> Queues {
        let timeouts = TimeoutConfig::builder()
            .operation_timeout(Duration::from_secs(5))
            .build();
        let config = Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(&self.endpoint)
            .credentials_provider(Credentials::new("crash", "crash", None, None, "crash"))
            .http_client(aws_smithy_http_client::Builder::new().build_http())
            .timeout_config(timeouts)
            .build();
        Queues {
            client: Client::from_conf(config),
            prefix: self.prefix.clone(),
        }
    }
}

/// How many messages a queue holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Count {
    /// Visible: due, and held by nobody.
    pub visible: u64,
    /// In flight: received, under a visibility timeout (a lease).
    pub in_flight: u64,
    /// Delayed: sent with a delay that has not run out.
    pub delayed: u64,
}

impl Count {
    /// True when the queue holds no message at all.
    pub fn is_empty(&self) -> bool {
        *self == Count::default()
    }
}

/// Message counts of the store's queues, read with the SDK.
#[derive(Debug, Clone)]
pub struct Queues {
    client: Client,
    prefix: String,
}

impl Queues {
    /// The counts of the queue of `kind` (the store's `PREFIX-k-KIND`), or
    /// of its dead letters for `dead`.
    pub async fn count(&self, kind: &str) -> Result<Count, String> {
        let name = match kind {
            "dead" => format!("{}-dead", self.prefix),
            kind => format!("{}-k-{kind}", self.prefix),
        };
        let url = self
            .client
            .get_queue_url()
            .queue_name(&name)
            .send()
            .await
            .map_err(|e| format!("GetQueueUrl {name}: {e:?}"))?;
        let out = self
            .client
            .get_queue_attributes()
            .queue_url(url.queue_url().unwrap_or_default())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesDelayed)
            .send()
            .await
            .map_err(|e| format!("GetQueueAttributes {name}: {e:?}"))?;
        let attributes = out.attributes.unwrap_or_default();
        let get = |a: QueueAttributeName| -> Result<u64, String> {
            let value = attributes.get(&a).ok_or(format!("{name}: no {a:?}"))?;
            value
                .parse()
                .map_err(|_| format!("{name}: {a:?} {value:?}"))
        };
        Ok(Count {
            visible: get(QueueAttributeName::ApproximateNumberOfMessages)?,
            in_flight: get(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)?,
            delayed: get(QueueAttributeName::ApproximateNumberOfMessagesDelayed)?,
        })
    }

    /// True when the kinds' queues hold no message (an error is not idle).
    pub async fn idle(&self) -> bool {
        for kind in KINDS {
            match self.count(kind).await {
                Ok(count) if count.is_empty() => {}
                _ => return false,
            }
        }
        true
    }
}

/// The SQS store, logging each record it could not make to the crash log:
/// `X key attempt pid`. The worker tries a failed record again, and a
/// call whose answer was lost (a timeout on a slow server) may have been
/// made: a retry's message sent twice is the job twice (at least once).
#[derive(Debug, Clone)]
pub struct Logged {
    pub store: SqsStore,
    pub log: Arc<Mutex<File>>,
}

impl Store for Logged {
    async fn submit(&self, job: NewJob, now: SystemTime) -> Result<Submitted, Error> {
        self.store.submit(job, now).await
    }

    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        self.store.claim(kinds, limit, now, lease).await
    }

    async fn record(&self, lease: &Lease, attempt: AttemptRecord, next: Next) -> Result<(), Error> {
        let n = attempt.attempt;
        let recorded = self.store.record(lease, attempt, next).await;
        if recorded.is_err() {
            let text = format!("X {} {n} {}\n", lease.key, std::process::id());
            let mut file = self.log.lock().unwrap_or_else(|e| e.into_inner());
            file.write_all(text.as_bytes()).expect("log write");
        }
        recorded
    }

    async fn status(&self, key: &str) -> Result<Option<JobStatus>, Error> {
        self.store.status(key).await
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<JobStatus>, Error> {
        self.store.dead_letters(limit).await
    }

    async fn requeue(&self, key: &str, now: SystemTime) -> Result<(), Error> {
        self.store.requeue(key, now).await
    }

    async fn purge(&self, key: &str) -> Result<(), Error> {
        self.store.purge(key).await
    }

    fn checks_keys(&self) -> Result<(), Error> {
        self.store.checks_keys()
    }
}
