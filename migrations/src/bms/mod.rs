//! The bms database's own tables: fiscal years, budgets and their lines,
//! transfers between lines, and expenses; the index of flagged expenses;
//! proposals with their lines, comments and history, and the approval
//! policies.

mod m0001_budgets;
mod m0002_flagged_expenses;
mod m0003_proposals;
mod m0004_flagged_by_budget;

pub(crate) use m0001_budgets::Migration as Budgets;
pub(crate) use m0002_flagged_expenses::Migration as FlaggedExpenses;
pub(crate) use m0003_proposals::Migration as Proposals;
pub(crate) use m0004_flagged_by_budget::Migration as FlaggedByBudget;
