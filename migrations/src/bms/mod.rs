//! The bms database's own tables: fiscal years, budgets and their lines,
//! transfers between lines, and expenses; the index of flagged expenses.

mod m0001_budgets;
mod m0002_flagged_expenses;

pub(crate) use m0001_budgets::Migration as Budgets;
pub(crate) use m0002_flagged_expenses::Migration as FlaggedExpenses;
