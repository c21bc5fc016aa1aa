//! The Amazon SQS store: a pending retry is a message whose delivery is
//! delayed until its next attempt is due.

mod client;
mod dead;
mod envelope;
mod errors;
mod lease;
mod options;
mod queues;

pub use options::SqsOptions;

use crate::error::Error;
use crate::history::AttemptRecord;
use crate::job::{Claimed, JobStatus, Lease, NewJob, Next, Submitted};
use crate::store::{Store, check_job};
use aws_sdk_sqs::config::retry::RetryConfig;
use aws_sdk_sqs::config::timeout::TimeoutConfig;
use aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
use client::{Sqs, delay_secs};
use envelope::Envelope;
use lease::Leases;
use queues::{MAX_PREFIX_LEN, Queues, valid_name_part};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

/// The largest payload the SQS store accepts, in bytes: 128 KiB (an SQS
/// message is at most 256 KiB, and the history travels with it).
pub const SQS_MAX_PAYLOAD: usize = 128 << 10;

/// The largest history a message carries, encoded, in bytes: 96 KiB. When
/// a job's history grows past it, its oldest attempts are dropped:
/// [`JobStatus::attempts`] still counts every attempt, and the history
/// then starts at attempt `attempts - history.len() + 1`.
pub const SQS_MAX_HISTORY: usize = envelope::MAX_ENVELOPE;

/// The Amazon SQS store: a job is a message, a pending retry a message
/// delayed until its next attempt is due, a lease the message's
/// visibility timeout.
///
/// Each kind has a standard queue of its own (`PREFIX-k-KIND`), and dead
/// letters one more (`PREFIX-dead`); the store creates them on first use
/// (with SQS's longest retention, 14 days), and again if they vanish (a
/// server that lost its state: the jobs in them are gone with them).
///
/// - **A retry** is a new message with `DelaySeconds`, sent before the
///   claimed one is deleted (so a failure between the two leaves the job
///   twice, never zero times). SQS delays at most 15 minutes: a longer
///   wait is chained, the message sent again with the time left each time
///   it surfaces early (rather than `ChangeMessageVisibility`, which would
///   count a receive as an attempt and caps at 12 hours too). Delays are
///   whole seconds, rounded down, and a message that surfaces before its
///   due time (by the caller's clock) is sent again, so no job is claimed
///   early.
/// - **A lease** is the visibility timeout of the receive (whole seconds,
///   rounded up, at most 12 hours: SQS's limit). A message delivered again
///   after its lease ran out counts its cut attempts as
///   [`Interrupted`](crate::AttemptOutcome::Interrupted), from SQS's
///   receive count.
/// - **The history** travels in the message, capped at
///   [`SQS_MAX_HISTORY`]; the payload beside it, at most
///   [`SQS_MAX_PAYLOAD`].
///
/// What SQS cannot do, this store does not fake: it cannot find a message
/// by key, so [`submit`](Store::submit) does not check keys (a second
/// submission is a second job; [`Store::checks_keys`] says so),
/// [`status`](Store::status) is [`Error::Unsupported`], and
/// [`requeue`](Store::requeue) and [`purge`](Store::purge) scan the
/// dead-letter queue. A lease is recorded through the store (or a clone)
/// that claimed it; one that expired and was claimed by another process is
/// not detected by SQS (delivery is at least once).
///
/// # Examples
///
/// A server that is not there is a typed error, not a hang:
///
/// ```
/// use persevere_durable::{Error, NewJob, SqsOptions, SqsStore, Store};
/// use std::time::SystemTime;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A free port on 127.0.0.1, closed again: nothing listens there.
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let store = SqsStore::local(&format!("http://127.0.0.1:{port}"), SqsOptions::new()).unwrap();
/// let err = store.submit(NewJob::new("k", "email", vec![]), SystemTime::now()).await.unwrap_err();
/// assert!(matches!(err, Error::Unavailable(_)), "{err}");
/// # }
/// ```
///
/// With a server (`PERSEVERE_DURABLE_SQS_ENDPOINT`, as `.ci/sqs` sets it):
///
/// ```
/// use persevere_durable::{NewJob, SqsOptions, SqsStore, Store};
/// use std::time::{Duration, SystemTime};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), persevere_durable::Error> {
/// let Ok(endpoint) = std::env::var("PERSEVERE_DURABLE_SQS_ENDPOINT") else {
///     println!("skipped: PERSEVERE_DURABLE_SQS_ENDPOINT is not set");
///     return Ok(());
/// };
/// let prefix = format!("doc-{}", std::process::id());
/// let store = SqsStore::local(&endpoint, SqsOptions::new().with_prefix(prefix))?;
/// let now = SystemTime::now();
/// assert!(store.submit(NewJob::new("k", "email", b"hi".to_vec()), now).await?.is_created());
/// let claimed = store.claim(&["email".into()], 10, now, Duration::from_secs(30)).await?;
/// assert_eq!(claimed[0].payload, b"hi");
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Unavailable`] when the endpoint cannot be reached, drops the
/// connection, times out or answers a server error (5xx);
/// [`Error::Backend`] for the rest (with SQS's message).
#[derive(Debug, Clone)]
pub struct SqsStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    sqs: Sqs,
    leases: Leases,
}

impl SqsStore {
    /// A store on the SQS client `config` describes, with SDK retries
    /// turned off (persevere retries), and the timeouts of `options`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere_durable::aws_sdk_sqs::config::{BehaviorVersion, Credentials, Region};
    /// use persevere_durable::{SqsOptions, SqsStore};
    ///
    /// let config = persevere_durable::aws_sdk_sqs::Config::builder()
    ///     .behavior_version(BehaviorVersion::latest())
    ///     .region(Region::new("eu-west-1"))
    ///     .credentials_provider(Credentials::new("id", "secret", None, None, "example"))
    ///     .build();
    /// let store = SqsStore::new(&config, SqsOptions::new().with_prefix("billing")).unwrap();
    /// # drop(store);
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::InvalidName`] for a prefix of the wrong length,
    /// [`Error::Backend`] for one with characters SQS does not accept in
    /// queue names.
    pub fn new(config: &aws_sdk_sqs::Config, options: SqsOptions) -> Result<Self, Error> {
        let prefix = options.prefix();
        if prefix.is_empty() || prefix.len() > MAX_PREFIX_LEN {
            return Err(Error::InvalidName {
                what: "queue prefix",
                len: prefix.len(),
                limit: MAX_PREFIX_LEN,
            });
        }
        if !valid_name_part(prefix) {
            return Err(Error::Backend(
                format!("queue prefix {prefix:?} may hold only ASCII letters, digits, - and _")
                    .into(),
            ));
        }
        let timeouts = TimeoutConfig::builder()
            .connect_timeout(options.timeout().min(Duration::from_secs(5)))
            .operation_timeout(options.timeout())
            .build();
        let config = config
            .to_builder()
            .retry_config(RetryConfig::disabled())
            .timeout_config(timeouts)
            .build();
        let sqs = Sqs {
            client: aws_sdk_sqs::Client::from_conf(config),
            queues: Queues::new(prefix.to_owned()),
        };
        Ok(SqsStore {
            inner: Arc::new(Inner {
                sqs,
                leases: Leases::default(),
            }),
        })
    }

    /// A store on an SQS-compatible server at `endpoint` over plain HTTP,
    /// with placeholder credentials in region `us-east-1`: for moto,
    /// ElasticMQ or LocalStack on this machine or a private network. (For
    /// AWS itself, build a client config with TLS and real credentials, and
    /// call [`new`](Self::new).)
    ///
    /// # Examples
    ///
    /// See [`SqsStore`].
    ///
    /// # Errors
    ///
    /// As [`new`](Self::new).
    pub fn local(endpoint: &str, options: SqsOptions) -> Result<Self, Error> {
        let http = aws_smithy_http_client::Builder::new().build_http();
        let config = aws_sdk_sqs::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("us-east-1"))
            .endpoint_url(endpoint)
            .credentials_provider(Credentials::new(
                "persevere",
                "persevere",
                None,
                None,
                "persevere-durable-local",
            ))
            .http_client(http)
            .build();
        SqsStore::new(&config, options)
    }
}

