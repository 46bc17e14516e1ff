//! Domain errors to gRPC statuses: one table from [`AuthError`] to map-kit's
//! [`ApiError`], which builds the status (`ErrorInfo` with domain `map.auth`
//! and the stable reason of the contract, field violations, internal causes
//! logged with a reference and never sent).

use std::time::Duration;

use map_kit::{ApiError, Reason, System};
use tonic::Status;

use crate::AuthError;

/// `ErrorInfo.domain` of Auth's errors (proto/map/auth/v1/types.proto).
pub const ERROR_DOMAIN: &str = System::Auth.error_domain();

fn seconds(d: Duration) -> String {
    // Round up: "retry after 0 seconds" would invite an immediate retry.
    (d.as_secs() + u64::from(d.subsec_nanos() > 0)).to_string()
}

impl From<AuthError> for ApiError {
    fn from(e: AuthError) -> ApiError {
        let message = e.to_string();
        let reason = |r: &'static str| Reason::new(System::Auth, r, message.clone());
        match e {
            AuthError::InvalidCredentials => {
                ApiError::Unauthenticated(reason("INVALID_CREDENTIALS"))
            }
            AuthError::AccountLocked { retry_after } => ApiError::Unauthenticated(
                reason("ACCOUNT_LOCKED")
                    .with_metadata("retry_after_seconds", seconds(retry_after))
                    .with_retry_after(retry_after),
            ),
            AuthError::AccountDeactivated => {
                ApiError::Unauthenticated(reason("ACCOUNT_DEACTIVATED"))
            }
            AuthError::InvalidRefreshToken => {
                ApiError::Unauthenticated(reason("INVALID_REFRESH_TOKEN"))
            }
            AuthError::RefreshTokenReused => {
                ApiError::Unauthenticated(reason("REFRESH_TOKEN_REUSED"))
            }
            AuthError::InvalidToken => ApiError::Unauthenticated(reason("INVALID_TOKEN")),
            AuthError::RateLimited { retry_after } => ApiError::ResourceExhausted(
                reason("RATE_LIMITED")
                    .with_metadata("retry_after_seconds", seconds(retry_after))
                    .with_retry_after(retry_after),
            ),
            AuthError::EmailTaken => ApiError::AlreadyExists(reason("EMAIL_TAKEN")),
            AuthError::RoleExists => ApiError::AlreadyExists(reason("ROLE_EXISTS")),
            AuthError::DepartmentExists => ApiError::AlreadyExists(reason("DEPARTMENT_EXISTS")),
            AuthError::VersionMismatch => ApiError::Aborted(reason("VERSION_MISMATCH")),
            AuthError::LastAdmin => ApiError::FailedPrecondition(reason("LAST_ADMIN")),
            AuthError::NoEligibleAssignee { .. } => {
                ApiError::FailedPrecondition(reason("NO_ELIGIBLE_ASSIGNEE"))
            }
            AuthError::AlreadyBootstrapped => {
                ApiError::FailedPrecondition(reason("ALREADY_BOOTSTRAPPED"))
            }
            AuthError::UsersNotFound(ids) => ApiError::NotFoundReason(
                reason("USERS_NOT_FOUND").with_metadata("missing_user_ids", ids.join(",")),
            ),
            AuthError::InvalidArgument(v) => ApiError::InvalidArgument(v),
            AuthError::NotFound(resource) => ApiError::NotFound { resource },
            AuthError::Db(e) => ApiError::from(e),
            AuthError::Internal(cause) => ApiError::internal(cause),
            AuthError::Api(e) => *e,
        }
    }
}

impl From<AuthError> for Status {
    fn from(e: AuthError) -> Status {
        ApiError::from(e).into()
    }
}

#[cfg(test)]
mod tests {
    use tonic::Code;
    use tonic_types::StatusExt as _;

    use super::*;

    #[test]
    fn kit_errors_keep_their_code_through_auth_error() {
        for (api, code) in [
            (ApiError::Unavailable("database".into()), Code::Unavailable),
            (
                ApiError::PermissionDenied(Reason::new(
                    System::Auth,
                    "ROLE_REQUIRED",
                    "auth:admin required",
                )),
                Code::PermissionDenied,
            ),
            (
                ApiError::unauthenticated("INVALID_TOKEN", "bad token"),
                Code::Unauthenticated,
            ),
        ] {
            let status = Status::from(AuthError::from(api));
            assert_eq!(status.code(), code, "{}", status.message());
            assert!(!status.message().starts_with("internal"), "{status:?}");
        }
    }

    #[test]
    fn reasons_carry_the_auth_domain_and_metadata() {
        let status = Status::from(AuthError::AccountLocked {
            retry_after: Duration::from_millis(1500),
        });
        assert_eq!(status.code(), Code::Unauthenticated);
        let info = status.get_details_error_info();
        assert_eq!(
            info.map(|i| (
                i.reason,
                i.domain,
                i.metadata.get("retry_after_seconds").cloned()
            )),
            Some(("ACCOUNT_LOCKED".into(), "map.auth".into(), Some("2".into())))
        );
    }
}
