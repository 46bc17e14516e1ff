//! The small set of error kinds every MAP API answers with, and their mapping
//! onto gRPC status codes with `google.rpc` details.
//!
//! Each system keeps its own `thiserror` enum and converts it into
//! [`ApiError`]; this module turns that into a [`tonic::Status`]. Clients see
//! the code, a short message and the details (`BadRequest` field violations,
//! `ErrorInfo` with a stable reason); internal causes are logged with a
//! reference that the message carries, never sent.

use std::{collections::HashMap, time::Duration};

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

use crate::System;

/// The `ErrorInfo.domain` of errors the kit raises for every system
/// (credentials checks); a system's own errors carry its
/// [`System::error_domain`].
pub const ERROR_DOMAIN: &str = "map.industry";

/// One invalid field of a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Path of the field, e.g. `email` or `rows[3].serial`.
    pub field: String,
    /// What is wrong with it, for a person.
    pub description: String,
}

/// The machine-readable part of an error: it travels as `ErrorInfo`
/// (domain, reason, metadata) and, when known, `RetryInfo`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reason {
    /// `ErrorInfo.domain`, e.g. `map.auth` ([`System::error_domain`]).
    pub domain: &'static str,
    /// Stable reason of the contract, e.g. `EMAIL_TAKEN`.
    pub reason: &'static str,
    /// Human message.
    pub message: String,
    /// `ErrorInfo.metadata`, e.g. `retry_after_seconds`.
    pub metadata: HashMap<String, String>,
    /// When to try again, if known (`RetryInfo`).
    pub retry_after: Option<Duration>,
}

impl Reason {
    /// A reason of `system`'s domain.
    pub fn new(system: System, reason: &'static str, message: impl Into<String>) -> Self {
        Self::in_domain(system.error_domain(), reason, message)
    }

    /// A reason of an explicit domain (the kit's own: [`ERROR_DOMAIN`]).
    pub fn in_domain(
        domain: &'static str,
        reason: &'static str,
        message: impl Into<String>,
    ) -> Self {
        Self {
            domain,
            reason,
            message: message.into(),
            metadata: HashMap::new(),
            retry_after: None,
        }
    }

    /// Adds one `ErrorInfo.metadata` entry.
    pub fn with_metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.metadata.insert(key.into(), value.into());
        self
    }

    /// Sets `RetryInfo`.
    pub fn with_retry_after(mut self, retry_after: Duration) -> Self {
        self.retry_after = Some(retry_after);
        self
    }
}

/// The error kinds of the platform's APIs.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The request is malformed; nothing was changed.
    #[error("invalid argument: {}", describe(.0))]
    InvalidArgument(Vec<FieldViolation>),
    /// The caller is not authenticated (missing, expired or bad credentials).
    #[error("{}", .0.message)]
    Unauthenticated(Reason),
    /// The caller is known but lacks the role (or may not do this at all).
    #[error("{}", .0.message)]
    PermissionDenied(Reason),
    /// The resource does not exist (or the caller may not know it exists).
    #[error("{resource} not found")]
    NotFound {
        /// Resource type, e.g. `user`.
        resource: &'static str,
    },
    /// Several named resources do not exist; the reason's metadata says which.
    #[error("{}", .0.message)]
    NotFoundReason(Reason),
    /// A resource with the same identity exists.
    #[error("{}", .0.message)]
    AlreadyExists(Reason),
    /// The system is not in a state that allows the operation.
    #[error("{}", .0.message)]
    FailedPrecondition(Reason),
    /// A concurrent change won (optimistic concurrency); retry with fresh state.
    #[error("{}", .0.message)]
    Aborted(Reason),
    /// A quota or rate limit was hit.
    #[error("{}", .0.message)]
    ResourceExhausted(Reason),
    /// A dependency (database, Auth, broker) is unavailable; retrying may help.
    #[error("service unavailable: {0}")]
    Unavailable(String),
    /// A defect or an unexpected failure. The cause is logged, not sent.
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

fn describe(v: &[FieldViolation]) -> String {
    v.iter()
        .map(|f| format!("{}: {}", f.field, f.description))
        .collect::<Vec<_>>()
        .join("; ")
}

