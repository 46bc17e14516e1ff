//! The ams database's own tables: categories, assets, their transaction
//! ledger and their maintenance records; the copy of what BMS booked for
//! them.

mod m0001_assets;
mod m0002_budget_bookings;

pub(crate) use m0001_assets::Migration as Assets;
pub(crate) use m0002_budget_bookings::Migration as BudgetBookings;
