//! A sign-in session: the family of one login's refresh tokens and the
//! access tokens minted from them (their `sid` claim).
use sea_orm::entity::prelude::*;

/// One session.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sessions")]
pub struct Model {
    /// UUIDv7; the access tokens' `sid`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The signed-in user.
    pub user_id: String,
    /// Login time.
    pub created_at: ChronoDateTimeUtc,
    /// Set by logout, reuse detection, password change or deactivation.
    pub revoked_at: Option<ChronoDateTimeUtc>,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
