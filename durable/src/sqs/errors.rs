//! What an SQS error means for the caller.

use crate::error::Error;
use aws_sdk_sqs::config::http::HttpResponse;
use aws_sdk_sqs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};

/// A failed SQS call: the queue is missing, or any other failure.
#[derive(Debug)]
pub(super) enum Failure {
    /// The queue does not exist (deleted, or lost by a server restarted
    /// without persistence).
    MissingQueue,
    /// Anything else, as the store reports it.
    Other(Error),
}

impl From<Error> for Failure {
    fn from(e: Error) -> Self {
        Failure::Other(e)
    }
}

/// Maps an SDK error: a call that never got an answer (refused, reset,
/// timed out, an answer cut off) or a server error (5xx) is
/// [`Error::Unavailable`]; a missing queue is [`Failure::MissingQueue`].
pub(super) fn failure<E>(op: &'static str, e: SdkError<E, HttpResponse>) -> Failure
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    if matches!(
        e.code(),
        Some("QueueDoesNotExist" | "AWS.SimpleQueueService.NonExistentQueue")
    ) {
        return Failure::MissingQueue;
    }
    let unavailable = match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => s.raw().status().is_server_error(),
        _ => false,
    };
    let text: Box<dyn std::error::Error + Send + Sync> =
        format!("{op}: {}", DisplayErrorContext(&e)).into();
    Failure::Other(if unavailable {
        Error::Unavailable(text)
    } else {
        Error::Backend(text)
    })
}

/// The store's error for a failure outside a queue's own calls.
pub(super) fn error(f: Failure) -> Error {
    match f {
        Failure::MissingQueue => Error::Backend("the queue does not exist".into()),
        Failure::Other(e) => e,
    }
}
