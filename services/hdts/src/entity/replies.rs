//! `hdts_replies`: messages on help-desk tickets; immutable.

use sea_orm::entity::prelude::*;

/// One reply.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "hdts_replies")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The ticket.
    pub ticket_id: String,
    /// The author.
    pub author_user_id: String,
    /// Their name when they wrote it.
    pub author_display_name: String,
    /// The text.
    pub body: String,
    /// `public` or `internal`.
    pub visibility: String,
    /// `portal`, `email` or `tts` (a mirrored TTS comment).
    pub source: String,
    /// The TTS comment it mirrors (unique), if any.
    pub tts_comment_id: Option<String>,
    /// When it was written.
    pub created_at: ChronoDateTimeUtc,
    /// The files attached (`map_kit::uploads::attachments`): HDTS's own
    /// uploads, or a mirrored TTS comment's references; `None` for none.
    pub attachments: Option<Vec<u8>>,
}

/// Read by ticket.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
