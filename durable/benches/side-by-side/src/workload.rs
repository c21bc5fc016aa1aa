//! What both libraries run: `JOBS` jobs, each failing once (or none), the
//! bookkeeping that says when the last one succeeded, and the printed row.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::Duration;
use tokio::sync::Notify;

/// Jobs per run, as in `durable/benches/throughput.rs`.
pub const JOBS: usize = 1000;

/// Bytes of payload per job, as in the criterion benches.
pub const PAYLOAD: usize = 64;

/// How long one run may take before it is reported as failed.
pub const RUN_LIMIT: Duration = Duration::from_secs(300);

/// What the handler does with a job.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// The first attempt of every job fails, the second succeeds.
    Retried,
    /// Every job succeeds at its first attempt.
    Succeeded,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Retried => "retried",
            Mode::Succeeded => "all-success",
        })
    }
}

/// The state one run's handler shares: which jobs have failed once, how
/// many have succeeded, and a wake-up for the last success.
#[derive(Debug)]
pub struct Progress {
    mode: Mode,
    failed_once: Vec<AtomicBool>,
    succeeded: AtomicUsize,
    attempts: AtomicUsize,
    all_done: Notify,
}

impl Progress {
    /// A fresh run in `mode`.
    pub fn new(mode: Mode) -> Self {
        Progress {
            mode,
            failed_once: (0..JOBS).map(|_| AtomicBool::new(false)).collect(),
            succeeded: AtomicUsize::new(0),
            attempts: AtomicUsize::new(0),
            all_done: Notify::new(),
        }
    }

    /// One attempt at job `index`: `Err` when it is the job's first attempt
    /// in `Mode::Retried`, else `Ok` (and the last success wakes
    /// [`Progress::finished`]).
    pub fn attempt(&self, index: usize) -> Result<(), &'static str> {
        self.attempts.fetch_add(1, SeqCst);
        if self.mode == Mode::Retried && !self.failed_once[index].swap(true, SeqCst) {
            return Err("first attempt fails");
        }
        if self.succeeded.fetch_add(1, SeqCst) + 1 == JOBS {
            self.all_done.notify_one();
        }
        Ok(())
    }

    /// Resolves once every job has succeeded, or panics after `RUN_LIMIT`.
    pub async fn finished(&self) {
        tokio::time::timeout(RUN_LIMIT, self.all_done.notified())
            .await
            .expect("every job succeeded within the run limit");
    }

    /// Checks that the handler saw exactly the attempts the mode asks for:
    /// one per job, or two when every job fails once.
    pub fn check(&self) -> Result<(), String> {
        let expected = match self.mode {
            Mode::Retried => 2 * JOBS,
            Mode::Succeeded => JOBS,
        };
        let (attempts, succeeded) = (self.attempts.load(SeqCst), self.succeeded.load(SeqCst));
        if attempts != expected || succeeded != JOBS {
            return Err(format!(
                "{attempts} attempts and {succeeded} successes, expected {expected} and {JOBS}"
            ));
        }
        Ok(())
    }
}

/// One measured row: a store, a concurrency, a mode and the jobs/s of
/// each round.
#[derive(Debug)]
pub struct Row {
    /// `persevere-sqlite`, `apalis-postgres`, ...
    pub store: &'static str,
    /// Concurrent attempts.
    pub workers: usize,
    /// What the handler did.
    pub mode: Mode,
    /// Each round's run.
    pub rounds: Vec<Run>,
}

impl Row {
    /// The median of `value` over the rounds.
    pub fn median(&self, value: fn(&Run) -> f64) -> f64 {
        let mut sorted: Vec<f64> = self.rounds.iter().map(value).collect();
        sorted.sort_by(f64::total_cmp);
        let n = sorted.len();
        if n == 0 {
            return f64::NAN;
        }
        if n % 2 == 1 {
            sorted[n / 2]
        } else {
            (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0
        }
    }
}

impl fmt::Display for Row {
    /// `bench store=S workers=N mode=M jobs_per_s=X submit_pct=P
    /// rounds=a,b,c`: one line per row, for `side-by-side.sh` to read;
    /// `jobs_per_s` and `submit_pct` are medians of the rounds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let rounds: Vec<String> = self
            .rounds
            .iter()
            .map(|r| format!("{:.0}", r.rate()))
            .collect();
        write!(
            f,
            "bench store={} workers={} mode={} jobs_per_s={:.0} submit_pct={:.0} rounds={}",
            self.store,
            self.workers,
            self.mode,
            self.median(Run::rate),
            self.median(Run::submit_percent),
            rounds.join(",")
        )
    }
}

/// What one run measured.
#[derive(Clone, Copy, Debug)]
pub struct Run {
    /// From the first submit to the worker's return.
    pub total: Duration,
    /// The submits alone (one after the other, before the worker starts).
    pub submits: Duration,
}

impl Run {
    /// Jobs per second over the whole run.
    pub fn rate(&self) -> f64 {
        JOBS as f64 / self.total.as_secs_f64()
    }

    /// The submits' share of the run, in percent.
    pub fn submit_percent(&self) -> f64 {
        100.0 * self.submits.as_secs_f64() / self.total.as_secs_f64()
    }
}
