//! What a lost response leaves behind, and how the upload settles it.
//!
//! Both `CreateMultipartUpload` and `CompleteMultipartUpload` are `POST`s
//! that change the server's state. When one succeeds on the server but its
//! response never reaches the client (a reset, a timeout), the client retries
//! it, and the retry meets a world the lost attempt already changed:
//!
//! - **A lost completion.** The retried `CompleteMultipartUpload` can be
//!   answered `NoSuchUpload`: the upload is gone because it *was* completed.
//!   After a `NoSuchUpload` on any attempt but the first,
//!   [`find_object`] asks `HeadObject` what is at the key and the upload
//!   reports success only if it is this upload's object: the same size, and
//!   the multipart ETag S3 computes from the parts' ETags ([`multipart_etag`]).
//!   Anything else is [`UploadError::Unconfirmed`](crate::UploadError::Unconfirmed),
//!   which says what was found. (A `NoSuchUpload` on the first attempt means
//!   the upload was aborted or never existed, and stays an error.)
//! - **A lost creation.** The retried `CreateMultipartUpload` starts a second
//!   upload; the first is orphaned and its parts, if any, are billed until a
//!   lifecycle rule aborts them. After a `CreateMultipartUpload` that took
//!   more than one attempt, [`abort_orphans`] lists the uploads in progress
//!   for the key (`ListMultipartUploads`) and aborts those that [`orphans`]
//!   picks.
//!
//! # The orphan rule and its limits
//!
//! S3 records who started an upload (the credentials) and when, nothing
//! else: `ListMultipartUploads` shows no metadata or tags. So an orphan is
//! picked by key and time alone: an upload for exactly this key, other than
//! the one the run uses, initiated no earlier than the used upload's
//! initiation minus the time the create call took (plus one second for
//! rounding), and no later than one second after it. Both bounds come from
//! the server's clock (the used upload's `Initiated`) and a duration on the
//! client's monotonic clock, so clock skew between the two does not matter.
//!
//! What the rule cannot tell apart: another writer uploading the same key
//! with the same credentials inside that window. Its upload is aborted too,
//! and its next `UploadPart` or `CompleteMultipartUpload` fails with
//! `NoSuchUpload`. Two writers racing on one key already lose one object to
//! the other; the window is kept as short as the create call was. An orphan
//! this rule misses (a retry slower than the window, a listing that fails)
//! is still there: keep a lifecycle rule that aborts incomplete multipart
//! uploads. If the used upload is not in the listing, nothing is aborted.
//!
//! moto (the tests' server) answers a repeated `CompleteMultipartUpload` of
//! the same upload with success, as long as the object is still that
//! upload's, so its tests reach the `NoSuchUpload` branch only through
//! [`find_object`] called directly; and it lists every upload as initiated at
//! one fixed time, so against moto the window holds every upload for the key.

use crate::source::hex;
use crate::state::ResumeState;
use crate::upload::{UploadOptions, control, error_chain};
use aws_sdk_s3::Client;
use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::types::MultipartUpload;
use md5::{Digest, Md5};
use std::fmt;
use std::time::{Duration, SystemTime};

/// How far the orphan window reaches past each bound, for timestamps
/// rounded to the second.
const SLOP: Duration = Duration::from_secs(1);
/// The most `ListMultipartUploads` pages read (1,000 uploads each).
const MAX_PAGES: usize = 100;

/// The ETag S3 gives an object made by `CompleteMultipartUpload`: the MD5 of
/// the parts' binary MD5s (their ETags, decoded from hex), in hex, then `-`
/// and the number of parts, in quotes. `None` when a part's ETag is not a
/// hex MD5 (as with SSE-KMS), so the object's ETag cannot be predicted.
///
/// # Examples
///
/// ```
/// use s3_multipart::lost::multipart_etag;
///
/// // The ETags of parts "a" and "b", as UploadPart answers them.
/// let parts = ["\"0cc175b9c0f1b6a831c399e269772661\"", "\"92eb5ffee6ae2fec3ad71c777531578f\""];
/// assert_eq!(
///     multipart_etag(parts).as_deref(),
///     Some("\"96e024ba2074fe77e8e965ba43a704be-2\"")
/// );
/// assert_eq!(multipart_etag(["not an md5"]), None);
/// ```
pub fn multipart_etag<'a>(part_etags: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let mut md5 = Md5::new();
    let mut count = 0u32;
    for etag in part_etags {
        md5.update(md5_from_hex(etag.trim_matches('"'))?);
        count += 1;
    }
    Some(format!("\"{}-{count}\"", hex(&md5.finalize())))
}

