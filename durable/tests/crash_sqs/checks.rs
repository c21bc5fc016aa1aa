//! What the crash test reads from the workers' logs and checks against
//! the dead letters (see `main.rs`).

use persevere::StopReason;
use persevere_durable::{AttemptOutcome, JobState, JobStatus};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// How the job numbered `i` must end (see the worker's script): `None`
/// for a success.
fn expected(i: usize) -> Option<StopReason> {
    match i % 10 {
        0 => Some(StopReason::Terminal),
        1 => Some(StopReason::AttemptsExhausted),
        _ => None,
    }
}

/// What the workers logged of one job, by attempt: the processes that
/// started it (more than one for a job copied), how it ended (`O` or `F`)
/// in which, and the attempts whose record failed (`X`).
#[derive(Default)]
pub(crate) struct Job {
    pub(crate) started: BTreeMap<u32, Vec<u32>>,
    pub(crate) ended: BTreeMap<u32, Vec<(char, u32)>>,
    failed: Vec<u32>,
}

/// What the workers logged, by job, and the processes that were killed.
pub(crate) struct Log {
    pub(crate) jobs: HashMap<String, Job>,
    pub(crate) killed: HashSet<u32>,
}

impl Log {
    pub(crate) fn read(path: &Path, killed: HashSet<u32>) -> Log {
        let mut jobs: HashMap<String, Job> = HashMap::new();
        for line in std::fs::read_to_string(path).unwrap().lines() {
            let fields: Vec<&str> = line.split(' ').collect();
            let job = jobs.entry(fields[1].to_owned()).or_default();
            let attempt: u32 = fields[2].parse().unwrap();
            match fields[0] {
                "S" => {
                    let pid = fields[4].parse().unwrap();
                    job.started.entry(attempt).or_default().push(pid);
                }
                end @ ("O" | "F") => {
                    let pid = fields[3].parse().unwrap();
                    let started = job.started.get(&attempt);
                    assert!(
                        started.is_some_and(|p| p.contains(&pid)),
                        "{line}: never started"
                    );
                    let end = if end == "O" { 'O' } else { 'F' };
                    job.ended.entry(attempt).or_default().push((end, pid));
                }
                "X" => job.failed.push(attempt),
                other => panic!("bad log line {other:?}"),
            }
        }
        Log { jobs, killed }
    }

    pub(crate) fn job(&self, key: &str) -> &Job {
        static NONE: std::sync::LazyLock<Job> = std::sync::LazyLock::new(Job::default);
        self.jobs.get(key).unwrap_or(&NONE)
    }

    /// The attempts of `key` where a copy of the job may have started: one
    /// a killed process ran to a failure (it may have sent the job's next
    /// message and died before deleting the claimed one, which then came
    /// back), or one whose record failed (and was tried again).
    pub(crate) fn forks(&self, key: &str) -> Vec<u32> {
        let job = self.job(key);
        let by_killed =
            |e: &Vec<(char, u32)>| e.iter().any(|&(c, p)| c == 'F' && self.killed.contains(&p));
        let mut forks: Vec<u32> = (job.ended.iter())
            .filter(|(_, e)| by_killed(e))
            .map(|(&n, _)| n)
            .chain(job.failed.iter().copied())
            .collect();
        forks.sort_unstable();
        forks.dedup();
        forks
    }

    /// The first attempt of `key` delivered more than once, if no fork came
    /// before it: the server delivered a message twice (SQS's standard
    /// queues deliver at least once). The attempts after it may be the
    /// two copies', delivered once each.
    pub(crate) fn doubled(&self, key: &str) -> Option<u32> {
        let first_fork = self.forks(key).first().copied().unwrap_or(u32::MAX);
        let mut started = self.job(key).started.iter();
        let (&n, _) = started.find(|(_, pids)| pids.len() > 1)?;
        (n <= first_fork).then_some(n)
    }

    /// How many copies of `key` there may be beyond the first.
    pub(crate) fn copies(&self, key: &str) -> usize {
        self.forks(key).len() + usize::from(self.doubled(key).is_some())
    }

    /// The attempts of `key` that succeeded, in order, with their processes.
    pub(crate) fn oks(&self, key: &str) -> Vec<(u32, u32)> {
        let ended = self.job(key).ended.iter();
        ended
            .flat_map(|(&n, e)| e.iter().filter(|e| e.0 == 'O').map(move |&(_, p)| (n, p)))
            .collect()
    }

    /// True if attempt `n` of `key` ran in a killed process.
    pub(crate) fn ran_in_killed(&self, key: &str, n: u32) -> bool {
        let started = self.job(key).started.get(&n);
        started.is_some_and(|p| p.iter().any(|p| self.killed.contains(p)))
    }
}

