//! `proposals`: budget increases and spending requests against a budget,
//! their approval chain of the current submission and their maintained
//! totals in minor units of the budget's currency.

use sea_orm::entity::prelude::*;

/// A proposal.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "proposals")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// People-facing number, `BP-000123`.
    pub number: String,
    /// `spending_request` or `budget_increase`.
    pub kind: String,
    /// Its budget.
    pub budget_id: String,
    /// The budget's department.
    pub department_code: String,
    /// The budget's fiscal year.
    pub fiscal_year_id: String,
    /// Who created it.
    pub requester_user_id: String,
    /// Short title.
    pub title: String,
    /// Why the money is needed.
    pub justification: String,
    /// `draft`, `submitted`, `approved`, `rejected`, `returned`,
    /// `withdrawn` or `closed`.
    pub status: String,
    /// The budget's currency.
    pub currency: String,
    /// Sum of its lines' amounts.
    pub requested_total_minor: i64,
    /// Still committed (an approved spending request).
    pub committed_total_minor: i64,
    /// Taken from the commitment by expenses.
    pub spent_total_minor: i64,
    /// Released by closing it.
    pub released_total_minor: i64,
    /// Version of the approval policy its chain was fixed from; 0 before.
    pub approval_policy_version: i64,
    /// The chain of the current (or last) submission, JSON; empty before.
    pub approval_steps: String,
    /// Role of the current pending step; empty unless submitted.
    pub pending_role: String,
    /// How many times it was returned for revision.
    pub return_count: i32,
    /// Grows by one with every change.
    pub version: i64,
    /// When created.
    pub created_at: ChronoDateTimeUtc,
    /// When last changed.
    pub updated_at: ChronoDateTimeUtc,
    /// When last submitted.
    pub submitted_at: Option<ChronoDateTimeUtc>,
    /// When approved (last step) or rejected.
    pub decided_at: Option<ChronoDateTimeUtc>,
    /// When withdrawn.
    pub withdrawn_at: Option<ChronoDateTimeUtc>,
    /// When closed.
    pub closed_at: Option<ChronoDateTimeUtc>,
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
