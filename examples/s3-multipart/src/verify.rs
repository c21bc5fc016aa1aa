//! Reading the object back and comparing its SHA-256 with the source.

use crate::classify::{classify_cut_off, classify_sdk_error};
use crate::source::hex;
use crate::upload::{UploadError, request_error};
use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::get_object::GetObjectError;
use aws_sdk_s3::primitives::ByteStreamError;
use persevere::{Classification, Exponential, Limited};
use sha2::{Digest, Sha256};
use std::error::Error;
use std::fmt;
use std::time::Duration;

/// A download attempt's failure: the request, or the body cut off mid-way.
#[derive(Debug)]
pub enum DownloadError {
    /// `GetObject` failed.
    Request(Box<SdkError<GetObjectError, HttpResponse>>),
    /// Reading the body failed.
    Body(ByteStreamError),
}

impl fmt::Display for DownloadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DownloadError::Request(_) => f.write_str("GetObject failed"),
            DownloadError::Body(_) => f.write_str("reading the object's body failed"),
        }
    }
}

impl Error for DownloadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            DownloadError::Request(e) => Some(e.as_ref()),
            DownloadError::Body(e) => Some(e),
        }
    }
}

/// The verdict for a download attempt: as [`classify_sdk_error`] for the
/// request; a body cut off is transient unless its io error says otherwise
/// ([`classify_cut_off`]).
pub fn classify_download(error: &DownloadError) -> Classification {
    match error {
        DownloadError::Request(e) => classify_sdk_error(e.as_ref()),
        DownloadError::Body(e) => classify_cut_off(e),
    }
}

/// Downloads `bucket`/`key` and returns its SHA-256 (hex) and length; the
/// whole download is one attempt, retried by `policy`.
///
/// # Errors
///
/// [`UploadError::Request`] if the download gives up.
pub async fn download_sha256(
    client: &Client,
    bucket: &str,
    key: &str,
    policy: Limited<Exponential>,
    attempt_timeout: Duration,
) -> Result<(String, u64), UploadError> {
    persevere::retry(|| async {
        let out = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| DownloadError::Request(Box::new(e)))?;
        let mut body = out.body;
        let mut hasher = Sha256::new();
        let mut len = 0u64;
        while let Some(chunk) = body.try_next().await.map_err(DownloadError::Body)? {
            hasher.update(&chunk);
            len += chunk.len() as u64;
        }
        Ok::<_, DownloadError>((hex(&hasher.finalize()), len))
    })
    .policy(policy)
    .classify(classify_download)
    .attempt_timeout(attempt_timeout)
    .await
    .map_err(|e| request_error("GetObject", &e))
}