/// The attempts the log shows cut by a kill: started and not finished (in
/// a killed process only), or never started (claimed by a killed process
/// before it started them). Returns the jobs copied after a fork, and the
/// attempts the server delivered twice.
pub(crate) fn cut_in_the_log(log: &Log, cut: &mut HashSet<(String, u32)>) -> (usize, usize) {
    let (mut copied, mut doubled) = (0, 0);
    for (key, job) in &log.jobs {
        let last = job.started.keys().next_back().copied().unwrap_or(0);
        for n in 1..=last {
            let Some(pids) = job.started.get(&n) else {
                cut.insert((key.clone(), n));
                continue;
            };
            if pids.len() > job.ended.get(&n).map_or(0, Vec::len) {
                assert!(
                    log.ran_in_killed(key, n),
                    "{key} {n}: left unfinished by a live process"
                );
                cut.insert((key.clone(), n));
            }
        }
        let twice = log.doubled(key).is_some();
        doubled += usize::from(twice);
        copied += usize::from(!twice && job.started.values().any(|p| p.len() > 1));
    }
    (copied, doubled)
}

/// The jobs that must die: in the dead letters, as scripted, once but for
/// copies (see `main.rs`).
pub(crate) fn check_dead(
    log: &Log,
    dead: &[JobStatus],
    jobs: usize,
    cut: &mut HashSet<(String, u32)>,
) {
    let mut letters: HashMap<&str, usize> = HashMap::new();
    for job in dead {
        let i: usize = job.key.trim_start_matches("job-").parse().unwrap();
        assert_eq!(job.state, JobState::DeadLettered);
        assert_eq!(job.dead_reason, expected(i), "{job:?}");
        let numbers: Vec<u32> = job.history.iter().map(|a| a.attempt).collect();
        assert_eq!(numbers, (1..=job.attempts).collect::<Vec<_>>(), "{job:?}");
        *letters.entry(&job.key).or_default() += 1;
        let logged = log.job(&job.key);
        for attempt in &job.history {
            let (key, n) = (&job.key, attempt.attempt);
            let ran = logged.started.contains_key(&n);
            match attempt.outcome {
                AttemptOutcome::Interrupted => {
                    // Its lease ran out: the process was killed, or its
                    // record failed and it left the job to its lease.
                    let lost = log.ran_in_killed(key, n) || logged.failed.contains(&n);
                    assert!(!ran || lost, "{key} {n}: cut in a live process");
                    cut.insert((key.clone(), n));
                }
                AttemptOutcome::NotStarted(_) => {
                    assert!(!ran || log.copies(key) > 0, "{key} {n}: ran")
                }
                AttemptOutcome::Succeeded => panic!("{key} {n}: succeeded against its script"),
                outcome => {
                    let failed = logged
                        .ended
                        .get(&n)
                        .is_some_and(|e| e.iter().any(|e| e.0 == 'F'));
                    assert!(failed, "{key} {n}: {outcome:?}, and never failed");
                }
            }
        }
    }
    for i in (0..jobs).filter(|&i| expected(i).is_some()) {
        let key = format!("job-{i:05}");
        let n = letters.get(key.as_str()).copied().unwrap_or(0);
        assert!(n >= 1, "{key}: lost, not in the dead letters");
        let copies = log.copies(&key);
        assert!(n <= 1 + copies, "{key}: dead {n} times, {copies} copies");
        assert!(
            log.oks(&key).is_empty(),
            "{key}: succeeded against its script"
        );
    }
}

/// The jobs that must succeed: the workers' logs say they did, and the
/// last attempt that ran did; a second side effect only in a killed
/// process, or in a copy. Returns the side effects done twice.
pub(crate) fn check_succeeded(
    log: &Log,
    dead: &[JobStatus],
    jobs: usize,
    cut: &mut HashSet<(String, u32)>,
) -> usize {
    let mut duplicates = 0;
    for i in (0..jobs).filter(|&i| expected(i).is_none()) {
        let key = format!("job-{i:05}");
        assert!(
            dead.iter().all(|d| d.key != key),
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
        let ran = log.job(&key).started.keys().next_back().copied();
        assert_eq!(ran, Some(last), "{key}: an attempt ran after its success");
        let live = oks.iter().filter(|(_, p)| !log.killed.contains(p)).count();
        let copies = log.copies(&key);
        assert!(
            live <= 1 + copies,
            "{key}: {live} successes in live processes, {copies} copies"
        );
        for &(n, p) in &oks[..oks.len() - 1] {
            if log.killed.contains(&p) {
                cut.insert((key.clone(), n));
            }
        }
        duplicates += oks.len() - 1;
    }
    duplicates
}
