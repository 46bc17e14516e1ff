//! The bms database's own tables: fiscal years, budgets and their lines,
//! transfers between lines, and expenses.

mod m0001_budgets;

pub(crate) use m0001_budgets::Migration as Budgets;
