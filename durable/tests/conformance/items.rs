//! The store's contract, driven by hand: keyed submit, due times, leases,
//! history, dead letters.

use super::{Harness, start};
use persevere::{Classification, StopReason};
use persevere_durable::{
    AttemptOutcome, AttemptRecord, Error, JobState, MAX_ERROR_LEN, NewJob, Next, Store, Submitted,
};
use std::time::{Duration, SystemTime};

const LEASE: Duration = Duration::from_secs(30);

fn kinds() -> Vec<String> {
    vec!["email".to_owned()]
}

/// An attempt's record as a worker would write it.
pub fn record(attempt: u32, at: SystemTime, outcome: AttemptOutcome) -> AttemptRecord {
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

async fn submit(store: &impl Store, key: &str, now: SystemTime) -> Result<(), Error> {
    let job = NewJob::new(key, "email", key.as_bytes().to_vec());
    assert_eq!(store.submit(job, now).await?, Submitted::Created);
    Ok(())
}

pub async fn keyed_submit<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    let bad = NewJob::new("", "email", vec![]);
    assert!(matches!(
        store.submit(bad, now).await,
        Err(Error::InvalidName { what: "key", .. })
    ));
    let job = NewJob::new("order-1", "email", b"first".to_vec());
    assert_eq!(store.submit(job, now).await?, Submitted::Created);
    // A store that cannot look a key up says so here.
    store.checks_keys()?;
    let again = NewJob::new("order-1", "email", b"second".to_vec());
    assert_eq!(
        store.submit(again, now).await?,
        Submitted::Exists(JobState::Pending)
    );
    let claimed = store.claim(&kinds(), 10, now, LEASE).await?;
    assert_eq!(claimed.len(), 1, "one job for one key");
    assert_eq!(claimed[0].payload, b"first");
    let again = NewJob::new("order-1", "email", vec![]);
    assert_eq!(
        store.submit(again, now).await?,
        Submitted::Exists(JobState::Running)
    );
    Ok(())
}

pub async fn never_claimed_early<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    // A sub-microsecond due time: rounding must not make it due early.
    let due = now + Duration::from_secs(600) + Duration::from_nanos(300_500);
    let job = NewJob::new("later", "email", vec![]).not_before(due);
    store.submit(job, now).await?;
    for early in [
        now,
        due - Duration::from_millis(1),
        due - Duration::from_nanos(1),
    ] {
        assert!(store.claim(&kinds(), 10, early, LEASE).await?.is_empty());
    }
    let first_due = due + Duration::from_nanos(500);
    assert_eq!(store.claim(&kinds(), 10, first_due, LEASE).await?.len(), 1);
    Ok(())
}

pub async fn kinds_and_batch_bounded<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    for i in 0..10 {
        let kind = if i % 2 == 0 { "email" } else { "sms" };
        store
            .submit(NewJob::new(format!("j{i}"), kind, vec![]), now)
            .await?;
    }
    let first = store.claim(&kinds(), 3, now, LEASE).await?;
    assert_eq!(first.len(), 3);
    assert!(first.iter().all(|c| c.kind == "email"));
    let rest = store.claim(&kinds(), 10, now, LEASE).await?;
    assert_eq!(
        rest.len(),
        2,
        "a claimed job is not claimed under its lease"
    );
    let sms = store.claim(&["sms".to_owned()], 10, now, LEASE).await?;
    assert_eq!(sms.len(), 5);
    assert!(store.claim(&kinds(), 0, now, LEASE).await?.is_empty());
    Ok(())
}

pub async fn expired_lease_is_claimed_again<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    submit(&store, "k", now).await?;
    let first = store.claim(&kinds(), 1, now, LEASE).await?.remove(0);
    assert_eq!((first.attempt, first.interrupted), (1, false));
    assert_eq!(first.lease.until, now + LEASE);
    let almost = now + LEASE - Duration::from_millis(1);
    assert!(store.claim(&kinds(), 1, almost, LEASE).await?.is_empty());
    let second = store
        .claim(&kinds(), 1, now + LEASE, LEASE)
        .await?
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
    assert!(
        matches!(&late, Err(Error::LeaseLost(k)) if k == "k"),
        "{late:?}"
    );
    let done = record(2, now + LEASE, AttemptOutcome::Succeeded);
    store.record(&second.lease, done, Next::Complete).await?;
    let status = store.status("k").await?.expect("the job");
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
    Ok(())
}

