//! The store's contract on a real SQLite file: keyed submit, due times,
//! leases, history, dead letters.

mod support;

use persevere::{Classification, StopReason};
use persevere_durable::{
    AttemptOutcome, AttemptRecord, Clock, Error, JobState, NewJob, Next, Store, Submitted,
};
use std::time::{Duration, SystemTime};
use support::Fixture;

const LEASE: Duration = Duration::from_secs(30);

fn kinds() -> Vec<String> {
    vec!["email".to_owned()]
}

fn record(attempt: u32, at: SystemTime, outcome: AttemptOutcome) -> AttemptRecord {
    AttemptRecord {
        attempt,
        started_at: at,
        ended_at: at + Duration::from_millis(5),
        outcome,
        error: outcome.is_failure().then(|| "503".to_owned()),
        classification: outcome.is_failure().then(Classification::throttled),
        delay: matches!(outcome, AttemptOutcome::Retrying).then_some(Duration::from_secs(2)),
    }
}

#[tokio::test]
async fn a_key_submitted_twice_is_one_job() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    let job = NewJob::new("order-1", "email", b"first".to_vec());
    assert_eq!(store.submit(job, now).await.unwrap(), Submitted::Created);
    let again = NewJob::new("order-1", "email", b"second".to_vec());
    assert_eq!(
        store.submit(again, now).await.unwrap(),
        Submitted::Exists(JobState::Pending)
    );
    let claimed = store.claim(&kinds(), 10, now, LEASE).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!(claimed[0].payload, b"first");
    let again = NewJob::new("order-1", "email", vec![]);
    assert_eq!(
        store.submit(again, now).await.unwrap(),
        Submitted::Exists(JobState::Running)
    );
    assert_eq!(store.counts().await.unwrap().total(), 1);
}

#[tokio::test]
async fn a_job_is_never_claimed_before_it_is_due() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    // A due time with a sub-microsecond part: the store keeps microseconds,
    // and its rounding must not make the job due early.
    let due = now + Duration::from_secs(600) + Duration::from_nanos(300_500);
    let job = NewJob::new("later", "email", vec![]).not_before(due);
    store.submit(job, now).await.unwrap();
    for early in [
        now,
        due - Duration::from_millis(1),
        due - Duration::from_nanos(1),
    ] {
        assert!(
            store
                .claim(&kinds(), 10, early, LEASE)
                .await
                .unwrap()
                .is_empty()
        );
    }
    // Due from the first whole microsecond at or after its time.
    let first_due = due + Duration::from_nanos(500);
    assert_eq!(
        store
            .claim(&kinds(), 10, first_due, LEASE)
            .await
            .unwrap()
            .len(),
        1
    );
}

#[tokio::test]
async fn only_the_kinds_asked_for_are_claimed_and_the_batch_is_bounded() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    for i in 0..10 {
        let kind = if i % 2 == 0 { "email" } else { "sms" };
        store
            .submit(NewJob::new(format!("j{i}"), kind, vec![]), now)
            .await
            .unwrap();
    }
    let first = store.claim(&kinds(), 3, now, LEASE).await.unwrap();
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|c| c.kind == "email"));
    let rest = store.claim(&kinds(), 10, now, LEASE).await.unwrap();
    assert_eq!(
        rest.len(),
        2,
        "a claimed job is not claimed again under its lease"
    );
    let sms = store
        .claim(&["sms".to_owned()], 10, now, LEASE)
        .await
        .unwrap();
    assert_eq!(sms.len(), 5);
}

