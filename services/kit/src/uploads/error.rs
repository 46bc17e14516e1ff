//! What can go wrong with an upload, and how it reaches a client.

use crate::{ApiError, FieldViolation, System, error::Reason};

/// `ErrorInfo.reason` of appending to a complete upload.
pub const UPLOAD_COMPLETE: &str = "UPLOAD_COMPLETE";
/// `ErrorInfo.reason` of completing an upload with bytes missing.
pub const UPLOAD_INCOMPLETE: &str = "UPLOAD_INCOMPLETE";

/// An upload refused, or a failure storing one.
#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    /// The request is malformed, or the content is not what it claims to
    /// be; nothing was kept that the client could build on.
    #[error("invalid upload: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// No such upload or file — or another caller's.
    #[error("upload not found")]
    NotFound,
    /// The upload is complete, so immutable.
    #[error("upload {0} is complete")]
    Complete(String),
    /// Bytes are missing for completion.
    #[error("upload is incomplete: {received} of {size} bytes received")]
    Incomplete {
        /// Bytes received.
        received: i64,
        /// Bytes declared.
        size: i64,
    },
    /// The stored content is not what its row says (a defect).
    #[error("stored upload {0} is damaged")]
    Damaged(String),
    /// The database failed.
    #[error(transparent)]
    Db(#[from] sea_orm::DbErr),
}

fn describe(v: &[FieldViolation]) -> String {
    v.iter()
        .map(|f| format!("{}: {}", f.field, f.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl UploadError {
    /// INVALID_ARGUMENT naming one field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> UploadError {
        UploadError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// The API error of `system` (its `ErrorInfo` domain).
    pub fn into_api(self, system: System) -> ApiError {
        match self {
            UploadError::InvalidArgument(v) => ApiError::InvalidArgument(v),
            UploadError::NotFound => ApiError::NotFound { resource: "upload" },
            UploadError::Complete(id) => ApiError::FailedPrecondition(Reason::new(
                system,
                UPLOAD_COMPLETE,
                format!("upload {id} is complete: a complete upload is immutable"),
            )),
            UploadError::Incomplete { received, size } => ApiError::FailedPrecondition(
                Reason::new(
                    system,
                    UPLOAD_INCOMPLETE,
                    format!("{received} of {size} bytes received: append the rest first"),
                )
                .with_metadata("received_bytes", received.to_string()),
            ),
            UploadError::Damaged(_) => ApiError::internal(self),
            UploadError::Db(e) => e.into(),
        }
    }
}
