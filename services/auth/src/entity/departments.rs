//! A department of the organisation.
use sea_orm::entity::prelude::*;

/// One department; never deleted, only deactivated.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "departments")]
pub struct Model {
    /// Immutable code, e.g. `IT`; what `users.department` holds.
    #[sea_orm(primary_key, auto_increment = false)]
    pub code: String,
    /// Name shown to people.
    pub name: String,
    /// False once deactivated.
    pub active: bool,
    /// Incremented on every change.
    pub version: i64,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
    /// Last change.
    pub updated_at: ChronoDateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
