//! `proposal_events`: a proposal's history, one entry per change or
//! comment; immutable.

use sea_orm::entity::prelude::*;

/// A history entry.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposal_events")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Its proposal.
    pub proposal_id: String,
    /// `created`, `updated`, `submitted`, `approved`, `rejected`,
    /// `returned`, `withdrawn`, `closed` or `commented`.
    pub event_type: String,
    /// Who caused it.
    pub actor_user_id: String,
    /// When it happened.
    pub at: ChronoDateTimeUtc,
    /// The proposal's version after it.
    pub proposal_version: i64,
    /// Status before.
    pub from_status: String,
    /// Status after.
    pub to_status: String,
    /// For a decision, the step's level; 0 otherwise.
    pub level: i32,
    /// For a decision, the step's role.
    pub approver_role: String,
    /// The decision's, withdrawal's or closing's comment.
    pub comment: String,
    /// For a comment, its id.
    pub comment_id: String,
    /// The amount it moved, when it moved one.
    pub amount_minor: Option<i64>,
    /// The currency of that amount.
    pub currency: String,
    /// For an update, the fields changed, comma-separated.
    pub updated_fields: String,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
