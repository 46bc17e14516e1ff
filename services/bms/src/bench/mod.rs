//! BMS's benchmarks (feature `bench`, run by `map bench`; BENCHMARKS.md):
//! [`budget_expenses`] (expenses racing onto a few budget lines, with room
//! to spare and then at their limits, every line checked against its
//! ledger afterwards) and [`budget_report`] (a fiscal year's report at
//! 10,000 and then 1,000,000 expenses).

pub mod budget_expenses;
pub mod budget_report;