fn md5_from_hex(text: &str) -> Option<[u8; 16]> {
    let digits = text.as_bytes();
    if digits.len() != 32 || !digits.iter().all(u8::is_ascii_hexdigit) {
        return None;
    }
    let mut out = [0; 16];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let pair = std::str::from_utf8(pair).ok()?;
        *byte = u8::from_str_radix(pair, 16).ok()?;
    }
    Some(out)
}

/// Whether a `CompleteMultipartUpload` that stopped after `attempts`
/// attempts with S3 error `code` may have succeeded on the server: a
/// `NoSuchUpload` on a retry.
///
/// # Examples
///
/// ```
/// use s3_multipart::lost::is_lost_completion;
///
/// assert!(is_lost_completion(2, Some("NoSuchUpload")));
/// assert!(!is_lost_completion(1, Some("NoSuchUpload"))); // aborted, or never there
/// assert!(!is_lost_completion(3, Some("InvalidPart")));
/// assert!(!is_lost_completion(5, None));
/// ```
pub fn is_lost_completion(attempts: u32, code: Option<&str>) -> bool {
    attempts > 1 && code == Some("NoSuchUpload")
}

/// What `HeadObject` found at an upload's key.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Found {
    /// This upload's object: its size and multipart ETag match.
    ThisUpload {
        /// The object's ETag.
        etag: String,
    },
    /// Some other object.
    Other {
        /// Its size, if `HeadObject` gave one.
        size: Option<i64>,
        /// Its ETag, if `HeadObject` gave one.
        etag: Option<String>,
    },
    /// No object (`HeadObject` answered 404).
    Nothing,
    /// The parts' ETags are not MD5s, so the object's ETag cannot be
    /// predicted and the object cannot be told apart from another.
    CannotTell {
        /// What `HeadObject` found.
        size: Option<i64>,
        /// What `HeadObject` found.
        etag: Option<String>,
    },
    /// `HeadObject` gave up: why.
    Unknown(String),
}

impl fmt::Display for Found {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let or_none = |v: &Option<String>| v.clone().unwrap_or_else(|| "none".to_owned());
        let size = |v: &Option<i64>| {
            v.map_or_else(|| "an unknown size".to_owned(), |n| format!("{n} bytes"))
        };
        match self {
            Found::ThisUpload { etag } => write!(f, "this upload's object (ETag {etag})"),
            Found::Other { size: s, etag } => {
                write!(f, "another object: {} with ETag {}", size(s), or_none(etag))
            }
            Found::Nothing => f.write_str("no object"),
            Found::CannotTell { size: s, etag } => write!(
                f,
                "an object of {} with ETag {}, which cannot be compared: the parts' ETags are not MD5s",
                size(s),
                or_none(etag)
            ),
            Found::Unknown(why) => write!(f, "nothing known: HeadObject failed: {why}"),
        }
    }
}

/// Asks `HeadObject` (with the control policy) what is at `state`'s key,
/// and compares it with the object `state`'s parts make: `state.total_size`
/// bytes with the [`multipart_etag`] of its parts.
pub async fn find_object(client: &Client, opts: &UploadOptions, state: &ResumeState) -> Found {
    let head = control(opts, || {
        client
            .head_object()
            .bucket(&state.bucket)
            .key(&state.key)
            .send()
    })
    .await;
    let out = match head {
        Ok(out) => out,
        Err(err)
            if err
                .last_error()
                .and_then(|e| e.as_service_error())
                .is_some_and(|e| e.is_not_found()) =>
        {
            return Found::Nothing;
        }
        Err(err) => return Found::Unknown(error_chain(&err)),
    };
    let size = out.content_length();
    let etag = out.e_tag().map(str::to_owned);
    let Some(expected) = multipart_etag(state.completed.iter().map(|p| p.etag.as_str())) else {
        return Found::CannotTell { size, etag };
    };
    let total = i64::try_from(state.total_size).ok();
    match etag {
        Some(etag) if etag == expected && size == total => Found::ThisUpload { etag },
        etag => Found::Other { size, etag },
    }
}

