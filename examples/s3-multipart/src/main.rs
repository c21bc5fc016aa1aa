//! `s3-multipart`: upload a file to an S3-compatible server in parts, each
//! part retried by persevere, resumable when a part gives up. See README.md.

use s3_multipart::proxy::{self, Faults, LoseResponse, Proxy, S3Request};
use s3_multipart::upload::{self, Completion, PartOutcome, UploadError, UploadReport};
use s3_multipart::{ResumeState, UploadOptions, client, source, verify};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

const USAGE: &str = "\
usage: s3-multipart --endpoint http://127.0.0.1:PORT [options]

  --bucket NAME               bucket (default persevere-demo; created if absent)
  --key KEY                   object key (default backup.bin)
  --file PATH                 source file, generated if absent
                              (default target/s3-multipart/source.bin)
  --size-mib N                size of a generated source (default 64)
  --part-size-mib N           part size, at least 5 (default 8)
  --concurrency N             parts in flight at once (default 4)
  --max-attempts N            attempts per part (default 6)
  --part-deadline-secs N      time per part, retries included (default 120)
  --attempt-timeout-secs N    time per attempt (default 30)
  --state PATH                where an incomplete upload's state is saved
                              (default target/s3-multipart/state.json)
  --resume                    upload only the parts the saved state misses, and complete
  --abort                     abort the saved upload (AbortMultipartUpload), delete the state

  fault injection (starts a proxy on 127.0.0.1 in front of the endpoint):
  --reset-fraction F          reset this fraction of requests halfway (0..1)
  --silent-fraction F         hold this fraction of requests silent (0..1)
  --hold-secs N               how long a silent request is held at most (default 30)
  --fail-part N               reset every UploadPart request for part N
  --lose-response REQUEST     lose the server's response to the first REQUEST:
                              create, complete, or part:N (reset the client after
                              the server has acted on it)
  --seed N                    seed for the fault decisions (default 1)

exit status: 0 uploaded and verified, 2 incomplete (state saved: run again with --resume), 1 error";

#[derive(Debug)]
struct Args {
    endpoint: String,
    file: PathBuf,
    size_mib: u64,
    state: PathBuf,
    resume: bool,
    abort: bool,
    options: UploadOptions,
    faults: Faults,
}

fn parse_args() -> Result<Args, String> {
    let mut endpoint = None;
    let mut file = PathBuf::from("target/s3-multipart/source.bin");
    let mut size_mib = 64;
    let mut state = PathBuf::from("target/s3-multipart/state.json");
    let (mut resume, mut abort) = (false, false);
    let mut options = UploadOptions::new("persevere-demo", "backup.bin");
    let mut faults = Faults::default();

    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || args.next().ok_or(format!("{flag} needs a value"));
        fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
            v.parse().map_err(|_| format!("{flag}: not a number: {v}"))
        }
        match flag.as_str() {
            "--endpoint" => endpoint = Some(value()?),
            "--bucket" => options.bucket = value()?,
            "--key" => options.key = value()?,
            "--file" => file = PathBuf::from(value()?),
            "--size-mib" => size_mib = num(&flag, value()?)?,
            "--part-size-mib" => options.part_size = num::<u64>(&flag, value()?)? * source::MIB,
            "--concurrency" => options.concurrency = num(&flag, value()?)?,
            "--max-attempts" => {
                options.part_policy = options.part_policy.with_max_attempts(num(&flag, value()?)?);
            }
            "--part-deadline-secs" => {
                options.part_policy = options
                    .part_policy
                    .with_deadline(Duration::from_secs(num(&flag, value()?)?));
            }
            "--attempt-timeout-secs" => {
                options.attempt_timeout = Duration::from_secs(num(&flag, value()?)?);
            }
            "--state" => state = PathBuf::from(value()?),
            "--resume" => resume = true,
            "--abort" => abort = true,
            "--reset-fraction" => faults.reset_fraction = num(&flag, value()?)?,
            "--silent-fraction" => faults.silent_fraction = num(&flag, value()?)?,
            "--hold-secs" => faults.hold = Duration::from_secs(num(&flag, value()?)?),
            "--fail-part" => faults.fail_part = Some(num(&flag, value()?)?),
            "--lose-response" => faults.lose_response = Some(lose_response(&value()?)?),
            "--seed" => faults.seed = num(&flag, value()?)?,
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown option {other}")),
        }
    }
    let endpoint = endpoint.ok_or("--endpoint is required")?;
    if options.part_size < 5 * source::MIB {
        return Err("--part-size-mib must be at least 5 (S3's minimum part size)".into());
    }
    if resume && abort {
        return Err("--resume and --abort exclude each other".into());
    }
    Ok(Args {
        endpoint,
        file,
        size_mib,
        state,
        resume,
        abort,
        options,
        faults,
    })
}

fn lose_response(value: &str) -> Result<LoseResponse, String> {
    let to = match value {
        "create" => S3Request::CreateMultipartUpload,
        "complete" => S3Request::CompleteMultipartUpload,
        _ => match value.strip_prefix("part:").map(str::parse) {
            Some(Ok(n)) => S3Request::UploadPart(n),
            _ => {
                return Err(format!(
                    "--lose-response: {value}: expected create, complete or part:N"
                ));
            }
        },
    };
    Ok(LoseResponse { to, times: 1 })
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = match parse_args() {
        Ok(args) => args,
        Err(why) => {
            if !why.is_empty() {
                eprintln!("s3-multipart: {why}\n");
            }
            eprintln!("{USAGE}");
            return ExitCode::from(if why.is_empty() { 0 } else { 1 });
        }
    };
    match run(args).await {
        Ok(code) => code,
        Err(why) => {
            eprintln!("s3-multipart: {why}");
            ExitCode::from(1)
        }
    }
}

