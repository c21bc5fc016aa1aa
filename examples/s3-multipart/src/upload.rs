//! The multipart upload: parts in parallel, each `UploadPart` retried by
//! persevere with its own policy, and a resumable state when a part gives up.

use crate::classify::S3Errors;
use crate::lost::{self, Found, OrphanCleanup};
use crate::source;
use crate::state::ResumeState;
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_s3::operation::upload_part::UploadPartError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart as S3CompletedPart};
use persevere::{Exponential, Limited, RetryError, RetryEvent, RetryPolicyExt, StopReason};
use std::collections::BTreeMap;
use std::error::Error;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinSet;

mod error;
mod report;

pub use error::{UploadError, error_chain};
pub use report::{Completed, Completion, Incomplete, PartOutcome, PartReport, UploadReport};

/// How to upload: where to, in what parts, how many at once, and how
/// persistently.
///
/// # Default
///
/// [`new`](Self::new) gives 8 MiB parts, 4 in flight, a 30 s attempt timeout,
/// and:
///
/// - per part: exponential from 200 ms, doubling, 5 s max, full jitter, at
///   most 6 attempts and 120 s;
/// - for every other request: exponential from 100 ms, 2 s max, full jitter,
///   at most 5 attempts and 60 s.
#[derive(Debug, Clone)]
pub struct UploadOptions {
    /// The bucket.
    pub bucket: String,
    /// The object key.
    pub key: String,
    /// The size of every part but the last (S3 requires at least 5 MiB).
    /// A resumed upload keeps the part size it started with.
    pub part_size: u64,
    /// How many parts are in flight at once.
    pub concurrency: usize,
    /// The policy for each `UploadPart`: a part that runs out of it leaves the
    /// upload resumable.
    pub part_policy: Limited<Exponential>,
    /// The policy for every other request (create, complete, abort, the
    /// download that verifies).
    pub control_policy: Limited<Exponential>,
    /// Cuts an attempt that hangs and counts it as a retryable timeout.
    pub attempt_timeout: Duration,
}

impl UploadOptions {
    /// Options for `bucket` and `key`, with the defaults above.
    pub fn new(bucket: impl Into<String>, key: impl Into<String>) -> Self {
        UploadOptions {
            bucket: bucket.into(),
            key: key.into(),
            part_size: 8 * source::MIB,
            concurrency: 4,
            // Both keep Exponential::new()'s full jitter; the control policy
            // also its 100 ms first delay.
            part_policy: Exponential::new()
                .with_initial_delay(Duration::from_millis(200))
                .with_max_delay(Duration::from_secs(5))
                .with_max_attempts(6)
                .with_deadline(Duration::from_secs(120)),
            control_policy: Exponential::new()
                .with_max_delay(Duration::from_secs(2))
                .with_max_attempts(5)
                .with_deadline(Duration::from_secs(60)),
            attempt_timeout: Duration::from_secs(30),
        }
    }
}

fn describe_event<E: Error + 'static>(event: &RetryEvent<'_, E>) -> String {
    let error = match event.error() {
        Some(e) => error_chain(e),
        None => "the attempt timed out".to_owned(),
    };
    let kind = event
        .classification()
        .kind()
        .map_or_else(|| "terminal".to_owned(), |k| format!("{k:?}"));
    format!(
        "attempt {} failed ({kind}): {error}; retrying in {:.0?}",
        event.attempt(),
        event.delay()
    )
}

/// Runs one request other than `UploadPart` with the control policy and the
/// S3 classifier.
pub(crate) async fn control<F, Fut, T, E>(
    opts: &UploadOptions,
    op: F,
) -> Result<T, RetryError<SdkError<E, HttpResponse>>>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    E: ProvideErrorMetadata + Error + 'static,
{
    persevere::retry(op)
        .policy(opts.control_policy)
        .classify(S3Errors)
        .attempt_timeout(opts.attempt_timeout)
        .await
}

/// An [`UploadError::Request`] for `operation`'s call that gave up: its
/// `RetryError` (`gave up after 3 attempts in 1.2s: <the last error>`) and
/// the last error's causes, by [`error_chain`].
pub(crate) fn request_error<E: Error + 'static>(
    operation: &'static str,
    err: &RetryError<E>,
) -> UploadError {
    UploadError::Request {
        operation,
        message: error_chain(err),
    }
}

/// Creates the bucket unless it is there already.
///
/// # Errors
///
/// [`UploadError::Request`] if `CreateBucket` gives up.
pub async fn ensure_bucket(client: &Client, opts: &UploadOptions) -> Result<(), UploadError> {
    match control(opts, || client.create_bucket().bucket(&opts.bucket).send()).await {
        Ok(_) => Ok(()),
        Err(err)
            if err.last_error().and_then(|e| e.code()).is_some_and(|code| {
                code == "BucketAlreadyOwnedByYou" || code == "BucketAlreadyExists"
            }) =>
        {
            Ok(())
        }
        Err(err) => Err(request_error("CreateBucket", &err)),
    }
}

