//! A resumable S3 multipart upload that retries each part with persevere.
//!
//! The AWS SDK's own retries are switched off ([`client::connect`]); every
//! request is wrapped by [`persevere::retry`] instead, each `UploadPart` with
//! its own policy and the S3-aware classifier in [`classify`]. A part that
//! runs out of attempts does not start the upload over: [`upload::upload`]
//! returns an [`UploadError::Incomplete`]
//! holding a [`ResumeState`] (the upload id and the
//! finished parts with their ETags) that [`upload::resume`] takes to upload
//! only the missing parts.
//!
//! A lost response (a `CreateMultipartUpload` or `CompleteMultipartUpload`
//! that succeeded on the server, answered to nobody) is settled by [`lost`]:
//! the orphaned upload is aborted, the completed object is confirmed by
//! `HeadObject`.
//!
//! [`proxy`] is a fault-injecting TCP proxy for loopback tests: it resets
//! requests mid-body, holds some silent, can fail every request for one
//! part number, and can lose a response after the server has acted on it.
//!
//! See `README.md` beside this crate for the commands.

#![forbid(unsafe_code)]
#![warn(missing_docs, missing_debug_implementations, rust_2018_idioms)]

pub mod classify;
pub mod client;
pub mod lost;
pub mod proxy;
pub mod source;
pub mod state;
pub mod upload;
pub mod verify;

pub use classify::{S3Errors, classify_sdk_error};
pub use proxy::{Faults, LoseResponse, LostResponse, Proxy, ProxyStats, S3Request};
pub use state::{CompletedPart, ResumeState};
pub use upload::{Completed, Completion, PartReport, UploadError, UploadOptions, UploadReport};
