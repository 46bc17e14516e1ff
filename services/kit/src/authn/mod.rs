//! The client side of Auth that every other system uses: an authenticator
//! that validates callers with Auth's `ValidateToken` (cached briefly) and
//! puts the [`Principal`] in the request.
//!
//! - Credentials arrive as `authorization: Bearer <access token>` (people) or
//!   `x-api-key: mapk_…` (machines); see [`Credential::from_headers`].
//! - [`Authenticated`] wraps a generated tonic service with its access
//!   [`Policy`](crate::authz::Policy): a method without an entry is refused,
//!   calls without credentials answer UNAUTHENTICATED (only methods the
//!   table marks anonymous pass without), bad credentials UNAUTHENTICATED, a
//!   caller without the table's role PERMISSION_DENIED, and the rest reach
//!   the handler with an `Arc<Principal>` in the request extensions
//!   ([`principal`] takes it out, for the domain's resource rules).
//! - [`Authenticator`] is the [`Validator`] of every system but Auth: it calls
//!   `ValidateToken` over gRPC and caches valid answers for at most its TTL
//!   (≤ 30 s, never past the token's expiry) and rejections briefly. Auth
//!   itself plugs in an in-process validator with the same [`Principal`].
//! - [`ApiKeyInterceptor`] adds this service's `MAP_AUTH_API_KEY` to calls to
//!   Auth ([`auth_client`], [`department_client`]; [`auth_channel`] is the
//!   channel to `MAP_AUTH_URL`, over TLS for `https://`: [`AuthTarget`]).
//! - [`UserLookup`] answers `GetUserInfo` / `BatchGetUserInfo` from a short
//!   cache (≤ 30 s), for the few places that need Auth's answer of now
//!   rather than the local [`directory`](crate::directory).

mod api_key;
mod credential;
mod layer;
mod principal;
mod target;
mod user_lookup;
mod validator;

use std::time::Duration;

pub use api_key::{
    ApiKeyInterceptor, AuthClient, BadApiKey, DepartmentClient, auth_client, department_client,
};
pub use credential::Credential;
pub use layer::Authenticated;
pub use principal::{Principal, PrincipalKind, RoleRef, principal};
pub use target::AuthTarget;
pub use user_lookup::{LookupConfig, UserLookup};
pub use validator::{Authenticator, CacheConfig, Validator};

use tonic::transport::Channel;

use crate::ApiError;

/// Metadata carrying a bearer access token.
pub const AUTHORIZATION: &str = "authorization";
/// Metadata carrying an API key secret.
pub const API_KEY: &str = "x-api-key";
/// The longest a validation answer may be cached by anyone (ARCHITECTURE.md,
/// "Security"): revocation reaches every service within this time.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(30);

/// A channel to Auth (`MAP_AUTH_URL`, with its TLS) that connects on first
/// use, with the timeouts every client of Auth uses (5 s to connect, 10 s
/// per call).
pub fn auth_channel(auth: &AuthTarget) -> Channel {
    auth.channel()
}

pub(crate) fn missing_credentials() -> ApiError {
    ApiError::unauthenticated(
        "MISSING_CREDENTIALS",
        "missing credentials: send 'authorization: Bearer <token>' or 'x-api-key'",
    )
}

pub(crate) fn invalid_credentials() -> ApiError {
    ApiError::unauthenticated("INVALID_TOKEN", "invalid, expired or revoked credentials")
}
