//! The client side of Auth that every other system uses: an authenticator
//! that validates callers with Auth's `ValidateToken` (cached briefly) and
//! puts the [`Principal`] in the request.
//!
//! - Credentials arrive as `authorization: Bearer <access token>` (people) or
//!   `x-api-key: mapk_…` (machines); see [`Credential::from_headers`].
//! - [`Authenticated`] wraps a generated tonic service: calls without
//!   credentials answer UNAUTHENTICATED (deny by default; only the paths given
//!   to [`Authenticated::allow_anonymous`] pass without), bad credentials
//!   UNAUTHENTICATED, and good ones reach the handler with an
//!   `Arc<Principal>` in the request extensions.
//! - A handler checks its role in one line:
//!   `authn::principal(&request)?.require(System::Tts, "agent")?`, which
//!   answers PERMISSION_DENIED for a known caller without the role.
//! - [`Authenticator`] is the [`Validator`] of every system but Auth: it calls
//!   `ValidateToken` over gRPC and caches valid answers for at most its TTL
//!   (≤ 30 s, never past the token's expiry) and rejections briefly. Auth
//!   itself plugs in an in-process validator with the same [`Principal`].
//! - [`ApiKeyInterceptor`] adds this service's `MAP_AUTH_API_KEY` to calls to
//!   Auth.

use std::{
    convert::Infallible,
    fmt,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant, SystemTime},
};

use futures::future::BoxFuture;
use map_contracts::auth::v1 as pb;
use secrecy::{ExposeSecret as _, SecretString};
use tonic::{
    Status,
    body::Body,
    metadata::{Ascii, MetadataValue},
    server::NamedService,
    service::interceptor::InterceptedService,
    transport::Channel,
};

use crate::{ApiError, System};

/// Metadata carrying a bearer access token.
pub const AUTHORIZATION: &str = "authorization";
/// Metadata carrying an API key secret.
pub const API_KEY: &str = "x-api-key";
/// The longest a validation answer may be cached by anyone (ARCHITECTURE.md,
/// "Security"): revocation reaches every service within this time.
pub const MAX_CACHE_TTL: Duration = Duration::from_secs(30);

/// A role of one system, e.g. `tts:agent`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleRef {
    /// System name, e.g. `tts`.
    pub system: String,
    /// Role name within the system, e.g. `agent`.
    pub role: String,
}

impl fmt::Display for RoleRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.system, self.role)
    }
}

/// Whether a principal is a person or a machine.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PrincipalKind {
    /// A person signed in with an access token.
    User,
    /// A machine calling with an API key.
    ApiKey,
}

/// The authenticated caller of a request, with the roles held at validation
/// time. Never carries the credential itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The user's id, or the API key's id.
    pub id: String,
    /// Person or machine.
    pub kind: PrincipalKind,
    /// The user's email; empty for an API key.
    pub email: String,
    /// The user's display name, or the API key's name.
    pub display_name: String,
    /// The user's department code; empty for an API key.
    pub department: String,
    /// Roles held, across systems.
    pub roles: Vec<RoleRef>,
}

impl Principal {
    /// Whether the principal holds `system:role`.
    pub fn has_role(&self, system: System, role: &str) -> bool {
        self.roles
            .iter()
            .any(|r| r.system == system.name() && r.role == role)
    }

    /// `Ok` when the principal holds `system:role`, else PERMISSION_DENIED.
    pub fn require(&self, system: System, role: &str) -> Result<(), ApiError> {
        self.require_any(&[(system, role)])
    }

    /// `Ok` when the principal holds at least one of `roles`, else
    /// PERMISSION_DENIED naming them.
    pub fn require_any(&self, roles: &[(System, &str)]) -> Result<(), ApiError> {
        if roles.iter().any(|(s, r)| self.has_role(*s, r)) {
            return Ok(());
        }
        let wanted: Vec<String> = roles.iter().map(|(s, r)| format!("{s}:{r}")).collect();
        Err(ApiError::PermissionDenied(format!(
            "requires the role {}",
            wanted.join(" or ")
        )))
    }

