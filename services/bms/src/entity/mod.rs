//! The sea-orm entities of BMS's tables (migrations/src/bms).

pub mod approval_policies;
pub mod budget_lines;
pub mod budget_transfers;
pub mod budgets;
pub mod expenses;
pub mod fiscal_years;
pub mod proposal_comments;
pub mod proposal_events;
pub mod proposal_lines;
pub mod proposals;
