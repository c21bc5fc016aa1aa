//! The PostgreSQL store: many processes on many machines share one
//! database; claims take rows `FOR UPDATE SKIP LOCKED`.

mod batch;
mod errors;
mod ops;
mod options;
mod schema;
mod submit;

pub use options::PostgresOptions;

use crate::error::Error;
use crate::history::AttemptRecord;
use crate::job::{Claimed, JobStatus, Lease, NewJob, Next, Submitted};
use crate::sqlite::JobCounts;
use crate::store::{Store, check_job};
use deadpool_postgres::{Manager, ManagerConfig, Object, Pool, RecyclingMethod, Runtime};
use errors::{map_pg, map_pool};
use std::time::{Duration, SystemTime};
use submit::{SubmitStatements, submit_on};
use tokio_postgres::NoTls;

/// The PostgreSQL store: one database shared by any number of workers,
/// processes and machines.
///
/// It holds a pool of connections (tokio-postgres, no TLS: for a database
/// on the same host or a private network). Connecting applies the
/// migrations the crate ships ([`migrate`](Self::migrate)). Every state
/// change is one statement, so one transaction: a claim selects due rows
/// `FOR UPDATE SKIP LOCKED` on a partial index over the due time (so that
/// concurrent claims never wait for each other nor take the same job),
/// records the cut attempts of expired leases and takes the new leases, at
/// once. Tables live in the connection's `search_path` (set
/// `options=-csearch_path=NAME` in the URL for a schema of their own).
///
/// A job can be submitted inside the caller's own transaction
/// ([`submit_in`](Self::submit_in)): the retry exists only if the caller's
/// business write commits (an outbox).
///
/// # Examples
///
/// A server that is not there is a typed error, not a hang:
///
/// ```
/// use persevere_durable::{Error, PostgresOptions, PostgresStore};
/// use std::time::Duration;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// // A free port on 127.0.0.1, closed again: nothing listens there.
/// let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
/// let url = format!("postgres://nobody@127.0.0.1:{port}/jobs");
/// let options = PostgresOptions::new().with_timeout(Duration::from_secs(2));
/// let err = PostgresStore::connect_with(&url, options).await.unwrap_err();
/// assert!(matches!(err, Error::Unavailable(_)), "{err}");
/// # }
/// ```
///
/// With a server (`PERSEVERE_DURABLE_POSTGRES_URL`, as `.ci/postgres` sets
/// it):
///
/// ```
/// use persevere_durable::{NewJob, PostgresStore, Store, Submitted};
/// use std::time::SystemTime;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), persevere_durable::Error> {
/// let Ok(url) = std::env::var("PERSEVERE_DURABLE_POSTGRES_URL") else {
///     println!("skipped: PERSEVERE_DURABLE_POSTGRES_URL is not set");
///     return Ok(());
/// };
/// let store = PostgresStore::connect(&url).await?;
/// let key = format!("doc-{}", std::process::id());
/// let now = SystemTime::now();
/// assert_eq!(store.submit(NewJob::new(&key, "email", vec![]), now).await?, Submitted::Created);
/// assert!(!store.submit(NewJob::new(&key, "email", vec![]), now).await?.is_created());
/// # Ok(()) }
/// ```
///
/// # Errors
///
/// [`Error::Unavailable`] when the server cannot be reached or drops the
/// connection (the pool reconnects on the next call), [`Error::SchemaTooNew`]
/// for a database migrated by a newer version, [`Error::Backend`] for the
/// rest (with PostgreSQL's message).
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: Pool,
}

