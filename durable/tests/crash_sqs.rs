//! Two worker processes share one SQS store (on moto): 200 jobs by
//! default (`PERSEVERE_DURABLE_SQS_CRASH_JOBS` sets the count), 8
//! concurrent attempts (4 in each process), one process SIGKILLed at random
//! points and started again, several times; then two fresh processes
//! finish the work. Skipped, with a printed notice, when
//! `PERSEVERE_DURABLE_SQS_ENDPOINT` is not set.
//!
//! The worker is `tests/bin/crash_worker.rs` on the target
//! `sqs+http://HOST:PORT/PREFIX` (lease 2 s, SQS's visibility timeouts
//! being whole seconds; 4 concurrent attempts in batches of 4). SQS cannot
//! read a job by key, and a succeeded job is deleted, so the test checks
//! through what SQS gives: the dead-letter queue (reasons and histories)
//! for the jobs that must die, the workers' logs (`S`tarted, `O`k and
//! `F`ailed attempts, with the process) for the ones that must succeed,
//! and the kinds' queues, empty at the end (no message visible, in flight
//! or delayed, by `GetQueueAttributes`). No job is lost, each ends as its
//! script says, no attempt is delivered twice, an attempt left unfinished
//! or cut is only ever one of a killed process, and a side effect done
//! twice only ever by such an attempt.
//!
//! The workers read the real clock (`SystemClock`), so moto must run on
//! real time: `.ci/sqs-moto.py` keeps the clock an earlier test set (it
//! stops there) until it is told `real`, so the test, holding
//! `sqs_support::serial()`, gives moto back its wall clock first.

mod sqs_support;
#[allow(dead_code)] // the worker's module: the test reads only a part of it
#[path = "bin/sqs_target.rs"]
mod sqs_target;

use persevere::StopReason;
use persevere_durable::{AttemptOutcome, Clock, JobState, NewJob, Store, SystemClock};
use sqs_target::{KINDS, Target};
use std::collections::{HashMap, HashSet};
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

