//! HDTS's tables (the hdts migrations), as sea-orm entities.

pub mod help_topics;
pub mod replies;
pub mod tickets;