impl Store for SqsStore {
    /// Sends the job as a message, delayed until it is due. SQS cannot
    /// look a key up: every submission is a new job, and the answer is
    /// always [`Submitted::Created`] (see [`Store::checks_keys`]).
    async fn submit(&self, job: NewJob, now: SystemTime) -> Result<Submitted, Error> {
        check_job(&job)?;
        if job.payload.len() > SQS_MAX_PAYLOAD {
            return Err(Error::PayloadTooLarge {
                size: job.payload.len(),
                limit: SQS_MAX_PAYLOAD,
            });
        }
        let due = job.not_before.unwrap_or(now).max(now);
        let mut envelope = Envelope::new(&job.key, &job.kind, now, due);
        let sqs = &self.inner.sqs;
        let queue = sqs.queues.of_kind(&job.kind);
        sqs.send(&queue, &mut envelope, &job.payload, delay_secs(due, now))
            .await?;
        Ok(Submitted::Created)
    }

    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        let inner = &*self.inner;
        lease::claim(&inner.sqs, &inner.leases, kinds, limit, now, lease).await
    }

    async fn record(&self, lease: &Lease, attempt: AttemptRecord, next: Next) -> Result<(), Error> {
        let inner = &*self.inner;
        lease::record(&inner.sqs, &inner.leases, lease, attempt, next).await
    }

    async fn status(&self, _key: &str) -> Result<Option<JobStatus>, Error> {
        Err(Error::Unsupported(
            "status by key: SQS cannot find a message by its key",
        ))
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<JobStatus>, Error> {
        dead::dead_letters(&self.inner.sqs, limit).await
    }

    async fn requeue(&self, key: &str, now: SystemTime) -> Result<(), Error> {
        dead::requeue(&self.inner.sqs, key, now).await
    }

    async fn purge(&self, key: &str) -> Result<(), Error> {
        dead::purge(&self.inner.sqs, key).await
    }

    fn checks_keys(&self) -> Result<(), Error> {
        Err(Error::Unsupported(
            "keyed submit: SQS cannot find a message by its key",
        ))
    }
}
