//! What only the SQS store does: long waits chained past SQS's 15 minutes,
//! the history cap, cut attempts and the policy's schedule seen through the
//! dead-letter queue, its size and name limits. On moto at
//! `PERSEVERE_DURABLE_SQS_ENDPOINT`, with its clock set by the test
//! (tests/sqs_support/); skipped, with a printed notice, without it.

mod sqs_support;

use persevere::{Fixed, RetryPolicyExt, StopReason};
use persevere_durable::{
    AttemptOutcome, AttemptRecord, Clock, Delivery, Error, Handler, ManualClock, NewJob, Next,
    SQS_MAX_HISTORY, SQS_MAX_PAYLOAD, SqsOptions, SqsStore, Store, Worker,
};
use sqs_support::Clocked;
use std::time::{Duration, SystemTime};

const SEC: Duration = Duration::from_secs(1);
const LEASE: Duration = Duration::from_secs(30);

fn start() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_750_000_000)
}

fn kinds() -> Vec<String> {
    vec!["email".to_owned()]
}

async fn setup(test: &str) -> Option<(Clocked, tokio::sync::OwnedMutexGuard<()>)> {
    let endpoint = sqs_support::endpoint(test)?;
    let serial = sqs_support::serial().await;
    Some((
        Clocked::new(&endpoint, &sqs_support::fresh_prefix()),
        serial,
    ))
}

