//! TTS's tables (the tts migrations), as sea-orm entities.

pub mod canned_responses;
pub mod comments;
pub mod help_topics;
pub mod sla_calendars;
pub mod sla_policies;
pub mod ticket_asset_tags;
pub mod ticket_events;
pub mod ticket_ratings;
pub mod ticket_sla_clocks;
pub mod ticket_tags;
pub mod tickets;
pub mod workflow_revisions;
pub mod workflows;
