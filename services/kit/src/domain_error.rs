//! The error type every system's domain has: the same kinds, each turned
//! into its gRPC status with `google.rpc` details through [`ApiError`],
//! none carrying a secret. [`domain_error!`](crate::domain_error) declares
//! it for one system, so AMS, TTS and HDTS (and the systems to come) read
//! and answer their errors alike:
//!
//! ```
//! map_kit::domain_error!(
//!     /// What can go wrong in the example.
//!     pub ExampleError, map_kit::System::Ams
//! );
//! let e = ExampleError::precondition("INVALID_STATUS", "asset AST-000001 is disposed of");
//! assert_eq!(tonic::Status::from(e).code(), tonic::Code::FailedPrecondition);
//! ```
//!
//! [`ApiError`]: crate::ApiError

#[doc(hidden)]
pub use sea_orm::DbErr as __DbErr;
#[doc(hidden)]
pub use tonic::Status as __Status;

/// Declares a system's domain error `$name` (see the [module
/// docs](crate::domain_error)): the variants `InvalidArgument`,
/// `NotFound`, `AlreadyExists`, `FailedPrecondition`, `PermissionDenied`,
/// `EtagMismatch`, `Aborted`, `Api` (a kit-level refusal) and `Db`, the
/// constructors `precondition` and `invalid`, and the conversions from
/// [`ApiError`](crate::ApiError), `UploadError` and `DbErr` and into
/// `ApiError` and `tonic::Status`, with reasons in `$system`'s domain.
#[macro_export]
macro_rules! domain_error {
    ($(#[$doc:meta])* $vis:vis $name:ident, $system:expr) => {
        $(#[$doc])*
        #[derive(Debug)]
        $vis enum $name {
            /// The request is malformed; nothing changed.
            InvalidArgument(Vec<$crate::FieldViolation>),
            /// A resource does not exist (or the caller may not know it does).
            NotFound(&'static str),
            /// A resource with the same identity exists.
            AlreadyExists {
                /// Machine-readable reason, e.g. `DUPLICATE_NAME`.
                reason: &'static str,
                /// For people.
                message: String,
            },
            /// The state does not allow the operation.
            FailedPrecondition {
                /// Machine-readable reason, e.g. `INVALID_STATUS`.
                reason: &'static str,
                /// For people.
                message: String,
            },
            /// The caller may not do this (beyond its roles, which the
            /// policy checks).
            PermissionDenied {
                /// Machine-readable reason, e.g. `AGENT_REQUIRED`.
                reason: &'static str,
                /// For people.
                message: String,
            },
            /// The caller's etag is stale: the resource changed since it
            /// was read.
            EtagMismatch,
            /// Concurrent changes kept winning; the caller should read and
            /// retry.
            Aborted(String),
            /// A kit-level refusal (paging, idempotency, a dependency);
            /// boxed, as it is the largest variant.
            Api(Box<$crate::ApiError>),
            /// The database failed.
            Db($crate::domain_error::__DbErr),
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                match self {
                    $name::InvalidArgument(_) => f.write_str("invalid argument"),
                    $name::NotFound(resource) => write!(f, "{resource} not found"),
                    $name::AlreadyExists { message, .. }
                    | $name::FailedPrecondition { message, .. }
                    | $name::PermissionDenied { message, .. }
                    | $name::Aborted(message) => f.write_str(message),
                    $name::EtagMismatch => f.write_str("etag mismatch"),
                    $name::Api(e) => ::std::fmt::Display::fmt(e, f),
                    $name::Db(e) => ::std::fmt::Display::fmt(e, f),
                }
            }
        }

        impl ::std::error::Error for $name {
            fn source(&self) -> Option<&(dyn ::std::error::Error + 'static)> {
                match self {
                    $name::Api(e) => Some(e.as_ref()),
                    $name::Db(e) => Some(e),
                    _ => None,
                }
            }
        }

        impl $name {
            /// FAILED_PRECONDITION with `reason`.
            pub fn precondition(reason: &'static str, message: impl Into<String>) -> $name {
                $name::FailedPrecondition {
                    reason,
                    message: message.into(),
                }
            }

            /// INVALID_ARGUMENT naming one field.
            pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> $name {
                $name::InvalidArgument(vec![$crate::FieldViolation {
                    field: field.into(),
                    description: description.into(),
                }])
            }
        }

        impl From<$name> for $crate::ApiError {
            fn from(e: $name) -> $crate::ApiError {
                use $crate::{ApiError, Reason};
                match e {
                    $name::InvalidArgument(v) => ApiError::InvalidArgument(v),
                    $name::NotFound(resource) => ApiError::NotFound { resource },
                    $name::AlreadyExists { reason, message } => {
                        ApiError::AlreadyExists(Reason::new($system, reason, message))
                    }
                    $name::FailedPrecondition { reason, message } => {
                        ApiError::FailedPrecondition(Reason::new($system, reason, message))
                    }
                    $name::PermissionDenied { reason, message } => {
                        ApiError::PermissionDenied(Reason::new($system, reason, message))
                    }
                    $name::EtagMismatch => $crate::wire::etag::mismatch($system),
                    $name::Aborted(message) => {
                        ApiError::Aborted(Reason::new($system, "CONCURRENT_CHANGE", message))
                    }
                    $name::Api(e) => *e,
                    $name::Db(e) => e.into(),
                }
            }
        }

        impl From<$name> for $crate::domain_error::__Status {
            fn from(e: $name) -> $crate::domain_error::__Status {
                $crate::ApiError::from(e).into()
            }
        }

        impl From<$crate::ApiError> for $name {
            fn from(e: $crate::ApiError) -> $name {
                $name::Api(Box::new(e))
            }
        }

        impl From<$crate::uploads::UploadError> for $name {
            fn from(e: $crate::uploads::UploadError) -> $name {
                $name::Api(Box::new(e.into_api($system)))
            }
        }

        impl From<$crate::domain_error::__DbErr> for $name {
            fn from(e: $crate::domain_error::__DbErr) -> $name {
                $name::Db(e)
            }
        }
    };
}
