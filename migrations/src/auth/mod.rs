//! The auth database: users, systems and their roles, role grants, API keys,
//! sessions with their refresh tokens, login attempts and round-robin cursors.

mod m0001_identity;
mod m0002_seed;

pub(crate) use m0001_identity::Migration as Identity;
pub(crate) use m0002_seed::Migration as Seed;
