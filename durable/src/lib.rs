#![doc = include_str!("../README.md")]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms, unreachable_pub)]

mod clock;
mod error;
mod history;
mod job;
#[cfg(feature = "postgres")]
mod postgres;
mod sqlite;
#[cfg(feature = "sqs")]
mod sqs;
mod store;
#[cfg(feature = "serde")]
mod typed;
mod worker;

/// The AWS SDK's SQS client the `sqs` feature uses, for its `Config`.
#[cfg(feature = "sqs")]
pub use aws_sdk_sqs;
pub use clock::{Clock, ManualClock, SystemClock};
/// The pool the `postgres` feature uses: [`PostgresStore::client`] lends
/// its connections.
#[cfg(feature = "postgres")]
pub use deadpool_postgres;
pub use error::{ConfigError, Error};
pub use history::{AttemptOutcome, AttemptRecord};
pub use job::{
    Claimed, JobState, JobStatus, Lease, MAX_ERROR_LEN, MAX_KEY_LEN, MAX_KIND_LEN, MAX_PAYLOAD,
    NewJob, Next, Submitted,
};
#[cfg(feature = "postgres")]
pub use postgres::{PostgresOptions, PostgresStore};
pub use sqlite::{DEFAULT_BUSY_TIMEOUT, JobCounts, SqliteOptions, SqliteStore};
#[cfg(feature = "sqs")]
pub use sqs::{SQS_MAX_HISTORY, SQS_MAX_PAYLOAD, SqsOptions, SqsStore};
pub use store::Store;
/// The PostgreSQL client the `postgres` feature uses, for its `Config`
/// and `Transaction` types.
#[cfg(feature = "postgres")]
pub use tokio_postgres;
pub use worker::{DEFAULT_LEASE, Delivery, Handler, MAX_LEASE, MIN_LEASE, Worker, WorkerBuilder};
