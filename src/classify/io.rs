//! Which `std::io` errors are worth retrying, found anywhere in an error's
//! `source()` chain.
//!
//! | `io::ErrorKind` (and the raw OS errors std maps to it) | verdict |
//! |---|---|
//! | `ConnectionReset` (ECONNRESET), `ConnectionAborted`, `BrokenPipe` (EPIPE), `UnexpectedEof`, `Interrupted`, `NotConnected`, `NetworkDown` (ENETDOWN), `NetworkUnreachable` (ENETUNREACH), `HostUnreachable` (EHOSTUNREACH) | transient |
//! | `ConnectionRefused` (ECONNREFUSED) | transient, and the request was never sent |
//! | `TimedOut` (ETIMEDOUT), `WouldBlock` (what a blocking socket's read timeout gives on Unix) | timeout |
//! | `Other` | look inside it and further down the chain |
//! | every other kind: `NotFound`, `PermissionDenied`, `InvalidInput`, `InvalidData`, … | terminal |
//!
//! An error with no `io::Error` in its chain is terminal.
//!
//! HTTP clients wrap the socket's error: hyper and reqwest report "connection
//! reset by peer" as their own error whose `source()` chain holds the
//! `io::Error`. [`classify_error`] walks that chain, and also looks inside an
//! `io::Error` of kind `Other` that wraps another error.

use super::{Classification, Classify};
use std::error::Error;
use std::io;

/// How far down a `source()` chain to look, so that a chain that loops back
/// on itself cannot hang the classifier.
const MAX_CHAIN_DEPTH: usize = 64;

/// The verdict for an `io::ErrorKind`, or `None` for `Other`, whose cause may
/// lie inside it or further down the chain.
///
/// # Examples
///
/// ```
/// use persevere::{Classification, classify::io::classify_kind};
/// use std::io::ErrorKind;
///
/// assert_eq!(classify_kind(ErrorKind::ConnectionReset), Some(Classification::transient()));
/// assert_eq!(classify_kind(ErrorKind::PermissionDenied), Some(Classification::terminal()));
/// assert_eq!(classify_kind(ErrorKind::Other), None);
/// ```
pub fn classify_kind(kind: io::ErrorKind) -> Option<Classification> {
    use io::ErrorKind::*;
    Some(match kind {
        ConnectionReset | ConnectionAborted | BrokenPipe | UnexpectedEof | Interrupted
        | NotConnected | NetworkDown | NetworkUnreachable | HostUnreachable => {
            Classification::transient()
        }
        ConnectionRefused => Classification::transient().never_sent(),
        TimedOut | WouldBlock => Classification::timeout(),
        Other => return None,
        _ => Classification::terminal(),
    })
}

