//! Workers on a real SQLite file and a controlled clock: policies,
//! deadlines and caps across restarts, panics, clocks set back, budgets.

mod support;

use persevere::budget::TokenBucket;
use persevere::{
    AttemptContext, Classification, Exponential, Fixed, Jitter, JitterRng, RetryKind, RetryPolicy,
    RetryPolicyExt, StopReason,
};
use persevere_durable::{
    AttemptOutcome, Clock, Delivery, Handler, JobState, NewJob, SqliteStore, Store, Worker,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::time::Duration;
use support::Fixture;

const SEC: Duration = Duration::from_secs(1);

/// A worker on `store` and `f`'s clock, running `handler` for kind "job".
fn worker(f: &Fixture, store: SqliteStore, handler: Handler) -> Worker<SqliteStore> {
    Worker::builder(store)
        .clock(f.clock.clone())
        .handler("job", handler)
        .build()
        .unwrap()
}

fn always_failing(policy: impl RetryPolicy + 'static) -> Handler {
    Handler::new(|_: Delivery| async { Err::<(), _>("connection reset") }).policy(policy)
}

async fn submit(f: &Fixture, store: &SqliteStore, key: &str) {
    store
        .submit(NewJob::new(key, "job", vec![]), f.clock.now())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deadline_holds_across_restarts() {
    let f = Fixture::new();
    let policy = Fixed::new(10 * SEC).with_deadline(25 * SEC);
    submit(&f, &f.open(), "k").await;
    // Each attempt runs in a fresh "process": a new store and worker.
    for expected in [
        AttemptOutcome::Retrying,                      // elapsed 0 + 10 < 25
        AttemptOutcome::Retrying,                      // elapsed 10 + 10 < 25
        AttemptOutcome::Stopped(StopReason::Deadline), // elapsed 20 + 10 >= 25
    ] {
        let w = worker(&f, f.open(), always_failing(policy));
        assert_eq!(w.run_once().await.unwrap(), 1);
        let status = f.open().status("k").await.unwrap().unwrap();
        assert_eq!(status.history.last().unwrap().outcome, expected);
        f.clock.advance(10 * SEC);
    }
    let status = f.open().status("k").await.unwrap().unwrap();
    assert_eq!(status.state, JobState::DeadLettered);
    assert_eq!(status.dead_reason, Some(StopReason::Deadline));
}

#[tokio::test]
async fn a_process_down_past_the_deadline_does_not_run_the_attempt() {
    let f = Fixture::new();
    let policy = Fixed::new(10 * SEC).with_deadline(60 * SEC);
    submit(&f, &f.open(), "k").await;
    let calls = Arc::new(AtomicU32::new(0));
    let counted = Arc::clone(&calls);
    let handler = Handler::new(move |_: Delivery| {
        counted.fetch_add(1, SeqCst);
        async { Err::<(), _>("down") }
    })
    .policy(policy);
    let w = worker(&f, f.open(), handler.clone());
    assert_eq!(w.run_once().await.unwrap(), 1);
    drop(w);
    f.clock.advance(3600 * SEC); // down for an hour
    let w = worker(&f, f.open(), handler);
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(calls.load(SeqCst), 1, "the handler ran once");
    let status = f.open().status("k").await.unwrap().unwrap();
    assert_eq!(status.dead_reason, Some(StopReason::Deadline));
    assert_eq!(
        status.history.last().unwrap().outcome,
        AttemptOutcome::NotStarted(StopReason::Deadline)
    );
}

#[tokio::test]
async fn an_attempt_cap_holds_across_restarts() {
    let f = Fixture::new();
    submit(&f, &f.open(), "k").await;
    for _ in 0..10 {
        let w = worker(
            &f,
            f.open(),
            always_failing(Fixed::new(SEC).with_max_attempts(3)),
        );
        w.run_once().await.unwrap();
        f.clock.advance(SEC);
    }
    let status = f.open().status("k").await.unwrap().unwrap();
    assert_eq!(status.attempts, 3);
    assert_eq!(status.dead_reason, Some(StopReason::AttemptsExhausted));
}

#[tokio::test]
async fn a_job_rescheduled_far_ahead_is_not_run_early() {
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "k").await;
    let w = worker(&f, store.clone(), always_failing(Fixed::new(3600 * SEC)));
    assert_eq!(w.run_once().await.unwrap(), 1);
    let failed_at = store.status("k").await.unwrap().unwrap().history[0].ended_at;
    f.clock
        .set(failed_at + 3600 * SEC - Duration::from_micros(1));
    assert_eq!(w.run_once().await.unwrap(), 0);
    f.clock.set(failed_at + 3600 * SEC);
    assert_eq!(w.run_once().await.unwrap(), 1);
}

#[tokio::test]
async fn the_delay_is_what_the_policy_decides_with_the_servers_delay() {
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "k").await;
    let policy = Exponential::new()
        .with_initial_delay(SEC)
        .with_max_delay(60 * SEC)
        .with_jitter(Jitter::None);
    let verdicts = [
        Classification::transient(),
        Classification::throttled().with_server_delay(7 * SEC),
        Classification::timeout(),
    ];
    let handler = Handler::with_classifier(
        |job: Delivery| async move { Err::<(), u32>(job.attempt) },
        move |attempt: &u32| verdicts[(*attempt as usize - 1) % 3],
    )
    .policy(policy);
    let w = worker(&f, store.clone(), handler);
    let mut previous = None;
    for attempt in 1..=3u32 {
        assert_eq!(w.run_once().await.unwrap(), 1);
        let status = store.status("k").await.unwrap().unwrap();
        let last = status.history.last().unwrap();
        let verdict = verdicts[attempt as usize - 1];
        let elapsed = last.ended_at.duration_since(support::start()).unwrap();
        let mut failed = AttemptContext::new(attempt, elapsed)
            .with_kind(verdict.kind().unwrap())
            .with_server_delay(verdict.server_delay());
        if let Some(p) = previous {
            failed = failed.with_previous_delay(p);
        }
        let expected = policy.decide(&failed, &mut JitterRng::from_seed(0)).delay();
        assert_eq!(last.delay, expected, "attempt {attempt}");
        assert_eq!(last.classification, Some(verdict));
        assert_eq!(status.next_at, Some(last.ended_at + expected.unwrap()));
        previous = expected;
        f.clock.set(status.next_at.unwrap());
    }
    let delays: Vec<_> = store
        .status("k")
        .await
        .unwrap()
        .unwrap()
        .history
        .iter()
        .map(|a| a.delay)
        .collect();
    assert_eq!(delays, [Some(SEC), Some(7 * SEC), Some(4 * SEC)]);
}