#[tokio::test]
async fn a_wait_past_fifteen_minutes_is_chained_and_never_early() {
    let Some((store, _serial)) = setup("a_wait_past_fifteen_minutes").await else {
        return;
    };
    let now = start();
    let due = now + Duration::from_secs(2000);
    let job = NewJob::new("later", "email", b"p".to_vec()).not_before(due);
    store.submit(job, now).await.unwrap();
    // The message surfaces at 900 s and 1800 s (SQS's longest delay), is
    // sent again each time, and is claimed only when due.
    for at in [899, 900, 1000, 1800, 1999] {
        let claimed = store
            .claim(&kinds(), 10, now + Duration::from_secs(at), LEASE)
            .await;
        assert!(claimed.unwrap().is_empty(), "claimed at {at} s");
    }
    let claimed = store.claim(&kinds(), 10, due, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let job = &claimed[0];
    assert_eq!(
        (job.attempt, job.interrupted),
        (1, false),
        "surfacing early is no attempt"
    );
    assert_eq!(job.payload, b"p");
}

#[tokio::test]
async fn cut_attempts_are_in_the_dead_letters_history() {
    let Some((store, _serial)) = setup("cut_attempts_are_in_the_dead_letters_history").await else {
        return;
    };
    let now = start();
    store
        .submit(NewJob::new("k", "email", vec![]), now)
        .await
        .unwrap();
    let first = store
        .claim(&kinds(), 1, now, LEASE)
        .await
        .unwrap()
        .remove(0);
    let second = store
        .claim(&kinds(), 1, now + LEASE, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((second.attempt, second.interrupted), (2, true));
    assert_eq!(second.first_attempt_at, now);
    // The first lease is spent: this handle saw the message claimed again.
    let late = record(1, now + LEASE, AttemptOutcome::Succeeded);
    let lost = store.record(&first.lease, late, Next::Complete).await;
    assert!(matches!(lost, Err(Error::LeaseLost(_))), "{lost:?}");
    let stopped = record(
        2,
        now + LEASE,
        AttemptOutcome::Stopped(StopReason::Terminal),
    );
    let dead = Next::DeadLetter(StopReason::Terminal);
    store
        .record(&second.lease, stopped.clone(), dead)
        .await
        .unwrap();
    let letters = store.dead_letters(10).await.unwrap();
    assert_eq!(letters.len(), 1);
    let outcomes: Vec<_> = letters[0]
        .history
        .iter()
        .map(|a| (a.attempt, a.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [(1, AttemptOutcome::Interrupted), (2, stopped.outcome)]
    );
    assert_eq!(
        letters[0].history[0].ended_at,
        now + LEASE,
        "cut by the claim that found it"
    );
    assert_eq!(letters[0].history[1], stopped);
}

fn record(attempt: u32, at: SystemTime, outcome: AttemptOutcome) -> AttemptRecord {
    AttemptRecord {
        attempt,
        started_at: at,
        ended_at: at,
        outcome,
        error: outcome.is_failure().then(|| "x".repeat(4000)),
        classification: None,
        delay: None,
    }
}

#[tokio::test]
async fn the_policys_schedule_and_a_capped_history() {
    let Some((store, _serial)) = setup("the_policys_schedule_and_a_capped_history").await else {
        return;
    };
    let clock = ManualClock::new(start());
    store
        .submit(NewJob::new("k", "job", vec![]), clock.now())
        .await
        .unwrap();
    const ATTEMPTS: u32 = 40;
    let handler = Handler::new(|_: Delivery| async { Err::<(), _>("é".repeat(2000)) })
        .policy(Fixed::new(60 * SEC).with_max_attempts(ATTEMPTS));
    let worker = Worker::builder(store.clone())
        .clock(clock.clone())
        .handler("job", handler)
        .build()
        .unwrap();
    for n in 0..ATTEMPTS {
        assert_eq!(worker.run_once().await.unwrap(), 1, "attempt {}", n + 1);
        // Due 60 s after the attempt, not a microsecond before.
        clock.advance(60 * SEC - Duration::from_micros(1));
        assert_eq!(worker.run_once().await.unwrap(), 0, "claimed early");
        clock.advance(Duration::from_micros(1));
    }
    let letters = store.dead_letters(10).await.unwrap();
    let dead = &letters[0];
    assert_eq!(dead.attempts, ATTEMPTS);
    assert_eq!(dead.dead_reason, Some(StopReason::AttemptsExhausted));
    // 40 attempts of 4,000-byte errors are past the cap: the oldest went.
    let kept = dead.history.len() as u32;
    assert!(kept < ATTEMPTS && kept > 10, "{kept} attempts kept");
    let numbers: Vec<u32> = dead.history.iter().map(|a| a.attempt).collect();
    let expected: Vec<u32> = (ATTEMPTS - kept + 1..=ATTEMPTS).collect();
    assert_eq!(numbers, expected, "the latest attempts, in order");
    let delays = &dead.history[..dead.history.len() - 1];
    assert!(delays.iter().all(|a| a.delay == Some(60 * SEC)));
    let bytes: usize = dead
        .history
        .iter()
        .map(|a| a.error.as_ref().map_or(0, String::len))
        .sum();
    assert!(bytes < SQS_MAX_HISTORY, "{bytes}");
}

#[tokio::test]
async fn requeue_and_purge_find_dead_letters_by_key() {
    let Some((store, _serial)) = setup("requeue_and_purge_find_dead_letters_by_key").await else {
        return;
    };
    let now = start();
    for i in 0..25 {
        store
            .submit(NewJob::new(format!("d{i}"), "email", vec![]), now)
            .await
            .unwrap();
    }
    let claimed = store.claim(&kinds(), 25, now, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 25);
    for job in &claimed {
        let stopped = record(1, now, AttemptOutcome::Stopped(StopReason::Terminal));
        let next = Next::DeadLetter(StopReason::Terminal);
        store.record(&job.lease, stopped, next).await.unwrap();
    }
    assert_eq!(store.dead_letters(100).await.unwrap().len(), 25);
    assert_eq!(store.dead_letters(5).await.unwrap().len(), 5);
    store.purge("d17").await.unwrap();
    store.requeue("d3", now + SEC).await.unwrap();
    assert!(matches!(store.purge("d17").await, Err(Error::NotFound(_))));
    let letters = store.dead_letters(100).await.unwrap();
    let mut keys: Vec<_> = letters.iter().map(|d| d.key.clone()).collect();
    keys.sort();
    assert_eq!(keys.len(), 23, "every other dead letter is still there");
    assert!(!keys.contains(&"d3".to_owned()) && !keys.contains(&"d17".to_owned()));
    let again = store.claim(&kinds(), 10, now + SEC, LEASE).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (
            again[0].key.as_str(),
            again[0].attempt,
            again[0].round_attempt
        ),
        ("d3", 2, 1)
    );
}

#[tokio::test]
async fn submit_checks_sizes_and_makes_a_second_job_for_a_second_submit() {
    let Some((store, _serial)) = setup("submit_checks_sizes").await else {
        return;
    };
    let now = start();
    let big = NewJob::new("big", "email", vec![7; SQS_MAX_PAYLOAD + 1]);
    let err = store.submit(big, now).await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::PayloadTooLarge {
                limit: SQS_MAX_PAYLOAD,
                ..
            }
        ),
        "{err}"
    );
    let largest = NewJob::new("largest", "email", vec![7; SQS_MAX_PAYLOAD]);
    store.submit(largest, now).await.unwrap();
    // No key lookup: a second submit is a second job, and the store says so.
    store
        .submit(NewJob::new("twice", "email", vec![]), now)
        .await
        .unwrap();
    store
        .submit(NewJob::new("twice", "email", vec![]), now)
        .await
        .unwrap();
    assert!(matches!(store.checks_keys(), Err(Error::Unsupported(_))));
    let claimed = store.claim(&kinds(), 10, now, LEASE).await.unwrap();
    let twice = claimed.iter().filter(|c| c.key == "twice").count();
    assert_eq!(twice, 2);
    let largest = claimed.iter().find(|c| c.key == "largest").unwrap();
    assert_eq!(largest.payload.len(), SQS_MAX_PAYLOAD);
    assert!(matches!(
        store.status("twice").await,
        Err(Error::Unsupported(_))
    ));
}

