//! Scenarios that need nothing but the contracts and the kit.

pub mod baseline;
pub mod gateway;
