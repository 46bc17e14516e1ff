//! Budget management (BMS).
//!
//! - [`fiscal_years`]: the periods budgets are for, never overlapping;
//! - [`budgets`]: a department's budget for a fiscal year, its category
//!   lines (keyed by AMS category codes) and its unallocated line, and
//!   transfers between lines by a finance head;
//! - [`lines`]: the lines' ledger — every change of a line's amounts is one
//!   conditional update after its budget's version is taken, so two racing
//!   expenses never together overspend a STOP line, and each crossing of a
//!   line's warning threshold or of its allocation is announced once
//!   (`bms.budget.threshold_crossed`);
//! - [`expenses`]: manual expenses, voids, listings; `bms.expense.*` events
//!   carry the whole expense and its version;
//! - [`bookings`]: the worker's bookings of AMS purchases, maintenance and
//!   cost corrections, once per AMS transaction, never refused;
//! - [`proposals`]: budget increases and spending requests through an
//!   approval chain fixed at submission from [`approval_policies`]; an
//!   approved spending request commits its amounts until spent or closed;
//! - [`reports`]: budget reports of a fiscal year — lines, department and
//!   currency totals, months against a straight-line plan — read from one
//!   snapshot, and the same as formula-safe CSV files;
//! - `bench` (feature `bench`): `map bench budget-expenses`;
//! - [`entity`]: the sea-orm entities of BMS's tables;
//! - [`grpc`]: the tonic adapter and its access policy;
//! - [`BmsError`]: the domain's errors.
#![forbid(unsafe_code)]

pub mod approval_policies;
#[cfg(feature = "bench")]
pub mod bench;
pub mod bookings;
pub mod budgets;
pub mod entity;
pub mod error;
pub mod expenses;
pub mod fiscal_years;
pub mod grpc;
pub mod lines;
pub mod proposals;
pub mod reports;

pub use error::BmsError;
pub use grpc::grpc_server;