impl PostgresStore {
    /// Connects to the database at `url` with the default options, and
    /// migrates it.
    ///
    /// # Examples
    ///
    /// See [`PostgresStore`].
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] for a URL that does not parse; see
    /// [`PostgresStore`] for the rest.
    pub async fn connect(url: &str) -> Result<Self, Error> {
        PostgresStore::connect_with(url, PostgresOptions::new()).await
    }

    /// Connects to the database at `url` and migrates it.
    ///
    /// # Examples
    ///
    /// See [`PostgresStore`].
    ///
    /// # Errors
    ///
    /// See [`connect`](Self::connect).
    pub async fn connect_with(url: &str, options: PostgresOptions) -> Result<Self, Error> {
        let config: tokio_postgres::Config =
            url.parse().map_err(|e| Error::Backend(Box::new(e)))?;
        let store = PostgresStore::from_config(config, options)?;
        store.migrate().await?;
        Ok(store)
    }

    /// A store on `config`, not yet connected nor migrated: connections are
    /// made on first use, and [`migrate`](Self::migrate) is the caller's.
    ///
    /// # Examples
    ///
    /// ```
    /// # use persevere_durable::{PostgresOptions, PostgresStore};
    /// let config: persevere_durable::tokio_postgres::Config =
    ///     "host=127.0.0.1 user=jobs dbname=jobs".parse().unwrap();
    /// let store = PostgresStore::from_config(config, PostgresOptions::new()).unwrap();
    /// # drop(store);
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::Backend`] if the pool cannot be built.
    pub fn from_config(
        mut config: tokio_postgres::Config,
        options: PostgresOptions,
    ) -> Result<Self, Error> {
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(options.timeout());
        }
        let manager = Manager::from_config(
            config,
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(options.max_connections())
            .wait_timeout(Some(options.timeout()))
            .create_timeout(Some(options.timeout()))
            .runtime(Runtime::Tokio1)
            .build()
            .map_err(|e| Error::Backend(Box::new(e)))?;
        Ok(PostgresStore { pool })
    }

    /// Creates or upgrades the tables to this crate's schema version: the
    /// migrations it ships, in one transaction, recorded in the
    /// `persevere_durable_schema` table. Processes that migrate at once
    /// wait for each other (an advisory lock).
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), persevere_durable::Error> {
    /// # let Ok(url) = std::env::var("PERSEVERE_DURABLE_POSTGRES_URL") else { return Ok(()) };
    /// let store = persevere_durable::PostgresStore::connect(&url).await?;
    /// store.migrate().await?; // again: nothing to do
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::SchemaTooNew`] for a database migrated by a newer version;
    /// see [`PostgresStore`] for the rest.
    pub async fn migrate(&self) -> Result<(), Error> {
        let mut client = self.client().await?;
        schema::migrate(&mut client).await
    }

    /// A connection from the store's pool, for the caller's own
    /// statements and transactions (see [`submit_in`](Self::submit_in)).
    ///
    /// # Examples
    ///
    /// See [`submit_in`](Self::submit_in).
    ///
    /// # Errors
    ///
    /// [`Error::Unavailable`] if no connection can be made in time.
    pub async fn client(&self) -> Result<Object, Error> {
        self.pool.get().await.map_err(map_pool)
    }

    /// Submits `job` inside the caller's transaction `tx` (an outbox): the
    /// job exists if and only if `tx` commits.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere_durable::{NewJob, PostgresStore, Store};
    /// use std::time::SystemTime;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), persevere_durable::Error> {
    /// # let Ok(url) = std::env::var("PERSEVERE_DURABLE_POSTGRES_URL") else { return Ok(()) };
    /// let store = PostgresStore::connect(&url).await?;
    /// let key = format!("outbox-doc-{}", std::process::id());
    /// let mut client = store.client().await?;
    /// let tx = client.transaction().await.unwrap();
    /// // ... the business write, on `tx` ...
    /// PostgresStore::submit_in(&tx, NewJob::new(&key, "email", vec![]), SystemTime::now()).await?;
    /// tx.rollback().await.unwrap(); // the business write failed: no job either
    /// assert_eq!(store.status(&key).await?, None);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// As [`Store::submit`]; a failed statement aborts `tx`.
    pub async fn submit_in(
        tx: &tokio_postgres::Transaction<'_>,
        job: NewJob,
        now: SystemTime,
    ) -> Result<Submitted, Error> {
        check_job(&job)?;
        let statements = SubmitStatements::on(tx).await?;
        submit_on(tx, &statements, &job, now).await
    }

    /// How many jobs are in each state.
    ///
    /// # Examples
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), persevere_durable::Error> {
    /// # let Ok(url) = std::env::var("PERSEVERE_DURABLE_POSTGRES_URL") else { return Ok(()) };
    /// let store = persevere_durable::PostgresStore::connect(&url).await?;
    /// let counts = store.counts().await?;
    /// assert!(counts.total() >= counts.pending);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// See [`PostgresStore`].
    pub async fn counts(&self) -> Result<JobCounts, Error> {
        let client = self.client().await?;
        let rows = query(&client, ops::COUNTS, &[]).await?;
        let mut counts = JobCounts::default();
        for row in rows {
            let n = u64::try_from(row.get::<_, i64>(1)).unwrap_or(0);
            match row.get::<_, i16>(0) {
                ops::PENDING => counts.pending = n,
                ops::RUNNING => counts.running = n,
                ops::SUCCEEDED => counts.succeeded = n,
                _ => counts.dead_lettered = n,
            }
        }
        Ok(counts)
    }
}

