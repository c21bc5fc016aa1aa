//! The classifiers on arbitrary input: an `io::Error` anywhere down an
//! arbitrary `source()` chain (wrappers, `io::Error`s wrapping other errors,
//! kinds of every sort, chains longer than the walk's depth cap), and any
//! HTTP status with any `Retry-After` value at any time.
//!
//! Never a panic or a hang; the chain's verdict is the first `io::Error`
//! whose kind decides, within 64 links, else terminal; an HTTP verdict's
//! kind is its status's, a server delay comes only with a retryable status,
//! delay-seconds do not depend on the clock, and an HTTP-date is read back to
//! the second.
//!
//! Run with `cargo +nightly fuzz run classify` from the crate's root.
#![no_main]

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use persevere::Classification;
use persevere::classify::http::{classify_response_at, classify_status, parse_retry_after};
use persevere::classify::io::{classify_error, classify_kind, find_io_error};
use std::error::Error;
use std::fmt;
use std::io::{self, ErrorKind};
use std::time::{Duration, UNIX_EPOCH};

/// The walk's depth cap, as documented in `classify::io`.
const MAX_CHAIN_DEPTH: usize = 64;

const KINDS: &[ErrorKind] = &[
    ErrorKind::ConnectionReset,
    ErrorKind::ConnectionAborted,
    ErrorKind::ConnectionRefused,
    ErrorKind::BrokenPipe,
    ErrorKind::UnexpectedEof,
    ErrorKind::Interrupted,
    ErrorKind::NotConnected,
    ErrorKind::NetworkDown,
    ErrorKind::NetworkUnreachable,
    ErrorKind::HostUnreachable,
    ErrorKind::TimedOut,
    ErrorKind::WouldBlock,
    ErrorKind::Other,
    ErrorKind::NotFound,
    ErrorKind::PermissionDenied,
    ErrorKind::InvalidInput,
    ErrorKind::InvalidData,
    ErrorKind::AddrInUse,
    ErrorKind::Unsupported,
    ErrorKind::OutOfMemory,
];

/// One link of a chain, from the outside in.
#[derive(Arbitrary, Debug, Clone, Copy)]
enum Link {
    /// An error of another type whose `source()` is the next link.
    Wrapper,
    /// `io::Error::new(kind, next)`: an `io::Error` holding the next link.
    IoWrapping(u8),
    /// `io::Error::from(kind)`: an `io::Error` that ends the chain.
    IoLeaf(u8),
}

fn kind(k: u8) -> ErrorKind {
    KINDS[usize::from(k) % KINDS.len()]
}

#[derive(Debug)]
struct Wrapper(Option<Box<dyn Error + Send + Sync>>);

impl fmt::Display for Wrapper {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("wrapper")
    }
}

impl Error for Wrapper {
    fn source(&self) -> Option<&(dyn Error + 'static)> {
        self.0.as_deref().map(|e| e as &(dyn Error + 'static))
    }
}

/// The chain's outermost error; links after an `IoLeaf` are dropped.
fn build(links: &[Link]) -> Box<dyn Error + Send + Sync> {
    let end = links
        .iter()
        .position(|l| matches!(l, Link::IoLeaf(_)))
        .map_or(links.len(), |i| i + 1);
    let mut inner: Option<Box<dyn Error + Send + Sync>> = None;
    for link in links[..end].iter().rev() {
        inner = Some(match (*link, inner.take()) {
            (Link::Wrapper, inner) => Box::new(Wrapper(inner)),
            (Link::IoWrapping(k), Some(inner)) => Box::new(io::Error::new(kind(k), inner)),
            (Link::IoWrapping(k) | Link::IoLeaf(k), _) => Box::new(io::Error::from(kind(k))),
        });
    }
    inner.unwrap_or_else(|| Box::new(Wrapper(None)))
}

/// What the walk must find: the first `io::Error` within the depth cap whose
/// kind is not `Other`; `io::Error`s of kind `Other` are looked through.
fn expected(links: &[Link]) -> Classification {
    for link in links.iter().take(MAX_CHAIN_DEPTH) {
        match *link {
            Link::Wrapper => {}
            Link::IoWrapping(k) | Link::IoLeaf(k) => {
                if let Some(verdict) = classify_kind(kind(k)) {
                    return verdict;
                }
                if matches!(link, Link::IoLeaf(_)) {
                    break;
                }
            }
        }
    }
    Classification::terminal()
}

#[derive(Arbitrary, Debug)]
struct Input {
    links: Vec<Link>,
    status: u16,
    retry_after: Option<String>,
    now_secs: u32,
    date_secs: u32,
}

fuzz_target!(|input: Input| {
    // The io chain, capped at a little past the walk's depth.
    let links = &input.links[..input.links.len().min(2 * MAX_CHAIN_DEPTH)];
    let error = build(links);
    let verdict = classify_error(&*error);
    assert_eq!(verdict, expected(links), "{links:?}");
    if verdict.is_retryable() {
        assert!(find_io_error(&*error).is_some());
    }

    // HTTP: any status, any Retry-After, any time after 1970.
    let now = UNIX_EPOCH + Duration::from_secs(u64::from(input.now_secs));
    let status = input.status;
    let value = input.retry_after.as_deref();
    let verdict = classify_response_at(status, value, now);
    assert_eq!(verdict.kind(), classify_status(status).kind());
    let parsed = value.and_then(|v| parse_retry_after(v, now));
    if verdict.is_retryable() {
        assert_eq!(verdict.server_delay(), parsed);
    } else {
        assert_eq!(verdict.server_delay(), None);
    }
    if let Some(v) = value {
        let digits = v.trim_matches([' ', '\t']);
        if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
            // Delay-seconds: the clock plays no part; a huge value saturates.
            let later = now + Duration::from_secs(86_400);
            assert_eq!(parsed, parse_retry_after(v, later));
            let secs = digits.parse::<u64>().unwrap_or(u64::MAX);
            assert_eq!(parsed, Some(Duration::from_secs(secs)));
        }
    }

    // An HTTP-date the server wrote is read back to the second.
    let date = UNIX_EPOCH + Duration::from_secs(u64::from(input.date_secs));
    let written = httpdate::fmt_http_date(date);
    let expect = date.duration_since(now).unwrap_or(Duration::ZERO);
    assert_eq!(parse_retry_after(&written, now), Some(expect), "{written}");
});