#[tokio::test]
async fn an_expired_lease_is_claimed_again_and_the_old_claim_cannot_record() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    store
        .submit(NewJob::new("k", "email", vec![]), now)
        .await
        .unwrap();
    let first = store
        .claim(&kinds(), 1, now, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((first.attempt, first.interrupted), (1, false));
    let almost = now + LEASE - Duration::from_millis(1);
    assert!(
        store
            .claim(&kinds(), 1, almost, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let second = store
        .claim(&kinds(), 1, now + LEASE, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((second.attempt, second.interrupted), (2, true));
    assert_eq!(
        second.first_attempt_at, now,
        "the first attempt's time is kept"
    );

    let late = store
        .record(
            &first.lease,
            record(1, now, AttemptOutcome::Succeeded),
            Next::Complete,
        )
        .await;
    assert!(matches!(late, Err(Error::LeaseLost(k)) if k == "k"));
    store
        .record(
            &second.lease,
            record(2, now + LEASE, AttemptOutcome::Succeeded),
            Next::Complete,
        )
        .await
        .unwrap();

    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Succeeded);
    let outcomes: Vec<_> = status
        .history
        .iter()
        .map(|a| (a.attempt, a.outcome))
        .collect();
    assert_eq!(
        outcomes,
        [
            (1, AttemptOutcome::Interrupted),
            (2, AttemptOutcome::Succeeded)
        ]
    );
    assert_eq!(
        status.history[0].ended_at,
        now + LEASE,
        "cut when its lease expired"
    );
}

#[tokio::test]
async fn a_result_recorded_late_but_before_another_claim_counts() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    store
        .submit(NewJob::new("k", "email", vec![]), now)
        .await
        .unwrap();
    let job = store
        .claim(&kinds(), 1, now, LEASE)
        .await
        .unwrap()
        .remove(0);
    let late = now + LEASE * 2;
    store
        .record(
            &job.lease,
            record(1, late, AttemptOutcome::Succeeded),
            Next::Complete,
        )
        .await
        .unwrap();
    assert!(
        store
            .claim(&kinds(), 1, late, LEASE)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn a_reschedule_keeps_the_history_and_the_delay_for_the_policy() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    store
        .submit(NewJob::new("k", "email", b"p".to_vec()), now)
        .await
        .unwrap();
    let job = store
        .claim(&kinds(), 1, now, LEASE)
        .await
        .unwrap()
        .remove(0);
    let due = now + Duration::from_secs(2);
    store
        .record(
            &job.lease,
            record(1, now, AttemptOutcome::Retrying),
            Next::Retry(due),
        )
        .await
        .unwrap();
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(
        (status.state, status.next_at),
        (JobState::Pending, Some(due))
    );
    assert!(
        store
            .claim(&kinds(), 1, due - Duration::from_millis(1), LEASE)
            .await
            .unwrap()
            .is_empty()
    );
    let next = store
        .claim(&kinds(), 1, due, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((next.attempt, next.round_attempt), (2, 2));
    assert_eq!(next.previous_delay, Some(Duration::from_secs(2)));
    assert_eq!(next.first_attempt_at, now);
    assert!(!next.interrupted);

    let history = &store.status("k").await.unwrap().unwrap().history;
    assert_eq!(history.len(), 1);
    assert_eq!(history[0], record(1, now, AttemptOutcome::Retrying));
}

#[tokio::test]
async fn dead_letters_can_be_listed_requeued_and_purged() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    for key in ["a", "b"] {
        store
            .submit(NewJob::new(key, "email", vec![]), now)
            .await
            .unwrap();
    }
    for job in store.claim(&kinds(), 2, now, LEASE).await.unwrap() {
        let stopped = AttemptOutcome::Stopped(StopReason::Terminal);
        store
            .record(
                &job.lease,
                record(1, now, stopped),
                Next::DeadLetter(StopReason::Terminal),
            )
            .await
            .unwrap();
    }
    let dead = store.dead_letters(10).await.unwrap();
    assert_eq!(
        dead.iter().map(|d| d.key.as_str()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(
        dead.iter()
            .all(|d| d.dead_reason == Some(StopReason::Terminal))
    );
    assert_eq!(dead[0].history.len(), 1);

    let later = now + Duration::from_secs(3600);
    store.requeue("a", later).await.unwrap();
    assert!(matches!(
        store.requeue("a", later).await,
        Err(Error::NotFound(_))
    ));
    let again = store
        .claim(&kinds(), 10, later, LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!(again.key, "a");
    assert_eq!(
        (again.attempt, again.round_attempt),
        (2, 1),
        "a new round, numbered on"
    );
    assert_eq!(again.first_attempt_at, later);
    assert_eq!(again.previous_delay, None);

    assert!(
        matches!(store.purge("a").await, Err(Error::NotFound(_))),
        "a is running"
    );
    store.purge("b").await.unwrap();
    assert_eq!(store.status("b").await.unwrap(), None);
    assert!(store.dead_letters(10).await.unwrap().is_empty());
    assert!(store.status("nope").await.unwrap().is_none());
}

#[tokio::test]
async fn everything_survives_closing_and_reopening_the_file() {
    let f = Fixture::new();
    let now = f.clock.now();
    {
        let store = f.open();
        store
            .submit(NewJob::new("k", "email", b"x".to_vec()), now)
            .await
            .unwrap();
        let job = store
            .claim(&kinds(), 1, now, LEASE)
            .await
            .unwrap()
            .remove(0);
        store
            .record(
                &job.lease,
                record(1, now, AttemptOutcome::Retrying),
                Next::Retry(now + Duration::from_secs(2)),
            )
            .await
            .unwrap();
    }
    let store = f.open();
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Pending);
    assert_eq!(status.history, [record(1, now, AttemptOutcome::Retrying)]);
    let job = store
        .claim(&kinds(), 1, now + Duration::from_secs(2), LEASE)
        .await
        .unwrap()
        .remove(0);
    assert_eq!((job.attempt, job.payload.as_slice()), (2, &b"x"[..]));
}

#[tokio::test]
async fn operations_sent_together_fail_alone() {
    let f = Fixture::new();
    let store = f.open();
    let now = f.clock.now();
    for i in 0..50 {
        store
            .submit(NewJob::new(format!("k{i}"), "email", vec![]), now)
            .await
            .unwrap();
    }
    let claimed = store.claim(&kinds(), 50, now, LEASE).await.unwrap();
    // Every other record uses a lease that is not the job's: those fail with
    // LeaseLost, the rest commit, though they may share a transaction.
    let records = claimed.into_iter().enumerate().map(|(i, job)| {
        let mut lease = job.lease.clone();
        if i % 2 == 1 {
            lease.token = "999".into();
        }
        let store = store.clone();
        async move {
            store
                .record(
                    &lease,
                    record(job.attempt, now, AttemptOutcome::Succeeded),
                    Next::Complete,
                )
                .await
        }
    });
    let results = futures_join(records.collect()).await;
    for (i, result) in results.iter().enumerate() {
        if i % 2 == 1 {
            assert!(matches!(result, Err(Error::LeaseLost(_))), "{result:?}");
        } else {
            assert!(result.is_ok(), "{result:?}");
        }
    }
    let counts = store.counts().await.unwrap();
    assert_eq!((counts.succeeded, counts.running), (25, 25));
}

/// Runs the futures concurrently, each on its own task; results in order.
async fn futures_join<F>(futures: Vec<F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::new();
    for h in handles {
        out.push(h.await.unwrap());
    }
    out
}