    /// `Ok` for a person, PERMISSION_DENIED for an API key.
    pub fn require_user(&self) -> Result<(), ApiError> {
        match self.kind {
            PrincipalKind::User => Ok(()),
            PrincipalKind::ApiKey => Err(ApiError::PermissionDenied(
                "only a signed-in user may do this, not an API key".into(),
            )),
        }
    }

    /// From the contract's message; `None` for an unspecified kind.
    pub fn from_proto(p: pb::Principal) -> Option<Principal> {
        let kind = match pb::PrincipalKind::try_from(p.kind).ok()? {
            pb::PrincipalKind::User => PrincipalKind::User,
            pb::PrincipalKind::ApiKey => PrincipalKind::ApiKey,
            pb::PrincipalKind::Unspecified => return None,
        };
        Some(Principal {
            id: p.user_id,
            kind,
            email: p.email,
            display_name: p.display_name,
            department: p.department,
            roles: p
                .roles
                .into_iter()
                .map(|r| RoleRef {
                    system: r.system,
                    role: r.role,
                })
                .collect(),
        })
    }

    /// To the contract's message.
    pub fn to_proto(&self) -> pb::Principal {
        pb::Principal {
            user_id: self.id.clone(),
            email: self.email.clone(),
            display_name: self.display_name.clone(),
            department: self.department.clone(),
            roles: self
                .roles
                .iter()
                .map(|r| pb::RoleRef {
                    system: r.system.clone(),
                    role: r.role.clone(),
                })
                .collect(),
            kind: match self.kind {
                PrincipalKind::User => pb::PrincipalKind::User,
                PrincipalKind::ApiKey => pb::PrincipalKind::ApiKey,
            } as i32,
        }
    }
}

/// The principal that [`Authenticated`] put in the request, or
/// UNAUTHENTICATED when there is none (an anonymous path).
pub fn principal<T>(request: &tonic::Request<T>) -> Result<Arc<Principal>, ApiError> {
    request
        .extensions()
        .get::<Arc<Principal>>()
        .cloned()
        .ok_or_else(missing_credentials)
}

fn missing_credentials() -> ApiError {
    ApiError::Unauthenticated {
        reason: "MISSING_CREDENTIALS",
        message: "missing credentials: send 'authorization: Bearer <token>' or 'x-api-key'".into(),
    }
}

fn invalid_credentials() -> ApiError {
    ApiError::Unauthenticated {
        reason: "INVALID_TOKEN",
        message: "invalid, expired or revoked credentials".into(),
    }
}

/// A credential as presented by a caller. Its `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub enum Credential {
    /// An access token from `authorization: Bearer`.
    Bearer(String),
    /// An API key secret from `x-api-key`.
    ApiKey(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::Bearer(_) => f.write_str("Bearer([REDACTED])"),
            Credential::ApiKey(_) => f.write_str("ApiKey([REDACTED])"),
        }
    }
}

impl Credential {
    /// Reads the credential of a request: `None` when there is none, an
    /// UNAUTHENTICATED error when the metadata is malformed (not UTF-8, not
    /// `Bearer`, empty). A bearer token wins over an API key.
    pub fn from_headers(headers: &http::HeaderMap) -> Result<Option<Credential>, ApiError> {
        let malformed = |what: &str| ApiError::Unauthenticated {
            reason: "MALFORMED_CREDENTIALS",
            message: format!("malformed {what} metadata"),
        };
        if let Some(value) = headers.get(AUTHORIZATION) {
            let value = value.to_str().map_err(|_| malformed(AUTHORIZATION))?;
            let (scheme, token) = value
                .split_once(' ')
                .ok_or_else(|| malformed(AUTHORIZATION))?;
            let token = token.trim();
            if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
                return Err(malformed(AUTHORIZATION));
            }
            return Ok(Some(Credential::Bearer(token.to_owned())));
        }
        if let Some(value) = headers.get(API_KEY) {
            let value = value.to_str().map_err(|_| malformed(API_KEY))?.trim();
            if value.is_empty() {
                return Err(malformed(API_KEY));
            }
            return Ok(Some(Credential::ApiKey(value.to_owned())));
        }
        Ok(None)
    }

    /// The secret to validate.
    pub fn secret(&self) -> &str {
        match self {
            Credential::Bearer(s) | Credential::ApiKey(s) => s,
        }
    }
}

