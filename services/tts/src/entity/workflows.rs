//! `workflows`: one row per workflow, whatever its revisions.

use sea_orm::entity::prelude::*;

/// A workflow.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflows")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// The latest revision's name.
    pub name: String,
    /// `name` trimmed and lower-cased: unique.
    pub name_normalized: String,
    /// Incremented on every change; the etag.
    pub version: i64,
    /// The highest revision number.
    pub latest_revision: i32,
    /// The revision new tickets use, if one is published.
    pub published_revision: Option<i32>,
    /// The published revision's selector key (unique): set with
    /// `published_revision`.
    pub published_selector: Option<String>,
    /// Archived as a whole.
    pub archived: bool,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
}

/// Its revisions are read by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
