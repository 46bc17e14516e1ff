//! BMS's benchmarks (feature `bench`, run by `map bench`; BENCHMARKS.md):
//! [`budget_expenses`] (expenses racing onto a few budget lines, with room
//! to spare and then at their limits, every line checked against its
//! ledger afterwards).

pub mod budget_expenses;
