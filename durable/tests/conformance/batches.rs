//! Many jobs at once: `submit_many` and `record_many` keep the meaning of
//! one `submit` and one `record` each.

use super::items::{record, store_status};
use super::{Harness, start};
use persevere_durable::{AttemptOutcome, Error, JobState, Lease, NewJob, Next, Store, Submitted};
use std::time::Duration;

const LEASE: Duration = Duration::from_secs(30);

fn kinds() -> Vec<String> {
    vec!["email".to_owned()]
}

fn job(key: &str, payload: &str) -> NewJob {
    NewJob::new(key, "email", payload.as_bytes().to_vec())
}

pub async fn submit_many_is_keyed<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    assert!(store.submit_many(Vec::new(), now).await?.is_empty());

    // A job out of bounds fails the call before anything is recorded.
    let bad = vec![job("c", "c"), NewJob::new("d", "", vec![])];
    assert!(matches!(
        store.submit_many(bad, now).await,
        Err(Error::InvalidName { what: "kind", .. })
    ));
    assert_eq!(store_status(&store, "c").await?, None);

    // More jobs than one statement takes (PostgreSQL writes chunks of 512).
    let many: Vec<_> = (0..1100).map(|i| job(&format!("m{i}"), "m")).collect();
    let answers = store.submit_many(many, now).await?;
    assert_eq!(answers.len(), 1100);
    assert!(answers.iter().all(|a| a.is_created()));
    // Nothing else is due (the refused call recorded nothing): a claim
    // may hand out fewer than asked, so claim until none is left, bounded.
    let later = now + Duration::from_secs(1);
    let mut claimed = 0;
    for _ in 0..500 {
        let batch = store.claim(&kinds(), 2000, later, LEASE).await?.len();
        if batch == 0 {
            break;
        }
        claimed += batch;
    }
    assert_eq!(claimed, 1100);

    // Keys: a store that cannot check them says so here, after the rest.
    store.checks_keys()?;
    store.submit(job("old", "old"), now).await?;
    store.claim(&kinds(), 1, now, LEASE).await?;
    let answers = store
        .submit_many(
            vec![
                job("a", "first"),
                job("old", "x"),
                job("a", "second"),
                job("b", "b"),
            ],
            now,
        )
        .await?;
    assert_eq!(
        answers,
        [
            Submitted::Created,
            Submitted::Exists(JobState::Running),
            Submitted::Exists(JobState::Pending),
            Submitted::Created,
        ]
    );
    let claimed = store.claim(&kinds(), 10, now, LEASE).await?;
    let mut got: Vec<_> = claimed
        .iter()
        .map(|c| (c.key.as_str(), c.payload.as_slice()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        [("a", &b"first"[..]), ("b", &b"b"[..])],
        "the first submit of a key wins"
    );

    Ok(())
}

pub async fn record_many_fails_alone<H: Harness>(h: &H) -> Result<(), Error> {
    let store = h.open().await;
    let now = start();
    let keys = ["r1", "r2", "r3"];
    store
        .submit_many(keys.map(|k| job(k, k)).to_vec(), now)
        .await?;
    let mut claimed = store.claim(&kinds(), 3, now, LEASE).await?;
    claimed.sort_by(|a, b| a.key.cmp(&b.key));
    let [r1, r2, r3] = &claimed[..] else {
        panic!("three claims, got {}", claimed.len())
    };
    let end = now + Duration::from_millis(5);
    let retry_at = now + Duration::from_secs(2);
    let forged = Lease {
        token: "not-a-lease".into(),
        ..r3.lease.clone()
    };
    let results = store
        .record_many(vec![
            (
                r1.lease.clone(),
                record(r1.attempt, now, AttemptOutcome::Retrying),
                Next::Retry(retry_at),
            ),
            (
                r2.lease.clone(),
                record(r2.attempt, now, AttemptOutcome::Succeeded),
                Next::Complete,
            ),
            (
                forged,
                record(r3.attempt, now, AttemptOutcome::Succeeded),
                Next::Complete,
            ),
            (
                r2.lease.clone(),
                record(r2.attempt, now, AttemptOutcome::Succeeded),
                Next::Complete,
            ),
        ])
        .await;
    assert_eq!(results.len(), 4);
    assert!(results[0].is_ok(), "{:?}", results[0]);
    assert!(results[1].is_ok(), "{:?}", results[1]);
    assert!(
        matches!(results[2], Err(Error::LeaseLost(_))),
        "{:?}",
        results[2]
    );
    assert!(
        matches!(results[3], Err(Error::LeaseLost(_))),
        "a spent lease: {:?}",
        results[3]
    );

    // The real lease still records r3; the retried r1 is claimed at its time.
    let last = store
        .record_many(vec![(
            r3.lease.clone(),
            record(r3.attempt, now, AttemptOutcome::Succeeded),
            Next::Complete,
        )])
        .await;
    assert!(last[0].is_ok(), "{:?}", last[0]);
    assert!(
        store
            .claim(&kinds(), 3, retry_at - Duration::from_millis(1), LEASE)
            .await?
            .is_empty()
    );
    let again = store.claim(&kinds(), 3, retry_at, LEASE).await?;
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].key.as_str(), again[0].previous_delay),
        ("r1", Some(Duration::from_secs(2)))
    );
    assert!(store.record_many(Vec::new()).await.is_empty());

    // What each record left (a store that cannot read jobs by key says so
    // here, after the rest).
    let s1 = store.status("r1").await?.expect("r1");
    assert_eq!((s1.state, s1.history.len()), (JobState::Running, 1));
    assert_eq!(
        s1.history[0],
        record(r1.attempt, now, AttemptOutcome::Retrying)
    );
    let s2 = store.status("r2").await?.expect("r2");
    assert_eq!((s2.state, s2.history.len()), (JobState::Succeeded, 1));
    assert_eq!(s2.history[0].ended_at, end);
    let s3 = store.status("r3").await?.expect("r3");
    assert_eq!(
        (s3.state, s3.history.len()),
        (JobState::Succeeded, 1),
        "the forged and the spent records changed nothing"
    );
    Ok(())
}
