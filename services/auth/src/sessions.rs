//! Sessions: Login, Refresh (rotation with reuse detection), Logout and
//! ChangePassword.
//!
//! A session is the family of one login: every refresh token it hands out
//! and every access token minted from them (their `sid` claim). Refresh
//! tokens are opaque, stored as SHA-256 and single use: exchanging one marks
//! it spent with a conditional UPDATE, so of two concurrent exchanges only
//! one wins; presenting a spent token again revokes the whole session.

use std::{net::IpAddr, time::Duration};

use map_kit::Violations;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _, sea_query::Expr,
};
use secrecy::{ExposeSecret as _, SecretString};

use crate::{
    Auth, AuthError,
    entity::{refresh_tokens, sessions, users},
    keys::{Claims, ISSUER},
    lockout,
    secrets::{self, REFRESH_TOKEN_PREFIX},
    users::{
        checks::{
            MAX_EMAIL, MAX_LOGIN_PASSWORD_BYTES, check_new_password, finish, normalize_email,
        },
        model::{self, User},
        revoke_sessions,
    },
};

/// A new or refreshed session's tokens. `Debug` hides the tokens.
pub struct Tokens {
    /// JWT for `authorization: Bearer`.
    pub access_token: String,
    /// Opaque single-use refresh token.
    pub refresh_token: String,
    /// Lifetime of the access token.
    pub expires_in: Duration,
    /// The user, as of now.
    pub user: User,
}

impl std::fmt::Debug for Tokens {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tokens")
            .field("expires_in", &self.expires_in)
            .field("user_id", &self.user.id)
            .finish_non_exhaustive()
    }
}

impl Auth {
    fn rate_limit(&self, client: Option<IpAddr>) -> Result<(), AuthError> {
        let addr = client.unwrap_or(IpAddr::from([0, 0, 0, 0]));
        self.limiter.check(addr).map_err(|retry_after| {
            tracing::warn!(client = %addr, "login rate limit hit");
            AuthError::RateLimited { retry_after }
        })
    }

    /// Mints an access token for a session and a fresh refresh token,
    /// storing the latter's digest through `conn`.
    async fn issue<C: ConnectionTrait>(
        &self,
        conn: &C,
        session_id: &str,
        user: User,
    ) -> Result<Tokens, AuthError> {
        let now = self.now();
        let ttl = self.settings.access_token_ttl;
        let claims = Claims {
            iss: ISSUER.into(),
            sub: user.id.clone(),
            sid: session_id.to_owned(),
            iat: now.timestamp(),
            exp: now.timestamp() + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
            jti: uuid::Uuid::new_v4().simple().to_string(),
        };
        let access_token = self.settings.keys.sign(&claims);
        let refresh_token = secrets::random_secret(REFRESH_TOKEN_PREFIX);
        let refresh_ttl = chrono::Duration::from_std(self.settings.refresh_token_ttl)
            .map_err(|e| AuthError::Internal(e.to_string()))?;
        refresh_tokens::ActiveModel {
            token_hash: Set(secrets::digest(&refresh_token)),
            session_id: Set(session_id.to_owned()),
            created_at: Set(now),
            expires_at: Set(now + refresh_ttl),
            spent_at: Set(None),
        }
        .insert(conn)
        .await?;
        Ok(Tokens {
            access_token,
            refresh_token,
            expires_in: ttl,
            user,
        })
    }

