//! TTS's tables (the tts migrations), as sea-orm entities.

pub mod workflow_revisions;
pub mod workflows;
