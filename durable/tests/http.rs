//! 1,000 webhook deliveries against a flaky HTTP server on 127.0.0.1
//! (resets with linger 0, 503 with `Retry-After`, 404), with 8 concurrent
//! attempts: the server sees each key's attempts no earlier than the policy
//! and `Retry-After` allow, each 404 once, and each key's history matches
//! what the server did.
//!
//! Time is a shared controlled clock that a task moves forward, so the
//! `Retry-After` waits cost no real seconds.

mod support;

use persevere::{Fixed, RetryKind, RetryPolicyExt, StopReason};
use persevere_durable::{
    AttemptOutcome, Clock, Delivery, Handler, JobState, NewJob, Store, Worker,
};
use std::sync::Arc;
use std::time::Duration;
use support::Fixture;
use support::http::{Plan, Reply, Server, classify, post};

const JOBS: usize = 1000;
const DELAY: Duration = Duration::from_millis(200);

fn plan(key: &str) -> Vec<Reply> {
    let i: usize = key.trim_start_matches("hook-").parse().unwrap();
    match i % 5 {
        0 => vec![Reply::Status(404)],
        1 => vec![Reply::Reset, Reply::RetryAfter(503, 1)],
        2 => vec![Reply::RetryAfter(503, 2)],
        3 => vec![Reply::Reset],
        _ => vec![],
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_webhooks_against_a_flaky_server() {
    let f = Fixture::new();
    let clock: Arc<dyn Clock> = Arc::new(f.clock.clone());
    let script: Plan = Arc::new(plan);
    let server = Server::start(script, Arc::clone(&clock), DELAY).await;
    let addr = server.addr();
    let store = f.open();
    for i in 0..JOBS {
        // Spread over 2 s, so that retries interleave with first attempts
        // and an early retry would be seen early.
        let due = support::start() + Duration::from_millis(2 * i as u64);
        let job = NewJob::new(format!("hook-{i:04}"), "webhook", b"{\"event\":1}".to_vec())
            .not_before(due);
        store.submit(job, f.clock.now()).await.unwrap();
    }
    let handler = Handler::with_classifier(
        move |job: Delivery| async move { post(addr, &job.key, &job.payload).await },
        classify,
    )
    .policy(Fixed::new(DELAY).with_max_attempts(5));
    let worker = Worker::builder(store.clone())
        .clock(f.clock.clone())
        .concurrency(8)
        .batch(8)
        .lease(Duration::from_secs(3600))
        .poll_interval(Duration::from_millis(1))
        .handler("webhook", handler)
        .build()
        .unwrap();

    // Move the shared clock 5 ms every real millisecond, until every job
    // is done (bounded: 30 s of real time).
    let watched = store.clone();
    let moving = f.clock.clone();
    let done = async move {
        let real = tokio::time::Instant::now();
        while real.elapsed() < Duration::from_secs(30) {
            for _ in 0..20 {
                tokio::time::sleep(Duration::from_millis(1)).await;
                moving.advance(Duration::from_millis(5));
            }
            if watched.counts().await.unwrap().is_idle() {
                return;
            }
        }
        panic!("the deliveries did not finish in 30 s");
    };
    worker.run(done).await;

    let seen = server.seen();
    let mut attempts = 0;
    for i in 0..JOBS {
        let key = format!("hook-{i:04}");
        let status = store.status(&key).await.unwrap().unwrap();
        let requests = &seen[&key];
        attempts += requests.len();
        let planned = plan(&key);
        let expected_requests = if i % 5 == 0 { 1 } else { planned.len() + 1 };
        assert_eq!(requests.len(), expected_requests, "{key}: {requests:?}");
        assert_eq!(status.history.len(), requests.len(), "{key}: {status:?}");
        for pair in requests.windows(2) {
            assert!(
                pair[1].at >= pair[0].next_allowed,
                "{key} came early: {requests:?}"
            );
        }
        for (request, attempt) in requests.iter().zip(&status.history) {
            assert_eq!(request.idempotency_key.as_deref(), Some(key.as_str()));
            let kind = attempt.classification.and_then(|c| c.kind());
            match request.reply {
                Reply::Reset => {
                    assert_eq!(attempt.outcome, AttemptOutcome::Retrying, "{key}");
                    assert_eq!(
                        (kind, attempt.delay),
                        (Some(RetryKind::Transient), Some(DELAY))
                    );
                }
                Reply::RetryAfter(503, secs) => {
                    let asked = Duration::from_secs(secs);
                    assert_eq!(attempt.outcome, AttemptOutcome::Retrying, "{key}");
                    assert_eq!(kind, Some(RetryKind::Throttled));
                    assert_eq!(attempt.classification.unwrap().server_delay(), Some(asked));
                    assert_eq!(attempt.delay, Some(asked), "{key}: Retry-After honoured");
                }
                Reply::Status(404) => {
                    assert_eq!(
                        attempt.outcome,
                        AttemptOutcome::Stopped(StopReason::Terminal)
                    );
                    assert_eq!(attempt.error.as_deref(), Some("HTTP 404"));
                }
                Reply::Status(200) => assert_eq!(attempt.outcome, AttemptOutcome::Succeeded),
                other => panic!("unplanned reply {other:?}"),
            }
        }
        let state = if i % 5 == 0 {
            JobState::DeadLettered
        } else {
            JobState::Succeeded
        };
        assert_eq!(status.state, state, "{key}");
    }
    println!("{JOBS} jobs, {attempts} requests, none early");
}