    /// Signs a user in (AuthService.Login). `client` is the caller's
    /// address for the rate limit.
    pub async fn login(
        &self,
        email: &str,
        password: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<Tokens, AuthError> {
        let mut v = Violations::default();
        if email.trim().is_empty() {
            v.add("email", "is required");
        } else if email.chars().count() > MAX_EMAIL {
            v.add("email", format!("must be at most {MAX_EMAIL} characters"));
        }
        let pw = password.expose_secret();
        if pw.is_empty() {
            v.add("password", "is required");
        } else if pw.len() > MAX_LOGIN_PASSWORD_BYTES {
            v.add(
                "password",
                format!("must be at most {MAX_LOGIN_PASSWORD_BYTES} bytes"),
            );
        }
        finish(v)?;
        self.rate_limit(client)?;

        let normalized = normalize_email(email);
        let conn = self.db.conn();
        if let Some(retry_after) = lockout::locked_for(conn, &normalized, self.now()).await? {
            return Err(AuthError::AccountLocked { retry_after });
        }
        let row = users::Entity::find()
            .filter(users::Column::EmailNormalized.eq(normalized.clone()))
            .one(conn)
            .await?;
        // Unknown emails are verified against a dummy hash: same time.
        let hash = row.as_ref().map(|r| r.password_hash.clone());
        if !self.passwords.verify(password, hash).await? {
            if let Some(retry_after) =
                lockout::record_failure(conn, &normalized, self.settings.lockout, self.now())
                    .await?
            {
                tracing::warn!("login locked after repeated failures");
                return Err(AuthError::AccountLocked { retry_after });
            }
            return Err(AuthError::InvalidCredentials);
        }
        let Some(row) = row else {
            return Err(AuthError::InvalidCredentials);
        };
        if !row.active {
            return Err(AuthError::AccountDeactivated);
        }
        lockout::clear(conn, &normalized).await?;
        let user_id = row.id.clone();
        let user = model::with_roles(conn, vec![row])
            .await?
            .pop()
            .ok_or(AuthError::NotFound("user"))?;
        let txn = self.db.begin_write().await?;
        let session_id = uuid::Uuid::now_v7().to_string();
        sessions::ActiveModel {
            id: Set(session_id.clone()),
            user_id: Set(user_id.clone()),
            created_at: Set(self.now()),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
        let tokens = self.issue(&txn, &session_id, user).await?;
        txn.commit().await?;
        tracing::info!(user_id = %user_id, session_id = %session_id, "signed in");
        Ok(tokens)
    }

    /// Exchanges a refresh token for new tokens (AuthService.Refresh).
    pub async fn refresh(
        &self,
        refresh_token: &SecretString,
        client: Option<IpAddr>,
    ) -> Result<Tokens, AuthError> {
        let token = refresh_token.expose_secret();
        if token.is_empty() {
            return Err(AuthError::invalid("refresh_token", "is required"));
        }
        self.rate_limit(client)?;
        if token.len() > 256 {
            return Err(AuthError::InvalidRefreshToken);
        }
        let digest = secrets::digest(token);
        let txn = self.db.begin_write().await?;
        let Some(stored) = refresh_tokens::Entity::find_by_id(digest.clone())
            .one(&txn)
            .await?
        else {
            return Err(AuthError::InvalidRefreshToken);
        };
        let session = sessions::Entity::find_by_id(stored.session_id.clone())
            .one(&txn)
            .await?
            .ok_or(AuthError::InvalidRefreshToken)?;
        let now = self.now();
        if session.revoked_at.is_some() || stored.expires_at <= now {
            return Err(AuthError::InvalidRefreshToken);
        }
        // Spend it; zero rows means it was spent before (or just now by a
        // concurrent exchange): reuse, so the family is revoked.
        let spent = refresh_tokens::Entity::update_many()
            .col_expr(refresh_tokens::Column::SpentAt, Expr::value(Some(now)))
            .filter(refresh_tokens::Column::TokenHash.eq(digest))
            .filter(refresh_tokens::Column::SpentAt.is_null())
            .exec(&txn)
            .await?;
        if spent.rows_affected != 1 {
            sessions::Entity::update_many()
                .col_expr(sessions::Column::RevokedAt, Expr::value(Some(now)))
                .filter(sessions::Column::Id.eq(session.id.clone()))
                .filter(sessions::Column::RevokedAt.is_null())
                .exec(&txn)
                .await?;
            txn.commit().await?;
            self.cache.invalidate_all();
            tracing::warn!(session_id = %session.id, "refresh token reused: session revoked");
            return Err(AuthError::RefreshTokenReused);
        }
        let user = model::get_user(&txn, &session.user_id).await?;
        if !user.active {
            return Err(AuthError::AccountDeactivated);
        }
        let tokens = self.issue(&txn, &session.id, user).await?;
        txn.commit().await?;
        Ok(tokens)
    }

    /// Ends the session of a refresh token (AuthService.Logout). Unknown,
    /// expired or revoked tokens succeed too.
    pub async fn logout(&self, refresh_token: &SecretString) -> Result<(), AuthError> {
        let token = refresh_token.expose_secret();
        if token.is_empty() {
            return Err(AuthError::invalid("refresh_token", "is required"));
        }
        if token.len() > 256 {
            return Ok(());
        }
        let conn = self.db.conn();
        let Some(stored) = refresh_tokens::Entity::find_by_id(secrets::digest(token))
            .one(conn)
            .await?
        else {
            return Ok(());
        };
        let done = sessions::Entity::update_many()
            .col_expr(sessions::Column::RevokedAt, Expr::value(Some(self.now())))
            .filter(sessions::Column::Id.eq(stored.session_id.clone()))
            .filter(sessions::Column::RevokedAt.is_null())
            .exec(conn)
            .await?;
        if done.rows_affected > 0 {
            self.cache.invalidate_all();
            tracing::info!(session_id = %stored.session_id, "signed out");
        }
        Ok(())
    }

    /// Changes the calling user's password and revokes their other sessions
    /// (AuthService.ChangePassword). `access_token` is the caller's bearer
    /// token; its session stays valid.
    pub async fn change_password(
        &self,
        access_token: &str,
        current: &SecretString,
        new: &SecretString,
    ) -> Result<(), AuthError> {
        let claims = self
            .settings
            .keys
            .verify(access_token, self.now().timestamp())
            .map_err(|_| AuthError::InvalidToken)?;
        let mut v = Violations::default();
        if current.expose_secret().is_empty() {
            v.add("current_password", "is required");
        } else if current.expose_secret().len() > MAX_LOGIN_PASSWORD_BYTES {
            v.add("current_password", "is wrong");
        }
        check_new_password(&mut v, "new_password", new.expose_secret());
        if !v.is_empty() {
            return finish(v);
        }
        if current.expose_secret() == new.expose_secret() {
            return Err(AuthError::invalid(
                "new_password",
                "must differ from the current password",
            ));
        }
        let row = users::Entity::find_by_id(claims.sub.clone())
            .one(self.db.conn())
            .await?
            .ok_or(AuthError::InvalidToken)?;
        if !row.active {
            return Err(AuthError::InvalidToken);
        }
        if !self
            .passwords
            .verify(current, Some(row.password_hash.clone()))
            .await?
        {
            return Err(AuthError::invalid("current_password", "is wrong"));
        }
        let hash = self.passwords.hash(new).await?;
        let txn = self.db.begin_write().await?;
        users::ActiveModel {
            id: Set(row.id.clone()),
            password_hash: Set(hash),
            ..Default::default()
        }
        .update(&txn)
        .await?;
        let revoked = revoke_sessions(&txn, &row.id, Some(&claims.sid), self.now()).await?;
        txn.commit().await?;
        self.cache.invalidate_all();
        tracing::info!(user_id = %row.id, other_sessions = revoked, "password changed");
        Ok(())
    }
}
