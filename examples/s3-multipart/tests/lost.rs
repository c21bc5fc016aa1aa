//! Lost responses, against a real S3-compatible server (moto) through the
//! proxy: the server acts on a `CreateMultipartUpload` or a
//! `CompleteMultipartUpload`, and the proxy resets the client before the
//! answer reaches it. Run as `tests/moto.rs` is (`.ci/s3-multipart`):
//! `#[ignore]`d, and failing without `S3_MULTIPART_ENDPOINT`.

mod common;

use common::*;
use s3_multipart::lost::{self, Found, multipart_etag};
use s3_multipart::proxy::{Faults, LoseResponse, S3Request};
use s3_multipart::upload::{self, Completion, PartOutcome, UploadError};
use s3_multipart::{ResumeState, client};

fn losing(to: S3Request) -> Faults {
    Faults {
        lose_response: Some(LoseResponse { to, times: 1 }),
        ..Faults::default()
    }
}

/// The text between `<tag>` and `</tag>` in an XML body.
fn xml_field(body: &[u8], tag: &str) -> Option<String> {
    let text = String::from_utf8_lossy(body);
    let (_, rest) = text.split_once(&format!("<{tag}>"))?;
    let (value, _) = rest.split_once(&format!("</{tag}>"))?;
    Some(value.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs S3_MULTIPART_ENDPOINT (run .ci/s3-multipart)"]
async fn a_lost_complete_response_is_settled_and_success_reported_once() {
    let endpoint = endpoint();
    let (proxy, client) = proxied(&endpoint, losing(S3Request::CompleteMultipartUpload)).await;
    let opts = options("persevere-lost-complete", "complete.bin", 4);
    let file = generated("lost-complete.bin", 5);
    upload::ensure_bucket(&client, &opts).await.unwrap();
    abort_uploads_in_progress(&endpoint, &opts).await;

    let done = upload::upload(&client, &opts, &file).await.unwrap();
    print_report("lost complete", &done.report);
    let stats = proxy.stats();
    eprintln!("proxy: {stats:?}; completion: {:?}", done.completion);

    // The server completed the upload and answered success; the client never
    // saw that answer, retried, and reports one success for the one object.
    assert_eq!(stats.lost, 1);
    let [lost] = stats.lost_responses.as_slice() else {
        panic!("{stats:?}");
    };
    assert_eq!(lost.status, 200, "{lost:?}");
    assert!(
        lost.request_line.starts_with("POST ") && lost.request_line.contains(&done.state.upload_id),
        "{lost:?}"
    );
    assert_eq!(stats.forwarded.get("CompleteMultipartUpload"), Some(&2));
    assert!(
        done.report
            .parts
            .iter()
            .all(|p| p.outcome == PartOutcome::Uploaded)
    );
    // moto answers the retry with success (it keeps a completion
    // idempotent); S3 may answer NoSuchUpload, settled by HeadObject.
    assert!(matches!(
        done.completion,
        Completion::Answered | Completion::Confirmed
    ));
    // The object's ETag is the one the parts' ETags predict, and the one the
    // lost answer carried.
    let expected = multipart_etag(done.state.completed.iter().map(|p| p.etag.as_str())).unwrap();
    assert_eq!(done.etag.as_deref(), Some(expected.as_str()));
    let lost_etag = xml_field(&lost.body, "ETag").expect("an ETag in the lost answer");
    assert!(
        lost_etag.contains(expected.trim_matches('"')),
        "{lost_etag}"
    );

    assert_object_matches(&endpoint, &opts, &done.state).await;
    assert_eq!(
        uploads_in_progress(&endpoint, &opts).await,
        Vec::<String>::new()
    );
}

/// What the retried completion's `NoSuchUpload` branch asks `HeadObject`,
/// against the server's own multipart ETags (moto never answers a retried
/// completion `NoSuchUpload`, so the branch is driven here directly).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs S3_MULTIPART_ENDPOINT (run .ci/s3-multipart)"]
async fn head_object_tells_this_uploads_object_from_any_other() {
    let endpoint = endpoint();
    let client = client::connect(&endpoint);
    let opts = options("persevere-head-object", "head.bin", 4);
    let file = generated("head-object.bin", 6);
    upload::ensure_bucket(&client, &opts).await.unwrap();
    let done = upload::upload(&client, &opts, &file).await.unwrap();
    let state = done.state;

    let found = lost::find_object(&client, &opts, &state).await;
    assert_eq!(
        found,
        Found::ThisUpload {
            etag: done.etag.clone().unwrap()
        }
    );

    // Another upload's parts (one part's ETag differs): another object.
    let mut other = state.clone();
    other.completed[0].etag = "\"0cc175b9c0f1b6a831c399e269772661\"".to_owned();
    let found = lost::find_object(&client, &opts, &other).await;
    assert_eq!(
        found,
        Found::Other {
            size: Some(SIZE as i64),
            etag: done.etag.clone()
        }
    );
    let message = UploadError::Unconfirmed {
        upload_id: other.upload_id.clone(),
        object: format!("{}/{}", other.bucket, other.key),
        found,
    }
    .to_string();
    assert!(
        message.contains("answered NoSuchUpload on a retry")
            && message.contains(&format!("another object: {SIZE} bytes with ETag")),
        "{message}"
    );

    // Nothing at the key.
    let missing = ResumeState {
        key: "never-uploaded.bin".to_owned(),
        ..state.clone()
    };
    assert_eq!(
        lost::find_object(&client, &opts, &missing).await,
        Found::Nothing
    );

    // Parts whose ETags are not MD5s: the object cannot be told apart.
    let mut kms = state;
    kms.completed[0].etag = "\"not-an-md5\"".to_owned();
    assert!(matches!(
        lost::find_object(&client, &opts, &kms).await,
        Found::CannotTell { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs S3_MULTIPART_ENDPOINT (run .ci/s3-multipart)"]
async fn a_lost_create_response_leaves_no_orphaned_upload() {
    let endpoint = endpoint();
    let (proxy, client) = proxied(&endpoint, losing(S3Request::CreateMultipartUpload)).await;
    let opts = options("persevere-lost-create", "create.bin", 4);
    let file = generated("lost-create.bin", 7);
    upload::ensure_bucket(&client, &opts).await.unwrap();
    abort_uploads_in_progress(&endpoint, &opts).await;

    let done = upload::upload(&client, &opts, &file).await.unwrap();
    print_report("lost create", &done.report);
    let stats = proxy.stats();
    eprintln!("proxy: {stats:?}");

    // The server started an upload whose id the client never saw; the retry
    // started a second, which the run used.
    let [lost] = stats.lost_responses.as_slice() else {
        panic!("{stats:?}");
    };
    assert_eq!(lost.status, 200, "{lost:?}");
    let orphan = xml_field(&lost.body, "UploadId").expect("an UploadId in the lost answer");
    assert_ne!(orphan, done.state.upload_id);
    assert_eq!(stats.forwarded.get("CreateMultipartUpload"), Some(&2));
    assert_eq!(stats.forwarded.get("CompleteMultipartUpload"), Some(&1));
    assert_eq!(done.completion, Completion::Answered);

    // That first upload was aborted, and nothing else is left in progress.
    assert_eq!(done.report.orphans_aborted, std::slice::from_ref(&orphan));
    assert_eq!(done.report.warnings, Vec::<String>::new());
    let parts = client::connect(&endpoint)
        .list_parts()
        .bucket(&opts.bucket)
        .key(&opts.key)
        .upload_id(&orphan)
        .send()
        .await;
    let code = parts
        .as_ref()
        .err()
        .and_then(aws_sdk_s3::error::ProvideErrorMetadata::code);
    assert_eq!(code, Some("NoSuchUpload"), "{parts:?}");
    assert_eq!(
        uploads_in_progress(&endpoint, &opts).await,
        Vec::<String>::new()
    );
    assert_object_matches(&endpoint, &opts, &done.state).await;
}
