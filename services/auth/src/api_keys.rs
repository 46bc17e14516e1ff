//! API keys: machine credentials carrying roles. The secret
//! (`mapk_` + 43 base64url characters, 256 random bits) is returned once at
//! creation; Auth stores its SHA-256 and the first 12 characters.

use chrono::{DateTime, Utc};
use map_kit::{
    Violations,
    authn::{Principal, RoleRef},
    paging::PageSize,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _,
    QueryOrder as _, QuerySelect as _,
};
use secrecy::SecretString;

use crate::{
    Auth, AuthError,
    entity::{api_key_roles, api_keys},
    secrets,
    users::{
        checks::{check_role_ref, finish},
        ensure_roles_exist,
    },
};

/// An API key's metadata (never its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// UUIDv7.
    pub id: String,
    /// Name chosen at creation.
    pub name: String,
    /// Roles of calls made with the key.
    pub roles: Vec<RoleRef>,
    /// First 12 characters of the secret.
    pub key_prefix: String,
    /// Creating administrator; `None` for the command line.
    pub creator_user_id: Option<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
    /// Last use, within a few minutes.
    pub last_used_at: Option<DateTime<Utc>>,
    /// Revocation time.
    pub revoked_at: Option<DateTime<Utc>>,
}

/// A new key and its secret, shown once.
#[derive(Debug)]
pub struct CreatedApiKey {
    /// Metadata.
    pub key: ApiKey,
    /// The secret for `x-api-key`.
    pub secret: SecretString,
}

async fn with_roles<C: sea_orm::ConnectionTrait>(
    conn: &C,
    rows: Vec<api_keys::Model>,
) -> Result<Vec<ApiKey>, AuthError> {
    let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
    let mut roles: std::collections::HashMap<String, Vec<RoleRef>> = Default::default();
    if !ids.is_empty() {
        for r in api_key_roles::Entity::find()
            .filter(api_key_roles::Column::ApiKeyId.is_in(ids))
            .order_by_asc(api_key_roles::Column::System)
            .order_by_asc(api_key_roles::Column::Role)
            .all(conn)
            .await?
        {
            roles.entry(r.api_key_id).or_default().push(RoleRef {
                system: r.system,
                role: r.role,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|r| ApiKey {
            roles: roles.remove(&r.id).unwrap_or_default(),
            id: r.id,
            name: r.name,
            key_prefix: r.key_prefix,
            creator_user_id: r.creator_user_id,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            revoked_at: r.revoked_at,
        })
        .collect())
}

impl Auth {
    /// Creates an API key (AdminService.CreateApiKey, `map admin
    /// create-api-key`, `map dev`). `creator` is the administrator, if any.
    pub async fn create_api_key(
        &self,
        creator: Option<&Principal>,
        name: &str,
        roles: Vec<RoleRef>,
    ) -> Result<CreatedApiKey, AuthError> {
        let mut v = Violations::default();
        v.text("name", name, 100);
        if roles.is_empty() {
            v.add("roles", "at least one role is required");
        }
        for (i, r) in roles.iter().enumerate() {
            check_role_ref(&mut v, &format!("roles[{i}]"), r);
        }
        finish(v)?;
        let mut roles = roles;
        roles.sort();
        roles.dedup();
        let secret = secrets::random_secret(secrets::API_KEY_PREFIX);
        let id = uuid::Uuid::now_v7().to_string();
        let txn = self.db.begin_write().await?;
        ensure_roles_exist(&txn, &roles).await?;
        let row = api_keys::ActiveModel {
            id: Set(id.clone()),
            name: Set(name.trim().to_owned()),
            secret_hash: Set(secrets::digest(&secret)),
            key_prefix: Set(secret[..secrets::KEY_PREFIX_LEN].to_owned()),
            creator_user_id: Set(creator.map(|p| p.id.clone())),
            created_at: Set(self.now()),
            last_used_at: Set(None),
            revoked_at: Set(None),
        }
        .insert(&txn)
        .await?;
        for r in &roles {
            api_key_roles::ActiveModel {
                api_key_id: Set(id.clone()),
                system: Set(r.system.clone()),
                role: Set(r.role.clone()),
            }
            .insert(&txn)
            .await?;
        }
        txn.commit().await?;
        tracing::info!(api_key_id = %id, name = %row.name, "api key created");
        let key = with_roles(self.db.conn(), vec![row])
            .await?
            .pop()
            .ok_or(AuthError::NotFound("api key"))?;
        Ok(CreatedApiKey {
            key,
            secret: SecretString::from(secret),
        })
    }

    /// One page of keys by id (AdminService.ListApiKeys).
    pub async fn list_api_keys(
        &self,
        show_revoked: bool,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<ApiKey>, String), AuthError> {
        let size = PageSize::parse(page_size)?;
        let filters = show_revoked;
        let after: Option<String> = self.pager().open("api_keys", &filters, page_token)?;
        let mut q = api_keys::Entity::find().order_by_asc(api_keys::Column::Id);
        if let Some(last) = after {
            q = q.filter(api_keys::Column::Id.gt(last));
        }
        if !show_revoked {
            q = q.filter(api_keys::Column::RevokedAt.is_null());
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        let (rows, next) = self
            .pager()
            .page("api_keys", &filters, rows, size, |r| r.id.clone());
        Ok((with_roles(self.db.conn(), rows).await?, next))
    }

    /// Revokes a key (AdminService.RevokeApiKey); idempotent.
    pub async fn revoke_api_key(&self, id: &str) -> Result<ApiKey, AuthError> {
        let mut v = Violations::default();
        v.uuid("api_key_id", id);
        finish(v)?;
        let txn = self.db.begin_write().await?;
        let row = api_keys::Entity::find_by_id(id.to_owned())
            .one(&txn)
            .await?
            .ok_or(AuthError::NotFound("api key"))?;
        let row = if row.revoked_at.is_none() {
            let updated = api_keys::ActiveModel {
                id: Set(row.id.clone()),
                revoked_at: Set(Some(self.now())),
                ..Default::default()
            }
            .update(&txn)
            .await?;
            tracing::info!(api_key_id = %id, "api key revoked");
            updated
        } else {
            row
        };
        txn.commit().await?;
        self.cache.invalidate_all();
        with_roles(self.db.conn(), vec![row])
            .await?
            .pop()
            .ok_or(AuthError::NotFound("api key"))
    }

    /// Revokes every valid key with this name that the command line created
    /// (`map dev` replaces its per-system keys on each start). Returns how
    /// many were revoked.
    pub async fn revoke_cli_keys_named(&self, name: &str) -> Result<u64, AuthError> {
        let done = api_keys::Entity::update_many()
            .col_expr(
                api_keys::Column::RevokedAt,
                sea_orm::sea_query::Expr::value(Some(self.now())),
            )
            .filter(api_keys::Column::Name.eq(name))
            .filter(api_keys::Column::CreatorUserId.is_null())
            .filter(api_keys::Column::RevokedAt.is_null())
            .exec(self.db.conn())
            .await?;
        self.cache.invalidate_all();
        Ok(done.rows_affected)
    }
}