pub async fn late_result_before_another_claim_counts<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    submit(&store, "k", now).await?;
    let job = store.claim(&kinds(), 1, now, LEASE).await?.remove(0);
    let late = now + LEASE * 2;
    let done = record(1, late, AttemptOutcome::Succeeded);
    store.record(&job.lease, done, Next::Complete).await?;
    assert!(store.claim(&kinds(), 1, late, LEASE).await?.is_empty());
    Ok(())
}

pub async fn reschedule_keeps_history_and_delay<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    submit(&store, "k", now).await?;
    let job = store.claim(&kinds(), 1, now, LEASE).await?.remove(0);
    let due = now + Duration::from_secs(2);
    let failed = record(1, now, AttemptOutcome::Retrying);
    store.record(&job.lease, failed, Next::Retry(due)).await?;
    if let Some(status) = store_status(&store, "k").await? {
        assert_eq!(
            (status.state, status.next_at),
            (JobState::Pending, Some(due))
        );
    }
    let early = due - Duration::from_millis(1);
    assert!(store.claim(&kinds(), 1, early, LEASE).await?.is_empty());
    let next = store.claim(&kinds(), 1, due, LEASE).await?.remove(0);
    assert_eq!((next.attempt, next.round_attempt), (2, 2));
    assert_eq!(next.previous_delay, Some(Duration::from_secs(2)));
    assert_eq!(next.first_attempt_at, now);
    assert!(!next.interrupted);
    assert_eq!(next.payload, b"k", "the payload survives the reschedule");
    Ok(())
}

/// A job's status; for a store without `status` (SQS), a dead-lettered
/// job's from [`Store::dead_letters`], or the store's `Unsupported` error
/// for any other.
pub async fn final_status(
    store: &impl Store,
    key: &str,
) -> Result<Option<persevere_durable::JobStatus>, Error> {
    match store.status(key).await {
        Err(Error::Unsupported(what)) => {
            let dead = store.dead_letters(1000).await?;
            match dead.into_iter().find(|d| d.key == key) {
                Some(d) => Ok(Some(d)),
                None => Err(Error::Unsupported(what)),
            }
        }
        other => other,
    }
}

/// `status`, where the store has it (the items above also hold for stores
/// without it).
pub async fn store_status(
    store: &impl Store,
    key: &str,
) -> Result<Option<persevere_durable::JobStatus>, Error> {
    match store.status(key).await {
        Err(Error::Unsupported(_)) => Ok(None),
        other => other,
    }
}

pub async fn history_round_trips<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    submit(&store, "k", now).await?;
    let job = store.claim(&kinds(), 1, now, LEASE).await?.remove(0);
    let long = "é".repeat(MAX_ERROR_LEN); // two bytes each: cut to fit
    let failed = AttemptRecord {
        attempt: 1,
        started_at: now + Duration::from_micros(7),
        ended_at: now + Duration::from_millis(30),
        outcome: AttemptOutcome::Retrying,
        error: Some(long),
        classification: Some(Classification::throttled().with_server_delay(Duration::from_secs(9))),
        delay: Some(Duration::from_secs(9)),
    };
    let due = now + Duration::from_secs(9);
    store
        .record(&job.lease, failed.clone(), Next::Retry(due))
        .await?;
    let job = store.claim(&kinds(), 1, due, LEASE).await?.remove(0);
    let stopped = AttemptRecord {
        attempt: 2,
        outcome: AttemptOutcome::Stopped(StopReason::AttemptsExhausted),
        classification: Some(Classification::timeout()),
        delay: None,
        error: Some("timed out".into()),
        ..failed.clone()
    };
    let dead = Next::DeadLetter(StopReason::AttemptsExhausted);
    store.record(&job.lease, stopped.clone(), dead).await?;
    let status = final_status(&store, "k").await?.expect("the job");
    assert_eq!(status.attempts, 2);
    assert_eq!(status.created_at, now);
    assert_eq!(status.next_at, None);
    assert_eq!(status.dead_reason, Some(StopReason::AttemptsExhausted));
    let error = status.history[0].error.clone().unwrap_or_default();
    assert_eq!(error.len(), MAX_ERROR_LEN, "cut to the limit");
    let cut = AttemptRecord {
        error: Some("é".repeat(MAX_ERROR_LEN / 2)),
        ..failed
    };
    assert_eq!(status.history, [cut, stopped]);
    Ok(())
}

