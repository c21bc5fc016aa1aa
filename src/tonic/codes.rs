//! Which gRPC status codes are retried, and how.

use super::Pushback;
use crate::classify::{Classification, Classify};
use std::error::Error;
use tonic::{Code, Status};

/// The set of retryable gRPC status codes, and the classifier built on it.
///
/// A retryable code is retried as the kind its meaning gives:
/// `RESOURCE_EXHAUSTED` as [`Throttled`](crate::RetryKind::Throttled),
/// `DEADLINE_EXCEEDED` as [`Timeout`](crate::RetryKind::Timeout), any other
/// as [`Transient`](crate::RetryKind::Transient). A code outside the set is
/// terminal, and so is one whose `grpc-retry-pushback-ms` is negative or
/// malformed ([`Pushback::DoNotRetry`]); a valid pushback becomes the
/// verdict's [server delay](Classification::server_delay).
///
/// As a [`Classify`] it takes any error: the first [`tonic::Status`] in the
/// error's `source()` chain (the error itself included) is classified by its
/// code; an error with no status in it failed below gRPC (a transport error
/// of a `Channel`: connecting, a reset stream) and is classified as
/// `UNAVAILABLE`, the code tonic and the other gRPC clients report for it.
///
/// # Default
///
/// `UNAVAILABLE` and `RESOURCE_EXHAUSTED`. `DEADLINE_EXCEEDED` is retried
/// only when added with [`with`](Self::with): the deadline is usually the
/// caller's, and a retry would overrun it.
///
/// # Examples
///
/// ```
/// use persevere::tonic::GrpcCodes;
/// use persevere::{Classify, RetryKind};
/// use tonic::{Code, Status};
///
/// let codes = GrpcCodes::new();
/// assert_eq!(codes.classify(&Status::unavailable("down")).kind(), Some(RetryKind::Transient));
/// assert_eq!(codes.classify(&Status::resource_exhausted("slow down")).kind(), Some(RetryKind::Throttled));
/// assert!(codes.classify(&Status::deadline_exceeded("late")).is_terminal());
/// assert!(codes.classify(&Status::not_found("gone")).is_terminal());
///
/// let patient = codes.with(Code::DeadlineExceeded);
/// assert_eq!(patient.classify(&Status::deadline_exceeded("late")).kind(), Some(RetryKind::Timeout));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GrpcCodes {
    /// Bit `n` set: code `n` (0..=16) is retryable.
    retryable: u32,
}

/// The bit of a code in the set.
const fn bit(code: Code) -> u32 {
    // Codes are 0..=16, so the shift never overflows.
    1 << (code as u32)
}

impl GrpcCodes {
    /// `UNAVAILABLE` and `RESOURCE_EXHAUSTED` (see [`GrpcCodes`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::GrpcCodes;
    /// use tonic::Code;
    ///
    /// assert!(GrpcCodes::new().contains(Code::Unavailable));
    /// assert!(!GrpcCodes::new().contains(Code::DeadlineExceeded));
    /// ```
    pub const fn new() -> Self {
        GrpcCodes::none()
            .with(Code::Unavailable)
            .with(Code::ResourceExhausted)
    }

    /// No retryable code: every status is terminal.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::GrpcCodes;
    /// use tonic::Code;
    ///
    /// assert!(!GrpcCodes::none().contains(Code::Unavailable));
    /// ```
    pub const fn none() -> Self {
        GrpcCodes { retryable: 0 }
    }

    /// The set with `code` retryable too. `OK` is never retried: adding it
    /// changes nothing.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::GrpcCodes;
    /// use tonic::Code;
    ///
    /// assert!(GrpcCodes::none().with(Code::Aborted).contains(Code::Aborted));
    /// assert!(!GrpcCodes::none().with(Code::Ok).contains(Code::Ok));
    /// ```
    pub const fn with(mut self, code: Code) -> Self {
        self.retryable |= bit(code);
        self.retryable &= !bit(Code::Ok);
        self
    }