/// The first decisive `io::Error` in `error`'s `source()` chain, starting with
/// `error` itself, or `None`.
///
/// An `io::Error` of kind `Other` is returned only if
/// nothing inside or below it is.
///
/// # Examples
///
/// ```
/// use persevere::classify::io::find_io_error;
/// use std::io::{Error, ErrorKind};
///
/// let reset = Error::from(ErrorKind::ConnectionReset);
/// assert_eq!(find_io_error(&reset).map(|e| e.kind()), Some(ErrorKind::ConnectionReset));
/// ```
pub fn find_io_error<'a>(error: &'a (dyn Error + 'static)) -> Option<&'a io::Error> {
    walk(error).map(|(io_error, _)| io_error)
}

/// [`find_io_error`], with the decisive error's verdict (`None` for an
/// undecided `Other`), so that each `io::Error` is classified once.
fn walk<'a>(error: &'a (dyn Error + 'static)) -> Option<(&'a io::Error, Option<Classification>)> {
    let mut undecided = None;
    let mut next = Some(error);
    for _ in 0..MAX_CHAIN_DEPTH {
        let Some(current) = next else { break };
        if let Some(io_error) = current.downcast_ref::<io::Error>() {
            if let Some(verdict) = classify_kind(io_error.kind()) {
                return Some((io_error, Some(verdict)));
            }
            undecided.get_or_insert((io_error, None));
            // `io::Error::new(Other, inner)`: `source()` skips `inner` itself.
            if let Some(inner) = io_error.get_ref() {
                next = Some(inner);
                continue;
            }
        }
        next = current.source();
    }
    undecided
}

/// Classifies `error` by the first decisive `io::Error` in its `source()`
/// chain (see the table above); terminal when there is none.
///
/// # Examples
///
/// A client error that wraps "connection reset by peer", as hyper's does:
///
/// ```
/// use persevere::classify::io::classify_error;
/// use std::io::{Error, ErrorKind};
///
/// #[derive(Debug)]
/// struct ClientError(Error);
/// impl std::fmt::Display for ClientError {
///     fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
///         f.write_str("error sending request")
///     }
/// }
/// impl std::error::Error for ClientError {
///     fn source(&self) -> Option<&(dyn std::error::Error + 'static)> { Some(&self.0) }
/// }
///
/// let err = ClientError(Error::from(ErrorKind::ConnectionReset));
/// assert!(classify_error(&err).is_retryable());
/// ```
pub fn classify_error(error: &(dyn Error + 'static)) -> Classification {
    walk(error)
        .and_then(|(_, verdict)| verdict)
        .unwrap_or_else(Classification::terminal)
}

/// A [`Classify`] for any error type, by [`classify_error`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread", start_paused = true)]
/// # async fn main() {
/// use persevere::classify::io::IoErrors;
/// use std::io::{Error, ErrorKind};
///
/// let err = persevere::retry(|| async { Err::<(), _>(Error::from(ErrorKind::PermissionDenied)) })
///     .classify(IoErrors)
///     .await
///     .unwrap_err();
/// assert_eq!(err.attempts(), 1); // terminal: not retried
/// # }
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IoErrors;

impl<E: Error + 'static> Classify<E> for IoErrors {
    fn classify(&self, error: &E) -> Classification {
        classify_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryKind;
    use std::fmt;

    #[derive(Debug)]
    struct Wrapper(&'static str, Option<Box<dyn Error + Send + Sync>>);

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(self.0)
        }
    }

    impl Error for Wrapper {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            self.1.as_deref().map(|e| e as &(dyn Error + 'static))
        }
    }

    fn wrap(inner: impl Error + Send + Sync + 'static) -> Wrapper {
        Wrapper("outer", Some(Box::new(inner)))
    }

    #[test]
    fn retryable_kinds() {
        use io::ErrorKind::*;
        for kind in [
            ConnectionReset,
            ConnectionAborted,
            BrokenPipe,
            UnexpectedEof,
            Interrupted,
            NotConnected,
            NetworkDown,
            NetworkUnreachable,
            HostUnreachable,
        ] {
            assert_eq!(
                classify_kind(kind),
                Some(Classification::transient()),
                "{kind:?}"
            );
        }
        assert_eq!(
            classify_kind(TimedOut).and_then(|c| c.kind()),
            Some(RetryKind::Timeout)
        );
        assert!(classify_kind(ConnectionRefused).unwrap().was_never_sent());
    }

    #[test]
    fn terminal_kinds() {
        use io::ErrorKind::*;
        for kind in [
            NotFound,
            PermissionDenied,
            InvalidInput,
            InvalidData,
            AlreadyExists,
            Unsupported,
        ] {
            assert_eq!(
                classify_kind(kind),
                Some(Classification::terminal()),
                "{kind:?}"
            );
        }
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn raw_os_errors_map_through_their_kind() {
        // Linux errno values; std maps each to its ErrorKind.
        for (errno, retryable) in [
            (104, true),
            (110, true),
            (32, true),
            (111, true),
            (101, true),
            (113, true),
            (100, true),
            (2, false),
            (13, false),
        ] {
            let err = io::Error::from_raw_os_error(errno);
            assert_eq!(
                classify_error(&err).is_retryable(),
                retryable,
                "errno {errno}: {err}"
            );
        }
    }

    #[test]
    fn finds_io_errors_deep_in_the_chain() {
        let deep = wrap(wrap(wrap(io::Error::from(io::ErrorKind::ConnectionReset))));
        assert_eq!(classify_error(&deep), Classification::transient());
        let none = wrap(Wrapper("leaf", None));
        assert!(classify_error(&none).is_terminal());
    }

    #[test]
    fn looks_inside_io_errors_of_kind_other() {
        let inner = io::Error::from(io::ErrorKind::BrokenPipe);
        let other = io::Error::other(wrap(inner));
        assert_eq!(classify_error(&other), Classification::transient());
        let plain_other = io::Error::other("boom");
        assert!(classify_error(&plain_other).is_terminal());
        assert_eq!(
            find_io_error(&plain_other).map(|e| e.kind()),
            Some(io::ErrorKind::Other)
        );
    }

    #[test]
    fn a_decisive_outer_kind_wins() {
        let outer = io::Error::new(
            io::ErrorKind::InvalidData,
            wrap(io::Error::from(io::ErrorKind::ConnectionReset)),
        );
        assert!(classify_error(&outer).is_terminal());
    }

    #[derive(Debug)]
    struct Loop;
    impl fmt::Display for Loop {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("loop")
        }
    }
    impl Error for Loop {
        fn source(&self) -> Option<&(dyn Error + 'static)> {
            Some(&Loop)
        }
    }

    #[test]
    fn a_chain_that_loops_does_not_hang() {
        assert!(classify_error(&Loop).is_terminal());
    }
}
