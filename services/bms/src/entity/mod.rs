//! The sea-orm entities of BMS's tables (migrations/src/bms).

pub mod budget_lines;
pub mod budget_transfers;
pub mod budgets;
pub mod expenses;
pub mod fiscal_years;