/// An upload in progress, as `ListMultipartUploads` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedUpload {
    /// Its key.
    pub key: String,
    /// Its upload id.
    pub upload_id: String,
    /// When the server started it.
    pub initiated: Option<SystemTime>,
}

impl From<&MultipartUpload> for ListedUpload {
    fn from(upload: &MultipartUpload) -> Self {
        ListedUpload {
            key: upload.key().unwrap_or_default().to_owned(),
            upload_id: upload.upload_id().unwrap_or_default().to_owned(),
            initiated: upload
                .initiated()
                .and_then(|t| SystemTime::try_from(*t).ok()),
        }
    }
}

/// The upload ids among `listed` that a run which uses upload `used` for
/// `key`, and whose create call took `create_took`, started and left unused
/// (the rule in the [module docs](self)).
///
/// # Errors
///
/// A message when `used` is not listed for `key` with an initiation time:
/// then no window can be drawn, and nothing should be aborted.
///
/// # Examples
///
/// ```
/// use s3_multipart::lost::{ListedUpload, orphans};
/// use std::time::{Duration, SystemTime};
///
/// let at = |secs| Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
/// let upload = |key: &str, id: &str, secs| ListedUpload {
///     key: key.into(), upload_id: id.into(), initiated: at(secs),
/// };
/// let listed = [
///     upload("k", "yesterday", 1_000),   // another writer's, long before
///     upload("k", "lost", 100_000),      // the lost attempt's
///     upload("k", "used", 100_003),      // the attempt that answered
///     upload("k2", "other-key", 100_001),
/// ];
/// assert_eq!(orphans(&listed, "k", "used", Duration::from_secs(4)).unwrap(), ["lost"]);
/// assert!(orphans(&listed, "k", "not-listed", Duration::from_secs(4)).is_err());
/// ```
pub fn orphans(
    listed: &[ListedUpload],
    key: &str,
    used: &str,
    create_took: Duration,
) -> Result<Vec<String>, String> {
    let used_at = listed
        .iter()
        .find(|u| u.key == key && u.upload_id == used)
        .and_then(|u| u.initiated)
        .ok_or_else(|| {
            format!("upload {used} is not listed for {key} with a start time: aborting nothing")
        })?;
    let earliest = used_at
        .checked_sub(create_took.saturating_add(SLOP))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    let latest = used_at.checked_add(SLOP).unwrap_or(used_at);
    Ok(listed
        .iter()
        .filter(|u| u.key == key && u.upload_id != used)
        .filter(|u| u.initiated.is_some_and(|t| earliest <= t && t <= latest))
        .map(|u| u.upload_id.clone())
        .collect())
}

/// What [`abort_orphans`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrphanCleanup {
    /// The upload ids aborted.
    pub aborted: Vec<String>,
    /// What went wrong, if anything: a listing or an abort that gave up, or
    /// no window to judge by. The upload goes on regardless.
    pub warnings: Vec<String>,
}

/// Lists the uploads in progress for `opts.key` and aborts the ones
/// [`orphans`] picks for upload `used`. Failures become warnings: the
/// upload itself is not at stake.
pub async fn abort_orphans(
    client: &Client,
    opts: &UploadOptions,
    used: &str,
    create_took: Duration,
) -> OrphanCleanup {
    let mut cleanup = OrphanCleanup::default();
    let listed = match list_uploads(client, opts).await {
        Ok(listed) => listed,
        Err(why) => {
            cleanup.warnings.push(why);
            return cleanup;
        }
    };
    let picked = match orphans(&listed, &opts.key, used, create_took) {
        Ok(picked) => picked,
        Err(why) => {
            cleanup.warnings.push(why);
            return cleanup;
        }
    };
    for upload_id in picked {
        let result = control(opts, || {
            client
                .abort_multipart_upload()
                .bucket(&opts.bucket)
                .key(&opts.key)
                .upload_id(&upload_id)
                .send()
        })
        .await;
        match result {
            Ok(_) => cleanup.aborted.push(upload_id),
            Err(err) if err.last_error().and_then(|e| e.code()) == Some("NoSuchUpload") => {}
            Err(err) => cleanup.warnings.push(format!(
                "aborting orphaned upload {upload_id}: {}",
                error_chain(&err)
            )),
        }
    }
    cleanup
}

