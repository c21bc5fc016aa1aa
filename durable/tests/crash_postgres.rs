//! Two worker processes share one PostgreSQL database: 1,000 jobs, 16
//! concurrent attempts in all (8 in each process), one process SIGKILLed at
//! random points and started again, several times. No job is lost, each
//! ends as its script says, no attempt is delivered to both processes,
//! and a side effect done twice is only ever one of an attempt cut by a
//! kill. Skipped, with a printed notice, when
//! `PERSEVERE_DURABLE_POSTGRES_URL` is not set.
//!
//! The worker is `tests/bin/crash_worker.rs` (lease 300 ms, concurrency 8
//! with batches of 16) on a `postgres://` URL.

mod pg;

use persevere::StopReason;
use persevere_durable::{AttemptOutcome, Clock, JobState, NewJob, Store, SystemClock};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const JOBS: usize = 1000;
const KILLS: usize = 3;

fn worker(mode: &str, url: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_persevere-durable-crash-worker"))
        .args([mode, url])
        .arg(log)
        .spawn()
        .expect("start the worker process")
}

/// How the job numbered `i` must end (see the worker's script).
fn expected(i: usize) -> (JobState, Option<StopReason>) {
    match i % 10 {
        0 => (JobState::DeadLettered, Some(StopReason::Terminal)),
        1 => (JobState::DeadLettered, Some(StopReason::AttemptsExhausted)),
        _ => (JobState::Succeeded, None),
    }
}

/// Waits for `child` to exit, at most `limit`, and says if it succeeded.
fn wait(child: &mut Child, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    false
}

#[test]
fn two_processes_share_the_jobs_and_a_killed_one_loses_nothing() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let Some(url) = pg::url("two processes") else {
        return;
    };
    let schema = rt.block_on(pg::fresh_schema(&url));
    let sep = if url.contains('?') { '&' } else { '?' };
    let worker_url = format!("{url}{sep}options=-csearch_path%3D{schema}");
    let store = rt.block_on(pg::open(&url, &schema, 4));
    rt.block_on(async {
        for i in 0..JOBS {
            let kind = if i % 10 == 1 { "exhaust" } else { "script" };
            let job = NewJob::new(format!("job-{i:04}"), kind, vec![]);
            assert!(
                store
                    .submit(job, SystemClock.now())
                    .await
                    .unwrap()
                    .is_created()
            );
        }
    });
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("deliveries.log");
    let seed = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    println!("processes: seed {seed}");

    // One process runs throughout; the other is killed and started again.
    let mut steady = worker("run", &worker_url, &log);
    for k in 0..KILLS as u64 {
        let mut victim = worker("run", &worker_url, &log);
        std::thread::sleep(Duration::from_millis(400 + (seed >> (k * 8)) % 400));
        victim.kill().expect("SIGKILL");
        victim.wait().unwrap();
    }
    steady.kill().expect("SIGKILL");
    steady.wait().unwrap();
    // Two fresh processes finish the work together (each gives up after
    // 60 s; killed after 90).
    let mut a = worker("finish", &worker_url, &log);
    let mut b = worker("finish", &worker_url, &log);
    assert!(
        wait(&mut a, Duration::from_secs(90)),
        "the first finisher failed"
    );
    assert!(
        wait(&mut b, Duration::from_secs(90)),
        "the second finisher failed"
    );

    let text = std::fs::read_to_string(&log).unwrap();
    let mut started: HashSet<(String, u32)> = HashSet::new();
    let mut succeeded: HashMap<String, Vec<u32>> = HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let (key, attempt) = (fields[1].to_owned(), fields[2].parse::<u32>().unwrap());
        match fields[0] {
            "S" => assert!(started.insert((key, attempt)), "{line}: delivered twice"),
            "O" => succeeded.entry(key).or_default().push(attempt),
            other => panic!("bad log line {other:?}"),
        }
    }
    let counts = rt.block_on(store.counts()).unwrap();
    assert_eq!(counts.total(), JOBS as u64);
    assert!(counts.is_idle(), "{counts:?}");
    let mut cut = 0;
    let mut duplicates = 0;
    for i in 0..JOBS {
        let job = rt
            .block_on(store.status(&format!("job-{i:04}")))
            .unwrap()
            .expect("no job lost");
        assert_eq!((job.state, job.dead_reason), expected(i), "{job:?}");
        let numbers: Vec<u32> = job.history.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, (1..=job.attempts).collect::<Vec<_>>(), "{job:?}");
        for attempt in &job.history {
            let ran = started.contains(&(job.key.clone(), attempt.attempt));
            match attempt.outcome {
                AttemptOutcome::Interrupted => cut += 1,
                AttemptOutcome::NotStarted(_) => assert!(!ran, "{}: ran", job.key),
                _ => assert!(
                    ran,
                    "{} attempt {}: never delivered",
                    job.key, attempt.attempt
                ),
            }
        }
        let oks = succeeded.get(&job.key).cloned().unwrap_or_default();
        for &attempt in &oks {
            let outcome = job.history[attempt as usize - 1].outcome;
            let last = job.state == JobState::Succeeded && attempt == job.attempts;
            assert!(
                last || outcome == AttemptOutcome::Interrupted,
                "{} attempt {attempt} succeeded but is recorded as {outcome:?}",
                job.key
            );
        }
        duplicates += oks.len().saturating_sub(1);
    }
    println!(
        "processes: {KILLS} kills; {cut} attempts cut; {duplicates} duplicate successful \
         deliveries, all of cut attempts; {} deliveries in all",
        started.len()
    );
    assert!(
        cut > 0,
        "no kill landed mid-attempt: the test proved nothing"
    );
}
