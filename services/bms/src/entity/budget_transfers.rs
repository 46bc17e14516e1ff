//! `budget_transfers`: allocation moved between two lines of one budget by
//! a finance head; immutable.

use sea_orm::entity::prelude::*;

/// A transfer.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "budget_transfers")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The budget of both lines.
    pub budget_id: String,
    /// The line giving allocation.
    pub from_line_id: String,
    /// The line receiving it.
    pub to_line_id: String,
    /// Amount in minor units, positive.
    pub amount_minor: i64,
    /// The budget's currency.
    pub currency: String,
    /// Why.
    pub reason: String,
    /// The finance head who made (and so approved) it.
    pub approved_by_user_id: String,
    /// When it was made.
    pub created_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
