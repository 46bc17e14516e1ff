//! A role defined in a system, builtin (seeded) or custom.
use sea_orm::entity::prelude::*;

/// One role.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "roles")]
pub struct Model {
    /// System name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub system: String,
    /// Role name.
    #[sea_orm(primary_key, auto_increment = false)]
    pub role: String,
    /// What holders may do.
    pub description: String,
    /// Seeded by the migration.
    pub builtin: bool,
    /// Creation time.
    pub created_at: ChronoDateTimeUtc,
}

/// No navigable relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