    /// The set without `code`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::GrpcCodes;
    /// use tonic::Code;
    ///
    /// assert!(!GrpcCodes::new().without(Code::ResourceExhausted).contains(Code::ResourceExhausted));
    /// ```
    pub const fn without(mut self, code: Code) -> Self {
        self.retryable &= !bit(code);
        self
    }

    /// True if `code` is retryable.
    ///
    /// # Examples
    ///
    /// See [`new`](Self::new).
    pub const fn contains(&self, code: Code) -> bool {
        self.retryable & bit(code) != 0
    }

    /// The verdict on a status `code` with the server's `pushback`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::{GrpcCodes, Pushback};
    /// use std::time::Duration;
    /// use tonic::Code;
    ///
    /// let codes = GrpcCodes::new();
    /// let wait = Pushback::Delay(Duration::from_millis(20));
    /// assert_eq!(codes.classify_code(Code::Unavailable, wait).server_delay(), Some(Duration::from_millis(20)));
    /// assert!(codes.classify_code(Code::Unavailable, Pushback::DoNotRetry).is_terminal());
    /// assert!(codes.classify_code(Code::Internal, wait).is_terminal());
    /// ```
    pub const fn classify_code(&self, code: Code, pushback: Pushback) -> Classification {
        if !self.contains(code) {
            return Classification::terminal();
        }
        let verdict = match code {
            Code::ResourceExhausted => Classification::throttled(),
            Code::DeadlineExceeded => Classification::timeout(),
            _ => Classification::transient(),
        };
        match pushback {
            Pushback::Absent => verdict,
            Pushback::Delay(delay) => verdict.with_server_delay(delay),
            Pushback::DoNotRetry => Classification::terminal(),
        }
    }

    /// The verdict on a [`Status`]: its code, and the pushback in its
    /// metadata.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::GrpcCodes;
    /// use tonic::Status;
    ///
    /// let mut status = Status::unavailable("draining");
    /// status.metadata_mut().insert("grpc-retry-pushback-ms", "-1".parse().unwrap());
    /// assert!(GrpcCodes::new().classify_status(&status).is_terminal());
    /// ```
    pub fn classify_status(&self, status: &Status) -> Classification {
        self.classify_code(status.code(), Pushback::from_status(status))
    }
}

impl Default for GrpcCodes {
    fn default() -> Self {
        GrpcCodes::new()
    }
}

impl<E: Error + 'static> Classify<E> for GrpcCodes {
    fn classify(&self, error: &E) -> Classification {
        let mut next: Option<&(dyn Error + 'static)> = Some(error);
        while let Some(error) = next {
            if let Some(status) = error.downcast_ref::<Status>() {
                return self.classify_status(status);
            }
            next = error.source();
        }
        self.classify_code(Code::Unavailable, Pushback::Absent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryKind;

    #[derive(Debug, thiserror::Error)]
    #[error("wrapped")]
    struct Wrapped(#[source] Status);

    #[test]
    fn every_code() {
        let all = (0..=16).fold(GrpcCodes::none(), |set, n| set.with(Code::from_i32(n)));
        for n in 1..=16 {
            let code = Code::from_i32(n);
            assert!(all.contains(code), "{code:?}");
            assert!(
                GrpcCodes::none()
                    .classify_code(code, Pushback::Absent)
                    .is_terminal()
            );
        }
        assert!(!all.contains(Code::Ok));
        assert_eq!(GrpcCodes::default(), GrpcCodes::new());
    }

    #[test]
    fn status_in_a_source_chain() {
        let codes = GrpcCodes::new();
        assert!(
            codes
                .classify(&Wrapped(Status::not_found("x")))
                .is_terminal()
        );
        let kind = codes
            .classify(&Wrapped(Status::resource_exhausted("x")))
            .kind();
        assert_eq!(kind, Some(RetryKind::Throttled));
        // No status at all: a transport failure, retried as UNAVAILABLE.
        let io = std::io::Error::from(std::io::ErrorKind::ConnectionReset);
        assert_eq!(codes.classify(&io).kind(), Some(RetryKind::Transient));
        assert!(codes.without(Code::Unavailable).classify(&io).is_terminal());
    }
}
