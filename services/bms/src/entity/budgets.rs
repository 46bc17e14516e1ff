//! `budgets`: one per department and fiscal year, in one currency.

use sea_orm::entity::prelude::*;

/// A budget.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "budgets")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Its fiscal year.
    pub fiscal_year_id: String,
    /// Auth's department code.
    pub department_code: String,
    /// ISO-4217 currency of every amount.
    pub currency: String,
    /// Free description.
    pub description: String,
    /// Its unallocated line.
    pub unallocated_line_id: String,
    /// Incremented on every change of the budget or one of its lines; the
    /// etag.
    pub version: i64,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
    /// When it or one of its lines last changed.
    pub updated_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