/// How the job numbered `i` must end (see the worker's script): `None`
/// for a success.
fn expected(i: usize) -> Option<StopReason> {
    match i % 10 {
        0 => Some(StopReason::Terminal),
        1 => Some(StopReason::AttemptsExhausted),
        _ => None,
    }
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

/// One attempt of one job.
type Id = (String, u32);

/// What the workers logged, and which processes were killed.
#[derive(Default)]
struct Log {
    /// The processes that started each attempt (more than one for a job
    /// copied by a kill, see the module's docs).
    started: HashMap<Id, Vec<u32>>,
    /// How each attempt ended, `O` or `F`, and in which process.
    ended: HashMap<Id, Vec<(char, u32)>>,
    killed: HashSet<u32>,
}

impl Log {
    fn read(path: &Path, killed: HashSet<u32>) -> Log {
        let mut log = Log {
            killed,
            ..Log::default()
        };
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let id = (fields[1].to_owned(), fields[2].parse::<u32>().unwrap());
            match fields[0] {
                "S" => {
                    let pid = fields[4].parse().unwrap();
                    log.started.entry(id).or_default().push(pid);
                }
                "O" | "F" => {
                    let (end, pid) = (
                        fields[0].chars().next().unwrap(),
                        fields[3].parse().unwrap(),
                    );
                    let started = log.started.get(&id).is_some_and(|p| p.contains(&pid));
                    assert!(started, "{line}: never started in its process");
                    log.ended.entry(id).or_default().push((end, pid));
                }
                other => panic!("bad log line {other:?}"),
            }
        }
        log
    }

    /// The attempts of `key` that a killed process ran to a failure: each
    /// may have sent the job's next message and died before deleting the
    /// claimed one, which then came back: a copy of the job.
    fn forks(&self, key: &str) -> Vec<u32> {
        let mut forks: Vec<u32> = (self.ended.iter())
            .filter(|((k, _), ends)| {
                k == key
                    && ends
                        .iter()
                        .any(|&(e, p)| e == 'F' && self.killed.contains(&p))
            })
            .map(|((_, n), _)| *n)
            .collect();
        forks.sort_unstable();
        forks
    }

    /// The attempts of `key` that succeeded, with their processes.
    fn oks(&self, key: &str) -> Vec<(u32, u32)> {
        let mut oks: Vec<(u32, u32)> = (self.ended.iter())
            .filter(|((k, _), _)| k == key)
            .flat_map(|((_, n), ends)| ends.iter().filter(|e| e.0 == 'O').map(|&(_, p)| (*n, p)))
            .collect();
        oks.sort_unstable();
        oks
    }

    /// The highest attempt of `key` started.
    fn last(&self, key: &str) -> Option<u32> {
        self.started
            .keys()
            .filter(|(k, _)| k == key)
            .map(|(_, n)| *n)
            .max()
    }

    fn ran_in_killed(&self, id: &Id) -> bool {
        self.started
            .get(id)
            .is_some_and(|p| p.iter().any(|p| self.killed.contains(p)))
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
    rt.block_on(async {
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
    });
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
    // Each lives 1.5 to 3.5 s: longer than a lease, so it also runs the
    // attempts the one before it held.
    let text = format!("sqs+{}/{}", target.endpoint, target.prefix);
    let mut killed = HashSet::new();
    let mut steady = worker("run", &text, &path);
    for _ in 0..KILLS {
        let mut victim = worker("run", &text, &path);
        std::thread::sleep(Duration::from_millis(1500 + rng.below(2000)));
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
    let dead_jobs = (0..jobs).filter(|&i| expected(i).is_some()).count();
    let limit = dead_jobs * 2 + 10;
    let dead = rt.block_on(store.dead_letters(limit)).unwrap();
    assert!(dead.len() < limit, "more dead letters than could be read");
    let count = rt.block_on(queues.count("dead")).unwrap();
    let letters = count.visible + count.in_flight + count.delayed;
    assert_eq!(letters, dead.len() as u64, "dead letters: {count:?}");

    let log = Log::read(&path, killed);
    // Attempts cut by a kill, however they show; and jobs copied by one.
    let mut cut: HashSet<Id> = HashSet::new();
    let mut copied = HashSet::new();
    for (id, pids) in &log.started {
        let ends = log.ended.get(id).map_or(0, Vec::len);
        if pids.len() > ends {
            assert!(
                log.ran_in_killed(id),
                "{id:?}: left unfinished by a live process"
            );
            cut.insert(id.clone());
        }
        if pids.len() > 1 {
            let forks = log.forks(&id.0);
            assert!(
                forks.first().is_some_and(|&f| f < id.1),
                "{id:?}: delivered twice, no kill copied it"
            );
            copied.insert(id.0.clone());
        }
    }
    for (key, last) in log.started.keys().map(|(k, _)| (k, log.last(k).unwrap())) {
        let unstarted = (1..last).filter(|&n| !log.started.contains_key(&(key.clone(), n)));
        cut.extend(unstarted.map(|n| (key.clone(), n)));
    }

    // The jobs that must die: in the dead letters, as scripted, once but
    // for copies a kill made.
    let mut letters: HashMap<String, usize> = HashMap::new();
    for job in &dead {
        let i: usize = job.key.trim_start_matches("job-").parse().unwrap();
        assert_eq!(job.state, JobState::DeadLettered);
        assert_eq!(job.dead_reason, expected(i), "{job:?}");
        let numbers: Vec<u32> = job.history.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, (1..=job.attempts).collect::<Vec<_>>(), "{job:?}");
        *letters.entry(job.key.clone()).or_default() += 1;
        for attempt in &job.history {
            let id = (job.key.clone(), attempt.attempt);
            let ends = log.ended.get(&id).cloned().unwrap_or_default();
            match attempt.outcome {
                AttemptOutcome::Interrupted => {
                    let unstarted = !log.started.contains_key(&id);
                    assert!(
                        unstarted || log.ran_in_killed(&id),
                        "{id:?}: cut in a live process"
                    );
                    cut.insert(id);
                }
                AttemptOutcome::NotStarted(_) => {
                    let copy = !log.forks(&job.key).is_empty();
                    assert!(copy || !log.started.contains_key(&id), "{id:?}: ran");
                }
                AttemptOutcome::Succeeded => panic!("{id:?}: succeeded against its script"),
                outcome => assert!(
                    ends.iter().any(|e| e.0 == 'F'),
                    "{id:?}: {outcome:?} never ran"
                ),
            }
        }
    }
    for i in (0..jobs).filter(|&i| expected(i).is_some()) {
        let key = format!("job-{i:05}");
        let n = letters.get(&key).copied().unwrap_or(0);
        assert!(n >= 1, "{key}: lost, not in the dead letters");
        assert!(
            n <= 1 + log.forks(&key).len(),
            "{key}: dead {n} times, no kill copied it"
        );
        assert!(
            log.oks(&key).is_empty(),
            "{key}: succeeded against its script"
        );
    }

    // The jobs that must succeed: the workers' logs say they did, and the
    // last attempt that ran did; a second side effect only in a killed
    // process, or in a copy a kill made.
    let mut duplicates = 0;
    for i in (0..jobs).filter(|&i| expected(i).is_none()) {
        let key = format!("job-{i:05}");
        assert!(
            !letters.contains_key(&key),
            "{key}: dead against its script"
        );
        let oks = log.oks(&key);
        let &(last, _) = oks
            .last()
            .unwrap_or_else(|| panic!("{key}: lost, never succeeded"));
        assert!(
            last > (i % 3) as u32,
            "{key}: succeeded at attempt {last}, against its script"
        );
        assert_eq!(
            log.last(&key),
            Some(last),
            "{key}: an attempt ran after its success"
        );
        let live = oks.iter().filter(|(_, p)| !log.killed.contains(p)).count();
        let forks = log.forks(&key).len();
        assert!(
            live <= 1 + forks,
            "{key}: {live} successes in live processes, {forks} copies"
        );
        for &(n, p) in &oks[..oks.len() - 1] {
            if log.killed.contains(&p) {
                cut.insert((key.clone(), n));
            }
        }
        duplicates += oks.len() - 1;
    }

    println!(
        "{jobs} jobs, {KILLS} kills and the steady process's, in {took:?}: {} attempts cut, \
         {} jobs copied by a kill, {duplicates} duplicate side effects; {} deliveries in all",
        cut.len(),
        copied.len(),
        log.started.values().map(Vec::len).sum::<usize>()
    );
    assert!(
        !cut.is_empty(),
        "no kill landed mid-attempt: the test proved nothing"
    );
}
