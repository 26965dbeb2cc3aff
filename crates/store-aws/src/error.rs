//! What a failed SDK call means for the ports, decided in one place.
//!
//! The SDK has already retried throttling and transient failures (its standard retry strategy,
//! with backoff) by the time an error reaches the stores. So a failure that is not an expected
//! outcome (a missing key, a failed condition) is a [`StoreError::Backend`]: the API answers it
//! with 500 `InternalServerError`.

use std::fmt::Display;

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use logport_core::store::StoreError;

/// The parts of a failed SDK call that the stores decide on.
#[derive(Debug)]
pub(crate) struct Failure {
    /// The HTTP status of the answer, when an answer arrived.
    pub status: Option<u16>,
    /// The service's error code (`NoSuchKey`, `ConditionalCheckFailedException`, ...).
    pub code: Option<String>,
    /// The whole error chain, for messages.
    pub detail: String,
}

impl Failure {
    pub fn of<E>(error: &SdkError<E, HttpResponse>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + 'static,
    {
        Self {
            status: error.raw_response().map(|response| response.status().as_u16()),
            code: error.as_service_error().and_then(ProvideErrorMetadata::code).map(str::to_owned),
            detail: DisplayErrorContext(error).to_string(),
        }
    }

    /// Whether the service answered with this error code.
    pub fn is(&self, code: &str) -> bool {
        self.code.as_deref() == Some(code)
    }

    /// A failure the caller has no special meaning for.
    pub fn into_store_error(self, action: impl Display) -> StoreError {
        // A write that met a DynamoDB transaction in progress on its item: nothing was written,
        // and the same call is likely to go through shortly.
        if self.is("TransactionConflictException") {
            return StoreError::Unavailable(format!("{action}: {}", self.detail));
        }
        // Permissions (AccessDenied, a bad signature or key): retrying will not help.
        if self.status == Some(403) {
            return StoreError::Forbidden(format!("{action}: {}", self.detail));
        }
        StoreError::Backend(format!("{action}: {}", self.detail))
    }
}

/// A request the SDK refused to build (a required field missing): a bug here, not in the caller.
pub(crate) fn build_error(action: impl Display, error: impl std::error::Error) -> StoreError {
    StoreError::Backend(format!("{action}: building the request: {error}"))
}
