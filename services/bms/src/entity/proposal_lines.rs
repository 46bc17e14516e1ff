//! `proposal_lines`: what a proposal asks of each budget line, and what
//! an approved spending request committed, spent and released there.

use sea_orm::entity::prelude::*;

/// A proposal line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposal_lines")]
pub struct Model {
    /// Its proposal.
    #[sea_orm(primary_key, auto_increment = false)]
    pub proposal_id: String,
    /// Its place in the proposal, from 0.
    #[sea_orm(primary_key, auto_increment = false)]
    pub position: i32,
    /// The budget line it draws on or raises.
    pub budget_line_id: String,
    /// What it is for.
    pub description: String,
    /// Amount requested, positive.
    pub amount_minor: i64,
    /// Still committed on the budget line.
    pub committed_minor: i64,
    /// Taken by expenses.
    pub spent_minor: i64,
    /// Released by closing the proposal.
    pub released_minor: i64,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
