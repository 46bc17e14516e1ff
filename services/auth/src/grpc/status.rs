//! Domain errors to gRPC statuses. Reason-bearing errors carry an
//! `ErrorInfo` with domain `map.auth` and the stable reason of the
//! contract; the rest go through map-kit's [`ApiError`] (field violations,
//! internal causes logged with a reference and never sent).

use std::{collections::HashMap, time::Duration};

use map_kit::ApiError;
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt as _};

use crate::AuthError;

/// `ErrorInfo.domain` of Auth's errors (proto/map/auth/v1/types.proto).
pub const ERROR_DOMAIN: &str = "map.auth";

fn with_reason(
    code: Code,
    reason: &str,
    message: &str,
    metadata: HashMap<String, String>,
    retry_after: Option<Duration>,
) -> Status {
    let mut details = ErrorDetails::new();
    details.set_error_info(reason, ERROR_DOMAIN, metadata);
    if let Some(d) = retry_after {
        details.set_retry_info(Some(d));
    }
    Status::with_error_details(code, message, details)
}

fn seconds(d: Duration) -> String {
    // Round up: "retry after 0 seconds" would invite an immediate retry.
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).to_string()
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Status {
        let message = e.to_string();
        let none = HashMap::new;
        match e {
            AuthError::InvalidCredentials => with_reason(
                Code::Unauthenticated,
                "INVALID_CREDENTIALS",
                &message,
                none(),
                None,
            ),
            AuthError::AccountLocked { retry_after } => with_reason(
                Code::Unauthenticated,
                "ACCOUNT_LOCKED",
                &message,
                HashMap::from([("retry_after_seconds".to_owned(), seconds(retry_after))]),
                Some(retry_after),
            ),
            AuthError::AccountDeactivated => with_reason(
                Code::Unauthenticated,
                "ACCOUNT_DEACTIVATED",
                &message,
                none(),
                None,
            ),
            AuthError::InvalidRefreshToken => with_reason(
                Code::Unauthenticated,
                "INVALID_REFRESH_TOKEN",
                &message,
                none(),
                None,
            ),
            AuthError::RefreshTokenReused => with_reason(
                Code::Unauthenticated,
                "REFRESH_TOKEN_REUSED",
                &message,
                none(),
                None,
            ),
            AuthError::InvalidToken => with_reason(
                Code::Unauthenticated,
                "INVALID_TOKEN",
                &message,
                none(),
                None,
            ),
            AuthError::RateLimited { retry_after } => with_reason(
                Code::ResourceExhausted,
                "RATE_LIMITED",
                &message,
                HashMap::from([("retry_after_seconds".to_owned(), seconds(retry_after))]),
                Some(retry_after),
            ),
            AuthError::EmailTaken => with_reason(
                Code::AlreadyExists,
                "EMAIL_TAKEN",
                "email already taken",
                none(),
                None,
            ),
            AuthError::RoleExists => {
                with_reason(Code::AlreadyExists, "ROLE_EXISTS", &message, none(), None)
            }
            AuthError::VersionMismatch => {
                with_reason(Code::Aborted, "VERSION_MISMATCH", &message, none(), None)
            }
            AuthError::LastAdmin => with_reason(
                Code::FailedPrecondition,
                "LAST_ADMIN",
                &message,
                none(),
                None,
            ),
            AuthError::NoEligibleAssignee { .. } => with_reason(
                Code::FailedPrecondition,
                "NO_ELIGIBLE_ASSIGNEE",
                &message,
                none(),
                None,
            ),
            AuthError::AlreadyBootstrapped => with_reason(
                Code::FailedPrecondition,
                "ALREADY_BOOTSTRAPPED",
                &message,
                none(),
                None,
            ),
            AuthError::UsersNotFound(ids) => with_reason(
                Code::NotFound,
                "USERS_NOT_FOUND",
                "users not found",
                HashMap::from([("missing_user_ids".to_owned(), ids.join(","))]),
                None,
            ),
            AuthError::InvalidArgument(v) => ApiError::InvalidArgument(v).into(),
            AuthError::PermissionDenied(m) => ApiError::PermissionDenied(m).into(),
            AuthError::NotFound(resource) => ApiError::NotFound { resource }.into(),
            AuthError::Unavailable(what) => ApiError::Unavailable(what).into(),
            AuthError::Db(e) => ApiError::from(e).into(),
            AuthError::Internal(cause) => ApiError::internal(cause).into(),
        }
    }
}
