//! persevere-durable and apalis side by side: the same 1,000 jobs (each
//! failing once and retried, or each succeeding at once), the same
//! concurrency (1, 4, 16), the same runtime, in one process and one run.
//! The rounds of the two libraries alternate, so the machine's load falls
//! on both alike.
//!
//! Prints one line per row:
//! `bench store=apalis-sqlite workers=4 mode=retried jobs_per_s=248 rounds=240,248,251`
//! (`jobs_per_s` is the median of the rounds). PostgreSQL rows run when
//! `PERSEVERE_DURABLE_POSTGRES_URL` is set; `durable/benches/side-by-side.sh`
//! starts a throwaway server, runs this and prints a table.
//!
//! Usage: `side-by-side [--rounds N] [--only sqlite|postgres]`.

#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![warn(missing_debug_implementations, rust_2018_idioms)]

mod apalis_run;
mod persevere_run;
mod pg;
mod workload;

use std::process::ExitCode;
use workload::{Mode, Row, Run};

/// Concurrent attempts of each row, as in the criterion benches.
const WORKERS: [usize; 3] = [1, 4, 16];

/// The store a group of rows runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Backend {
    Sqlite,
    Postgres,
}

/// What the command line asked for.
#[derive(Debug)]
struct Args {
    rounds: usize,
    only: Option<Backend>,
}

/// Reads `--rounds N` (1 to 100, 3 by default) and `--only sqlite|postgres`.
fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        rounds: 3,
        only: None,
    };
    let mut argv = std::env::args().skip(1);
    while let Some(arg) = argv.next() {
        let value = argv.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--rounds" => {
                args.rounds = value
                    .parse()
                    .ok()
                    .filter(|n| (1..=100).contains(n))
                    .ok_or_else(|| format!("--rounds takes 1 to 100, not {value:?}"))?;
            }
            "--only" => {
                args.only = Some(match value.as_str() {
                    "sqlite" => Backend::Sqlite,
                    "postgres" => Backend::Postgres,
                    _ => return Err(format!("--only takes sqlite or postgres, not {value:?}")),
                });
            }
            _ => return Err(format!("unknown argument {arg:?}")),
        }
    }
    Ok(args)
}

/// The machine's load averages, as a comment line (Linux only).
fn load_line(when: &str) -> String {
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_else(|_| "unknown".into());
    format!("# load {when}: {}", load.trim())
}

/// One run on `backend`, of apalis or of persevere.
async fn one(backend: Backend, url: &str, apalis: bool, workers: usize, mode: Mode) -> Run {
    match (backend, apalis) {
        (Backend::Sqlite, false) => persevere_run::sqlite(workers, mode).await,
        (Backend::Sqlite, true) => apalis_run::sqlite(workers, mode).await,
        (Backend::Postgres, false) => persevere_run::postgres(url, workers, mode).await,
        (Backend::Postgres, true) => apalis_run::postgres(url, workers, mode).await,
    }
}

/// The rows of `backend`, both libraries, rounds alternating which goes first.
async fn rows(backend: Backend, url: &str, rounds: usize) {
    let (ours, theirs) = match backend {
        Backend::Sqlite => ("persevere-sqlite", "apalis-sqlite"),
        Backend::Postgres => ("persevere-postgres", "apalis-postgres"),
    };
    for mode in [Mode::Retried, Mode::Succeeded] {
        for workers in WORKERS {
            let mut persevere = Row {
                store: ours,
                workers,
                mode,
                rounds: Vec::new(),
            };
            let mut apalis = Row {
                store: theirs,
                workers,
                mode,
                rounds: Vec::new(),
            };
            for round in 0..rounds {
                for apalis_turn in [round % 2 == 1, round % 2 == 0] {
                    let run = one(backend, url, apalis_turn, workers, mode).await;
                    if apalis_turn {
                        apalis.rounds.push(run);
                    } else {
                        persevere.rounds.push(run);
                    }
                }
            }
            println!("{persevere}");
            println!("{apalis}");
        }
    }
}

fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(message) => {
            eprintln!("side-by-side: {message}");
            eprintln!("usage: side-by-side [--rounds N] [--only sqlite|postgres]");
            return ExitCode::from(64);
        }
    };
    // The criterion benches' runtime: two worker threads.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    println!("{}", load_line("before"));
    runtime.block_on(async {
        if args.only != Some(Backend::Postgres) {
            rows(Backend::Sqlite, "", args.rounds).await;
        }
        if args.only != Some(Backend::Sqlite) {
            match std::env::var(pg::URL_VAR) {
                Ok(url) if !url.is_empty() => rows(Backend::Postgres, &url, args.rounds).await,
                _ => println!("# skipped the PostgreSQL rows: {} is not set", pg::URL_VAR),
            }
        }
    });
    println!("{}", load_line("after"));
    ExitCode::SUCCESS
}