/// Uploads the file at `source` to `opts.bucket`/`opts.key` in parts.
///
/// # Errors
///
/// [`UploadError::Incomplete`] with the state to [`resume`] from when a part
/// gives up; [`UploadError::Request`] when `CreateMultipartUpload` does;
/// [`UploadError::Source`] when the file cannot be read.
pub async fn upload(
    client: &Client,
    opts: &UploadOptions,
    source: &Path,
) -> Result<Completed, UploadError> {
    let (sha256, total_size) = hash(source).await?;
    let create_started = Instant::now();
    let mut create_attempts = 0u32;
    let created = control(opts, || {
        create_attempts += 1;
        client
            .create_multipart_upload()
            .bucket(&opts.bucket)
            .key(&opts.key)
            .send()
    })
    .await
    .map_err(|e| request_error("CreateMultipartUpload", &e))?;
    let upload_id = created
        .upload_id()
        .ok_or_else(|| UploadError::Request {
            operation: "CreateMultipartUpload",
            message: "the response has no upload id".to_owned(),
        })?
        .to_owned();
    // A lost response to an earlier attempt may have left an upload behind.
    let cleanup = if create_attempts > 1 {
        lost::abort_orphans(client, opts, &upload_id, create_started.elapsed()).await
    } else {
        OrphanCleanup::default()
    };
    let state = ResumeState {
        bucket: opts.bucket.clone(),
        key: opts.key.clone(),
        upload_id,
        part_size: opts.part_size,
        total_size,
        source_sha256: sha256,
        completed: Vec::new(),
    };
    finish(client, opts, source, state, cleanup).await
}

/// Resumes an upload from a saved `state`: uploads only its missing parts
/// and completes it. The bucket, key and part size are the state's.
///
/// # Errors
///
/// As [`upload`], and [`UploadError::Mismatch`] if `source` is not the file
/// the state was made for.
pub async fn resume(
    client: &Client,
    opts: &UploadOptions,
    source: &Path,
    state: ResumeState,
) -> Result<Completed, UploadError> {
    let (sha256, total_size) = hash(source).await?;
    if sha256 != state.source_sha256 || total_size != state.total_size {
        return Err(UploadError::Mismatch(format!(
            "the state is for {} bytes with SHA-256 {}, the source has {total_size} bytes with {sha256}",
            state.total_size, state.source_sha256
        )));
    }
    let opts = UploadOptions {
        bucket: state.bucket.clone(),
        key: state.key.clone(),
        part_size: state.part_size,
        ..opts.clone()
    };
    finish(client, &opts, source, state, OrphanCleanup::default()).await
}

/// Gives up on an upload: `AbortMultipartUpload` frees the parts the server
/// holds. An upload the server no longer knows counts as aborted.
///
/// # Errors
///
/// [`UploadError::Request`] if the abort gives up.
pub async fn abort(
    client: &Client,
    opts: &UploadOptions,
    state: &ResumeState,
) -> Result<(), UploadError> {
    let result = control(opts, || {
        client
            .abort_multipart_upload()
            .bucket(&state.bucket)
            .key(&state.key)
            .upload_id(&state.upload_id)
            .send()
    })
    .await;
    match result {
        Ok(_) => Ok(()),
        Err(err) if err.last_error().and_then(|e| e.code()) == Some("NoSuchUpload") => Ok(()),
        Err(err) => Err(request_error("AbortMultipartUpload", &err)),
    }
}

async fn hash(source: &Path) -> Result<(String, u64), UploadError> {
    let path = source.to_owned();
    Ok(
        tokio::task::spawn_blocking(move || source::sha256_file(&path))
            .await
            .map_err(io::Error::other)??,
    )
}

/// What every part task needs.
struct PartJob {
    client: Client,
    bucket: String,
    key: String,
    upload_id: String,
    source: PathBuf,
    policy: Limited<Exponential>,
    attempt_timeout: Duration,
}

