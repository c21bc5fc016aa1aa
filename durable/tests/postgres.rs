//! What only the PostgreSQL store does: submits inside the caller's
//! transaction, migrations, and a server stopped and restarted in the
//! middle of a run. Skipped, with a printed notice, when
//! `PERSEVERE_DURABLE_POSTGRES_URL` is not set (`.ci/postgres` sets it,
//! and `PERSEVERE_DURABLE_POSTGRES_CTL` for the restart).

mod pg;

use persevere::{Classification, Exponential, Fixed, RetryPolicyExt};
use persevere_durable::{
    Clock, Delivery, Error, Handler, JobState, NewJob, PostgresStore, Store, SystemClock, Worker,
};
use std::collections::HashMap;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[tokio::test]
async fn a_job_submitted_in_a_transaction_exists_only_if_it_commits() {
    let Some(url) = pg::url("outbox") else { return };
    let schema = pg::fresh_schema(&url).await;
    let store = pg::open(&url, &schema, 2).await;
    let now = SystemClock.now();
    let mut client = store.client().await.unwrap();
    client
        .batch_execute("CREATE TABLE orders (id TEXT PRIMARY KEY)")
        .await
        .unwrap();
    for (key, commit) in [("rolled-back", false), ("committed", true)] {
        let tx = client.transaction().await.unwrap();
        tx.execute("INSERT INTO orders (id) VALUES ($1)", &[&key])
            .await
            .unwrap();
        let job = NewJob::new(key, "webhook", vec![]);
        let submitted = PostgresStore::submit_in(&tx, job, now).await.unwrap();
        assert!(submitted.is_created());
        // Not visible to others before the commit.
        assert_eq!(store.status(key).await.unwrap(), None);
        if commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
    }
    assert_eq!(store.status("rolled-back").await.unwrap(), None);
    let job = store.status("committed").await.unwrap().expect("committed");
    assert_eq!(job.state, JobState::Pending);
    let orders = client.query("SELECT id FROM orders", &[]).await.unwrap();
    assert_eq!(orders.len(), 1);
}

#[tokio::test]
async fn migrations_are_recorded_once_and_a_newer_schema_is_refused() {
    let Some(url) = pg::url("migrations") else {
        return;
    };
    let schema = pg::fresh_schema(&url).await;
    // Four processes start at once: one migrates, the others wait for it.
    let opens = (0..4).map(|_| {
        let (url, schema) = (url.clone(), schema.clone());
        tokio::spawn(async move { pg::open(&url, &schema, 1).await })
    });
    for open in opens.collect::<Vec<_>>() {
        open.await.unwrap();
    }
    let store = pg::open(&url, &schema, 1).await;
    let client = store.client().await.unwrap();
    let rows = client
        .query("SELECT version FROM persevere_durable_schema", &[])
        .await
        .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, i32>(0), 1);
    client
        .execute("UPDATE persevere_durable_schema SET version = 99", &[])
        .await
        .unwrap();
    drop(client); // back to the pool of one, for the migration
    let err = store.migrate().await.unwrap_err();
    assert!(
        matches!(
            err,
            Error::SchemaTooNew {
                found: 99,
                supported: 1
            }
        ),
        "{err}"
    );
}

/// Runs `.ci/postgres`'s control script: `stop` or `start`.
fn server(ctl: &str, action: &str) {
    let status = Command::new(ctl)
        .arg(action)
        .status()
        .expect("run the control script");
    assert!(status.success(), "{ctl} {action}: {status}");
}