#[test]
fn bad_prefixes_are_refused() {
    for prefix in ["", "has.dot", &"p".repeat(41)] {
        let options = SqsOptions::new().with_prefix(prefix);
        let err = SqsStore::local("http://127.0.0.1:9", options).unwrap_err();
        assert!(
            matches!(err, Error::InvalidName { .. } | Error::Backend(_)),
            "{err}"
        );
    }
    assert!(
        SqsStore::local(
            "http://127.0.0.1:9",
            SqsOptions::new().with_prefix("ok_1-a")
        )
        .is_ok()
    );
}

/// A worker that vanishes (its process crashed: the store handle and its
/// leases are gone) mid-wait and mid-attempt loses no job: a fresh store
/// and worker on the same queues run both, the cut attempt after its lease,
/// the waiting one when due.
#[tokio::test]
async fn a_worker_lost_mid_wait_and_mid_attempt_loses_nothing() {
    let Some(endpoint) = sqs_support::endpoint("a_worker_lost_mid_wait_and_mid_attempt") else {
        return;
    };
    let _serial = sqs_support::serial().await;
    let prefix = sqs_support::fresh_prefix();
    let clock = ManualClock::new(start());
    let store = Clocked::new(&endpoint, &prefix);
    let handler = Handler::new(|job: Delivery| async move {
        if job.key == "mid-attempt" {
            std::future::pending::<()>().await;
        }
        Err::<(), _>("503")
    })
    .policy(Fixed::new(60 * SEC));
    let lost = Worker::builder(store.clone())
        .clock(clock.clone())
        .lease(LEASE)
        .handler("job", handler)
        .build()
        .unwrap();
    store
        .submit(NewJob::new("mid-wait", "job", vec![]), clock.now())
        .await
        .unwrap();
    assert_eq!(lost.run_once().await.unwrap(), 1, "failed, waits 60 s");
    store
        .submit(NewJob::new("mid-attempt", "job", vec![]), clock.now())
        .await
        .unwrap();
    let cut = tokio::time::timeout(Duration::from_millis(500), lost.run_once()).await;
    assert!(cut.is_err(), "the attempt hangs, and its worker is dropped");
    drop((lost, store));

    // A new "process": a new store handle and worker on the same queues.
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let handler = {
        let seen = std::sync::Arc::clone(&seen);
        Handler::new(move |job: Delivery| {
            seen.lock().unwrap().push((job.key.clone(), job.attempt));
            async { Ok::<(), &str>(()) }
        })
    };
    let fresh = Worker::builder(Clocked::new(&endpoint, &prefix))
        .clock(clock.clone())
        .lease(LEASE)
        .handler("job", handler)
        .build()
        .unwrap();
    clock.set(start() + LEASE - Duration::from_millis(1));
    assert_eq!(
        fresh.run_once().await.unwrap(),
        0,
        "the cut attempt's lease holds"
    );
    clock.set(start() + LEASE);
    assert_eq!(fresh.run_once().await.unwrap(), 1);
    clock.set(start() + 60 * SEC);
    assert_eq!(fresh.run_once().await.unwrap(), 1);
    clock.set(start() + 3600 * SEC);
    assert_eq!(
        fresh.run_once().await.unwrap(),
        0,
        "nothing left, nothing twice"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(
        *seen,
        [("mid-attempt".to_owned(), 2), ("mid-wait".to_owned(), 2)]
    );
}