/// Every upload in progress whose key starts with `opts.key`, page by page
/// (at most [`MAX_PAGES`]).
async fn list_uploads(client: &Client, opts: &UploadOptions) -> Result<Vec<ListedUpload>, String> {
    let mut listed = Vec::new();
    let mut markers: Option<(String, String)> = None;
    for _ in 0..MAX_PAGES {
        let page = control(opts, || {
            let (key_marker, id_marker) = markers.clone().unzip();
            client
                .list_multipart_uploads()
                .bucket(&opts.bucket)
                .prefix(&opts.key)
                .set_key_marker(key_marker)
                .set_upload_id_marker(id_marker)
                .send()
        })
        .await
        .map_err(|e| format!("ListMultipartUploads: {}", error_chain(&e)))?;
        listed.extend(page.uploads().iter().map(ListedUpload::from));
        if page.is_truncated() != Some(true) {
            return Ok(listed);
        }
        markers = Some((
            page.next_key_marker().unwrap_or_default().to_owned(),
            page.next_upload_id_marker().unwrap_or_default().to_owned(),
        ));
    }
    Err(format!(
        "ListMultipartUploads: more than {MAX_PAGES} pages for {}: aborting nothing",
        opts.key
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> Option<SystemTime> {
        Some(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn upload(key: &str, id: &str, initiated: Option<SystemTime>) -> ListedUpload {
        ListedUpload {
            key: key.into(),
            upload_id: id.into(),
            initiated,
        }
    }

    #[test]
    fn the_window_is_the_create_call_before_the_used_upload() {
        let listed = [
            upload("k", "before-window", at(994)),
            upload("k", "at-window-start", at(995)),
            upload("k", "used", at(1_000)),
            upload("k", "same-second", at(1_001)),
            upload("k", "after", at(1_002)),
            upload("k", "no-time", None),
            upload("k/sub", "longer-key", at(999)),
        ];
        // 4 s create call + 1 s slop: from 995 to 1001.
        assert_eq!(
            orphans(&listed, "k", "used", Duration::from_secs(4)).unwrap(),
            ["at-window-start", "same-second"]
        );
        // A one-attempt-fast create: only the same second either side.
        assert_eq!(
            orphans(&listed, "k", "used", Duration::ZERO).unwrap(),
            ["same-second"]
        );
    }

    #[test]
    fn no_window_without_the_used_uploads_time() {
        let listed = [upload("k", "used", None), upload("k", "other", at(5))];
        assert!(orphans(&listed, "k", "used", Duration::from_secs(60)).is_err());
        assert!(orphans(&listed, "other-key", "used", Duration::from_secs(60)).is_err());
    }

    #[test]
    fn absurd_durations_and_times_do_not_overflow() {
        let listed = [
            upload("k", "used", at(10)),
            upload("k", "epoch", at(0)),
            upload(
                "k",
                "far",
                Some(SystemTime::UNIX_EPOCH + Duration::from_secs(u32::MAX.into())),
            ),
        ];
        assert_eq!(
            orphans(&listed, "k", "used", Duration::MAX).unwrap(),
            ["epoch"]
        );
    }

    #[test]
    fn multipart_etag_of_one_part_and_bad_etags() {
        // python3: md5(bytes.fromhex(md5(b"a").hexdigest())).hexdigest() + "-1"
        assert_eq!(
            multipart_etag(["0cc175b9c0f1b6a831c399e269772661"]).as_deref(),
            Some("\"b6ff9a06b7e20bcb2858c5b8ff744aea-1\"")
        );
        assert_eq!(multipart_etag(["0cc175b9c0f1b6a831c399e26977266"]), None);
        assert_eq!(multipart_etag(["0cc175b9c0f1b6a831c399e26977266g"]), None);
        assert_eq!(multipart_etag(["\"abc-2\""]), None);
        assert_eq!(multipart_etag(["+cc175b9c0f1b6a831c399e269772661"]), None);
    }
}
