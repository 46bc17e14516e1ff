//! Checking a credential: the [`Validator`] trait and the caching
//! [`Authenticator`] that asks Auth's `ValidateToken`.

use std::{
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};

use futures::future::BoxFuture;
use map_contracts::auth::v1 as pb;
use tonic::transport::Channel;

use super::{MAX_CACHE_TTL, Principal};
use crate::{ApiError, clock::Clock};

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
    /// Reused until then, on the authenticator's clock.
    until: DateTime<Utc>,
    /// How long the cache keeps it in memory.
    ttl: Duration,
}

struct AnswerExpiry;

impl moka::Expiry<String, Answer> for AnswerExpiry {
    fn expire_after_create(&self, _: &String, value: &Answer, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The [`Validator`] of every system but Auth: asks Auth's `ValidateToken`
/// over gRPC and caches the answers.
#[derive(Clone)]
pub struct Authenticator {
    client: pb::auth_service_client::AuthServiceClient<Channel>,
    cache: moka::sync::Cache<String, Answer>,
    config: CacheConfig,
    clock: Clock,
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
            clock: Clock::system(),
        }
    }

    /// The same authenticator, ageing its answers on `clock`.
    pub fn with_clock(self, clock: Clock) -> Authenticator {
        Authenticator { clock, ..self }
    }

    /// An authenticator for Auth at `auth`, connecting on first use.
    pub fn connect_lazy(auth: &super::AuthTarget, config: CacheConfig) -> Authenticator {
        Authenticator::new(auth.channel(), config)
    }

    /// Validates `token`, from the cache when a fresh answer is there.
    pub async fn check(&self, token: &str) -> Result<Option<Arc<Principal>>, ApiError> {
        let now = self.clock.now();
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
                // The message says why (a refused connection, a TLS failure);
                // it never carries the token.
                let error = super::target::error_chain(&status);
                tracing::warn!(code = ?status.code(), %error, "token validation with auth failed");
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
                let left = response.expires_at.map_or(self.config.valid_ttl, |t| {
                    crate::wire::time::time_until(&t, now)
                });
                self.config.valid_ttl.min(left)
            }
            None => self.config.rejection_ttl,
        };
        if !ttl.is_zero() {
            self.cache.insert(
                token.to_owned(),
                Answer {
                    principal: principal.clone(),
                    until: crate::clock::later(now, ttl),
                    ttl,
                },
            );
        }
        Ok(principal)
    }
}

impl Validator for Authenticator {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Principal>>, ApiError>> {
        Box::pin(self.check(token))
    }
}
