//! A machine credential. Only the SHA-256 of its secret is stored.
use sea_orm::entity::prelude::*;

/// One API key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    /// UUIDv7; the principal id of calls made with the key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Chosen by the administrator.
    pub name: String,
    /// Hex SHA-256 of the secret.
    #[sea_orm(unique)]
    pub secret_hash: String,
    /// First 12 characters of the secret.
    pub key_prefix: String,
    /// The administrator who created it; `None` for the command line.
    pub creator_user_id: Option<String>,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last successful validation, within a few minutes.
    pub last_used_at: Option<ChronoDateTimeUtc>,
    /// Revocation time; `None` while valid.
    pub revoked_at: Option<ChronoDateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