async fn finish(
    client: &Client,
    opts: &UploadOptions,
    source: &Path,
    mut state: ResumeState,
    cleanup: OrphanCleanup,
) -> Result<Completed, UploadError> {
    let started = Instant::now();
    let mut reports = BTreeMap::new();
    for part in &state.completed {
        let (_, size) = state.part_range(part.part_number);
        reports.insert(
            part.part_number,
            PartReport {
                part_number: part.part_number,
                size,
                attempts: 0,
                outcome: PartOutcome::AlreadyDone,
                retries: Vec::new(),
            },
        );
    }
    let job = Arc::new(PartJob {
        client: client.clone(),
        bucket: state.bucket.clone(),
        key: state.key.clone(),
        upload_id: state.upload_id.clone(),
        source: source.to_owned(),
        policy: opts.part_policy,
        attempt_timeout: opts.attempt_timeout,
    });
    let mut queue = state.missing_parts().into_iter();
    let mut in_flight = JoinSet::new();
    let mut stop_launching = false;
    loop {
        while !stop_launching && in_flight.len() < opts.concurrency.max(1) {
            let Some(part_number) = queue.next() else {
                break;
            };
            let (offset, len) = state.part_range(part_number);
            in_flight.spawn(upload_part(Arc::clone(&job), part_number, offset, len));
        }
        let Some(joined) = in_flight.join_next().await else {
            break;
        };
        let (report, etag) = match joined {
            Ok(done) => done,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            Err(e) => return Err(io::Error::other(e).into()),
        };
        if let Some(etag) = etag {
            state.record(report.part_number, etag);
        }
        if matches!(
            report.outcome,
            PartOutcome::Failed {
                reason: StopReason::Terminal,
                ..
            }
        ) {
            // A terminal error (NoSuchUpload, AccessDenied) will not pass for
            // the other parts either: send no more.
            stop_launching = true;
        }
        reports.insert(report.part_number, report);
    }
    for part_number in queue {
        let (_, size) = state.part_range(part_number);
        reports.insert(
            part_number,
            PartReport {
                part_number,
                size,
                attempts: 0,
                outcome: PartOutcome::NotStarted,
                retries: Vec::new(),
            },
        );
    }
    let report = UploadReport {
        upload_id: state.upload_id.clone(),
        parts: reports.into_values().collect(),
        elapsed: started.elapsed(),
        orphans_aborted: cleanup.aborted,
        warnings: cleanup.warnings,
    };
    if !state.missing_parts().is_empty() {
        return Err(UploadError::Incomplete(Box::new(Incomplete {
            state,
            report,
            complete_error: None,
        })));
    }

    let parts = state
        .completed
        .iter()
        .map(|p| {
            S3CompletedPart::builder()
                .part_number(p.part_number)
                .e_tag(&p.etag)
                .build()
        })
        .collect();
    let upload = CompletedMultipartUpload::builder()
        .set_parts(Some(parts))
        .build();
    let completed = control(opts, || {
        client
            .complete_multipart_upload()
            .bucket(&state.bucket)
            .key(&state.key)
            .upload_id(&state.upload_id)
            .multipart_upload(upload.clone())
            .send()
    })
    .await;
    match completed {
        Ok(out) => Ok(Completed {
            etag: out.e_tag().map(str::to_owned),
            completion: Completion::Answered,
            report,
            state,
        }),
        Err(err)
            if lost::is_lost_completion(
                err.attempts(),
                err.last_error().and_then(ProvideErrorMetadata::code),
            ) =>
        {
            match lost::find_object(client, opts, &state).await {
                Found::ThisUpload { etag } => Ok(Completed {
                    etag: Some(etag),
                    completion: Completion::Confirmed,
                    report,
                    state,
                }),
                found => Err(UploadError::Unconfirmed {
                    object: format!("{}/{}", state.bucket, state.key),
                    upload_id: state.upload_id,
                    found,
                }),
            }
        }
        Err(err) => Err(UploadError::Incomplete(Box::new(Incomplete {
            complete_error: Some(error_chain(&err)),
            state,
            report,
        }))),
    }
}

/// Uploads one part with its own retries; returns its report and, if it
/// succeeded, its ETag.
async fn upload_part(
    job: Arc<PartJob>,
    part_number: i32,
    offset: u64,
    len: u64,
) -> (PartReport, Option<String>) {
    let mut report = PartReport {
        part_number,
        size: len,
        attempts: 0,
        outcome: PartOutcome::NotStarted,
        retries: Vec::new(),
    };
    let body = match source::read_range(job.source.clone(), offset, len).await {
        Ok(body) => body,
        Err(e) => {
            report.outcome = PartOutcome::Failed {
                reason: StopReason::Terminal,
                error: format!("reading the source: {e}"),
            };
            return (report, None);
        }
    };
    let mut attempts = 0;
    let mut retries = Vec::new();
    let result = persevere::retry_with_attempt(|attempt| {
        attempts = attempt;
        job.client
            .upload_part()
            .bucket(&job.bucket)
            .key(&job.key)
            .upload_id(&job.upload_id)
            .part_number(part_number)
            .content_length(len as i64)
            .body(ByteStream::from(body.clone()))
            .send()
    })
    .policy(job.policy)
    .classify(S3Errors)
    .attempt_timeout(job.attempt_timeout)
    .notify(
        |event: &RetryEvent<'_, SdkError<UploadPartError, HttpResponse>>| {
            retries.push(describe_event(event));
        },
    )
    .await;
    report.attempts = attempts;
    report.retries = retries;
    match result {
        Ok(out) => match out.e_tag() {
            Some(etag) => {
                report.outcome = PartOutcome::Uploaded;
                (report, Some(etag.to_owned()))
            }
            None => {
                report.outcome = PartOutcome::Failed {
                    reason: StopReason::Terminal,
                    error: "the response has no ETag".to_owned(),
                };
                (report, None)
            }
        },
        Err(err) => {
            report.outcome = PartOutcome::Failed {
                reason: err.reason(),
                error: error_chain(&err),
            };
            (report, None)
        }
    }
}
