//! `budget_bookings`: AMS's copy of what BMS booked for its assets, one
//! row per BMS expense, replaced only by a newer version.

use sea_orm::entity::prelude::*;

/// A BMS expense of an asset.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "budget_bookings")]
pub struct Model {
    /// The BMS expense.
    #[sea_orm(primary_key, auto_increment = false)]
    pub expense_id: String,
    /// The asset.
    pub asset_id: String,
    /// `recorded`, `unassigned` or `voided`.
    pub status: String,
    /// The AMS event type it books.
    pub source: String,
    /// The AMS ledger transaction it books.
    pub transaction_id: String,
    /// Amount booked, in minor units of `currency`.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: String,
    /// The budget; empty while unassigned.
    pub budget_id: String,
    /// The line that paid; empty while unassigned.
    pub budget_line_id: String,
    /// That line's account code.
    pub account_code: String,
    /// That line's category code; empty on the unallocated line.
    pub line_category_code: String,
    /// Whether it is on the department's unallocated line.
    pub unallocated: bool,
    /// The department that pays.
    pub department_code: String,
    /// The budget's fiscal year.
    pub fiscal_year_name: String,
    /// BMS's flag names, comma-separated.
    pub flags: String,
    /// The expense's version in BMS.
    pub version: i64,
    /// When BMS recorded it.
    pub recorded_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