#[tokio::test]
async fn a_terminal_error_dead_letters_at_once_and_requeue_runs_it_again() {
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "k").await;
    let fixed = Arc::new(AtomicU32::new(0));
    let seen = Arc::clone(&fixed);
    let handler = Handler::with_classifier(
        move |job: Delivery| {
            let fixed = seen.load(SeqCst) == 1;
            async move {
                assert!(job.round_attempt == 1);
                if fixed { Ok(()) } else { Err(404u16) }
            }
        },
        |s: &u16| persevere::classify::http::classify_status(*s),
    )
    .policy(Fixed::new(SEC).with_max_attempts(5));
    let w = worker(&f, store.clone(), handler);
    assert_eq!(w.run_once().await.unwrap(), 1);
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.state, JobState::DeadLettered);
    assert_eq!(status.dead_reason, Some(StopReason::Terminal));
    assert_eq!(status.history[0].error.as_deref(), Some("404"));
    assert_eq!(store.dead_letters(10).await.unwrap().len(), 1);

    fixed.store(1, SeqCst);
    store.requeue("k", f.clock.now()).await.unwrap();
    assert_eq!(w.run_once().await.unwrap(), 1);
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Succeeded);
    let outcomes: Vec<_> = status.history.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Stopped(StopReason::Terminal),
            AttemptOutcome::Succeeded
        ]
    );
}

