//! `maintenance_records`: maintenance done on assets.

use sea_orm::entity::prelude::*;

/// A maintenance record.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "maintenance_records")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The asset.
    pub asset_id: String,
    /// `repair`, `service`, `upgrade`, `calibration`, `software`.
    pub kind: String,
    /// Short title.
    pub title: String,
    /// Who did it.
    pub supplier: String,
    /// Cost in minor units.
    pub cost_minor: i64,
    /// ISO-4217 code of the cost.
    pub currency: String,
    /// When it started.
    pub start_date: Date,
    /// When it was finished.
    pub completion_date: Option<Date>,
    /// Free notes.
    pub notes: String,
    /// Who recorded it.
    pub actor_user_id: String,
    /// Its MAINTENANCE ledger entry.
    pub transaction_id: String,
    /// When recorded.
    pub created_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
