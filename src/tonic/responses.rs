//! The verdict on a gRPC response as the tower layer sees it: an
//! `http::Response` whose status is in its headers, or not yet known.

use super::{GrpcCodes, Pushback};
use crate::classify::{Classification, ClassifyOk};
use http::{HeaderMap, Response, StatusCode};
use tonic::Code;

/// Classifies the `http::Response` of a gRPC call, below the tonic client.
///
/// A failed unary call usually comes back *trailers-only*: a response whose
/// headers carry `grpc-status` (and `grpc-retry-pushback-ms`) and whose body
/// is empty. Such a response is classified by its code with [`GrpcCodes`],
/// and retried when the code is retryable. A response with no `grpc-status`
/// header and HTTP 200 has started a reply: its status comes in the
/// trailers, after the messages, and the call is committed (gRPC proposal
/// A6: once the response headers are received, the call is not retried), so
/// it is accepted. A response with another HTTP status and no `grpc-status`
/// (from a proxy) gets the code gRPC's HTTP-to-gRPC mapping gives it: 429,
/// 502, 503 and 504 are `UNAVAILABLE`, the others are not retryable.
///
/// # Default
///
/// [`GrpcCodes::new`]: `UNAVAILABLE` and `RESOURCE_EXHAUSTED`.
///
/// # Examples
///
/// ```
/// use persevere::classify::ClassifyOk;
/// use persevere::tonic::GrpcResponses;
/// use std::time::Duration;
///
/// let busy = http::Response::builder()
///     .header("grpc-status", "14")
///     .header("grpc-retry-pushback-ms", "40")
///     .body(())
///     .unwrap();
/// let (_, verdict) = GrpcResponses::new().check(busy).unwrap_err();
/// assert_eq!(verdict.server_delay(), Some(Duration::from_millis(40)));
///
/// let answer = http::Response::builder().header("content-type", "application/grpc").body(()).unwrap();
/// assert!(GrpcResponses::new().check(answer).is_ok());
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct GrpcResponses {
    codes: GrpcCodes,
}

impl GrpcResponses {
    /// Retries the codes of [`GrpcCodes::new`].
    ///
    /// # Examples
    ///
    /// See [`GrpcResponses`].
    pub const fn new() -> Self {
        GrpcResponses::with_codes(GrpcCodes::new())
    }

    /// Retries `codes`.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::classify::ClassifyOk;
    /// use persevere::tonic::{GrpcCodes, GrpcResponses};
    /// use tonic::Code;
    ///
    /// let aborted = || http::Response::builder().header("grpc-status", "10").body(()).unwrap();
    /// assert!(GrpcResponses::new().check(aborted()).is_ok());
    /// let responses = GrpcResponses::with_codes(GrpcCodes::new().with(Code::Aborted));
    /// assert!(responses.check(aborted()).is_err());
    /// ```
    pub const fn with_codes(codes: GrpcCodes) -> Self {
        GrpcResponses { codes }
    }

    /// The retryable codes.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::{GrpcCodes, GrpcResponses};
    /// assert_eq!(GrpcResponses::new().codes(), GrpcCodes::new());
    /// ```
    pub const fn codes(&self) -> GrpcCodes {
        self.codes
    }

    /// The verdict on a response's status and headers; `None` when the
    /// response is to be accepted.
    ///
    /// # Examples
    ///
    /// ```
    /// use persevere::tonic::GrpcResponses;
    /// use http::{HeaderMap, StatusCode};
    ///
    /// let mut headers = HeaderMap::new();
    /// assert!(GrpcResponses::new().classify_parts(StatusCode::OK, &headers).is_none());
    /// headers.insert("grpc-status", "14".parse().unwrap());
    /// assert!(GrpcResponses::new().classify_parts(StatusCode::OK, &headers).is_some());
    /// ```
    pub fn classify_parts(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
    ) -> Option<Classification> {
        let code = match headers.get(tonic::Status::GRPC_STATUS) {
            Some(code) => Code::from_bytes(code.as_bytes()),
            None if status == StatusCode::OK => return None,
            None => code_of_http_status(status),
        };
        if code == Code::Ok {
            return None;
        }
        let verdict = self
            .codes
            .classify_code(code, Pushback::from_headers(headers));
        verdict.is_retryable().then_some(verdict)
    }
}

/// gRPC's mapping of an HTTP status with no `grpc-status` to a code
/// (grpc/grpc `doc/http-grpc-status-mapping.md`).
fn code_of_http_status(status: StatusCode) -> Code {
    match status.as_u16() {
        400 => Code::Internal,
        401 => Code::Unauthenticated,
        403 => Code::PermissionDenied,
        404 => Code::Unimplemented,
        429 | 502 | 503 | 504 => Code::Unavailable,
        _ => Code::Unknown,
    }
}

impl<B> ClassifyOk<Response<B>> for GrpcResponses {
    type Kept = Response<B>;

    fn check(&self, response: Response<B>) -> Result<Response<B>, (Response<B>, Classification)> {
        match self.classify_parts(response.status(), response.headers()) {
            Some(verdict) => Err((response, verdict)),
            None => Ok(response),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RetryKind;

    fn verdict(status: u16, headers: &[(&'static str, &'static str)]) -> Option<Classification> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(*name, value.parse().unwrap());
        }
        GrpcResponses::new().classify_parts(StatusCode::from_u16(status).unwrap(), &map)
    }

    #[test]
    fn trailers_only_and_http_statuses() {
        assert_eq!(verdict(200, &[("grpc-status", "0")]), None);
        assert_eq!(verdict(200, &[("grpc-status", "5")]), None);
        assert_eq!(
            verdict(200, &[("grpc-status", "8")]).unwrap().kind(),
            Some(RetryKind::Throttled)
        );
        assert_eq!(verdict(200, &[("grpc-status", "4")]), None);
        assert_eq!(
            verdict(
                200,
                &[("grpc-status", "14"), ("grpc-retry-pushback-ms", "x")]
            ),
            None
        );
        assert_eq!(verdict(200, &[("grpc-status", "garbage")]), None);
        assert_eq!(
            verdict(503, &[]).unwrap().kind(),
            Some(RetryKind::Transient)
        );
        assert_eq!(
            verdict(429, &[]).unwrap().kind(),
            Some(RetryKind::Transient)
        );
        assert_eq!(verdict(404, &[]), None);
        assert_eq!(verdict(500, &[]), None);
        // A grpc-status header wins over the HTTP status.
        assert_eq!(verdict(503, &[("grpc-status", "0")]), None);
    }
}
