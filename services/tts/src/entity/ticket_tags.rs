//! `ticket_tags`: one row per tag of a ticket, for ListTickets' tag filter
//! (the ticket shows its tags from `tickets.tags`).

use sea_orm::entity::prelude::*;

/// A tag on a ticket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_tags")]
pub struct Model {
    /// The ticket.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: String,
    /// The tag, lower case.
    #[sea_orm(primary_key, auto_increment = false)]
    pub tag: String,
}

/// Read by tag.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
