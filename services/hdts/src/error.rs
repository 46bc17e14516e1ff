//! HDTS's domain errors. The gRPC adapter turns them into status codes with
//! `google.rpc` details through [`ApiError`]; none carries a secret.

use map_kit::{ApiError, FieldViolation, System, error::Reason};

/// What can go wrong in HDTS.
#[derive(Debug, thiserror::Error)]
pub enum HdtsError {
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
    /// A kit-level refusal (paging, idempotency, a dependency); boxed, as
    /// it is the largest variant.
    #[error(transparent)]
    Api(Box<ApiError>),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

impl HdtsError {
    /// FAILED_PRECONDITION with `reason`.
    pub fn precondition(reason: &'static str, message: impl Into<String>) -> HdtsError {
        HdtsError::FailedPrecondition {
            reason,
            message: message.into(),
        }
    }

    /// INVALID_ARGUMENT naming one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> HdtsError {
        HdtsError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl From<HdtsError> for ApiError {
    fn from(e: HdtsError) -> ApiError {
        match e {
            HdtsError::InvalidArgument(v) => ApiError::InvalidArgument(v),
            HdtsError::NotFound(resource) => ApiError::NotFound { resource },
            HdtsError::AlreadyExists { reason, message } => {
                ApiError::AlreadyExists(Reason::new(System::Hdts, reason, message))
            }
            HdtsError::FailedPrecondition { reason, message } => {
                ApiError::FailedPrecondition(Reason::new(System::Hdts, reason, message))
            }
            HdtsError::PermissionDenied { reason, message } => {
                ApiError::PermissionDenied(Reason::new(System::Hdts, reason, message))
            }
            HdtsError::EtagMismatch => map_kit::wire::etag::mismatch(System::Hdts),
            HdtsError::Api(e) => *e,
            HdtsError::Db(e) => e.into(),
        }
    }
}

impl From<ApiError> for HdtsError {
    fn from(e: ApiError) -> HdtsError {
        HdtsError::Api(Box::new(e))
    }
}

impl From<map_kit::uploads::UploadError> for HdtsError {
    fn from(e: map_kit::uploads::UploadError) -> HdtsError {
        HdtsError::Api(Box::new(e.into_api(System::Hdts)))
    }
}

pub(crate) use map_kit::db::is_unique_violation;
