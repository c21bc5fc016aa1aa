//! The server's `grpc-retry-pushback-ms`: how long to wait, or not to retry.

use http::HeaderMap;
use std::time::Duration;

/// The name of the header (or trailer, or [`tonic::Status`] metadata entry)
/// in which a gRPC server asks the client to wait before its retry.
pub const PUSHBACK_HEADER: &str = "grpc-retry-pushback-ms";

/// What a server's `grpc-retry-pushback-ms` says (gRPC proposal A6, "Pushback").
///
/// A non-negative integer is a delay in milliseconds; anything else (a
/// negative number, text, an empty value) means "do not retry". A value too
/// large for a `u64` of milliseconds saturates at `u64::MAX` ms, which every
/// policy refuses to wait for.
///
/// # Examples
///
/// ```
/// use persevere::tonic::Pushback;
/// use std::time::Duration;
///
/// assert_eq!(Pushback::parse(b"250"), Pushback::Delay(Duration::from_millis(250)));
/// assert_eq!(Pushback::parse(b"-1"), Pushback::DoNotRetry);
/// assert_eq!(Pushback::parse(b"soon"), Pushback::DoNotRetry);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Pushback {
    /// The server sent none: the policy's own backoff applies.
    Absent,
    /// Retry after exactly this long.
    Delay(Duration),
    /// The value was negative or malformed: the server asks for no retry.
    DoNotRetry,
}

impl Pushback {
    /// Reads one value of the header.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::Pushback;
    /// use std::time::Duration;
    ///
    /// assert_eq!(Pushback::parse(b"0"), Pushback::Delay(Duration::ZERO));
    /// assert_eq!(Pushback::parse(b"1.5"), Pushback::DoNotRetry);
    /// ```
    pub fn parse(value: &[u8]) -> Pushback {
        let value = value.trim_ascii();
        if value.is_empty() || !value.iter().all(u8::is_ascii_digit) {
            return Pushback::DoNotRetry;
        }
        let millis = value.iter().fold(0u64, |n, digit| {
            n.saturating_mul(10).saturating_add(u64::from(digit - b'0'))
        });
        Pushback::Delay(Duration::from_millis(millis))
    }

    /// Reads the header from a header map (response headers or trailers);
    /// [`Absent`](Self::Absent) when there is none. When the server sent it
    /// more than once, the first value counts.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::Pushback;
    /// use std::time::Duration;
    ///
    /// let mut headers = http::HeaderMap::new();
    /// assert_eq!(Pushback::from_headers(&headers), Pushback::Absent);
    /// headers.insert("grpc-retry-pushback-ms", "30".parse().unwrap());
    /// assert_eq!(Pushback::from_headers(&headers), Pushback::Delay(Duration::from_millis(30)));
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Pushback {
        match headers.get(PUSHBACK_HEADER) {
            Some(value) => Pushback::parse(value.as_bytes()),
            None => Pushback::Absent,
        }
    }

    /// Reads the entry from a [`tonic::Status`]'s metadata, where a tonic
    /// client puts the trailers of a failed call.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::Pushback;
    /// use std::time::Duration;
    ///
    /// let mut status = tonic::Status::unavailable("busy");
    /// status.metadata_mut().insert("grpc-retry-pushback-ms", "5".parse().unwrap());
    /// assert_eq!(Pushback::from_status(&status), Pushback::Delay(Duration::from_millis(5)));
    /// ```
    pub fn from_status(status: &tonic::Status) -> Pushback {
        match status.metadata().get(PUSHBACK_HEADER) {
            Some(value) => Pushback::parse(value.as_bytes()),
            None => Pushback::Absent,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values() {
        let ms = |n| Pushback::Delay(Duration::from_millis(n));
        assert_eq!(Pushback::parse(b"1000"), ms(1000));
        assert_eq!(Pushback::parse(b" 7 "), ms(7));
        assert_eq!(Pushback::parse(b"007"), ms(7));
        assert_eq!(Pushback::parse(b"99999999999999999999999"), ms(u64::MAX));
        for bad in [&b""[..], b"-0", b"-5", b"+5", b"1e3", b"5ms", b"\xff"] {
            assert_eq!(Pushback::parse(bad), Pushback::DoNotRetry, "{bad:?}");
        }
    }
}
