//! `assets`: the register. Status, holder and version change together in
//! one conditional update (see `assets::ledger`).

use sea_orm::entity::prelude::*;

/// An asset.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "assets")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// People-facing number, the asset tag (`AST-000123`).
    pub number: String,
    /// Display name.
    pub name: String,
    /// Manufacturer serial; unique when not empty.
    pub serial: String,
    /// Model.
    pub model: String,
    /// Its category's code.
    pub category_code: String,
    /// Auth's code of the owning department.
    pub department_code: String,
    /// Where it is, free text.
    pub location: String,
    /// `location` trimmed and lower-cased, for the location filter.
    pub location_normalized: String,
    /// `in_stock`, `checked_out`, `in_repair`, `retired`, `lost`, `disposed`.
    pub status: String,
    /// The user holding it, while checked out to a user.
    pub holder_user_id: Option<String>,
    /// The location holding it, while checked out to a location.
    pub holder_location: Option<String>,
    /// The holder was deactivated in Auth while holding it.
    pub holder_deactivated: bool,
    /// The open checkout's ledger entry, while checked out.
    pub checkout_transaction_id: Option<String>,
    /// When a checked-out or in-repair asset is expected back.
    pub expected_return_at: Option<ChronoDateTimeUtc>,
    /// Purchase cost in minor units.
    pub cost_minor: i64,
    /// ISO-4217 code of the cost.
    pub currency: String,
    /// When it was bought.
    pub purchase_date: Date,
    /// Last day of the warranty.
    pub warranty_end_date: Option<Date>,
    /// Supplier name.
    pub supplier: String,
    /// Invoice or purchase-order reference.
    pub purchase_reference: String,
    /// Free notes.
    pub notes: String,
    /// Registered as an opening balance: its cost was never booked.
    pub opening_balance: bool,
    /// Incremented on every change; the etag and the events' subject version.
    pub version: i64,
    /// When it was registered.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
