//! The crash test, with real processes: a worker process is SIGKILLed at
//! random points, several times, while jobs are mid-attempt and mid-wait;
//! a fresh process finishes the work. Over 1,000 jobs, none is lost, each
//! ends as its script says, duplicate deliveries are only attempts cut by a
//! kill, and the jobs a killed process held are claimed again within one
//! lease period of its death.
//!
//! The worker is `tests/bin/crash_worker.rs`; its lease is 300 ms.

use persevere::StopReason;
use persevere_durable::{AttemptOutcome, Clock, JobState, NewJob, SqliteStore, Store, SystemClock};
use std::collections::{HashMap, HashSet};
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const JOBS: usize = 1000;
const KILLS: usize = 5;
/// The worker's lease (see the worker binary) and poll interval.
const LEASE: Duration = Duration::from_millis(300);
const POLL: Duration = Duration::from_millis(10);
/// Slack for a process to start and open the store, on a loaded machine.
const SLACK: Duration = Duration::from_secs(1);

fn worker(mode: &str, db: &std::path::Path, log: &std::path::Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_persevere-durable-crash-worker"))
        .args([mode.as_ref(), db.as_os_str(), log.as_os_str()])
        .spawn()
        .expect("start the worker process")
}

/// A small deterministic generator, seeded from the clock and printed, so
/// that a failing run can be repeated with `CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn micros(t: SystemTime) -> u128 {
    t.duration_since(UNIX_EPOCH).unwrap().as_micros()
}

/// How the job numbered `i` must end (see the worker's script).
fn expected(i: usize) -> (JobState, Option<StopReason>) {
    match i % 10 {
        0 => (JobState::DeadLettered, Some(StopReason::Terminal)),
        1 => (JobState::DeadLettered, Some(StopReason::AttemptsExhausted)),
        _ => (JobState::Succeeded, None),
    }
}

