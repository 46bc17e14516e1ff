//! `comments`: public and internal comments on tickets; immutable.

use sea_orm::entity::prelude::*;

/// One comment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "comments")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The ticket.
    pub ticket_id: String,
    /// The author.
    pub author_user_id: String,
    /// The text.
    pub body: String,
    /// `public` or `internal`.
    pub visibility: String,
    /// The HDTS reply it mirrors (unique), if any.
    pub hdts_reply_id: Option<String>,
    /// When it was written.
    pub created_at: ChronoDateTimeUtc,
    /// The files attached (`map_kit::uploads::attachments`): TTS's own
    /// uploads, or a mirrored HDTS reply's references; `None` for none.
    pub attachments: Option<Vec<u8>>,
}

/// Read by ticket.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