#[tokio::test]
async fn a_panicking_handler_fails_its_attempt_and_the_worker_goes_on() {
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "boom").await;
    submit(&f, &store, "fine").await;
    let handler = Handler::new(|job: Delivery| async move {
        if job.key == "boom" && job.attempt == 1 {
            panic!("payload was not JSON");
        }
        Ok::<_, String>(())
    })
    .policy(Fixed::new(SEC));
    let w = worker(&f, store.clone(), handler);
    assert_eq!(w.run_once().await.unwrap(), 2);
    let boom = store.status("boom").await.unwrap().unwrap();
    assert_eq!(boom.state, JobState::Pending);
    assert_eq!(
        boom.history[0].error.as_deref(),
        Some("handler panicked: payload was not JSON")
    );
    assert_eq!(boom.history[0].outcome, AttemptOutcome::Retrying);
    assert_eq!(
        store.status("fine").await.unwrap().unwrap().state,
        JobState::Succeeded
    );
    f.clock.advance(SEC);
    assert_eq!(w.run_once().await.unwrap(), 1);
    assert_eq!(
        store.status("boom").await.unwrap().unwrap().state,
        JobState::Succeeded
    );
}

#[tokio::test]
async fn a_clock_set_back_never_runs_a_job_early_nor_breaks_the_history() {
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "k").await;
    let w = worker(
        &f,
        store.clone(),
        always_failing(Fixed::new(60 * SEC).with_max_attempts(4)),
    );
    assert_eq!(w.run_once().await.unwrap(), 1);
    // Set back an hour: nothing is due, for this worker or a fresh one.
    f.clock.set(support::start() - 3600 * SEC);
    assert_eq!(w.run_once().await.unwrap(), 0);
    let fresh = worker(&f, f.open(), always_failing(Fixed::new(60 * SEC)));
    assert_eq!(fresh.run_once().await.unwrap(), 0);
    // The clock comes back to the due time.
    f.clock.set(support::start() + 60 * SEC);
    assert_eq!(w.run_once().await.unwrap(), 1);
    // Due at start + 120 s. The clock reads start + 120 s once, then is set
    // back: this worker keeps the latest time it read, so the job it saw
    // due is run, and its history still moves forward.
    f.clock.set(support::start() + 120 * SEC);
    let _ = w.run_once().await.unwrap(); // reads the time, runs attempt 3
    f.clock.set(support::start());
    let fresh = worker(&f, f.open(), always_failing(Fixed::new(60 * SEC)));
    assert_eq!(fresh.run_once().await.unwrap(), 0, "due at start + 180 s");
    let history = store.status("k").await.unwrap().unwrap().history;
    assert_eq!(history.len(), 3);
    for pair in history.windows(2) {
        assert!(pair[0].ended_at <= pair[1].started_at);
    }
    // Attempt 3 ended at start + 120 s by this worker's clock, though the
    // clock now reads start: the next attempt is due 60 s after that.
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.next_at, Some(support::start() + 180 * SEC));
}

#[tokio::test]
async fn within_a_worker_time_never_goes_back() {
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "k").await;
    // No delay between attempts: each is due when the previous one ended.
    let w = worker(
        &f,
        store.clone(),
        always_failing(Fixed::new(Duration::ZERO).with_max_attempts(3)),
    );
    assert_eq!(w.run_once().await.unwrap(), 1);
    f.clock.set(support::start() - 3600 * SEC);
    // A fresh worker reads the clock as it is: the job is not due yet.
    let fresh = worker(&f, f.open(), always_failing(Fixed::new(Duration::ZERO)));
    assert_eq!(fresh.run_once().await.unwrap(), 0);
    // This worker read `start` before, and keeps it.
    assert_eq!(w.run_once().await.unwrap(), 1);
    let history = store.status("k").await.unwrap().unwrap().history;
    assert_eq!(history[1].started_at, support::start());
}

#[tokio::test]
async fn a_refusing_budget_dead_letters_with_its_reason() {
    let f = Fixture::new();
    let store = f.open();
    for key in ["a", "b", "c"] {
        submit(&f, &store, key).await;
    }
    // 20 tokens pay for one retry of a transient error (14 each).
    let handler = always_failing(Fixed::new(SEC)).budget(TokenBucket::new().with_capacity(20));
    let w = Worker::builder(store.clone())
        .clock(f.clock.clone())
        .concurrency(1)
        .handler("job", handler)
        .build()
        .unwrap();
    for _ in 0..3 {
        assert_eq!(w.run_once().await.unwrap(), 1);
    }
    let mut reasons = Vec::new();
    for key in ["a", "b", "c"] {
        reasons.push(store.status(key).await.unwrap().unwrap().dead_reason);
    }
    reasons.sort_by_key(|r| r.is_some());
    assert_eq!(
        reasons,
        [
            None,
            Some(StopReason::BudgetExhausted),
            Some(StopReason::BudgetExhausted)
        ]
    );
}

