//! `help_topics`: the employees' catalogue.

use sea_orm::entity::prelude::*;

/// A help topic.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "help_topics")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Name shown to employees.
    pub name: String,
    /// `name` trimmed and lower-cased: unique.
    pub name_normalized: String,
    /// What it is for.
    pub description: String,
    /// Auth's department code; empty for the requester's.
    pub department_code: String,
    /// Category.
    pub category: String,
    /// Sub-category.
    pub sub_category: String,
    /// Offered to employees.
    pub active: bool,
    /// Incremented on every change; the etag.
    pub version: i64,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
