//! Scenarios that need nothing but the contracts and the kit.

pub mod auth_validate;
pub mod baseline;
pub mod events;
pub mod gateway;
