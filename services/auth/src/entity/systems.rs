//! A system known to Auth.
use sea_orm::entity::prelude::*;

/// One system.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "systems")]
pub struct Model {
    /// Short name, e.g. `tts`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub name: String,
    /// Human-readable name.
    pub display_name: String,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
