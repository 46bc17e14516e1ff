//! Auth's own answer about users, cached briefly: [`UserLookup`] calls
//! `GetUserInfo` / `BatchGetUserInfo` with this service's API key and keeps
//! each answer for a short TTL (≤ [`MAX_CACHE_TTL`]), found or not.
//!
//! Most reads belong to the local [`directory`](crate::directory), which
//! needs no network call; this is for the places that must see Auth's
//! state of now (e.g. checking a user just named in a request that the
//! directory's events may not have brought yet).
//!
//! ```no_run
//! # async fn f(auth: &map_kit::authn::AuthTarget, key: &secrecy::SecretString, id: &str) -> Result<(), Box<dyn std::error::Error>> {
//! use map_kit::authn::{LookupConfig, UserLookup, auth_channel};
//!
//! let lookup = UserLookup::new(auth_channel(auth), key, LookupConfig::default())?;
//! match lookup.user(id).await? {
//!     Some(user) if user.active => { /* assign the work */ }
//!     _ => { /* INVALID_ARGUMENT: no such active user */ }
//! }
//! # Ok(())
//! # }
//! ```

use std::{
    collections::HashMap,
    fmt,
    sync::Arc,
    time::{Duration, Instant},
};

use map_contracts::auth::v1 as pb;
use secrecy::SecretString;
use tonic::{Code, Status, transport::Channel};
use tonic_types::StatusExt as _;

use super::{AuthClient, BadApiKey, MAX_CACHE_TTL, auth_client};
use crate::{ApiError, Reason, error::ERROR_DOMAIN};

/// Most ids in one `BatchGetUserInfo` (Auth's limit).
pub const MAX_BATCH: usize = 500;

/// How the [`UserLookup`] caches answers.
#[derive(Debug, Clone, Copy)]
pub struct LookupConfig {
    /// How long a found user is reused; capped at [`MAX_CACHE_TTL`].
    /// Default 15 s.
    pub ttl: Duration,
    /// How long "no such user" is reused (users are never deleted, so an
    /// unknown id stays unknown unless it is being created). Default 2 s.
    pub not_found_ttl: Duration,
    /// Most users remembered. Default 10 000.
    pub capacity: u64,
}

impl Default for LookupConfig {
    fn default() -> Self {
        LookupConfig {
            ttl: Duration::from_secs(15),
            not_found_ttl: Duration::from_secs(2),
            capacity: 10_000,
        }
    }
}

#[derive(Clone)]
struct Answer {
    user: Option<Arc<pb::User>>,
    until: Instant,
}

struct AnswerExpiry;

impl moka::Expiry<String, Answer> for AnswerExpiry {
    fn expire_after_create(&self, _: &String, value: &Answer, now: Instant) -> Option<Duration> {
        Some(value.until.saturating_duration_since(now))
    }
}

/// Cached `GetUserInfo` / `BatchGetUserInfo`. Cheap to clone; clones share
/// the cache.
#[derive(Clone)]
pub struct UserLookup {
    client: AuthClient,
    cache: moka::sync::Cache<String, Answer>,
    config: LookupConfig,
}

impl fmt::Debug for UserLookup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserLookup")
            .field("config", &self.config)
            .field("cached", &self.cache.entry_count())
            .finish()
    }
}

impl UserLookup {
    /// A lookup asking Auth over `channel` with this service's `api_key`
    /// (`MAP_AUTH_API_KEY`, role `auth:service`).
    pub fn new(
        channel: Channel,
        api_key: &SecretString,
        config: LookupConfig,
    ) -> Result<UserLookup, BadApiKey> {
        let config = LookupConfig {
            ttl: config.ttl.min(MAX_CACHE_TTL),
            not_found_ttl: config.not_found_ttl.min(MAX_CACHE_TTL),
            ..config
        };
        let cache = moka::sync::Cache::builder()
            .max_capacity(config.capacity)
            .expire_after(AnswerExpiry)
            .build();
        Ok(UserLookup {
            client: auth_client(channel, api_key)?,
            cache,
            config,
        })
    }

    /// The user `id`, active or not; `None` when Auth has no such user
    /// (an id that is not a UUID names none either).
    ///
    /// # Errors
    /// [`ApiError::Unavailable`] when Auth cannot be asked,
    /// [`ApiError::Internal`] when it refuses this service's key.
    pub async fn user(&self, id: &str) -> Result<Option<Arc<pb::User>>, ApiError> {
        if let Some(user) = self.cached(id) {
            return Ok(user);
        }
        if uuid::Uuid::parse_str(id).is_err() {
            return Ok(None);
        }
        let asked = Instant::now();
        let answer = self
            .client
            .clone()
            .get_user_info(pb::GetUserInfoRequest {
                user_id: id.to_owned(),
            })
            .await;
        let user = match answer {
            Ok(response) => response.into_inner().user.map(Arc::new),
            Err(status) if status.code() == Code::NotFound => None,
            Err(status) => return Err(failure("GetUserInfo", &status)),
        };
        self.remember(id, user.clone(), asked);
        Ok(user)
    }

