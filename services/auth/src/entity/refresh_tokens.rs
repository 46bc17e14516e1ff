//! A refresh token of a session, stored as its SHA-256; single use.
use sea_orm::entity::prelude::*;

/// One refresh token.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "refresh_tokens")]
pub struct Model {
    /// Hex SHA-256 of the opaque token.
    #[sea_orm(primary_key, auto_increment = false)]
    pub token_hash: String,
    /// Its session (family).
    pub session_id: String,
    /// Issue time.
    pub created_at: ChronoDateTimeUtc,
    /// After this it is refused.
    pub expires_at: ChronoDateTimeUtc,
    /// When it was exchanged; presenting it again revokes the session.
    pub spent_at: Option<ChronoDateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
