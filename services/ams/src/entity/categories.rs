//! `categories`: kinds of asset, with their depreciation defaults.

use sea_orm::entity::prelude::*;

/// A category.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "categories")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Immutable code, upper case, unique: what assets, budget lines and
    /// events name.
    pub code: String,
    /// Display name.
    pub name: String,
    /// `name` trimmed and lower-cased: unique.
    pub name_normalized: String,
    /// What belongs in it.
    pub description: String,
    /// `straight_line` or `declining_balance`.
    pub depreciation_method: String,
    /// Useful life, 1 to 600 months.
    pub useful_life_months: i32,
    /// Salvage value as a percentage of cost, 0 to 100.
    pub salvage_percent: i32,
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
