//! Two worker processes share one SQS store (on moto): 200 jobs by
//! default (`PERSEVERE_DURABLE_SQS_CRASH_JOBS` sets the count), 8
//! concurrent attempts (4 in each process), one process SIGKILLed at random
//! points and started again, several times; then two fresh processes
//! finish the work. Skipped, with a printed notice, when
//! `PERSEVERE_DURABLE_SQS_ENDPOINT` is not set.
//!
//! The worker is `tests/bin/crash_worker.rs` on the target
//! `sqs+http://HOST:PORT/PREFIX` (lease 5 s: SQS's visibility timeouts
//! are whole seconds, and moto is slow; 4 concurrent attempts in batches
//! of 4). SQS cannot
//! read a job by key, and a succeeded job is deleted, so the test checks
//! through what SQS gives: the dead-letter queue (reasons and histories)
//! for the jobs that must die, the workers' logs (`S`tarted, `O`k and
//! `F`ailed attempts, with the process) for the ones that must succeed,
//! and the kinds' queues, empty at the end (no message visible, in flight
//! or delayed, by `GetQueueAttributes`). No job is lost, each ends as its
//! script says, an attempt left unfinished or cut is only ever one of a
//! killed process, and a side effect is done twice only by such an attempt
//! or in a copy of its job.
//!
//! A copy: the store sends a job's next message before it deletes the
//! claimed one (at least once), so a process killed between the two leaves
//! the job twice, and so does a record whose answer was lost (a timeout on
//! a slow server) and that was sent again; and a standard SQS queue may
//! deliver a message twice. Both copies run to the end of the script
//! (attempts delivered twice, two successes or two dead letters). So the
//! test allows a job one copy for each attempt that failed in a killed
//! process or whose record failed (the worker logs those, `X`), and one if
//! it was delivered twice with neither before (the server's: at most 2,
//! plus 1 per 200 deliveries), and prints how many there were.
//!
//! The workers read the real clock (`SystemClock`), so moto must run on
//! real time: `.ci/sqs-moto.py` keeps the clock an earlier test set (it
//! stops there) until it is told `real`, so the test, holding
//! `sqs_support::serial()`, gives moto back its wall clock first.

mod checks;
#[path = "../sqs_support/mod.rs"]
mod sqs_support;
#[allow(dead_code)] // the worker's module: the test reads only a part of it
#[path = "../bin/sqs_target.rs"]
mod sqs_target;

use checks::{Log, check_dead, check_succeeded, cut_in_the_log};
use persevere_durable::{Clock, NewJob, SqsStore, Store, SystemClock};
use sqs_target::{KINDS, Target};
use std::collections::HashSet;
use std::path::Path;
use std::process::{Child, Command};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The variable that sets the job count.
const JOBS_VAR: &str = "PERSEVERE_DURABLE_SQS_CRASH_JOBS";
/// The job count without it: a minute or less on moto.
const DEFAULT_JOBS: usize = 200;
const KILLS: usize = 3;

fn worker(mode: &str, target: &str, log: &Path) -> Child {
    Command::new(env!("CARGO_BIN_EXE_persevere-durable-crash-worker"))
        .args([mode, target])
        .arg(log)
        .spawn()
        .expect("start the worker process")
}

