//! What the tests against a real S3-compatible server share: the server's
//! endpoint, generated sources, fast options, the proxy, and checks on what
//! the server holds.

#![allow(dead_code)] // each test file uses its own share of these

use aws_sdk_s3::Client;
use persevere::{Exponential, RetryPolicyExt};
use s3_multipart::proxy::{self, Faults, Proxy};
use s3_multipart::upload;
use s3_multipart::{ResumeState, UploadOptions, client, source, verify};
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const ENDPOINT_VAR: &str = "S3_MULTIPART_ENDPOINT";
pub const SIZE: u64 = 24 * source::MIB;
pub const PART: u64 = 5 * source::MIB;

pub fn endpoint() -> String {
    match std::env::var(ENDPOINT_VAR) {
        Ok(endpoint) if !endpoint.is_empty() => endpoint,
        _ => panic!(
            "{ENDPOINT_VAR} is not set: this test needs an S3-compatible server \
             (.ci/s3-multipart starts moto on 127.0.0.1 and sets it)"
        ),
    }
}

pub fn generated(name: &str, seed: u64) -> PathBuf {
    let path = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("s3-multipart")
        .join(name);
    source::generate(&path, SIZE, seed).unwrap();
    path
}

/// 5 MiB parts (S3's minimum), 4 in flight, short delays (full jitter, as
/// `Exponential::new()` has it).
pub fn options(bucket: &str, key: &str, part_attempts: u32) -> UploadOptions {
    let fast = Exponential::new()
        .with_initial_delay(Duration::from_millis(50))
        .with_max_delay(Duration::from_secs(1));
    UploadOptions {
        part_size: PART,
        concurrency: 4,
        part_policy: fast
            .with_max_attempts(part_attempts)
            .with_deadline(Duration::from_secs(120)),
        control_policy: fast
            .with_max_attempts(8)
            .with_deadline(Duration::from_secs(60)),
        attempt_timeout: Duration::from_secs(20),
        ..UploadOptions::new(bucket, key)
    }
}

/// A fault-injecting proxy in front of `endpoint`, and a client that goes
/// through it.
pub async fn proxied(endpoint: &str, faults: Faults) -> (Proxy, Client) {
    let upstream = proxy::loopback_addr(endpoint).await.unwrap();
    let proxy = Proxy::start(upstream, faults).await.unwrap();
    let client = client::connect(&proxy.endpoint());
    (proxy, client)
}

/// The object read back (through `endpoint`) has the source's SHA-256 and length, as the upload
/// hashed them into its state (`resume` checks them against the file again).
pub async fn assert_object_matches(endpoint: &str, opts: &UploadOptions, state: &ResumeState) {
    assert_eq!(state.total_size, SIZE);
    let client = client::connect(endpoint);
    let got = verify::download_sha256(
        &client,
        &opts.bucket,
        &opts.key,
        opts.control_policy,
        opts.attempt_timeout,
    )
    .await
    .unwrap();
    assert_eq!(
        got,
        (state.source_sha256.clone(), SIZE),
        "downloaded object differs from the source"
    );
}

pub fn print_report(what: &str, report: &upload::UploadReport) {
    eprintln!(
        "{what}: attempts per part {:?}; {} retries; {} bytes re-sent",
        report
            .parts
            .iter()
            .map(|p| (p.part_number, p.attempts))
            .collect::<Vec<_>>(),
        report.total_retries(),
        report.bytes_resent()
    );
}

/// The uploads in progress for exactly `opts.key`, listed directly.
pub async fn uploads_in_progress(endpoint: &str, opts: &UploadOptions) -> Vec<String> {
    let listed = client::connect(endpoint)
        .list_multipart_uploads()
        .bucket(&opts.bucket)
        .prefix(&opts.key)
        .send()
        .await
        .unwrap();
    assert_ne!(
        listed.is_truncated(),
        Some(true),
        "more uploads than one page"
    );
    listed
        .uploads()
        .iter()
        .filter(|u| u.key() == Some(opts.key.as_str()))
        .filter_map(|u| u.upload_id().map(str::to_owned))
        .collect()
}

/// Aborts every upload in progress for `opts.key`: what an earlier run
/// against the same server may have left.
pub async fn abort_uploads_in_progress(endpoint: &str, opts: &UploadOptions) {
    let direct = client::connect(endpoint);
    for upload_id in uploads_in_progress(endpoint, opts).await {
        direct
            .abort_multipart_upload()
            .bucket(&opts.bucket)
            .key(&opts.key)
            .upload_id(upload_id)
            .send()
            .await
            .unwrap();
    }
}
