//! The auth database: users, systems and their roles, role grants, API keys,
//! sessions with their refresh tokens, login attempts, round-robin cursors
//! and the organisation's departments.

mod m0001_identity;
mod m0002_seed;
mod m0003_departments;
mod m0004_round_robin_picks;
mod m0005_hdts_admin;
mod m0006_bms_admin;

pub(crate) use m0001_identity::Migration as Identity;
pub(crate) use m0002_seed::Migration as Seed;
pub(crate) use m0003_departments::Migration as Departments;
pub(crate) use m0004_round_robin_picks::Migration as RoundRobinPicks;
pub(crate) use m0005_hdts_admin::Migration as HdtsAdmin;
pub(crate) use m0006_bms_admin::Migration as BmsAdmin;
