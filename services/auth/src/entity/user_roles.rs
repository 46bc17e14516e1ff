//! A role held by a user.
use sea_orm::entity::prelude::*;

/// One grant.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "user_roles")]
pub struct Model {
    /// The user.
    #[sea_orm(primary_key, auto_increment = false)]
    pub user_id: String,
    /// System of the role.
    #[sea_orm(primary_key, auto_increment = false)]
    pub system: String,
    /// Role name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role: String,
    /// When granted.
    pub granted_at: ChronoDateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
