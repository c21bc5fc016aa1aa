//! Classifying the AWS SDK's errors for persevere: the io error in the
//! `source()` chain, the SDK's own connector verdict, the HTTP status and the
//! S3 error code.
//!
//! | failure | verdict |
//! |---|---|
//! | an io error in the chain (reset, broken pipe, timeout, …) | as [`persevere::classify::io`] says |
//! | the connector's timeout, io or transient verdict (such as hyper's "connection closed before message completed") | timeout, transient |
//! | the SDK's own timeout | timeout |
//! | a response that could not be read (cut off mid-way) | as its io error says, transient without one ([`classify_cut_off`]) |
//! | S3 code `SlowDown` | throttled |
//! | S3 code `RequestTimeout` | timeout |
//! | S3 code `InternalError` | transient |
//! | S3 codes `AccessDenied`, `NoSuchUpload`, `InvalidPart`, `InvalidPartOrder`, `NoSuchBucket`, `EntityTooSmall` | terminal |
//! | any other service error | by its HTTP status and `Retry-After` ([`persevere::classify::http`]) |
//! | a request the SDK could not build | terminal |

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_types::retry::ErrorKind;
use persevere::classify::io::{classify_kind, find_io_error};
use persevere::{Classification, Classify};
use std::error::Error;

/// The verdict for an S3 error code, or `None` for a code this table does
/// not know (the HTTP status decides then).
///
/// # Examples
///
/// ```
/// use persevere::RetryKind;
/// use s3_multipart::classify::classify_code;
///
/// assert_eq!(classify_code("SlowDown").and_then(|c| c.kind()), Some(RetryKind::Throttled));
/// assert!(classify_code("NoSuchUpload").unwrap().is_terminal());
/// assert_eq!(classify_code("SomethingNew"), None);
/// ```
pub fn classify_code(code: &str) -> Option<Classification> {
    Some(match code {
        "SlowDown" => Classification::throttled(),
        "RequestTimeout" => Classification::timeout(),
        "InternalError" => Classification::transient(),
        "AccessDenied" | "NoSuchUpload" | "InvalidPart" | "InvalidPartOrder" | "NoSuchBucket"
        | "EntityTooSmall" => Classification::terminal(),
        _ => return None,
    })
}

