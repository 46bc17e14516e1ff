//! `expenses`: money spent, booked on a line (`recorded`), held on none
//! (`unassigned`, an AMS expense BMS could not place) or cancelled
//! (`voided`).

use sea_orm::entity::prelude::*;

/// An expense.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "expenses")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `recorded`, `unassigned` or `voided`.
    pub status: String,
    /// Its budget; empty while unassigned.
    pub budget_id: String,
    /// Its line; empty while unassigned.
    pub budget_line_id: String,
    /// The department that pays.
    pub department_code: String,
    /// Its budget's fiscal year; empty while unassigned.
    pub fiscal_year_id: String,
    /// Amount booked, in minor units of `currency`.
    pub amount_minor: i64,
    /// The budget's currency (while unassigned, the source's).
    pub currency: String,
    /// The amount as the source gave it.
    pub source_amount_minor: i64,
    /// Its currency.
    pub source_currency: String,
    /// When it was spent.
    pub expense_date: Date,
    /// What was bought.
    pub description: String,
    /// `bms` or `ams`.
    pub source_system: String,
    /// `manual`, a client's label, or the AMS event type.
    pub source: String,
    /// Reference within the source; with `source`, unique when not empty.
    pub source_ref: String,
    /// The spending request it spends; empty when none.
    pub proposal_id: String,
    /// Part of the amount taken from that request's commitment.
    pub released_commitment_minor: i64,
    /// The AMS asset; empty for manual expenses.
    pub asset_id: String,
    /// The AMS asset's number.
    pub asset_number: String,
    /// The AMS asset's category code.
    pub asset_category_code: String,
    /// Why it needs review: flag names, comma-separated; empty when none.
    pub flags: String,
    /// The flags explained for people.
    pub flag_detail: String,
    /// The category's line it was diverted from.
    pub diverted_from_budget_line_id: String,
    /// For an AMS cost correction, the purchase's expense.
    pub adjusted_expense_id: String,
    /// Who recorded it; empty when the worker did.
    pub recorded_by_user_id: String,
    /// When it was recorded.
    pub recorded_at: ChronoDateTimeUtc,
    /// Who voided it.
    pub voided_by_user_id: String,
    /// When it was voided.
    pub voided_at: Option<ChronoDateTimeUtc>,
    /// Why it was voided.
    pub void_reason: String,
    /// Who last assigned it.
    pub assigned_by_user_id: String,
    /// When it was last assigned.
    pub assigned_at: Option<ChronoDateTimeUtc>,
    /// The note of the last assignment.
    pub assign_note: String,
    /// Incremented on every change; the etag and the events' version.
    pub version: i64,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