const JOBS: usize = 200;
const LATE_JOBS: usize = 50;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_restarted_mid_run_loses_nothing() {
    let Some(url) = pg::url("restart") else {
        return;
    };
    let Ok(ctl) = std::env::var("PERSEVERE_DURABLE_POSTGRES_CTL") else {
        println!(
            "skipped restart: PERSEVERE_DURABLE_POSTGRES_CTL is not set (.ci/postgres sets it)"
        );
        return;
    };
    let schema = pg::fresh_schema(&url).await;
    let store = pg::open(&url, &schema, 8).await;
    for i in 0..JOBS {
        let job = NewJob::new(format!("job-{i:04}"), "job", vec![]);
        store.submit(job, SystemClock.now()).await.unwrap();
    }
    // Each job fails once, then succeeds; every delivery is counted.
    let seen: Arc<Mutex<HashMap<String, u32>>> = Arc::default();
    let handler = {
        let seen = Arc::clone(&seen);
        Handler::new(move |job: Delivery| {
            *seen.lock().unwrap().entry(job.key.clone()).or_default() += 1;
            async move {
                tokio::time::sleep(Duration::from_millis(5)).await;
                if job.round_attempt == 1 {
                    Err("503")
                } else {
                    Ok(())
                }
            }
        })
        .policy(Fixed::new(Duration::from_millis(20)).with_max_attempts(20))
    };
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut runs = Vec::new();
    for _ in 0..2 {
        let worker = Worker::builder(pg::open(&url, &schema, 4).await)
            .concurrency(4)
            .lease(Duration::from_millis(1500))
            .poll_interval(Duration::from_millis(10))
            .handler("job", handler.clone())
            .build()
            .unwrap();
        let mut stopped = stopped.clone();
        runs.push(tokio::spawn(async move {
            worker
                .run(async move {
                    let _ = stopped.wait_for(|s| *s).await;
                })
                .await;
        }));
    }
    // Stop the server once the work is under way.
    let started = Instant::now();
    while seen.lock().unwrap().len() < JOBS / 4 && started.elapsed() < Duration::from_secs(30) {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let ctl2 = ctl.clone();
    tokio::task::spawn_blocking(move || server(&ctl2, "stop"))
        .await
        .unwrap();
    let before = seen.lock().unwrap().values().sum::<u32>();
    println!("restart: server stopped after {before} deliveries");

    // While it is down, a submit is a typed error, never a silent drop.
    let job = NewJob::new("while-down", "job", vec![]);
    let err = store.submit(job, SystemClock.now()).await.unwrap_err();
    assert!(matches!(err, Error::Unavailable(_)), "{err}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    tokio::task::spawn_blocking(move || server(&ctl, "start"))
        .await
        .unwrap();

    // The caller retries its submits with a persevere policy of its own.
    for i in 0..LATE_JOBS {
        let key = format!("late-{i:04}");
        persevere::retry(|| store.submit(NewJob::new(&key, "job", vec![]), SystemClock.now()))
            .policy(
                Exponential::new()
                    .with_max_attempts(20)
                    .with_deadline(Duration::from_secs(30)),
            )
            .classify(|e: &Error| match e {
                Error::Unavailable(_) => Classification::transient(),
                _ => Classification::terminal(),
            })
            .await
            .expect("submitted once the server is back");
    }

    // Everything finishes: bounded at 60 s.
    let started = Instant::now();
    let mut done = false;
    while started.elapsed() < Duration::from_secs(60) {
        let counts = store.counts().await;
        if matches!(counts, Ok(c) if c.succeeded as usize == JOBS + LATE_JOBS) {
            done = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    for run in runs {
        run.await.unwrap();
    }
    assert!(done, "not every job succeeded: {:?}", store.counts().await);
    assert_eq!(store.status("while-down").await.unwrap(), None);
    let mut cut = 0;
    for key in (0..JOBS)
        .map(|i| format!("job-{i:04}"))
        .chain((0..LATE_JOBS).map(|i| format!("late-{i:04}")))
    {
        let job = store.status(&key).await.unwrap().expect("no job lost");
        assert_eq!(job.state, JobState::Succeeded, "{job:?}");
        let numbers: Vec<u32> = job.history.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, (1..=job.attempts).collect::<Vec<_>>(), "{job:?}");
        cut += job
            .history
            .iter()
            .filter(|a| a.outcome == persevere_durable::AttemptOutcome::Interrupted)
            .count();
        let delivered = seen.lock().unwrap().get(&key).copied().unwrap_or(0);
        assert!(delivered >= 2, "{key}: delivered {delivered} times");
    }
    let total = seen.lock().unwrap().values().sum::<u32>();
    println!(
        "restart: {} jobs succeeded after the restart; {total} deliveries, {cut} attempts cut by it",
        JOBS + LATE_JOBS
    );
}