    /// The users `ids`, in the order of `ids` (a repeated id repeatedly).
    /// Cached users are not asked for again; the others are asked for in
    /// batches of at most [`MAX_BATCH`].
    ///
    /// # Errors
    /// NOT_FOUND ([`ApiError::NotFoundReason`], reason `USERS_NOT_FOUND`,
    /// metadata `missing_user_ids` comma-separated) when any id names no
    /// user, as Auth answers; otherwise as [`UserLookup::user`].
    pub async fn users(&self, ids: &[String]) -> Result<Vec<Arc<pb::User>>, ApiError> {
        let mut known: HashMap<String, Option<Arc<pb::User>>> = HashMap::new();
        let mut ask: Vec<String> = Vec::new();
        for id in ids {
            if known.contains_key(id) || ask.contains(id) {
                continue;
            }
            match self.cached(id) {
                Some(user) => {
                    known.insert(id.clone(), user);
                }
                None if uuid::Uuid::parse_str(id).is_err() => {
                    known.insert(id.clone(), None);
                }
                None => ask.push(id.clone()),
            }
        }
        for chunk in ask.chunks(MAX_BATCH) {
            let asked = Instant::now();
            let answer = self
                .client
                .clone()
                .batch_get_user_info(pb::BatchGetUserInfoRequest {
                    user_ids: chunk.to_vec(),
                })
                .await;
            match answer {
                Ok(response) => {
                    for user in response.into_inner().users {
                        let user = Arc::new(user);
                        self.remember(&user.id, Some(user.clone()), asked);
                        known.insert(user.id.clone(), Some(user));
                    }
                }
                Err(status) if status.code() == Code::NotFound => {
                    // All or nothing: Auth names the missing ids and returns
                    // none of the others, which stay unknown here.
                    for id in missing_ids(&status) {
                        self.remember(&id, None, asked);
                        known.insert(id, None);
                    }
                }
                Err(status) => return Err(failure("BatchGetUserInfo", &status)),
            }
        }
        let mut missing: Vec<&str> = Vec::new();
        // Ids of a batch Auth refused for another id's sake: they exist.
        let mut withheld = false;
        let mut users = Vec::with_capacity(ids.len());
        for id in ids {
            match known.get(id) {
                Some(Some(user)) => users.push(user.clone()),
                Some(None) if !missing.contains(&id.as_str()) => missing.push(id),
                Some(None) => {}
                None => withheld = true,
            }
        }
        if missing.is_empty() && !withheld {
            Ok(users)
        } else {
            Err(ApiError::NotFoundReason(
                Reason::in_domain(ERROR_DOMAIN, "USERS_NOT_FOUND", "users not found")
                    .with_metadata("missing_user_ids", missing.join(",")),
            ))
        }
    }

    /// A fresh cached answer for `id`: `Some(None)` for a cached "no such
    /// user".
    fn cached(&self, id: &str) -> Option<Option<Arc<pb::User>>> {
        self.cache
            .get(id)
            .filter(|answer| answer.until > Instant::now())
            .map(|answer| answer.user)
    }

    /// Caches an answer obtained by a call made at `asked`: its TTL counts
    /// from the question, so it never outlives Auth's state by more.
    fn remember(&self, id: &str, user: Option<Arc<pb::User>>, asked: Instant) {
        let ttl = match user {
            Some(_) => self.config.ttl,
            None => self.config.not_found_ttl,
        };
        if !ttl.is_zero() {
            self.cache.insert(
                id.to_owned(),
                Answer {
                    user,
                    until: asked + ttl,
                },
            );
        }
    }
}

/// The ids a NOT_FOUND of `BatchGetUserInfo` names.
fn missing_ids(status: &Status) -> Vec<String> {
    status
        .get_details_error_info()
        .and_then(|info| info.metadata.get("missing_user_ids").cloned())
        .map(|ids| {
            ids.split(',')
                .filter(|id| !id.is_empty())
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

/// A failed call to Auth as this service's error: unavailable when it may
/// pass, internal when Auth refuses this service (its key or role).
fn failure(rpc: &'static str, status: &Status) -> ApiError {
    tracing::warn!(rpc, code = ?status.code(), message = status.message(), "user lookup with auth failed");
    match status.code() {
        Code::Unauthenticated | Code::PermissionDenied | Code::InvalidArgument => {
            ApiError::internal(format!("auth refused {rpc}: {:?}", status.code()))
        }
        _ => ApiError::Unavailable("auth".into()),
    }
}