impl ApiError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        ApiError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// Wraps an unexpected failure; its cause is logged when converted to a status.
    pub fn internal(e: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        ApiError::Internal(e.into())
    }

    /// UNAUTHENTICATED raised by the kit itself (domain [`ERROR_DOMAIN`]).
    pub fn unauthenticated(reason: &'static str, message: impl Into<String>) -> Self {
        ApiError::Unauthenticated(Reason::in_domain(ERROR_DOMAIN, reason, message))
    }

    /// The gRPC code this error maps onto.
    pub fn code(&self) -> Code {
        match self {
            ApiError::InvalidArgument(_) => Code::InvalidArgument,
            ApiError::Unauthenticated(_) => Code::Unauthenticated,
            ApiError::PermissionDenied(_) => Code::PermissionDenied,
            ApiError::NotFound { .. } | ApiError::NotFoundReason(_) => Code::NotFound,
            ApiError::AlreadyExists(_) => Code::AlreadyExists,
            ApiError::FailedPrecondition(_) => Code::FailedPrecondition,
            ApiError::Aborted(_) => Code::Aborted,
            ApiError::ResourceExhausted(_) => Code::ResourceExhausted,
            ApiError::Unavailable(_) => Code::Unavailable,
            ApiError::Internal(_) => Code::Internal,
        }
    }
}

impl From<sea_orm::DbErr> for ApiError {
    fn from(e: sea_orm::DbErr) -> Self {
        match &e {
            sea_orm::DbErr::ConnectionAcquire(_) | sea_orm::DbErr::Conn(_) => {
                tracing::warn!(error = %e, "database unavailable");
                ApiError::Unavailable("database".into())
            }
            _ => ApiError::Internal(Box::new(e)),
        }
    }
}

impl From<ApiError> for Status {
    fn from(e: ApiError) -> Status {
        let code = e.code();
        let mut details = ErrorDetails::new();
        let message = match e {
            ApiError::InvalidArgument(violations) => {
                let message = format!("invalid argument: {}", describe(&violations));
                details.set_bad_request(
                    violations
                        .into_iter()
                        .map(|v| tonic_types::FieldViolation::new(v.field, v.description))
                        .collect::<Vec<_>>(),
                );
                message
            }
            ApiError::Unauthenticated(r)
            | ApiError::PermissionDenied(r)
            | ApiError::NotFoundReason(r)
            | ApiError::AlreadyExists(r)
            | ApiError::FailedPrecondition(r)
            | ApiError::Aborted(r)
            | ApiError::ResourceExhausted(r) => {
                details.set_error_info(r.reason, r.domain, r.metadata);
                if let Some(d) = r.retry_after {
                    details.set_retry_info(Some(d));
                }
                r.message
            }
            ApiError::NotFound { resource } => format!("{resource} not found"),
            ApiError::Unavailable(what) => format!("service unavailable: {what}"),
            ApiError::Internal(cause) => {
                let reference = uuid::Uuid::now_v7();
                tracing::error!(%reference, error = %cause, "internal error");
                format!("internal error (ref {reference})")
            }
        };
        Status::with_error_details(code, message, details)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Violations;

    #[test]
    fn invalid_argument_carries_field_violations() {
        let mut v = Violations::default();
        v.text("email", "", 254)
            .text("display_name", &"x".repeat(300), 200)
            .text("department", "IT", 100);
        let status = Status::from(
            v.finish()
                .err()
                .unwrap_or_else(|| ApiError::invalid("x", "y")),
        );
        assert_eq!(status.code(), Code::InvalidArgument);
        let fields: Vec<String> = status
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
            .unwrap_or_default();
        assert_eq!(fields, ["email", "display_name"]);
    }

    #[test]
    fn reasons_travel_as_error_info() {
        let status = Status::from(ApiError::FailedPrecondition(
            Reason::new(
                System::Tts,
                "NO_ELIGIBLE_ASSIGNEE",
                "nobody holds tts:agent",
            )
            .with_metadata("role", "tts:agent")
            .with_retry_after(Duration::from_secs(3)),
        ));
        assert_eq!(status.code(), Code::FailedPrecondition);
        let info = status.get_details_error_info();
        assert_eq!(
            info.map(|i| (i.reason, i.domain, i.metadata)),
            Some((
                "NO_ELIGIBLE_ASSIGNEE".into(),
                "map.tts".into(),
                HashMap::from([("role".into(), "tts:agent".into())])
            ))
        );
        assert_eq!(
            status.get_details_retry_info().and_then(|r| r.retry_delay),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn internal_causes_are_not_sent() {
        let status = Status::from(ApiError::internal(
            "password hash for alice@example.com mismatched",
        ));
        assert_eq!(status.code(), Code::Internal);
        assert!(!status.message().contains("alice"), "{}", status.message());
        assert!(status.message().starts_with("internal error (ref "));
    }
}
