//! `help_topics`: TTS's copy of HDTS's help-topic catalogue, kept from
//! `hdts.topic.*` events (newer versions only).

use sea_orm::entity::prelude::*;

/// A help topic as HDTS last published it.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "help_topics")]
pub struct Model {
    /// UUIDv7, HDTS's id.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Name shown to employees.
    pub name: String,
    /// Auth's department code; empty for the requester's.
    pub department_code: String,
    /// Category.
    pub category: String,
    /// Sub-category; may be empty.
    pub sub_category: String,
    /// Offered to employees.
    pub active: bool,
    /// HDTS's version of the topic.
    pub version: i64,
    /// When it last changed in HDTS.
    pub updated_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
