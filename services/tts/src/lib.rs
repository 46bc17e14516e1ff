//! Ticket tracking (TTS), the agents' side of the help desk.
//!
//! - [`workflows`]: versioned workflow definitions — steps, named and
//!   triggered transitions, their validation (every violation at once), one
//!   published revision per selector, and the matching that picks a new
//!   ticket's workflow;
//! - [`tickets`]: tickets opened (never stuck: triage or unassigned with the
//!   reason), worked through their workflow revision, commented (with files
//!   uploaded through UploadService: [`tickets::attachments`]), with an
//!   append-only history and `tts.ticket.*` events; tagged by agents and
//!   naming the AMS assets they are about, both filterable;
//! - [`canned`]: the teams' canned responses, rendered for one ticket with
//!   the requester's name and the ticket's number filled in;
//! - [`sla`]: SLA calendars (business-time arithmetic), policies, and the
//!   clocks each ticket runs, with their warnings, breaches and escalations
//!   on timers;
//! - [`topics`]: the copy of HDTS's help-topic catalogue (`hdts.topic.*`);
//! - [`entity`]: the sea-orm entities of TTS's tables;
//! - [`grpc`]: the tonic adapter and its access policies;
//! - [`TtsError`]: the domain's errors.
//!
#![forbid(unsafe_code)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod canned;
pub mod entity;
pub mod error;
pub mod grpc;
pub mod sla;
pub mod tickets;
pub mod topics;
pub mod workflows;

pub use error::TtsError;
pub use grpc::grpc_server;