/// Checks a credential's secret: `Ok(None)` when it is not (or no longer)
/// valid, `Err` when validation itself failed (e.g. Auth unreachable).
pub trait Validator: Send + Sync + 'static {
    /// Validates `token` (an access token or an API key secret).
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Principal>>, ApiError>>;
}

/// How the [`Authenticator`] caches answers.
#[derive(Debug, Clone, Copy)]
pub struct CacheConfig {
    /// How long a valid answer is reused; capped at [`MAX_CACHE_TTL`] and at
    /// the token's expiry. Default 25 s: with Auth's own 5 s cache, a
    /// revocation reaches every service within 30 s.
    pub valid_ttl: Duration,
    /// How long a rejection is reused (so a flood of one bad token costs one
    /// call to Auth per period). Default 2 s.
    pub rejection_ttl: Duration,
    /// Most tokens remembered. Default 100 000.
    pub capacity: u64,
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            valid_ttl: Duration::from_secs(25),
            rejection_ttl: Duration::from_secs(2),
            capacity: 100_000,
        }
    }
}

#[derive(Clone)]
struct Answer {
    principal: Option<Arc<Principal>>,
    until: Instant,
}

struct AnswerExpiry;

impl moka::Expiry<String, Answer> for AnswerExpiry {
    fn expire_after_create(&self, _: &String, value: &Answer, now: Instant) -> Option<Duration> {
        Some(value.until.saturating_duration_since(now))
    }
}

/// The [`Validator`] of every system but Auth: asks Auth's `ValidateToken`
/// over gRPC and caches the answers.
#[derive(Clone)]
pub struct Authenticator {
    client: pb::auth_service_client::AuthServiceClient<Channel>,
    cache: moka::sync::Cache<String, Answer>,
    config: CacheConfig,
}

impl fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticator")
            .field("config", &self.config)
            .field("cached", &self.cache.entry_count())
            .finish()
    }
}

impl Authenticator {
    /// An authenticator talking to Auth over `channel`.
    pub fn new(channel: Channel, config: CacheConfig) -> Authenticator {
        let config = CacheConfig {
            valid_ttl: config.valid_ttl.min(MAX_CACHE_TTL),
            rejection_ttl: config.rejection_ttl.min(MAX_CACHE_TTL),
            ..config
        };
        let cache = moka::sync::Cache::builder()
            .max_capacity(config.capacity)
            .expire_after(AnswerExpiry)
            .build();
        Authenticator {
            client: pb::auth_service_client::AuthServiceClient::new(channel),
            cache,
            config,
        }
    }

    /// An authenticator for Auth at `url`, connecting on first use.
    pub fn connect_lazy(url: &http::Uri, config: CacheConfig) -> Authenticator {
        let channel = Channel::builder(url.clone())
            .connect_timeout(Duration::from_secs(5))
            .timeout(Duration::from_secs(10))
            .connect_lazy();
        Authenticator::new(channel, config)
    }

