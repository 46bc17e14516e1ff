//! AMS's domain errors. The gRPC adapter turns them into status codes with
//! `google.rpc` details through [`ApiError`]; none carries a secret.

use map_kit::{ApiError, FieldViolation, System, error::Reason};

/// What can go wrong in AMS.
#[derive(Debug, thiserror::Error)]
pub enum AmsError {
    /// The request is malformed; nothing changed.
    #[error("invalid argument")]
    InvalidArgument(Vec<FieldViolation>),
    /// A resource does not exist (or the caller may not know it does).
    #[error("{0} not found")]
    NotFound(&'static str),
    /// A resource with the same identity exists.
    #[error("{message}")]
    AlreadyExists {
        /// Machine-readable reason, e.g. `HELP_TOPIC_NAME_TAKEN`.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The state does not allow the operation.
    #[error("{message}")]
    FailedPrecondition {
        /// Machine-readable reason, e.g. `INVALID_STATUS`.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The caller may not do this (beyond its roles, which the policy checks).
    #[error("{message}")]
    PermissionDenied {
        /// Machine-readable reason, e.g. `AGENT_REQUIRED`.
        reason: &'static str,
        /// For people.
        message: String,
    },
    /// The caller's etag is stale: the resource changed since it was read.
    #[error("etag mismatch")]
    EtagMismatch,
    /// Concurrent changes kept winning; the caller should read and retry.
    #[error("{0}")]
    Aborted(String),
    /// A kit-level refusal (paging, idempotency, a dependency); boxed, as
    /// it is the largest variant.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl AmsError {
    /// FAILED_PRECONDITION with `reason`.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> AmsError {
        AmsError::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }

    /// INVALID_ARGUMENT naming one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> AmsError {
        AmsError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl From<AmsError> for ApiError {
    fn from(e: AmsError) -> ApiError {
        match e {
            AmsError::InvalidArgument(v) => ApiError::InvalidArgument(v),
            AmsError::NotFound(resource) => ApiError::NotFound { resource },
            AmsError::AlreadyExists { reason, message } => {
                ApiError::AlreadyExists(Reason::new(System::Ams, reason, message))
            }
            AmsError::FailedPrecondition { reason, message } => {
                ApiError::FailedPrecondition(Reason::new(System::Ams, reason, message))
            }
            AmsError::PermissionDenied { reason, message } => {
                ApiError::PermissionDenied(Reason::new(System::Ams, reason, message))
            }
            AmsError::EtagMismatch => map_kit::wire::etag::mismatch(System::Ams),
            AmsError::Aborted(message) => {
                ApiError::Aborted(Reason::new(System::Ams, "CONCURRENT_CHANGE", message))
            }
            AmsError::Api(e) => *e,
            AmsError::Db(e) => e.into(),
        }
    }
}

impl From<ApiError> for AmsError {
    fn from(e: ApiError) -> AmsError {
        AmsError::Api(Box::new(e))
    }
}

impl From<map_kit::uploads::UploadError> for AmsError {
    fn from(e: map_kit::uploads::UploadError) -> AmsError {
        AmsError::Api(Box::new(e.into_api(System::Ams)))
    }
}

pub(crate) use map_kit::db::is_unique_violation;
