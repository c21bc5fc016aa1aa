//! The benches' one workload: a worker whose `bench` jobs fail their first
//! attempt, are rescheduled with no delay, and succeed on the second.

use persevere::{Fixed, RetryPolicyExt};
use persevere_durable::{Delivery, Handler, Store, Worker};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::time::Duration;
use tokio::sync::Notify;

/// How far a run has come: the jobs that succeeded here, and a signal once
/// `jobs` of them have.
pub struct Progress {
    /// Successful second attempts run by this worker.
    pub done: Arc<AtomicUsize>,
    /// Notified when `done` reaches the run's job count.
    pub all_done: Arc<Notify>,
}

/// A worker on `store` with `concurrency` attempts at once, claims in
/// batches of 64, polling every millisecond, running the `bench` kind.
pub fn retried_worker<S: Store + Clone>(
    store: &S,
    concurrency: usize,
    jobs: usize,
) -> (Worker<S>, Progress) {
    let progress = Progress {
        done: Arc::new(AtomicUsize::new(0)),
        all_done: Arc::new(Notify::new()),
    };
    let (count, notify) = (Arc::clone(&progress.done), Arc::clone(&progress.all_done));
    let handler = Handler::new(move |job: Delivery| {
        let (count, notify) = (Arc::clone(&count), Arc::clone(&notify));
        async move {
            if job.attempt == 1 {
                return Err("first attempt fails");
            }
            if count.fetch_add(1, SeqCst) + 1 == jobs {
                notify.notify_one();
            }
            Ok(())
        }
    })
    .policy(Fixed::new(Duration::ZERO).with_max_attempts(3));
    let worker = Worker::builder(store.clone())
        .concurrency(concurrency)
        .batch(64)
        .poll_interval(Duration::from_millis(1))
        .handler("bench", handler)
        .build()
        .unwrap();
    (worker, progress)
}
