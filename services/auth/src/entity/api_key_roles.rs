//! A role carried by an API key.
use sea_orm::entity::prelude::*;

/// One role of one key.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key_roles")]
pub struct Model {
    /// The key.
    #[sea_orm(primary_key, auto_increment = false)]
    pub api_key_id: String,
    /// System of the role.
    #[sea_orm(primary_key, auto_increment = false)]
    pub system: String,
    /// Role name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
