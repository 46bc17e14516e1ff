//! `ticket_events`: a ticket's append-only history.

use sea_orm::entity::prelude::*;

/// One entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_events")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The ticket.
    pub ticket_id: String,
    /// `created`, `assigned`, `transitioned`, `commented`, `status_changed`.
    pub kind: String,
    /// Who caused it; empty for the system.
    pub actor_user_id: String,
    /// When.
    pub occurred_at: ChronoDateTimeUtc,
    /// The ticket's version after it.
    pub ticket_version: i64,
    /// The whole `map.tts.v1.TicketEvent`, encoded.
    pub event: Vec<u8>,
}

/// Read by ticket.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
