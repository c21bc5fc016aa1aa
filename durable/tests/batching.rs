//! A worker sends the records of attempts that end together to the store
//! in one `record_many` call, and each record still fails alone; and it
//! claims the next job while the last attempt's record is being written.

use persevere_durable::{
    AttemptRecord, Claimed, Delivery, Error, Handler, JobState, JobStatus, Lease, ManualClock,
    NewJob, Next, SqliteStore, Store, Submitted, Worker,
};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// A SQLite store that notes the size of every `record_many` call and
/// every single `record`, and takes `latency` (on tokio's clock) for every
/// claim and record call, as a round trip to a server would.
#[derive(Clone)]
struct Counting {
    inner: SqliteStore,
    batches: Arc<Mutex<Vec<usize>>>,
    singles: Arc<Mutex<usize>>,
    latency: Duration,
}

impl Counting {
    fn new(inner: SqliteStore, latency: Duration) -> Self {
        Counting {
            inner,
            batches: Arc::default(),
            singles: Arc::default(),
            latency,
        }
    }
}

impl Store for Counting {
    async fn submit(&self, job: NewJob, now: SystemTime) -> Result<Submitted, Error> {
        self.inner.submit(job, now).await
    }
    async fn claim(
        &self,
        kinds: &[String],
        limit: usize,
        now: SystemTime,
        lease: Duration,
    ) -> Result<Vec<Claimed>, Error> {
        tokio::time::sleep(self.latency).await;
        self.inner.claim(kinds, limit, now, lease).await
    }
    async fn record(&self, lease: &Lease, attempt: AttemptRecord, next: Next) -> Result<(), Error> {
        *self.singles.lock().unwrap() += 1;
        self.inner.record(lease, attempt, next).await
    }
    async fn record_many(
        &self,
        records: Vec<(Lease, AttemptRecord, Next)>,
    ) -> Vec<Result<(), Error>> {
        self.batches.lock().unwrap().push(records.len());
        tokio::time::sleep(self.latency).await;
        self.inner.record_many(records).await
    }
    async fn status(&self, key: &str) -> Result<Option<JobStatus>, Error> {
        self.inner.status(key).await
    }
    async fn dead_letters(&self, limit: usize) -> Result<Vec<JobStatus>, Error> {
        self.inner.dead_letters(limit).await
    }
    async fn requeue(&self, key: &str, now: SystemTime) -> Result<(), Error> {
        self.inner.requeue(key, now).await
    }
    async fn purge(&self, key: &str) -> Result<(), Error> {
        self.inner.purge(key).await
    }
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn attempts_that_end_together_are_recorded_in_one_call() {
    let dir = tempfile::tempdir().unwrap();
    let store = Counting::new(
        SqliteStore::open(dir.path().join("jobs.db")).unwrap(),
        Duration::ZERO,
    );
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let jobs = (0..8)
        .map(|i| NewJob::new(format!("k{i}"), "job", vec![]))
        .collect();
    store.submit_many(jobs, now).await.unwrap();
    // Every attempt ends at the same instant of the paused clock.
    let handler = Handler::new(|_: Delivery| async {
        tokio::time::sleep(Duration::from_millis(10)).await;
        Ok::<_, String>(())
    });
    let worker = Worker::builder(store.clone())
        .clock(ManualClock::new(now))
        .concurrency(8)
        .handler("job", handler)
        .build()
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 8);
    for i in 0..8 {
        let status = store.status(&format!("k{i}")).await.unwrap().unwrap();
        assert_eq!(status.state, JobState::Succeeded);
        assert_eq!(status.history.len(), 1);
    }
    let batches = store.batches.lock().unwrap().clone();
    assert_eq!(
        batches.iter().sum::<usize>(),
        8,
        "every record once: {batches:?}"
    );
    assert_eq!(batches.len(), 1, "one call for the eight: {batches:?}");
    assert_eq!(*store.singles.lock().unwrap(), 0);
}

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn the_next_claim_overlaps_the_last_record() {
    const JOBS: u32 = 20;
    const TRIP: Duration = Duration::from_millis(10);
    let dir = tempfile::tempdir().unwrap();
    let store = Counting::new(SqliteStore::open(dir.path().join("jobs.db")).unwrap(), TRIP);
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let jobs = (0..JOBS)
        .map(|i| NewJob::new(format!("k{i}"), "job", vec![]))
        .collect();
    store.submit_many(jobs, now).await.unwrap();
    let done = Arc::new(tokio::sync::Semaphore::new(0));
    let handler = Handler::new({
        let done = Arc::clone(&done);
        move |_: Delivery| {
            done.add_permits(1);
            async { Ok::<_, String>(()) }
        }
    });
    // One attempt at a time: a claim and a record each take one trip.
    let worker = Worker::builder(store.clone())
        .clock(ManualClock::new(now))
        .concurrency(1)
        .handler("job", handler)
        .build()
        .unwrap();
    let started = tokio::time::Instant::now();
    worker
        .run(async {
            let _ = done.acquire_many(JOBS).await;
        })
        .await;
    let elapsed = started.elapsed();
    println!("{JOBS} jobs, one at a time, {TRIP:?} trips: {elapsed:?}");
    for i in 0..JOBS {
        let status = store.status(&format!("k{i}")).await.unwrap().unwrap();
        assert_eq!(status.state, JobState::Succeeded, "{status:?}");
    }
    // In turn, each job would take two trips (its claim, then its record);
    // overlapped, about one: the claim of the next job goes out while the
    // last record is being written.
    assert!(
        elapsed >= TRIP * JOBS,
        "the trips were not taken: {elapsed:?}"
    );
    assert!(
        elapsed <= TRIP * JOBS * 3 / 2,
        "claims waited for records: {elapsed:?} for {JOBS} jobs of {TRIP:?} trips"
    );
}
