//! `workflow_revisions`: the immutable content of each revision, and its state.

use sea_orm::entity::prelude::*;

/// One revision.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "workflow_revisions")]
pub struct Model {
    /// The workflow.
    #[sea_orm(primary_key, auto_increment = false)]
    pub workflow_id: String,
    /// 1, 2, …
    #[sea_orm(primary_key, auto_increment = false)]
    pub revision: i32,
    /// `draft`, `published` or `archived`.
    pub state: String,
    /// Display name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Selector: Auth's department code; empty for any.
    pub department_code: String,
    /// Selector: category; empty for any.
    pub category: String,
    /// Selector: sub-category; empty for any.
    pub sub_category: String,
    /// The steps and transitions (`definition::Graph`) as JSON.
    pub graph: String,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
    /// When it was published.
    pub published_at: Option<ChronoDateTimeUtc>,
    /// When it was archived.
    pub archived_at: Option<ChronoDateTimeUtc>,
}

/// Read by key.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