    /// Validates `token`, from the cache when a fresh answer is there.
    pub async fn check(&self, token: &str) -> Result<Option<Arc<Principal>>, ApiError> {
        let now = Instant::now();
        if let Some(answer) = self.cache.get(token)
            && answer.until > now
        {
            return Ok(answer.principal);
        }
        let response = self
            .client
            .clone()
            .validate_token(pb::ValidateTokenRequest {
                token: token.to_owned(),
            })
            .await
            .map_err(|status| {
                tracing::warn!(code = ?status.code(), "token validation with auth failed");
                ApiError::Unavailable("auth".into())
            })?
            .into_inner();
        let principal = if response.valid {
            response
                .principal
                .and_then(Principal::from_proto)
                .map(Arc::new)
        } else {
            None
        };
        let ttl = match &principal {
            Some(_) => {
                let left = response
                    .expires_at
                    .map_or(self.config.valid_ttl, |t| time_left(&t));
                self.config.valid_ttl.min(left)
            }
            None => self.config.rejection_ttl,
        };
        if !ttl.is_zero() {
            self.cache.insert(
                token.to_owned(),
                Answer {
                    principal: principal.clone(),
                    until: now + ttl,
                },
            );
        }
        Ok(principal)
    }
}

/// Time from now until `t`, zero when `t` has passed.
fn time_left(t: &prost_types::Timestamp) -> Duration {
    let nanos = u32::try_from(t.nanos).unwrap_or(0);
    let at = u64::try_from(t.seconds)
        .map(|s| SystemTime::UNIX_EPOCH + Duration::new(s, nanos))
        .unwrap_or(SystemTime::UNIX_EPOCH);
    at.duration_since(SystemTime::now()).unwrap_or_default()
}

impl Validator for Authenticator {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Principal>>, ApiError>> {
        Box::pin(self.check(token))
    }
}

/// A generated tonic service behind authentication: see the module docs.
pub struct Authenticated<S> {
    inner: S,
    validator: Arc<dyn Validator>,
    anonymous: Arc<[&'static str]>,
}

impl<S: Clone> Clone for Authenticated<S> {
    fn clone(&self) -> Self {
        Authenticated {
            inner: self.inner.clone(),
            validator: self.validator.clone(),
            anonymous: self.anonymous.clone(),
        }
    }
}

impl<S> fmt::Debug for Authenticated<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authenticated")
            .field("anonymous", &self.anonymous)
            .finish_non_exhaustive()
    }
}

impl<S> Authenticated<S> {
    /// Every call of `inner` needs a valid credential.
    pub fn new(inner: S, validator: Arc<dyn Validator>) -> Self {
        Authenticated {
            inner,
            validator,
            anonymous: Arc::from(Vec::new()),
        }
    }

    /// These methods (full paths, e.g. `/map.auth.v1.AuthService/Login`)
    /// pass without credentials, and credentials sent to them are ignored.
    pub fn allow_anonymous(mut self, paths: &[&'static str]) -> Self {
        self.anonymous = Arc::from(paths.to_vec());
        self
    }
}

impl<S: NamedService> NamedService for Authenticated<S> {
    const NAME: &'static str = S::NAME;
}

impl<S, B> tower::Service<http::Request<B>> for Authenticated<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>, Error = Infallible>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = BoxFuture<'static, Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: http::Request<B>) -> Self::Future {
        // The clone is fresh and may not be ready; the one made ready above
        // serves this call (the usual tower pattern).
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let validator = self.validator.clone();
        let anonymous = self.anonymous.iter().any(|p| *p == request.uri().path());
        Box::pin(async move {
            if anonymous {
                return inner.call(request).await;
            }
            let checked = match Credential::from_headers(request.headers()) {
                Ok(Some(credential)) => validator
                    .validate(credential.secret())
                    .await
                    .and_then(|p| p.ok_or_else(invalid_credentials)),
                Ok(None) => Err(missing_credentials()),
                Err(e) => Err(e),
            };
            match checked {
                Ok(principal) => {
                    request.extensions_mut().insert(principal);
                    inner.call(request).await
                }
                Err(e) => Ok(Status::from(e).into_http()),
            }
        })
    }
}

/// Adds this service's API key (`MAP_AUTH_API_KEY`) as `x-api-key` to every
/// call; for clients of Auth. Its `Debug` never shows the key.
#[derive(Clone)]
pub struct ApiKeyInterceptor {
    value: MetadataValue<Ascii>,
}

