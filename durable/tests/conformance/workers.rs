//! Workers on the store: the policy's schedule, caps and deadlines across
//! restarts, and many workers on one store.

use super::{Harness, start};
use persevere::{Fixed, RetryPolicyExt, StopReason};
use persevere_durable::{
    AttemptOutcome, Clock, Delivery, Error, Handler, JobState, ManualClock, NewJob, Store,
    SystemClock, Worker,
};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SEC: Duration = Duration::from_secs(1);

fn worker<S: Store>(store: S, clock: &ManualClock, handler: Handler) -> Worker<S> {
    Worker::builder(store)
        .clock(clock.clone())
        .handler("job", handler)
        .build()
        .expect("worker")
}

fn failing() -> Handler {
    Handler::new(|_: Delivery| async { Err::<(), _>("503") })
}

pub async fn reschedule_at_the_policys_time<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let clock = ManualClock::new(start());
    store
        .submit(NewJob::new("k", "job", vec![]), clock.now())
        .await?;
    let w = worker(
        store.clone(),
        &clock,
        failing().policy(Fixed::new(60 * SEC)),
    );
    assert_eq!(w.run_once().await?, 1);
    // Due 60 s after the attempt ended, not a microsecond before.
    clock.set(start() + 60 * SEC - Duration::from_micros(1));
    assert_eq!(w.run_once().await?, 0, "claimed early");
    clock.set(start() + 60 * SEC);
    assert_eq!(w.run_once().await?, 1);
    let status = store.status("k").await?.expect("the job");
    let delays: Vec<_> = status.history.iter().map(|a| a.delay).collect();
    assert_eq!(delays, [Some(60 * SEC), Some(60 * SEC)]);
    assert_eq!(status.next_at, Some(start() + 120 * SEC));
    Ok(())
}

pub async fn cap_and_deadline_across_restarts<H: Harness>(h: &H) -> Result<(), Error> {
    let clock = ManualClock::new(start());
    let store = h.open().await;
    for key in ["capped", "deadline"] {
        let kind = if key == "capped" { "job" } else { "late" };
        store
            .submit(NewJob::new(key, kind, vec![]), clock.now())
            .await?;
    }
    drop(store);
    for _ in 0..6 {
        // Each round in a fresh "process": a new store handle and worker.
        let w = Worker::builder(h.open().await)
            .clock(clock.clone())
            .handler(
                "job",
                failing().policy(Fixed::new(SEC).with_max_attempts(3)),
            )
            .handler(
                "late",
                failing().policy(Fixed::new(SEC).with_deadline(Duration::from_millis(2500))),
            )
            .build()
            .expect("worker");
        w.run_once().await?;
        clock.advance(SEC);
    }
    let store = h.open().await;
    let capped = super::items::final_status(&store, "capped")
        .await?
        .expect("the job");
    assert_eq!(capped.attempts, 3);
    assert_eq!(capped.dead_reason, Some(StopReason::AttemptsExhausted));
    let late = super::items::final_status(&store, "deadline")
        .await?
        .expect("the job");
    assert_eq!(late.state, JobState::DeadLettered);
    assert_eq!(late.dead_reason, Some(StopReason::Deadline));
    assert_eq!(
        late.history.last().map(|a| a.outcome),
        Some(AttemptOutcome::Stopped(StopReason::Deadline))
    );
    Ok(())
}

/// Jobs for [`many_workers_share_one_store`], and its workers.
const JOBS: usize = 300;
const WORKERS: usize = 4;

pub async fn many_workers_share_one_store<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    for i in 0..JOBS {
        let job = NewJob::new(format!("job-{i:04}"), "job", vec![]);
        store.submit(job, SystemClock.now()).await?;
    }
    // Each job fails once, then succeeds; every delivery is counted.
    let seen: Arc<Mutex<HashMap<(String, u32), u32>>> = Arc::default();
    let mut workers = Vec::new();
    for _ in 0..WORKERS {
        let seen = Arc::clone(&seen);
        let handler = Handler::new(move |job: Delivery| {
            *seen
                .lock()
                .unwrap()
                .entry((job.key.clone(), job.attempt))
                .or_default() += 1;
            async move { if job.attempt == 1 { Err("503") } else { Ok(()) } }
        })
        .policy(Fixed::new(Duration::from_millis(1)));
        let w = Worker::builder(h.open().await)
            .concurrency(4)
            .batch(16)
            .poll_interval(Duration::from_millis(5))
            .handler("job", handler)
            .build()
            .expect("worker");
        workers.push(w);
    }
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let watch = {
        let seen = Arc::clone(&seen);
        tokio::spawn(async move {
            // Bounded: 60 s of 20 ms polls.
            let started = Instant::now();
            while started.elapsed() < Duration::from_secs(60) {
                tokio::time::sleep(Duration::from_millis(20)).await;
                if seen.lock().unwrap().values().sum::<u32>() as usize >= 2 * JOBS {
                    break;
                }
            }
            let _ = stop.send(true);
        })
    };
    let runs = workers.iter().map(|w| {
        let mut stopped = stopped.clone();
        w.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        })
    });
    join_all(runs).await;
    watch.await.expect("the watch task");
    for i in 0..JOBS {
        let key = format!("job-{i:04}");
        let status = store.status(&key).await?.expect("no job lost");
        assert_eq!(status.state, JobState::Succeeded, "{status:?}");
        let outcomes: Vec<_> = status.history.iter().map(|a| a.outcome).collect();
        assert_eq!(
            outcomes,
            [AttemptOutcome::Retrying, AttemptOutcome::Succeeded],
            "{key}"
        );
    }
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 2 * JOBS);
    assert!(
        seen.values().all(|&n| n == 1),
        "an attempt was delivered twice"
    );
    Ok(())
}

/// Awaits all of `futures` together (no futures crate needed).
async fn join_all<F: std::future::Future<Output = ()>>(futures: impl Iterator<Item = F>) {
    let mut set: Vec<_> = futures.map(Box::pin).collect();
    std::future::poll_fn(|cx| {
        set.retain_mut(|f| f.as_mut().poll(cx).is_pending());
        if set.is_empty() {
            std::task::Poll::Ready(())
        } else {
            std::task::Poll::Pending
        }
    })
    .await;
}
