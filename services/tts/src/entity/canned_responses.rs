//! `canned_responses`: the teams' reply texts.

use sea_orm::entity::prelude::*;

/// A canned response.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "canned_responses")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The team: a TTS role, `tts:<role>`.
    pub team: String,
    /// What agents pick it by.
    pub title: String,
    /// The text with its placeholders.
    pub body: String,
    /// Who created it.
    pub author_user_id: String,
    /// Incremented on every change; the etag.
    pub version: i64,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
    /// When it was archived; `None` while in use.
    pub archived_at: Option<ChronoDateTimeUtc>,
}

/// Read by id, or by team and title.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