/// Waits for `child` to exit, at most `limit`, and says if it succeeded.
fn wait(child: &mut Child, limit: Duration) -> bool {
    let started = Instant::now();
    while started.elapsed() < limit {
        if let Some(status) = child.try_wait().unwrap() {
            return status.success();
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    false
}

/// A small deterministic generator, seeded from the clock and printed, so
/// that a failing run's kill times can be repeated with `CRASH_SEED`.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Submits jobs `job-00000`, `job-00001`... (eight at a time).
async fn submit(store: &SqsStore, jobs: usize) {
    for chunk in (0..jobs).collect::<Vec<_>>().chunks(8) {
        let mut sends = tokio::task::JoinSet::new();
        for &i in chunk {
            let store = store.clone();
            let kind = if i % 10 == 1 { "exhaust" } else { "script" };
            let job = NewJob::new(format!("job-{i:05}"), kind, vec![]);
            sends.spawn(async move { store.submit(job, SystemClock.now()).await });
        }
        while let Some(sent) = sends.join_next().await {
            assert!(sent.unwrap().unwrap().is_created());
        }
    }
}

#[test]
fn two_processes_share_the_queues_and_a_killed_one_loses_nothing() {
    let Some(endpoint) = sqs_support::endpoint("two_processes_share_the_queues") else {
        return;
    };
    let jobs: usize = match std::env::var(JOBS_VAR) {
        Ok(n) => n
            .parse()
            .ok()
            .filter(|n| (1..=100_000).contains(n))
            .unwrap_or_else(|| panic!("{JOBS_VAR}={n:?}: expected a job count, 1 to 100000")),
        Err(_) => DEFAULT_JOBS,
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _serial = rt.block_on(sqs_support::serial());
    // moto runs on the wall clock from here on (see the module's docs).
    rt.block_on(sqs_support::set_clock(&endpoint, None));
    let target = Target {
        endpoint: endpoint.trim_end_matches('/').to_owned(),
        prefix: sqs_support::fresh_prefix(),
    };
    let store = target.store();
    let began = Instant::now();
    rt.block_on(submit(&store, jobs));
    let seed = std::env::var("CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_micros() as u64
                | 1
        });
    println!(
        "CRASH_SEED={seed}; {jobs} jobs submitted in {:?}",
        began.elapsed()
    );
    let mut rng = Rng(seed);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deliveries.log");

    // One process runs throughout; the other is killed and started again.
    // Each lives 2 to 5 s; the attempts a killed one held come back when
    // their lease (5 s) is over, to whichever process runs then.
    let text = format!("sqs+{}/{}", target.endpoint, target.prefix);
    let mut killed = HashSet::new();
    let mut steady = worker("run", &text, &path);
    for _ in 0..KILLS {
        let mut victim = worker("run", &text, &path);
        std::thread::sleep(Duration::from_millis(2000 + rng.below(3000)));
        victim.kill().expect("SIGKILL"); // std sends SIGKILL on Unix
        victim.wait().unwrap();
        killed.insert(victim.id());
    }
    steady.kill().expect("SIGKILL");
    steady.wait().unwrap();
    killed.insert(steady.id());
    // Two fresh processes finish the work together (each gives up after
    // 900 s; killed after 960).
    let mut a = worker("finish", &text, &path);
    let mut b = worker("finish", &text, &path);
    let limit = Duration::from_secs(960);
    assert!(wait(&mut a, limit), "the first finisher failed");
    assert!(wait(&mut b, limit), "the second finisher failed");
    let took = began.elapsed();

    // Nothing is left in the kinds' queues, and the dead letters are all read.
    let queues = target.queues();
    for kind in KINDS {
        let count = rt.block_on(queues.count(kind)).unwrap();
        assert!(count.is_empty(), "queue of {kind}: {count:?} left");
    }
    // Twice as many as the jobs that must die, and then some.
    let limit = jobs / 5 * 2 + 10;
    let dead = rt.block_on(store.dead_letters(limit)).unwrap();
    assert!(dead.len() < limit, "more dead letters than could be read");
    let count = rt.block_on(queues.count("dead")).unwrap();
    let letters = count.visible + count.in_flight + count.delayed;
    assert_eq!(letters, dead.len() as u64, "dead letters: {count:?}");

    let log = Log::read(&path, killed);
    let mut cut = HashSet::new();
    let (copied, doubled) = cut_in_the_log(&log, &mut cut);
    check_dead(&log, &dead, jobs, &mut cut);
    let duplicates = check_succeeded(&log, &dead, jobs, &mut cut);
    let deliveries: usize = log
        .jobs
        .values()
        .flat_map(|j| j.started.values())
        .map(Vec::len)
        .sum();
    println!(
        "{jobs} jobs, {KILLS} kills and the steady process's, in {took:?}: {} attempts cut, \
         {copied} jobs copied by a kill or a failed record, {doubled} attempts the server \
         delivered twice, {duplicates} duplicate side effects; {deliveries} deliveries in all",
        cut.len()
    );
    // A few; a store that lost its leases would deliver many twice.
    let allowed = 2 + deliveries / 200;
    assert!(
        doubled <= allowed,
        "{doubled} attempts delivered twice (at most {allowed})"
    );
    assert!(
        !cut.is_empty(),
        "no kill landed mid-attempt: the test proved nothing"
    );
}
