//! A person who can sign in.
use sea_orm::entity::prelude::*;

/// One user; never deleted, only deactivated.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "users")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// As entered.
    pub email: String,
    /// Lower-cased email; unique.
    pub email_normalized: String,
    /// Name shown to others.
    pub display_name: String,
    /// Department code; may be empty.
    pub department: String,
    /// False once deactivated.
    pub active: bool,
    /// argon2id PHC string.
    pub password_hash: String,
    /// Incremented on every change of the user, its roles or active flag.
    pub version: i64,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last change that incremented `version`.
    pub updated_at: ChronoDateTimeUtc,
}

/// No navigable relations; joins are written where needed.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