/// Runs a cached statement on `client`.
async fn query(
    client: &Object,
    sql: &str,
    params: &[&(dyn tokio_postgres::types::ToSql + Sync)],
) -> Result<Vec<tokio_postgres::Row>, Error> {
    let statement = client.prepare_cached(sql).await.map_err(map_pg)?;
    client.query(&statement, params).await.map_err(map_pg)
}

impl Store for PostgresStore {
    async fn submit(&self, job: NewJob, now: SystemTime) -> Result<Submitted, Error> {
        check_job(&job)?;
        let client = self.client().await?;
        let statements = SubmitStatements::cached(&client).await?;
        submit_on(&**client, &statements, &job, now).await
    }

    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        if kinds.is_empty() || limit == 0 {
            return Ok(Vec::new());
        }
        let now = ops::clamp(now);
        let until = ops::ceil_us(now.checked_add(lease).unwrap_or(now));
        let client = self.client().await?;
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let rows = query(&client, ops::CLAIM, &[&now, &kinds, &limit, &until]).await?;
        // The statement returns rows in no set order: expired leases first,
        // then by due time, as `claim` promises.
        let mut rows: Vec<_> = rows
            .iter()
            .map(|row| (row.get::<_, i16>(7), row.get::<_, SystemTime>(8), row))
            .collect();
        rows.sort_by_key(|&(state, next_at, _)| (std::cmp::Reverse(state), next_at));
        Ok(rows
            .into_iter()
            .map(|(_, _, row)| ops::claimed(row, until))
            .collect())
    }

    async fn record(&self, lease: &Lease, attempt: AttemptRecord, next: Next) -> Result<(), Error> {
        let Ok(token) = lease.token.parse::<i32>() else {
            return Err(Error::LeaseLost(lease.key.clone()));
        };
        let a = ops::RecordArgs::new(&attempt, next);
        let client = self.client().await?;
        let statement = client.prepare_cached(ops::RECORD).await.map_err(map_pg)?;
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 14] = [
            &lease.key,
            &token,
            &a.state,
            &a.next_at,
            &a.finished_at,
            &a.dead_reason,
            &a.delay_us,
            &a.started_at,
            &a.ended_at,
            &a.outcome,
            &a.stop_reason,
            &a.error,
            &a.kind,
            &a.server_delay_us,
        ];
        let changed = client.execute(&statement, &params).await.map_err(map_pg)?;
        if changed == 0 {
            return Err(Error::LeaseLost(lease.key.clone()));
        }
        Ok(())
    }

    async fn submit_many(
        &self,
        jobs: Vec<NewJob>,
        now: SystemTime,
    ) -> Result<Vec<Submitted>, Error> {
        jobs.iter().try_for_each(check_job)?;
        if jobs.is_empty() {
            return Ok(Vec::new());
        }
        let client = self.client().await?;
        batch::submit_many(&client, &jobs, now).await
    }

    async fn record_many(
        &self,
        records: Vec<(Lease, AttemptRecord, Next)>,
    ) -> Vec<Result<(), Error>> {
        if records.is_empty() {
            return Vec::new();
        }
        match self.client().await {
            Ok(client) => batch::record_many(&client, &records).await,
            Err(error) => {
                let message = error.to_string();
                records
                    .iter()
                    .map(|_| Err(Error::Unavailable(message.clone().into())))
                    .collect()
            }
        }
    }

    async fn status(&self, key: &str) -> Result<Option<JobStatus>, Error> {
        let client = self.client().await?;
        let rows = query(&client, &ops::status_sql(), &[&key]).await?;
        Ok(ops::statuses(&rows).pop())
    }

    async fn dead_letters(&self, limit: usize) -> Result<Vec<JobStatus>, Error> {
        let limit = i64::try_from(limit).unwrap_or(i64::MAX);
        let client = self.client().await?;
        let rows = query(&client, &ops::dead_letters_sql(), &[&limit]).await?;
        Ok(ops::statuses(&rows))
    }

    async fn requeue(&self, key: &str, now: SystemTime) -> Result<(), Error> {
        let client = self.client().await?;
        let statement = client.prepare_cached(ops::REQUEUE).await.map_err(map_pg)?;
        match client
            .execute(&statement, &[&key, &ops::clamp(now)])
            .await
            .map_err(map_pg)?
        {
            0 => Err(Error::NotFound(key.to_owned())),
            _ => Ok(()),
        }
    }

    async fn purge(&self, key: &str) -> Result<(), Error> {
        let client = self.client().await?;
        let statement = client.prepare_cached(ops::PURGE).await.map_err(map_pg)?;
        match client.execute(&statement, &[&key]).await.map_err(map_pg)? {
            0 => Err(Error::NotFound(key.to_owned())),
            _ => Ok(()),
        }
    }
}
