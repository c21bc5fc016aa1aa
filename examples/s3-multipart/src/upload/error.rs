//! Why an upload stopped.

use super::report::Incomplete;
use crate::lost::Found;
use crate::state::ResumeState;
use std::error::Error;
use std::fmt;
use std::io;

/// Why an upload stopped.
#[derive(Debug)]
#[non_exhaustive]
pub enum UploadError {
    /// Some part gave up (or the completion did): the upload is still open
    /// and can be resumed from the state inside.
    Incomplete(Box<Incomplete>),
    /// A request other than `UploadPart` gave up.
    Request {
        /// The S3 operation.
        operation: &'static str,
        /// Why it stopped, after how many attempts, and the last error.
        message: String,
    },
    /// Reading the source failed.
    Source(io::Error),
    /// The saved state does not belong to this source.
    Mismatch(String),
    /// A retried `CompleteMultipartUpload` answered `NoSuchUpload`, and the
    /// object at the key is not (or cannot be shown to be) this upload's.
    /// The upload is gone: it cannot be resumed.
    Unconfirmed {
        /// The upload id.
        upload_id: String,
        /// The bucket and key, `bucket/key`.
        object: String,
        /// What `HeadObject` found there.
        found: Found,
    },
}

impl UploadError {
    /// The state to resume from, if the upload can be resumed.
    pub fn resume_state(&self) -> Option<&ResumeState> {
        match self {
            UploadError::Incomplete(incomplete) => Some(&incomplete.state),
            _ => None,
        }
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UploadError::Incomplete(i) => {
                write!(
                    f,
                    "upload {} is incomplete: parts {:?} are missing",
                    i.state.upload_id,
                    i.state.missing_parts()
                )?;
                if let Some(e) = &i.complete_error {
                    write!(f, " (completing it failed: {e})")?;
                }
                Ok(())
            }
            UploadError::Request { operation, message } => write!(f, "{operation}: {message}"),
            UploadError::Source(e) => write!(f, "reading the source: {e}"),
            UploadError::Mismatch(m) => write!(f, "the saved state does not match: {m}"),
            UploadError::Unconfirmed {
                upload_id,
                object,
                found,
            } => write!(
                f,
                "CompleteMultipartUpload of upload {upload_id} answered NoSuchUpload on a retry, \
                 and {object} holds {found}, not this upload's object"
            ),
        }
    }
}

impl Error for UploadError {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        match self {
            UploadError::Source(e) => Some(e),
            _ => None,
        }
    }
}

impl From<io::Error> for UploadError {
    fn from(e: io::Error) -> Self {
        UploadError::Source(e)
    }
}

/// An error and its causes on one line, `outer: inner: innermost`, each
/// cause shown once.
pub fn error_chain(error: &(dyn Error + 'static)) -> String {
    let mut out = error.to_string();
    let mut next = error.source();
    for _ in 0..32 {
        let Some(cause) = next else { break };
        let text = cause.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        next = cause.source();
    }
    out
}