#[tokio::test]
async fn a_cut_attempt_counts_towards_the_cap() {
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "k").await;
    let lease = Duration::from_secs(30);
    // Two claims cut by a "crash": their leases expire unrecorded.
    for _ in 0..2 {
        let kinds = ["job".to_owned()];
        assert_eq!(
            store
                .claim(&kinds, 1, f.clock.now(), lease)
                .await
                .unwrap()
                .len(),
            1
        );
        f.clock.advance(lease);
    }
    let w = worker(
        &f,
        store.clone(),
        always_failing(Fixed::new(SEC).with_max_attempts(2)),
    );
    assert_eq!(w.run_once().await.unwrap(), 1);
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.dead_reason, Some(StopReason::AttemptsExhausted));
    let outcomes: Vec<_> = status.history.iter().map(|a| a.outcome).collect();
    assert_eq!(
        outcomes,
        [
            AttemptOutcome::Interrupted,
            AttemptOutcome::Interrupted,
            AttemptOutcome::NotStarted(StopReason::AttemptsExhausted)
        ]
    );
    let _ = RetryKind::Timeout;
}

#[tokio::test]
async fn one_slow_attempt_does_not_hold_up_the_others() {
    let f = Fixture::new();
    let store = f.open();
    for i in 0..20 {
        submit(&f, &store, &format!("j{i}")).await;
    }
    let (release, wait) = tokio::sync::watch::channel(false);
    let handler = Handler::new(move |job: Delivery| {
        let mut wait = wait.clone();
        async move {
            if job.key == "j0" {
                let _ = tokio::time::timeout(Duration::from_secs(10), wait.wait_for(|r| *r)).await;
            }
            Ok::<_, String>(())
        }
    });
    let w = Worker::builder(store.clone())
        .clock(f.clock.clone())
        .concurrency(2)
        .batch(2)
        .poll_interval(Duration::from_millis(2))
        .handler("job", handler)
        .build()
        .unwrap();
    let watched = store.clone();
    let stop = async move {
        for _ in 0..2000 {
            let counts = watched.counts().await.unwrap();
            if counts.succeeded == 19 {
                let _ = release.send(true);
                return;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        panic!("the other 19 jobs did not finish while j0 was slow");
    };
    tokio::time::timeout(Duration::from_secs(20), w.run(stop))
        .await
        .unwrap();
    assert_eq!(store.counts().await.unwrap().succeeded, 20);
}

#[tokio::test]
async fn dropping_a_running_worker_cancels_its_attempts() {
    use std::sync::atomic::AtomicBool;
    struct SetOnDrop(Arc<AtomicBool>);
    impl Drop for SetOnDrop {
        fn drop(&mut self) {
            self.0.store(true, SeqCst);
        }
    }
    let f = Fixture::new();
    let store = f.open();
    submit(&f, &store, "k").await;
    let (started, mut running) = tokio::sync::mpsc::channel(1);
    let dropped = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&dropped);
    let handler = Handler::new(move |_: Delivery| {
        let guard = SetOnDrop(Arc::clone(&flag));
        let started = started.clone();
        async move {
            let _guard = guard;
            let _ = started.send(()).await;
            std::future::pending::<()>().await;
            Ok::<_, String>(())
        }
    });
    let w = worker(&f, store.clone(), handler);
    let run = w.run(std::future::pending());
    tokio::select! {
        () = run => unreachable!("runs until dropped"),
        _ = tokio::time::timeout(Duration::from_secs(10), running.recv()) => {}
    }
    // `run` is dropped here, with the attempt in flight.
    for _ in 0..200 {
        if dropped.load(SeqCst) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert!(dropped.load(SeqCst), "the attempt's future was not dropped");
    let status = store.status("k").await.unwrap().unwrap();
    assert_eq!(status.state, JobState::Running, "left to its lease");
}
