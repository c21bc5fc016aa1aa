//! Typed payloads (the `serde` feature): JSON in, JSON out, and a payload
//! that does not decode is dead-lettered as terminal at once.

#![cfg(feature = "serde")]

mod support;

use persevere::{Classification, StopReason};
use persevere_durable::{Clock, Delivery, Handler, JobState, NewJob, Store, Worker};
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use support::Fixture;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Hook {
    url: String,
    order: u64,
}

#[derive(Debug)]
enum HookError {
    BadPayload(serde_json::Error),
}

impl std::fmt::Display for HookError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HookError::BadPayload(e) => write!(f, "bad payload: {e}"),
        }
    }
}

#[tokio::test]
async fn a_typed_payload_reaches_the_handler_and_a_bad_one_is_terminal() {
    let f = Fixture::new();
    let store = f.open();
    let hook = Hook {
        url: "http://127.0.0.1:9/hook".into(),
        order: 42,
    };
    store
        .submit(NewJob::json("good", "hook", &hook).unwrap(), f.clock.now())
        .await
        .unwrap();
    store
        .submit(
            NewJob::new("bad", "hook", b"{not json".to_vec()),
            f.clock.now(),
        )
        .await
        .unwrap();
    let received = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&received);
    let handler = Handler::with_classifier(
        move |job: Delivery| {
            let decoded = job.json::<Hook>().map_err(HookError::BadPayload);
            let sink = Arc::clone(&sink);
            async move {
                sink.lock().unwrap().push(decoded?);
                Ok(())
            }
        },
        |e: &HookError| match e {
            HookError::BadPayload(_) => Classification::terminal(),
        },
    );
    let worker = Worker::builder(store.clone())
        .clock(f.clock.clone())
        .handler("hook", handler)
        .build()
        .unwrap();
    assert_eq!(worker.run_once().await.unwrap(), 2);
    assert_eq!(*received.lock().unwrap(), [hook]);
    let bad = store.status("bad").await.unwrap().unwrap();
    assert_eq!(bad.state, JobState::DeadLettered);
    assert_eq!(bad.dead_reason, Some(StopReason::Terminal));
    assert!(
        bad.history[0]
            .error
            .as_deref()
            .unwrap()
            .starts_with("bad payload: ")
    );
}
