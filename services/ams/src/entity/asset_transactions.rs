//! `asset_transactions`: the ledger, one immutable row per movement.

use sea_orm::entity::prelude::*;

/// A ledger entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "asset_transactions")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The asset.
    pub asset_id: String,
    /// The asset's number.
    pub asset_number: String,
    /// `purchase`, `checkout`, `checkin`, `transfer`, `repair`, `dispose`,
    /// `retire`, `lost`, `maintenance`, `cost_correction`, `opening_balance`.
    pub kind: String,
    /// Who did it; empty when the system did.
    pub actor_user_id: String,
    /// When.
    pub at: ChronoDateTimeUtc,
    /// Status before; empty for a registration.
    pub from_status: String,
    /// Status after.
    pub to_status: String,
    /// Holder concerned.
    pub holder_user_id: String,
    /// Location holder concerned.
    pub holder_location: String,
    /// Department before.
    pub from_department_code: String,
    /// Department after.
    pub to_department_code: String,
    /// Location before.
    pub from_location: String,
    /// Location after.
    pub to_location: String,
    /// Purchase cost, proceeds, maintenance cost or corrected cost.
    pub amount_minor: Option<i64>,
    /// The cost before a correction.
    pub previous_amount_minor: Option<i64>,
    /// Currency of the amounts; empty without amounts.
    pub currency: String,
    /// Expected return (checkout, repair).
    pub expected_return_at: Option<ChronoDateTimeUtc>,
    /// Free note.
    pub note: String,
    /// How it was disposed of.
    pub disposal_method: String,
    /// For a checkin from a holder, the checkout it closes.
    pub checkout_transaction_id: String,
    /// For maintenance, its record.
    pub maintenance_record_id: String,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
