//! Scenarios that need nothing but the contracts and the kit.

pub mod auth_validate;
pub mod baseline;
pub mod bench_db;
pub mod events;
pub mod gateway;
pub mod next_assignee;
pub mod nginx;
pub mod platform;
pub mod ticket_intake;
