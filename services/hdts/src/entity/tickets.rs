//! `hdts_tickets`: help-desk tickets and their mirror of TTS.

use sea_orm::entity::prelude::*;

/// A help-desk ticket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hdts_tickets")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `HD-000123`.
    pub number: String,
    /// Who it is for.
    pub requester_user_id: String,
    /// Their name when submitted.
    pub requester_display_name: String,
    /// One-line summary.
    pub subject: String,
    /// The problem.
    pub description: String,
    /// Auth's department code it is routed by.
    pub department_code: String,
    /// Category it is routed by.
    pub category: String,
    /// Sub-category it is routed by.
    pub sub_category: String,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: String,
    /// `submitted`, `in_progress`, `waiting_on_requester`, `resolved`,
    /// `closed`, `withdrawn`.
    pub status: String,
    /// `portal` or `email`.
    pub source: String,
    /// The help topic it was submitted under; empty for none.
    pub help_topic_id: String,
    /// The TTS ticket working it; empty until TTS opened it.
    pub tts_ticket_id: String,
    /// Its number.
    pub tts_ticket_number: String,
    /// The TTS assignee's name (from the directory); empty for none.
    pub assignee_display_name: String,
    /// The version of the newest TTS snapshot applied; 0 for none.
    pub tts_version: i64,
    /// Incremented on every change.
    pub version: i64,
    /// When it was submitted.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
    /// When it was last resolved.
    pub resolved_at: Option<ChronoDateTimeUtc>,
    /// When it was closed or withdrawn.
    pub closed_at: Option<ChronoDateTimeUtc>,
    /// The requester's rating, 1 to 5; 0 while unrated.
    pub rating_score: i32,
    /// Their comment with it.
    pub rating_comment: String,
    /// When they rated it last.
    pub rated_at: Option<ChronoDateTimeUtc>,
    /// The files attached at submission (`map_kit::uploads::attachments`);
    /// `None` for none.
    pub attachments: Option<Vec<u8>>,
    /// AMS asset tags of the assets it is about, as submitted, separated by
    /// spaces (`map_kit::asset_tags::stored`).
    pub asset_tags: String,
}

/// Read by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
