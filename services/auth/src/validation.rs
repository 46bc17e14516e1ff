//! ValidateToken: access tokens (JWT) and API key secrets to principals.
//!
//! A bad credential of any kind is `Ok(None)`, never an error. Verified
//! answers are cached for the configured TTL (default 5 s) and never past
//! the token's expiry, so a hot token costs a lookup, not a signature check
//! and three queries. Every revocation made by this process (logout, reuse,
//! password change, deactivation, role change, key revocation) clears the
//! cache at once; revocations made by another replica take effect here
//! within the TTL.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, TimeZone as _, Utc};
use map_kit::{
    authn::{Principal, PrincipalKind, RoleRef},
    clock::Clock,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _,
};

use crate::{
    Auth, AuthError,
    entity::{api_key_roles, api_keys, sessions},
    secrets,
    users::model,
};

/// How stale `api_keys.last_used_at` may get.
const LAST_USE_RESOLUTION: chrono::TimeDelta = chrono::TimeDelta::minutes(5);

/// A valid credential's principal and expiry (`None` for API keys).
#[derive(Debug, Clone)]
pub struct Validated {
    /// Who the credential stands for.
    pub principal: Arc<Principal>,
    /// When the access token expires.
    pub expires_at: Option<DateTime<Utc>>,
}

#[derive(Clone)]
struct Entry {
    validated: Validated,
    /// Reused until then, on the cache's clock.
    until: DateTime<Utc>,
    /// How long the cache keeps it in memory.
    ttl: Duration,
}

struct EntryExpiry;

impl moka::Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &String, value: &Entry, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// Verified credentials by their secret.
#[derive(Clone)]
pub struct ValidationCache {
    entries: moka::sync::Cache<String, Entry>,
    ttl: Duration,
    clock: Clock,
}

impl std::fmt::Debug for ValidationCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ValidationCache")
            .field("ttl", &self.ttl)
            .field("entries", &self.entries.entry_count())
            .finish()
    }
}

impl ValidationCache {
    /// A cache reusing answers for `ttl` as `clock` tells it.
    pub fn new(ttl: Duration, clock: Clock) -> ValidationCache {
        ValidationCache {
            entries: moka::sync::Cache::builder()
                .max_capacity(100_000)
                .expire_after(EntryExpiry)
                .build(),
            ttl,
            clock,
        }
    }

    fn get(&self, token: &str) -> Option<Validated> {
        self.entries
            .get(token)
            .filter(|e| e.until > self.clock.now())
            .map(|e| e.validated)
    }

    fn put(&self, token: &str, validated: &Validated) {
        let now = self.clock.now();
        let mut ttl = self.ttl;
        if let Some(exp) = validated.expires_at {
            ttl = ttl.min((exp - now).to_std().unwrap_or_default());
        }
        if !ttl.is_zero() {
            self.entries.insert(
                token.to_owned(),
                Entry {
                    validated: validated.clone(),
                    until: map_kit::clock::later(now, ttl),
                    ttl,
                },
            );
        }
    }

    /// Forgets everything (after a revocation).
    pub fn invalidate_all(&self) {
        self.entries.invalidate_all();
    }
}

impl Auth {
    /// Validates an access token or API key secret (AuthService.ValidateToken).
    pub async fn validate(&self, token: &str) -> Result<Option<Validated>, AuthError> {
        if token.is_empty() || token.len() > 4096 {
            return Ok(None);
        }
        if let Some(hit) = self.cache.get(token) {
            return Ok(Some(hit));
        }
        let found = if token.starts_with(secrets::API_KEY_PREFIX) {
            self.validate_api_key(token).await?
        } else {
            self.validate_access_token(token).await?
        };
        if let Some(v) = &found {
            self.cache.put(token, v);
        }
        Ok(found)
    }

    async fn validate_access_token(&self, token: &str) -> Result<Option<Validated>, AuthError> {
        let Ok(claims) = self.settings.keys.verify(token, self.now().timestamp()) else {
            return Ok(None);
        };
        let conn = self.db.conn();
        let session = sessions::Entity::find_by_id(claims.sid.clone())
            .one(conn)
            .await?;
        let live = session.is_some_and(|s| s.revoked_at.is_none() && s.user_id == claims.sub);
        if !live {
            return Ok(None);
        }
        let Some(user) = model::find_user(conn, &claims.sub).await? else {
            return Ok(None);
        };
        if !user.active {
            return Ok(None);
        }
        let expires_at = Utc.timestamp_opt(claims.exp, 0).single();
        Ok(Some(Validated {
            principal: Arc::new(Principal {
                id: user.id,
                kind: PrincipalKind::User,
                email: user.email,
                display_name: user.display_name,
                department: user.department,
                roles: user.roles,
            }),
            expires_at,
        }))
    }

    async fn validate_api_key(&self, secret: &str) -> Result<Option<Validated>, AuthError> {
        if !secrets::looks_like_api_key(secret) {
            return Ok(None);
        }
        let conn = self.db.conn();
        let Some(key) = api_keys::Entity::find()
            .filter(api_keys::Column::SecretHash.eq(secrets::digest(secret)))
            .filter(api_keys::Column::RevokedAt.is_null())
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        let roles = api_key_roles::Entity::find()
            .filter(api_key_roles::Column::ApiKeyId.eq(key.id.clone()))
            .order_by_asc(api_key_roles::Column::System)
            .order_by_asc(api_key_roles::Column::Role)
            .all(conn)
            .await?
            .into_iter()
            .map(|r| RoleRef {
                system: r.system,
                role: r.role,
            })
            .collect();
        let now = self.now();
        if key
            .last_used_at
            .is_none_or(|t| now - t > LAST_USE_RESOLUTION)
        {
            let touched = api_keys::ActiveModel {
                id: Set(key.id.clone()),
                last_used_at: Set(Some(now)),
                ..Default::default()
            }
            .update(conn)
            .await;
            if let Err(e) = touched {
                tracing::warn!(api_key_id = %key.id, error = %e, "cannot record api key use");
            }
        }
        Ok(Some(Validated {
            principal: Arc::new(Principal {
                id: key.id,
                kind: PrincipalKind::ApiKey,
                email: String::new(),
                display_name: key.name,
                department: String::new(),
                roles,
            }),
            expires_at: None,
        }))
    }
}