#[test]
fn killed_workers_lose_nothing_and_recover_within_a_lease() {
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| micros(SystemTime::now()) as u64 | 1);
    println!("CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let log = dir.path().join("deliveries.log");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();

    let store = SqliteStore::open(&db).unwrap();
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

    // Kill a worker process at a random point, several times over.
    let mut kills = Vec::new();
    for _ in 0..KILLS {
        let mut child = worker("run", &db, &log);
        // Each process lives longer than a lease, so that the jobs the previous
        // one held are claimed again by this one.
        std::thread::sleep(Duration::from_millis(400 + rng.below(500)));
        child.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        child.wait().unwrap();
        kills.push(SystemTime::now());
    }

    // A fresh process finishes the work (bounded: it gives up after 60 s,
    // and is killed after 90).
    let mut last = worker("finish", &db, &log);
    let started = Instant::now();
    let status = loop {
        if let Some(status) = last.try_wait().unwrap() {
            break status;
        }
        if started.elapsed() > Duration::from_secs(90) {
            last.kill().unwrap();
            panic!("the last worker did not finish in 90 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(status.success(), "the last worker ended with {status}");

    // What the handlers saw: attempts started, and side effects done.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut started_attempts: HashSet<(String, u32)> = HashSet::new();
    let mut succeeded: HashMap<String, Vec<u32>> = HashMap::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        let key = fields[1].to_owned();
        let attempt: u32 = fields[2].parse().unwrap();
        match fields[0] {
            "S" => assert!(
                started_attempts.insert((key, attempt)),
                "{line}: delivered twice"
            ),
            "O" => succeeded.entry(key).or_default().push(attempt),
            other => panic!("bad log line {other:?}"),
        }
    }

    let statuses = rt.block_on(async {
        let mut all = Vec::new();
        for i in 0..JOBS {
            all.push(
                store
                    .status(&format!("job-{i:04}"))
                    .await
                    .unwrap()
                    .expect("no job lost"),
            );
        }
        all
    });
    let counts = rt.block_on(store.counts()).unwrap();
    assert_eq!(counts.total(), JOBS as u64);
    assert!(counts.is_idle(), "{counts:?}");

    let mut interrupted = 0;
    let mut duplicates = 0;
    let mut recovery = [Duration::ZERO; KILLS];
    let mut held = [0; KILLS];
    for (i, job) in statuses.iter().enumerate() {
        let (state, reason) = expected(i);
        assert_eq!((job.state, job.dead_reason), (state, reason), "{job:?}");
        let numbers: Vec<u32> = job.history.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, (1..=job.attempts).collect::<Vec<_>>(), "{job:?}");
        for (n, attempt) in job.history.iter().enumerate() {
            let ran = started_attempts.contains(&(job.key.clone(), attempt.attempt));
            match attempt.outcome {
                // Cut by a kill: the handler may or may not have started.
                AttemptOutcome::Interrupted => {
                    interrupted += 1;
                    // Which kill held it, and when the job was claimed again.
                    let k = kills
                        .iter()
                        .position(|&kill| attempt.started_at <= kill)
                        .expect("a cut attempt was claimed before some kill");
                    let next = &job.history[n + 1];
                    assert!(
                        next.started_at >= attempt.ended_at,
                        "{}: claimed again before its lease expired",
                        job.key
                    );
                    let after = next.started_at.duration_since(kills[k]).unwrap_or_default();
                    recovery[k] = recovery[k].max(after);
                    held[k] += 1;
                }
                AttemptOutcome::NotStarted(_) => {
                    assert!(!ran, "{}: an attempt recorded as not started ran", job.key)
                }
                _ => assert!(
                    ran,
                    "{} attempt {}: recorded but never delivered",
                    job.key, attempt.attempt
                ),
            }
        }
        // A side effect done twice is only ever one cut by a kill.
        let oks = succeeded.get(&job.key).cloned().unwrap_or_default();
        for &attempt in &oks {
            let record = &job.history[attempt as usize - 1];
            let last = job.state == JobState::Succeeded && attempt == job.attempts;
            assert!(
                last || record.outcome == AttemptOutcome::Interrupted,
                "{} attempt {attempt} succeeded but is recorded as {:?}",
                job.key,
                record.outcome
            );
        }
        duplicates += oks.len().saturating_sub(1);
        if state == JobState::Succeeded {
            assert!(!oks.is_empty(), "{}: succeeded without a delivery", job.key);
        }
    }

    println!(
        "{KILLS} kills; {interrupted} attempts cut; {duplicates} duplicate successful deliveries, \
         all of cut attempts"
    );
    for k in 0..KILLS {
        println!(
            "kill {k}: {} jobs held; claimed again at most {:?} after the kill (lease {LEASE:?})",
            held[k], recovery[k]
        );
        assert!(
            recovery[k] <= LEASE + POLL + SLACK,
            "kill {k}: recovery took {:?}",
            recovery[k]
        );
    }
    assert!(
        interrupted > 0,
        "no kill landed mid-attempt: the test proved nothing"
    );
}

#[test]
fn two_processes_share_one_store_and_never_run_an_attempt_twice() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("jobs.db");
    let log = dir.path().join("deliveries.log");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let store = SqliteStore::open(&db).unwrap();
    rt.block_on(async {
        for i in 0..JOBS {
            let kind = if i % 10 == 1 { "exhaust" } else { "script" };
            let job = NewJob::new(format!("job-{i:04}"), kind, vec![]);
            store.submit(job, SystemClock.now()).await.unwrap();
        }
    });
    let mut workers = [worker("finish", &db, &log), worker("finish", &db, &log)];
    let started = Instant::now();
    for w in &mut workers {
        let status = loop {
            if let Some(status) = w.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > Duration::from_secs(90) {
                let _ = w.kill();
                panic!("a worker did not finish in 90 s");
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(status.success(), "a worker ended with {status}");
    }
    // Each delivery is logged with the worker's attempt; none twice, and
    // with no kill, every success once.
    let text = std::fs::read_to_string(&log).unwrap();
    let mut starts = HashSet::new();
    let mut oks = HashSet::new();
    let mut pids = HashSet::new();
    for line in text.lines() {
        let fields: Vec<&str> = line.split(' ').collect();
        if fields[0] == "S" {
            pids.insert(fields[4].to_owned());
        }
        let set = if fields[0] == "S" {
            &mut starts
        } else {
            &mut oks
        };
        assert!(
            set.insert((fields[1].to_owned(), fields[2].to_owned())),
            "{line} twice"
        );
    }
    let counts = rt.block_on(store.counts()).unwrap();
    assert!(counts.is_idle(), "{counts:?}");
    assert_eq!(oks.len() as u64, counts.succeeded);
    for i in 0..JOBS {
        let job = rt
            .block_on(store.status(&format!("job-{i:04}")))
            .unwrap()
            .unwrap();
        assert_eq!((job.state, job.dead_reason), expected(i), "{job:?}");
        assert!(
            job.history
                .iter()
                .all(|a| a.outcome != AttemptOutcome::Interrupted)
        );
    }
    assert_eq!(pids.len(), 2, "both processes delivered");
    println!("2 processes, {} deliveries, none twice", starts.len());
}