pub async fn dead_letters_requeue_purge<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    for key in ["a", "b"] {
        submit(&store, key, now).await?;
    }
    for job in store.claim(&kinds(), 2, now, LEASE).await? {
        let stopped = AttemptOutcome::Stopped(StopReason::Terminal);
        let next = Next::DeadLetter(StopReason::Terminal);
        store
            .record(&job.lease, record(1, now, stopped), next)
            .await?;
    }
    let dead = store.dead_letters(10).await?;
    let mut keys: Vec<_> = dead.iter().map(|d| d.key.as_str()).collect();
    keys.sort();
    assert_eq!(keys, ["a", "b"]);
    assert!(
        dead.iter()
            .all(|d| d.dead_reason == Some(StopReason::Terminal))
    );
    assert!(dead.iter().all(|d| d.history.len() == 1));

    let later = now + Duration::from_secs(3600);
    store.requeue("a", later).await?;
    assert!(matches!(
        store.requeue("a", later).await,
        Err(Error::NotFound(_))
    ));
    let again = store.claim(&kinds(), 10, later, LEASE).await?.remove(0);
    assert_eq!(again.key, "a");
    assert_eq!((again.attempt, again.round_attempt), (2, 1), "a new round");
    assert_eq!(again.first_attempt_at, later);
    assert_eq!(again.previous_delay, None);
    assert!(
        matches!(store.purge("a").await, Err(Error::NotFound(_))),
        "a runs"
    );
    store.purge("b").await?;
    assert_eq!(store_status(&store, "b").await?, None);
    assert!(store.dead_letters(10).await?.is_empty());
    Ok(())
}

pub async fn status_by_key<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    assert_eq!(store.status("nope").await?, None);
    submit(&store, "k", now).await?;
    let status = store.status("k").await?.expect("the job");
    assert_eq!((status.state, status.attempts), (JobState::Pending, 0));
    assert_eq!((status.kind.as_str(), status.next_at), ("email", Some(now)));
    let job = store.claim(&kinds(), 1, now, LEASE).await?.remove(0);
    let status = store.status("k").await?.expect("the job");
    assert_eq!(
        (status.state, status.next_at),
        (JobState::Running, Some(job.lease.until))
    );
    Ok(())
}

pub async fn records_fail_alone<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    for i in 0..20 {
        submit(&store, &format!("k{i}"), now).await?;
    }
    let claimed = store.claim(&kinds(), 20, now, LEASE).await?;
    assert_eq!(claimed.len(), 20);
    // Every other record holds a lease that is not the job's: those fail
    // with LeaseLost, the others commit, sent at the same time.
    let mut tasks = Vec::new();
    for (i, job) in claimed.into_iter().enumerate() {
        let mut lease = job.lease.clone();
        if i % 2 == 1 {
            lease.token = format!("{}-forged", lease.token);
        }
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let done = record(job.attempt, now, AttemptOutcome::Succeeded);
            store.record(&lease, done, Next::Complete).await
        }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let result = task.await.expect("no panic");
        if i % 2 == 1 {
            assert!(matches!(result, Err(Error::LeaseLost(_))), "{result:?}");
        } else {
            assert!(result.is_ok(), "{result:?}");
        }
    }
    // The jobs whose record failed are still leased, then claimed again.
    assert!(store.claim(&kinds(), 20, now, LEASE).await?.is_empty());
    let again = store.claim(&kinds(), 20, now + LEASE, LEASE).await?;
    assert_eq!(again.len(), 10);
    assert!(again.iter().all(|j| j.interrupted && j.attempt == 2));
    Ok(())
}

/// Due times past what the store can hold are clamped, never wrapped to
/// the past nor refused. (Leases are bounded by the worker's
/// configuration, `MAX_LEASE`, before they reach a store.)
pub async fn absurd_times_are_clamped<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    // Half a million years ahead: past what most stores can hold.
    let far = SystemTime::UNIX_EPOCH + Duration::from_secs(1 << 44);
    store
        .submit(NewJob::new("far", "email", vec![]), now)
        .await?;
    let job = NewJob::new("later", "email", vec![]).not_before(far);
    assert_eq!(store.submit(job, now).await?, Submitted::Created);
    let claimed = store.claim(&kinds(), 10, now, LEASE).await?;
    assert_eq!(claimed.len(), 1, "only the job due now");
    let failed = record(1, now, AttemptOutcome::Retrying);
    store
        .record(&claimed[0].lease, failed, Next::Retry(far))
        .await?;
    let years = Duration::from_secs(1000 * 365 * 86_400);
    assert!(
        store
            .claim(&kinds(), 10, now + years, LEASE)
            .await?
            .is_empty()
    );
    if let Some(status) = store_status(&store, "far").await? {
        assert!(
            status.next_at.is_some_and(|t| t > now + years),
            "{status:?}"
        );
    }
    Ok(())
}
