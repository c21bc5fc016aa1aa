//! Property test: any sequence of claims, attempts, kills, restarts and
//! clock moves leaves every job in exactly one consistent state, with a
//! history that agrees with it, and never runs an attempt early.

mod support;

use persevere::{Classification, Fixed, RetryPolicyExt};
use persevere_durable::{
    AttemptOutcome, Clock, Delivery, Handler, JobState, JobStatus, NewJob, SqliteStore, Store,
    Worker,
};
use proptest::prelude::*;
use std::sync::Arc;
use std::time::Duration;
use support::Fixture;

const JOBS: usize = 4;
const LEASE: Duration = Duration::from_secs(30);
const DELAY: Duration = Duration::from_secs(10);
const MAX_ATTEMPTS: u32 = 6;

#[derive(Debug, Clone)]
enum Event {
    /// Moves the clock forward by this many seconds.
    Advance(u64),
    /// A worker runs the due attempts.
    RunOnce,
    /// A process claims up to this many jobs and dies before recording.
    ClaimAndDie(usize),
    /// Every process stops; the store is opened afresh.
    Restart,
    /// The dead letter with this index, if any, is requeued.
    Requeue(usize),
}

fn event() -> impl Strategy<Value = Event> {
    prop_oneof![
        2 => (1u64..70).prop_map(Event::Advance),
        3 => Just(Event::RunOnce),
        1 => (1usize..3).prop_map(Event::ClaimAndDie),
        1 => Just(Event::Restart),
        1 => (0..JOBS).prop_map(Event::Requeue),
    ]
}

/// What the handler does on each attempt of each job: 0 succeed, 1 a
/// transient error, 2 a terminal error; by attempt number, cycling.
type Script = Vec<Vec<u8>>;

fn script() -> impl Strategy<Value = Script> {
    prop::collection::vec(prop::collection::vec(0u8..3, 1..5), JOBS)
}

fn worker(f: &Fixture, store: SqliteStore, script: Arc<Script>) -> Worker<SqliteStore> {
    let handler = Handler::with_classifier(
        move |job: Delivery| {
            let i: usize = job.key.parse().unwrap();
            let plan = &script[i];
            let step = plan[(job.attempt as usize - 1) % plan.len()];
            async move { if step == 0 { Ok(()) } else { Err(step) } }
        },
        |step: &u8| match step {
            1 => Classification::transient(),
            _ => Classification::terminal(),
        },
    )
    .policy(Fixed::new(DELAY).with_max_attempts(MAX_ATTEMPTS));
    Worker::builder(store)
        .clock(f.clock.clone())
        .lease(LEASE)
        .handler("job", handler)
        .build()
        .unwrap()
}

/// The state and the history tell one story.
fn check(status: &JobStatus) -> Result<(), TestCaseError> {
    let numbers: Vec<u32> = status.history.iter().map(|a| a.attempt).collect();
    let recorded = match status.state {
        JobState::Running => status.attempts - 1,
        _ => status.attempts,
    };
    prop_assert_eq!(numbers, (1..=recorded).collect::<Vec<_>>(), "{:?}", status);
    let last = status.history.last().map(|a| a.outcome);
    match status.state {
        JobState::Succeeded => prop_assert_eq!(last, Some(AttemptOutcome::Succeeded)),
        JobState::DeadLettered => {
            let reason = status.dead_reason.expect("a dead letter has a reason");
            prop_assert!(
                matches!(last, Some(AttemptOutcome::Stopped(r) | AttemptOutcome::NotStarted(r)) if r == reason),
                "{:?}",
                status
            );
        }
        JobState::Pending | JobState::Running => {
            prop_assert!(status.next_at.is_some());
            prop_assert!(status.dead_reason.is_none());
        }
    }
    for pair in status.history.windows(2) {
        if let (AttemptOutcome::Retrying, Some(delay)) = (pair[0].outcome, pair[0].delay) {
            prop_assert!(
                pair[1].started_at >= pair[0].ended_at + delay,
                "attempt {} started early: {:?}",
                pair[1].attempt,
                status
            );
        }
    }
    Ok(())
}

async fn check_all(store: &SqliteStore) -> Result<(), TestCaseError> {
    let counts = store.counts().await.unwrap();
    prop_assert_eq!(counts.total(), JOBS as u64, "no job lost or doubled");
    for i in 0..JOBS {
        let status = store
            .status(&i.to_string())
            .await
            .unwrap()
            .expect("job exists");
        check(&status)?;
    }
    Ok(())
}

async fn run(script: Script, events: Vec<Event>) -> Result<(), TestCaseError> {
    let f = Fixture::new();
    let script = Arc::new(script);
    let mut store = f.open();
    for i in 0..JOBS {
        store
            .submit(NewJob::new(i.to_string(), "job", vec![]), f.clock.now())
            .await
            .unwrap();
    }
    let mut w = worker(&f, store.clone(), Arc::clone(&script));
    for event in events {
        match event {
            Event::Advance(s) => f.clock.advance(Duration::from_secs(s)),
            Event::RunOnce => {
                w.run_once().await.unwrap();
            }
            Event::ClaimAndDie(n) => {
                let kinds = ["job".to_owned()];
                store.claim(&kinds, n, f.clock.now(), LEASE).await.unwrap();
            }
            Event::Restart => {
                drop(w);
                drop(store);
                store = f.open();
                w = worker(&f, store.clone(), Arc::clone(&script));
            }
            Event::Requeue(i) => {
                let dead = store.dead_letters(JOBS).await.unwrap();
                if let Some(job) = dead.get(i) {
                    store.requeue(&job.key, f.clock.now()).await.unwrap();
                }
            }
        }
        check_all(&store).await?;
    }
    // Then, left to run, every job ends: the attempt cap bounds the rounds.
    for _ in 0..(4 * MAX_ATTEMPTS) {
        f.clock.advance(LEASE + DELAY);
        w.run_once().await.unwrap();
    }
    check_all(&store).await?;
    let counts = store.counts().await.unwrap();
    prop_assert!(counts.is_idle(), "{:?}", counts);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_job_is_in_exactly_one_consistent_state(
        script in script(),
        events in prop::collection::vec(event(), 1..30),
    ) {
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        rt.block_on(run(script, events))?;
    }
}
