//! `fiscal_years`: the periods budgets are for; immutable, never
//! overlapping.

use sea_orm::entity::prelude::*;

/// A fiscal year.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "fiscal_years")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique display name, e.g. "FY2026".
    pub name: String,
    /// First day.
    pub start_date: Date,
    /// Last day, inclusive.
    pub end_date: Date,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
