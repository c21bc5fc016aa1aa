//! 500 retrying calls at once on one thread against a server that fails each
//! request key twice: their retries interleave instead of queueing.

mod support;

use persevere::{Fixed, RetryEvent, RetryKind, RetryPolicyExt};
use std::time::Duration;
use support::{Fault, Script, Server, raw};
use tokio::task::JoinSet;

const CALLS: usize = 500;

#[tokio::test(flavor = "current_thread", start_paused = true)]
async fn five_hundred_concurrent_calls_finish_in_about_one_schedule() {
    let server = Server::start(Script::per_key(
        [Fault::Status(503), Fault::Status(500)],
        3 * CALLS,
    ));
    let addr = server.addr();
    let delay = Duration::from_millis(100);
    let start = tokio::time::Instant::now();
    let mut calls = JoinSet::new();
    for key in 0..CALLS {
        calls.spawn(async move {
            let path = format!("/{key}");
            let mut history = Vec::new();
            let result = persevere::retry(|| raw::get_ok(addr, &path))
                .policy(Fixed::new(delay).with_max_attempts(4))
                .classify(raw::classify)
                .notify(|e: &RetryEvent<'_, raw::Failure>| {
                    let status = match e.error() {
                        Some(raw::Failure::Status(r)) => r.status,
                        other => panic!("{other:?}"),
                    };
                    history.push((e.attempt(), status, e.classification().kind(), e.delay()));
                })
                .await;
            (key, result.map(|r| r.body), history)
        });
    }
    let mut done = 0;
    while let Some(joined) = calls.join_next().await {
        let (key, body, history) = joined.unwrap();
        // Each result is matched to its own key.
        assert_eq!(body.unwrap(), format!("/{key}"));
        assert_eq!(
            history,
            [
                (1, 503, Some(RetryKind::Throttled), delay),
                (2, 500, Some(RetryKind::Transient), delay)
            ]
        );
        done += 1;
    }
    assert_eq!(done, CALLS);
    // One call sleeps 200 ms; 500 calls one after another would take 100 s.
    let took = start.elapsed();
    assert!(took >= 2 * delay && took < 4 * delay, "{took:?}");
    assert_eq!(server.requests(), 3 * CALLS);
    assert!((0..CALLS).all(|key| server.requests_for(&format!("/{key}")) == 3));
}
