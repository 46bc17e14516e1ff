//! `budget_lines`: a budget's category lines and its unallocated line, with
//! their maintained totals in minor units of the budget's currency.

use sea_orm::entity::prelude::*;

/// A budget line.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "budget_lines")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Its budget.
    pub budget_id: String,
    /// AMS category code; empty on the unallocated line.
    pub category_code: String,
    /// Whether it is the budget's unallocated line.
    pub unallocated: bool,
    /// Ledger account code; may be empty.
    pub account_code: String,
    /// What it is for.
    pub description: String,
    /// `stop`, `warn` or `ignore`.
    pub control_mode: String,
    /// Utilisation (percent) at which it is over its threshold.
    pub warning_threshold_percent: i32,
    /// Allocation set by its budget's commands.
    pub base_allocated_minor: i64,
    /// Approved budget increases.
    pub increased_minor: i64,
    /// Transfers into it.
    pub transferred_in_minor: i64,
    /// Transfers out of it.
    pub transferred_out_minor: i64,
    /// Recorded expenses.
    pub spent_minor: i64,
    /// Approved spending requests not yet spent or released.
    pub committed_minor: i64,
    /// Spending requests in their approval chain.
    pub pending_minor: i64,
    /// Budget increases in their approval chain.
    pub pending_increase_minor: i64,
    /// Last announced: utilisation at or above the threshold.
    pub over_threshold: bool,
    /// Last announced: spent + committed above allocated.
    pub overspent: bool,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
}

impl Model {
    /// The allocation in effect.
    pub fn allocated(&self) -> i64 {
        self.base_allocated_minor + self.increased_minor + self.transferred_in_minor
            - self.transferred_out_minor
    }

    /// Allocated minus spent minus committed; negative when overspent.
    pub fn remaining(&self) -> i64 {
        self.allocated() - self.spent_minor - self.committed_minor
    }
}

/// None.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
