//! The domain's errors. The gRPC adapter maps them onto status codes with
//! `google.rpc` details (`grpc::status`); none of them carries a secret.

use std::time::Duration;

use map_kit::FieldViolation;

/// What can go wrong in Auth.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The request is malformed; nothing changed.
    #[error("invalid argument")]
    InvalidArgument(Vec<FieldViolation>),
    /// Unknown email or wrong password (indistinguishable on purpose).
    #[error("invalid email or password")]
    InvalidCredentials,
    /// Too many failed logins for this email.
    #[error("account temporarily locked")]
    AccountLocked {
        /// When a login may be tried again.
        retry_after: Duration,
    },
    /// The password was right but the user is deactivated.
    #[error("account deactivated")]
    AccountDeactivated,
    /// Unknown, expired or revoked refresh token.
    #[error("invalid refresh token")]
    InvalidRefreshToken,
    /// A spent refresh token was presented again; its session is revoked.
    #[error("refresh token reused; the session is revoked")]
    RefreshTokenReused,
    /// The caller's credential does not stand for a usable session.
    #[error("invalid or expired credentials")]
    InvalidToken,
    /// Too many requests from one client address.
    #[error("too many requests")]
    RateLimited {
        /// When to try again.
        retry_after: Duration,
    },
    /// A resource does not exist.
    #[error("{0} not found")]
    NotFound(&'static str),
    /// Some users of a batch do not exist.
    #[error("users not found")]
    UsersNotFound(Vec<String>),
    /// The email belongs to another user.
    #[error("email already taken")]
    EmailTaken,
    /// A department with the code exists.
    #[error("department already exists")]
    DepartmentExists,
    /// The system already has the role.
    #[error("role already exists")]
    RoleExists,
    /// The user changed since the caller read it.
    #[error("user version mismatch")]
    VersionMismatch,
    /// The change would leave no active administrator.
    #[error("the last active auth:admin cannot lose the role or be deactivated")]
    LastAdmin,
    /// Nobody active holds the role.
    #[error("no active user holds {system}:{role}")]
    NoEligibleAssignee {
        /// System of the role.
        system: String,
        /// Role name.
        role: String,
    },
    /// An administrator already exists (bootstrap).
    #[error("an active auth:admin already exists")]
    AlreadyBootstrapped,
    /// The database failed.
    #[error("database: {0}")]
    Db(#[from] sea_orm::DbErr),
    /// A defect or an unexpected failure; logged, not sent.
    #[error("internal: {0}")]
    Internal(String),
    /// An error of map-kit (UNAVAILABLE, PERMISSION_DENIED, …) passed on as
    /// it is, so its code and details survive.
    #[error(transparent)]
    Api(Box<map_kit::ApiError>),
}

impl From<map_kit::outbox::OutboxError> for AuthError {
    fn from(e: map_kit::outbox::OutboxError) -> Self {
        AuthError::Internal(e.to_string())
    }
}

impl AuthError {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Self {
        AuthError::InvalidArgument(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }
}

impl From<map_kit::ApiError> for AuthError {
    fn from(e: map_kit::ApiError) -> Self {
        match e {
            map_kit::ApiError::InvalidArgument(v) => AuthError::InvalidArgument(v),
            other => AuthError::Api(Box::new(other)),
        }
    }
}

/// Whether a database error is a unique-constraint violation.
fn is_unique_violation(e: &sea_orm::DbErr) -> bool {
    matches!(
        e.sql_err(),
        Some(sea_orm::SqlErr::UniqueConstraintViolation(_))
    )
}

/// Maps a write's error: a unique-constraint violation (a concurrent writer
/// took the key between the check and the write) becomes `taken`, anything
/// else a database error. `.map_err(taken_or_db(AuthError::EmailTaken))`.
pub(crate) fn taken_or_db(taken: AuthError) -> impl FnOnce(sea_orm::DbErr) -> AuthError {
    move |e| {
        if is_unique_violation(&e) {
            taken
        } else {
            AuthError::Db(e)
        }
    }
}
