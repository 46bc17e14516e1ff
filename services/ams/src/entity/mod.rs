//! The sea-orm entities of AMS's tables (migrations/src/ams).

pub mod asset_transactions;
pub mod assets;
pub mod budget_bookings;
pub mod categories;
pub mod maintenance_records;
