//! The employee help desk (HDTS).
//!
//! - [`topics`]: the catalogue of help topics employees pick from, each
//!   routing its submissions by department, category and sub-category, with
//!   `hdts.topic.*` events carrying the whole topic;
//! - [`tickets`]: submissions (routed by their help topic) and the employee's
//!   view of them; [`tickets::mirror`] keeps their TTS side from
//!   `tts.ticket.*` snapshots, newer versions only; [`tickets::attachments`]
//!   the files attached to submissions and replies (uploaded through
//!   UploadService, held in HDTS's database by map-kit's `uploads`);
//!   [`tickets::auto_close`] closes the tickets left resolved, through
//!   map-kit's timers;
//! - [`entity`]: the sea-orm entities of HDTS's tables;
//! - [`grpc`]: the tonic adapter and its access policy;
//! - [`HdtsError`]: the domain's errors.
//!
//! Replies, withdrawal, confirmation, reopening and rating build on these
//! (the tickets issue); until they land those RPCs answer UNIMPLEMENTED.
#![forbid(unsafe_code)]

pub mod entity;
pub mod error;
pub mod grpc;
pub mod tickets;
pub mod topics;

pub use error::HdtsError;
pub use grpc::grpc_server;
