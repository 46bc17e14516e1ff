//! `proposal_comments`: the discussion of a proposal; immutable.

use sea_orm::entity::prelude::*;

/// A comment.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposal_comments")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Its proposal.
    pub proposal_id: String,
    /// Who wrote it.
    pub author_user_id: String,
    /// Plain text.
    pub body: String,
    /// When it was written.
    pub created_at: ChronoDateTimeUtc,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
