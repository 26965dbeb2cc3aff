//! API errors: an HTTP status, an SLS `errorCode` and a message, mapped once from the engine's
//! and the codecs' errors.

use http::StatusCode;
use logport_core::engine::EngineError;
use logport_core::store::StoreError;

/// An error answer: `{"errorCode": code, "errorMessage": message}` with `status`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self { status, code, message: message.into() }
    }

    pub fn parameter(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "ParameterInvalid", message)
    }

    pub fn body_invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "PostBodyInvalid", message)
    }

    pub fn too_large(message: impl Into<String>) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "PostBodyTooLarge", message)
    }

    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "RequestNotSupported", message)
    }
}

impl From<EngineError> for ApiError {
    fn from(error: EngineError) -> Self {
        use StatusCode as S;
        let message = error.to_string();
        let (status, code) = match &error {
            EngineError::ProjectNotExist(_) => (S::NOT_FOUND, "ProjectNotExist"),
            EngineError::ProjectAlreadyExist(_) => (S::BAD_REQUEST, "ProjectAlreadyExist"),
            EngineError::LogStoreNotExist(_) => (S::NOT_FOUND, "LogStoreNotExist"),
            EngineError::LogStoreAlreadyExist(_) => (S::BAD_REQUEST, "LogStoreAlreadyExist"),
            EngineError::ShardNotExist(_) => (S::NOT_FOUND, "ShardNotExist"),
            EngineError::InvalidCursor(_) | EngineError::CursorOutOfRange(_) => (S::BAD_REQUEST, "InvalidCursor"),
            EngineError::InvalidName(_) | EngineError::ParameterInvalid(_) => (S::BAD_REQUEST, "ParameterInvalid"),
            EngineError::Model(_) | EngineError::Decode(_) | EngineError::Codec(_) => {
                (S::BAD_REQUEST, "PostBodyInvalid")
            }
            EngineError::ConsumerGroupNotExist(_) => (S::NOT_FOUND, "ConsumerGroupNotExist"),
            EngineError::ConsumerGroupAlreadyExist(_) => (S::BAD_REQUEST, "ConsumerGroupAlreadyExist"),
            EngineError::ConsumerGroupQuotaExceed(_) => (S::BAD_REQUEST, "ConsumerGroupQuotaExceed"),
            EngineError::ConsumerNotMatch(_) => (S::BAD_REQUEST, "ConsumerNotMatch"),
            EngineError::MachineGroupNotExist(_) => (S::NOT_FOUND, "MachineGroupNotExist"),
            EngineError::MachineGroupAlreadyExist(_) => (S::BAD_REQUEST, "MachineGroupAlreadyExist"),
            EngineError::ConfigNotExist(_) => (S::NOT_FOUND, "ConfigNotExist"),
            EngineError::ConfigAlreadyExist(_) => (S::BAD_REQUEST, "ConfigAlreadyExist"),
            EngineError::TooLarge(_) => (S::PAYLOAD_TOO_LARGE, "PostBodyTooLarge"),
            EngineError::Storage(StoreError::Unavailable(_)) => (S::SERVICE_UNAVAILABLE, "ServerBusy"),
            EngineError::Storage(_) | EngineError::Corrupt(_) => (S::INTERNAL_SERVER_ERROR, "InternalServerError"),
            _ => (S::INTERNAL_SERVER_ERROR, "InternalServerError"),
        };
        Self { status, code, message }
    }
}

impl From<crate::auth::AuthError> for ApiError {
    fn from(error: crate::auth::AuthError) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, error.code(), error.to_string())
    }
}
