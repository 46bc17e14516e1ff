//! TTS's domain errors. The gRPC adapter turns them into status codes with
//! `google.rpc` details through [`ApiError`]; none carries a secret.

use map_kit::{ApiError, FieldViolation, System, error::Reason};

/// What can go wrong in TTS.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    /// The request is malformed; nothing changed.
    #[error("invalid argument")]
    InvalidArgument(Vec<FieldViolation>),
    /// A resource does not exist (or the caller may not know it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A resource with the same identity exists.
    #[error("{message}")]
    AlreadyExists {
        /// Machine-readable reason, e.g. `WORKFLOW_NAME_TAKEN`.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The state does not allow the operation.
    #[error("{message}")]
    FailedPrecondition {
        /// Machine-readable reason, e.g. `NOT_DRAFT`.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The caller may not do this (beyond its roles, which the policy checks).
    #[error("{message}")]
    PermissionDenied {
        /// Machine-readable reason, e.g. `NOT_ASSIGNEE`.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The caller's etag is stale: the resource changed since it was read.
    #[error("etag mismatch")]
    EtagMismatch,
    /// A kit-level refusal (paging, idempotency, a dependency); boxed, as
    /// it is the largest variant.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl TtsError {
    /// FAILED_PRECONDITION with `reason`.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> TtsError {
        TtsError::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }

    /// INVALID_ARGUMENT naming one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> TtsError {
        TtsError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl From<TtsError> for ApiError {
    fn from(e: TtsError) -> ApiError {
        match e {
            TtsError::InvalidArgument(v) => ApiError::InvalidArgument(v),
            TtsError::NotFound(resource) => ApiError::NotFound { resource },
            TtsError::AlreadyExists { reason, message } => {
                ApiError::AlreadyExists(Reason::new(System::Tts, reason, message))
            }
            TtsError::FailedPrecondition { reason, message } => {
                ApiError::FailedPrecondition(Reason::new(System::Tts, reason, message))
            }
            TtsError::PermissionDenied { reason, message } => {
                ApiError::PermissionDenied(Reason::new(System::Tts, reason, message))
            }
            TtsError::EtagMismatch => map_kit::wire::etag::mismatch(System::Tts),
            TtsError::Api(e) => *e,
            TtsError::Db(e) => e.into(),
        }
    }
}

impl From<map_kit::uploads::UploadError> for TtsError {
    fn from(e: map_kit::uploads::UploadError) -> TtsError {
        TtsError::from(e.into_api(System::Tts))
    }
}

impl From<ApiError> for TtsError {
    fn from(e: ApiError) -> TtsError {
        TtsError::Api(Box::new(e))
    }
}

pub(crate) use map_kit::db::is_unique_violation;
