//! `ticket_ratings`: the requester's rating of a ticket, from HDTS.

use sea_orm::entity::prelude::*;

/// One ticket's rating.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_ratings")]
pub struct Model {
    /// The TTS ticket.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: String,
    /// 1 to 5.
    pub score: i32,
    /// The requester's comment.
    pub comment: String,
    /// When they rated it.
    pub rated_at: ChronoDateTimeUtc,
    /// The HDTS ticket's version that carried it; a lower one is older.
    pub hdts_version: i64,
}

/// Read by ticket.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