async fn run(args: Args) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let proxy = if args.faults.any() {
        let upstream = proxy::loopback_addr(&args.endpoint).await?;
        let proxy = Proxy::start(upstream, args.faults.clone()).await?;
        println!(
            "fault-injecting proxy on {} -> {upstream}: {:?}",
            proxy.addr(),
            args.faults
        );
        Some(proxy)
    } else {
        None
    };
    let endpoint = proxy
        .as_ref()
        .map_or_else(|| args.endpoint.clone(), Proxy::endpoint);
    let client = client::connect(&endpoint);
    let opts = &args.options;

    let load_state = || {
        ResumeState::load(&args.state)
            .map_err(|e| format!("reading the saved state {}: {e}", args.state.display()))
    };
    if args.abort {
        let state = load_state()?;
        upload::abort(&client, opts, &state).await?;
        std::fs::remove_file(&args.state)?;
        println!(
            "aborted upload {} of {}/{}; removed {}",
            state.upload_id,
            state.bucket,
            state.key,
            args.state.display()
        );
        return Ok(ExitCode::SUCCESS);
    }

    let result = if args.resume {
        let state = load_state()?;
        println!(
            "resuming upload {}: parts {:?} missing",
            state.upload_id,
            state.missing_parts()
        );
        upload::resume(&client, opts, &args.file, state).await
    } else {
        if !args.file.exists() {
            println!("generating {} ({} MiB)", args.file.display(), args.size_mib);
            source::generate(&args.file, args.size_mib * source::MIB, 0x5eed)?;
        }
        upload::ensure_bucket(&client, opts).await?;
        upload::upload(&client, opts, &args.file).await
    };
    if let Some(proxy) = &proxy {
        let s = proxy.stats();
        println!(
            "proxy: {} connections, {} requests, {} reset, {} held silent, {} failed on purpose, {} responses lost",
            s.connections, s.requests, s.resets, s.silent, s.part_failures, s.lost
        );
    }

    match result {
        Ok(done) => {
            print_report(&done.report);
            if done.completion == Completion::Confirmed {
                println!(
                    "completed: the retried CompleteMultipartUpload answered NoSuchUpload; HeadObject found this upload's object (ETag {})",
                    done.etag.as_deref().unwrap_or("none")
                );
            }
            let _ = std::fs::remove_file(&args.state);
            // upload() hashed the source (and resume() checked it against
            // the state): no second read of the file.
            let (expected, len) = (done.state.source_sha256.as_str(), done.state.total_size);
            let (got, got_len) = verify::download_sha256(
                &client,
                &done.state.bucket,
                &done.state.key,
                opts.control_policy,
                opts.attempt_timeout,
            )
            .await?;
            if (got.as_str(), got_len) != (expected, len) {
                println!(
                    "MISMATCH: downloaded {got_len} bytes with SHA-256 {got}, the source has {len} bytes with {expected}"
                );
                return Ok(ExitCode::from(1));
            }
            println!("verified: downloaded {got_len} bytes, SHA-256 {got} matches the source");
            Ok(ExitCode::SUCCESS)
        }
        Err(UploadError::Incomplete(incomplete)) => {
            print_report(&incomplete.report);
            if let Some(e) = &incomplete.complete_error {
                println!("CompleteMultipartUpload gave up: {e}");
            }
            incomplete.state.save(&args.state)?;
            println!(
                "incomplete: parts {:?} missing; state saved to {}\n  resume: s3-multipart --endpoint {} --resume\n  give up: s3-multipart --endpoint {} --abort",
                incomplete.state.missing_parts(),
                args.state.display(),
                args.endpoint,
                args.endpoint
            );
            Ok(ExitCode::from(2))
        }
        Err(e) => Err(e.into()),
    }
}

fn print_report(report: &UploadReport) {
    println!(
        "upload {}: {} parts in {:.1?}",
        report.upload_id,
        report.parts.len(),
        report.elapsed
    );
    for part in &report.parts {
        let outcome = match &part.outcome {
            PartOutcome::Uploaded => "uploaded".to_owned(),
            PartOutcome::AlreadyDone => "done in an earlier run".to_owned(),
            PartOutcome::NotStarted => "not started".to_owned(),
            PartOutcome::Failed { error, .. } => format!("FAILED: {error}"),
        };
        println!(
            "  part {:>3}: {} attempt(s), {outcome}",
            part.part_number, part.attempts
        );
        for line in &part.retries {
            println!("      {line}");
        }
    }
    for id in &report.orphans_aborted {
        println!("  aborted upload {id}: started by this run's lost CreateMultipartUpload");
    }
    for warning in &report.warnings {
        println!("  warning: {warning}");
    }
    println!(
        "total: {} attempts, {} retries, {:.1} MiB re-sent",
        report.total_attempts(),
        report.total_retries(),
        report.bytes_resent() as f64 / source::MIB as f64
    );
}