impl fmt::Debug for ApiKeyInterceptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKeyInterceptor([REDACTED])")
    }
}

/// An API key that cannot travel as metadata.
#[derive(Debug, thiserror::Error)]
#[error("the API key is not valid metadata (printable ASCII only)")]
pub struct BadApiKey;

impl ApiKeyInterceptor {
    /// An interceptor sending `key`.
    pub fn new(key: &SecretString) -> Result<Self, BadApiKey> {
        let mut value: MetadataValue<Ascii> = key.expose_secret().parse().map_err(|_| BadApiKey)?;
        value.set_sensitive(true);
        Ok(ApiKeyInterceptor { value })
    }
}

impl tonic::service::Interceptor for ApiKeyInterceptor {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, Status> {
        request.metadata_mut().insert(API_KEY, self.value.clone());
        Ok(request)
    }
}

/// A client of Auth's `AuthService` that authenticates with this service's
/// API key.
pub type AuthClient =
    pb::auth_service_client::AuthServiceClient<InterceptedService<Channel, ApiKeyInterceptor>>;

/// An [`AuthClient`] over `channel` sending `key`.
pub fn auth_client(channel: Channel, key: &SecretString) -> Result<AuthClient, BadApiKey> {
    Ok(
        pb::auth_service_client::AuthServiceClient::with_interceptor(
            channel,
            ApiKeyInterceptor::new(key)?,
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn principal(roles: &[(&str, &str)]) -> Principal {
        Principal {
            id: "0190".into(),
            kind: PrincipalKind::User,
            email: "a@example.com".into(),
            display_name: "A".into(),
            department: String::new(),
            roles: roles
                .iter()
                .map(|(s, r)| RoleRef {
                    system: (*s).into(),
                    role: (*r).into(),
                })
                .collect(),
        }
    }

    #[test]
    fn require_checks_system_and_role() {
        let p = principal(&[("tts", "agent"), ("hdts", "employee")]);
        assert!(p.require(System::Tts, "agent").is_ok());
        let denied = p.require(System::Hdts, "agent");
        assert!(
            matches!(&denied, Err(ApiError::PermissionDenied(m)) if m.contains("hdts:agent")),
            "{denied:?}"
        );
        assert!(p.require(System::Auth, "agent").is_err());
        assert!(
            p.require_any(&[(System::Auth, "admin"), (System::Tts, "agent")])
                .is_ok()
        );
    }

    #[test]
    fn credentials_come_from_metadata() {
        let mut h = http::HeaderMap::new();
        assert_eq!(Credential::from_headers(&h).ok(), Some(None));
        h.insert(API_KEY, http::HeaderValue::from_static("mapk_abc"));
        assert_eq!(
            Credential::from_headers(&h).ok(),
            Some(Some(Credential::ApiKey("mapk_abc".into())))
        );
        h.insert(
            AUTHORIZATION,
            http::HeaderValue::from_static("Bearer t.o.k"),
        );
        assert_eq!(
            Credential::from_headers(&h).ok(),
            Some(Some(Credential::Bearer("t.o.k".into())))
        );
        h.insert(AUTHORIZATION, http::HeaderValue::from_static("Basic abc"));
        assert!(Credential::from_headers(&h).is_err());
        h.insert(AUTHORIZATION, http::HeaderValue::from_static("Bearer "));
        assert!(Credential::from_headers(&h).is_err());
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Credential::Bearer("secret-token".into());
        assert!(!format!("{c:?}").contains("secret-token"));
        let i = ApiKeyInterceptor::new(&SecretString::from("mapk_secret"));
        assert!(i.is_ok_and(|i| !format!("{i:?}").contains("mapk_secret")));
    }

    #[test]
    fn principal_round_trips_through_proto() {
        let p = principal(&[("tts", "agent")]);
        assert_eq!(Principal::from_proto(p.to_proto()), Some(p));
        let unspecified = pb::Principal::default();
        assert_eq!(Principal::from_proto(unspecified), None);
    }
}