/// The verdict for a response (or body) cut off mid-way: what the first
/// decisive io error in `error`'s `source()` chain says, even when that is
/// terminal; transient when the chain holds none (or only `Other`).
pub fn classify_cut_off(error: &(dyn Error + 'static)) -> Classification {
    find_io_error(error)
        .and_then(|e| classify_kind(e.kind()))
        .unwrap_or_else(Classification::transient)
}

/// Classifies any operation's `SdkError` (see the table above).
pub fn classify_sdk_error<E>(error: &SdkError<E, HttpResponse>) -> Classification
where
    E: ProvideErrorMetadata + Error + 'static,
{
    match error {
        SdkError::ConstructionFailure(_) => Classification::terminal(),
        SdkError::TimeoutError(_) => Classification::timeout(),
        SdkError::DispatchFailure(failure) => {
            let by_io = persevere::classify::io::classify_error(error);
            if by_io.is_retryable() {
                by_io
            } else if failure.is_timeout() {
                Classification::timeout()
            } else if failure.is_io()
                || failure
                    .as_connector_error()
                    .and_then(|c| c.as_other())
                    .is_some_and(|kind| kind == ErrorKind::TransientError)
            {
                Classification::transient()
            } else {
                Classification::terminal()
            }
        }
        SdkError::ResponseError(_) => classify_cut_off(error),
        SdkError::ServiceError(context) => {
            let raw = context.raw();
            let retry_after = raw.headers().get("retry-after");
            let by_status =
                persevere::classify::http::classify_response(raw.status().as_u16(), retry_after);
            match context.err().code().and_then(classify_code) {
                Some(by_code) => match by_status.server_delay() {
                    Some(delay) if by_code.is_retryable() => by_code.with_server_delay(delay),
                    _ => by_code,
                },
                None => by_status,
            }
        }
        _ => Classification::terminal(),
    }
}

/// A [`Classify`] for any S3 operation's `SdkError`, by
/// [`classify_sdk_error`].
#[derive(Debug, Clone, Copy, Default)]
pub struct S3Errors;

impl<E> Classify<SdkError<E, HttpResponse>> for S3Errors
where
    E: ProvideErrorMetadata + Error + 'static,
{
    fn classify(&self, error: &SdkError<E, HttpResponse>) -> Classification {
        classify_sdk_error(error)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_s3::error::ErrorMetadata;
    use aws_sdk_s3::operation::upload_part::UploadPartError;
    use aws_smithy_runtime_api::client::result::ConnectorError;
    use aws_smithy_runtime_api::http::StatusCode;
    use aws_smithy_types::body::SdkBody;
    use persevere::RetryKind;
    use std::io;

    fn service(status: u16, code: &str) -> SdkError<UploadPartError, HttpResponse> {
        let err = UploadPartError::generic(ErrorMetadata::builder().code(code).build());
        let raw = HttpResponse::new(StatusCode::try_from(status).unwrap(), SdkBody::empty());
        SdkError::service_error(err, raw)
    }

    fn kind(c: Classification) -> Option<RetryKind> {
        c.kind()
    }

    #[test]
    fn s3_codes_decide_before_the_status() {
        assert_eq!(
            kind(classify_sdk_error(&service(503, "SlowDown"))),
            Some(RetryKind::Throttled)
        );
        assert_eq!(
            kind(classify_sdk_error(&service(400, "RequestTimeout"))),
            Some(RetryKind::Timeout)
        );
        assert_eq!(
            kind(classify_sdk_error(&service(500, "InternalError"))),
            Some(RetryKind::Transient)
        );
        for code in ["AccessDenied", "NoSuchUpload", "InvalidPart"] {
            assert!(
                classify_sdk_error(&service(500, code)).is_terminal(),
                "{code}"
            );
        }
    }

    #[test]
    fn unknown_codes_fall_back_to_the_status() {
        assert_eq!(
            kind(classify_sdk_error(&service(502, "Whatever"))),
            Some(RetryKind::Transient)
        );
        assert!(classify_sdk_error(&service(404, "Whatever")).is_terminal());
    }

    fn cut_off(source: io::Error) -> SdkError<UploadPartError, HttpResponse> {
        let raw = HttpResponse::new(StatusCode::try_from(200).unwrap(), SdkBody::empty());
        SdkError::response_error(source, raw)
    }

    #[test]
    fn a_reset_in_the_source_chain_is_transient() {
        let reset = ConnectorError::io(Box::new(io::Error::from(io::ErrorKind::ConnectionReset)));
        let err: SdkError<UploadPartError, HttpResponse> = SdkError::dispatch_failure(reset);
        assert_eq!(kind(classify_sdk_error(&err)), Some(RetryKind::Transient));

        // A response cut off: its io error decides, terminal included.
        let err = cut_off(io::Error::from(io::ErrorKind::ConnectionReset));
        assert_eq!(kind(classify_sdk_error(&err)), Some(RetryKind::Transient));
        let err = cut_off(io::Error::from(io::ErrorKind::TimedOut));
        assert_eq!(kind(classify_sdk_error(&err)), Some(RetryKind::Timeout));
        let err = cut_off(io::Error::from(io::ErrorKind::InvalidData));
        assert!(classify_sdk_error(&err).is_terminal());
    }

    #[test]
    fn connector_verdicts_without_an_io_error() {
        let closed = ConnectorError::io("connection closed before message completed".into());
        let err: SdkError<UploadPartError, HttpResponse> = SdkError::dispatch_failure(closed);
        assert_eq!(kind(classify_sdk_error(&err)), Some(RetryKind::Transient));

        let timeout = ConnectorError::timeout("read timed out".into());
        let err: SdkError<UploadPartError, HttpResponse> = SdkError::dispatch_failure(timeout);
        assert_eq!(kind(classify_sdk_error(&err)), Some(RetryKind::Timeout));

        let user = ConnectorError::user("bad header".into());
        let err: SdkError<UploadPartError, HttpResponse> = SdkError::dispatch_failure(user);
        assert!(classify_sdk_error(&err).is_terminal());

        // A response cut off with no decisive io error is transient.
        let err = cut_off(io::Error::other("body ended early"));
        assert_eq!(kind(classify_sdk_error(&err)), Some(RetryKind::Transient));
    }
}
