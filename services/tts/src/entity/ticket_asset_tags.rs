//! `ticket_asset_tags`: one row per asset a ticket is about, for
//! ListTickets' asset filter (the ticket shows its asset tags, as given,
//! from `tickets.asset_tags`).

use sea_orm::entity::prelude::*;

/// An asset a ticket is about.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_asset_tags")]
pub struct Model {
    /// The ticket.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: String,
    /// The AMS asset tag, upper-cased (`map_kit::asset_tags::key`).
    #[sea_orm(primary_key, auto_increment = false)]
    pub asset_tag: String,
}

/// Read by asset tag.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
