//! The SQS server fails mid-run: a moto process of the test's own is
//! killed while a worker runs, and started again on the same port.
//! Submits and records fail with `Error::Unavailable` while it is down
//! (never a silent drop); the worker backs off and carries on; moto kept
//! its queues in memory, so the store creates them again and the jobs
//! submitted after the restart all run. Needs the Python that runs moto in
//! `PERSEVERE_DURABLE_SQS_PYTHON` (`.ci/sqs` sets it); skipped, with a
//! printed notice, without it.

mod sqs_support;

use persevere::Fixed;
use persevere_durable::{
    AttemptOutcome, AttemptRecord, Clock, Delivery, Error, Handler, NewJob, Next, Store,
    SystemClock, Worker,
};
use std::collections::HashMap;
use std::process::Stdio;
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const PYTHON_VAR: &str = "PERSEVERE_DURABLE_SQS_PYTHON";

/// A moto process, killed when dropped.
struct Moto(Child);

impl Moto {
    fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        self.kill();
    }
}

/// moto with a settable clock (on the wall clock unless set), on `port`.
async fn start_moto(python: &str, port: u16) -> Moto {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../.ci/sqs-moto.py");
    let child = Command::new(python)
        .arg(script)
        .arg(port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map(Moto)
        .expect("start moto");
    // Bounded: 30 s of 50 ms polls.
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(30) {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return child;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("moto did not listen on 127.0.0.1:{port} within 30 s");
}

/// Waits (bounded) until `done` holds.
async fn wait_for(what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "timed out waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_server_is_killed_and_restarted_mid_run() {
    let Ok(python) = std::env::var(PYTHON_VAR) else {
        println!("skipped the SQS restart test: {PYTHON_VAR} is not set (bash .ci/sqs runs it)");
        return;
    };
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let endpoint = format!("http://127.0.0.1:{port}");
    let mut moto = start_moto(&python, port).await;
    let store = sqs_support::store(&endpoint, "restart");

    // Each job fails once, then succeeds; every delivery is counted.
    let seen: Arc<Mutex<HashMap<(String, u32), u32>>> = Arc::default();
    let handler = {
        let seen = Arc::clone(&seen);
        Handler::new(move |job: Delivery| {
            *seen
                .lock()
                .unwrap()
                .entry((job.key.clone(), job.attempt))
                .or_default() += 1;
            async move { if job.attempt == 1 { Err("503") } else { Ok(()) } }
        })
        .policy(Fixed::new(Duration::from_millis(1)))
    };
    let worker = Worker::builder(store.clone())
        .concurrency(4)
        .poll_interval(Duration::from_millis(20))
        .handler("job", handler)
        .build()
        .unwrap();
    let (stop, mut stopped) = tokio::sync::watch::channel(false);
    let run = tokio::spawn(async move {
        worker
            .run(async move {
                let _ = stopped.wait_for(|s| *s).await;
            })
            .await;
    });
    let done = |prefix: &str, n: usize| {
        let seen = seen.lock().unwrap();
        (0..n).all(|i| seen.contains_key(&(format!("{prefix}-{i}"), 2)))
    };

    for i in 0..20 {
        let job = NewJob::new(format!("before-{i}"), "job", vec![]);
        store.submit(job, SystemClock.now()).await.unwrap();
    }
    wait_for("the jobs before the restart", || done("before", 20)).await;

    // A job claimed by hand, to record while the server is down.
    let other = sqs_support::store(&endpoint, "restart-hand");
    other
        .submit(NewJob::new("held", "hand", vec![]), SystemClock.now())
        .await
        .unwrap();
    let held = other
        .claim(
            &["hand".into()],
            1,
            SystemClock.now(),
            Duration::from_secs(30),
        )
        .await
        .unwrap()
        .remove(0);

    moto.kill();
    let now = SystemClock.now();
    let refused = store.submit(NewJob::new("lost?", "job", vec![]), now).await;
    assert!(matches!(refused, Err(Error::Unavailable(_))), "{refused:?}");
    let attempt = AttemptRecord {
        attempt: 1,
        started_at: now,
        ended_at: now,
        outcome: AttemptOutcome::Succeeded,
        error: None,
        classification: None,
        delay: None,
    };
    let record = other.record(&held.lease, attempt, Next::Complete).await;
    assert!(matches!(record, Err(Error::Unavailable(_))), "{record:?}");
    // The worker meets refused connections for a while (and backs off).
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!run.is_finished(), "the worker carries on");

    let _moto = start_moto(&python, port).await;
    for i in 0..20 {
        let job = NewJob::new(format!("after-{i}"), "job", vec![]);
        store
            .submit(job, SystemClock.now())
            .await
            .expect("the queue is created again");
    }
    wait_for("the jobs after the restart", || done("after", 20)).await;
    let _ = stop.send(true);
    tokio::time::timeout(Duration::from_secs(30), run)
        .await
        .expect("the worker stops")
        .unwrap();

    let seen = seen.lock().unwrap();
    assert!(
        !seen.keys().any(|(k, _)| k == "lost?"),
        "a refused submit made no job"
    );
    for prefix in ["before", "after"] {
        for i in 0..20 {
            for attempt in [1, 2] {
                let n = seen
                    .get(&(format!("{prefix}-{i}"), attempt))
                    .copied()
                    .unwrap_or(0);
                assert!(n >= 1, "{prefix}-{i} attempt {attempt} ran {n} times");
            }
        }
    }
}
