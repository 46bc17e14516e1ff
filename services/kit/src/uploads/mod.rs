//! Files uploaded to a system in chunks through ordinary unary calls, so a
//! browser uploads over grpc-web (`map/common/v1/upload.proto`), stored in
//! that system's own database, and referenced everywhere by
//! `map.common.v1.FileRef { system, id }` — never by a URL.
//!
//! - [`Uploads::start`] opens an upload of a named file of a declared
//!   content type and total size (at most [`UploadLimits::max_file_bytes`],
//!   10 MiB unless configured by `MAP_UPLOAD_MAX_BYTES`);
//! - [`Uploads::append`] adds the next chunk of at most [`MAX_CHUNK_BYTES`]
//!   at its offset: a retried chunk is idempotent, a gap or an overlap is
//!   refused naming the expected offset;
//! - [`Uploads::complete`] checks the SHA-256 of the whole content and the
//!   declared content type against the bytes ([`content`]); a refused upload
//!   is deleted, an accepted one is immutable from then on;
//! - [`Uploads::attach`], in the caller's transaction, marks complete
//!   uploads of the caller as attached to something of the system's (a
//!   ticket, a reply) and returns their metadata, which the system keeps
//!   with that row ([`attachments`]) and puts in its events;
//! - [`Uploads::attached`] and [`Uploads::content`] serve an attached file to
//!   whoever the system lets see its owner (`GetAttachment`);
//! - [`prune`] deletes open uploads a day after they started and complete
//!   ones never attached a day after they completed; the system's worker
//!   runs it every few minutes ([`run_pruner`]).
//!
//! Only the uploader may append to, complete or attach an upload: anyone
//! else's is NOT_FOUND, so its existence is not revealed. The tonic side is
//! [`UploadApi`] and [`upload_service!`](crate::upload_service), which
//! implements a system's generated `UploadService` trait over it.
//!
//! ```no_run
//! # use map_kit::{System, clock::Clock, db::Db, uploads::{UploadLimits, Uploads}};
//! # async fn example(db: Db) -> Result<(), map_kit::uploads::UploadError> {
//! use sha2::{Digest as _, Sha256};
//! let uploads = Uploads::new(System::Hdts, db, Clock::system(), UploadLimits::default());
//! let content = b"printer says PC LOAD LETTER";
//! let upload = uploads.start("0190-user", "note.txt", "text/plain", content.len() as i64).await?;
//! uploads.append("0190-user", &upload.id, 0, content).await?;
//! let sha256 = hex::encode(Sha256::digest(content));
//! let file = uploads.complete("0190-user", &upload.id, &sha256).await?;
//! assert_eq!(file.state, "complete");
//! # Ok(()) }
//! ```

mod api;
mod attach;
pub mod attachments;
mod complete;
pub mod content;
pub mod entity;
mod error;
mod prune;
mod read;
mod receive;

use std::time::Duration;

use chrono::{DateTime, Utc};
use map_contracts::common::v1 as pb;

pub use api::UploadApi;

/// What [`upload_service!`](crate::upload_service) expands to refers to.
#[doc(hidden)]
pub mod __private {
    pub use map_contracts::common::v1 as pb;
    pub use tonic::{Request, Response, Status, async_trait};
}
pub use error::UploadError;
pub use prune::{PRUNE_EVERY, prune, run_pruner};
pub use read::Chunk;

use crate::{System, clock::Clock, db::Db, wire::time::timestamp};

/// The largest chunk [`Uploads::append`] takes: 1 MiB.
pub const MAX_CHUNK_BYTES: usize = 1 << 20;
/// The default largest file: 10 MiB.
pub const DEFAULT_MAX_FILE_BYTES: u64 = 10 << 20;
/// The most files one ticket, reply or comment may attach.
pub const MAX_ATTACHMENTS: usize = 20;
/// How long an open upload waits for its completion, and a complete one
/// for its attachment, before the pruner deletes it.
pub const KEEP_UNATTACHED: Duration = Duration::from_secs(24 * 3600);
/// Longest file name, in characters.
pub const MAX_FILE_NAME: usize = 255;

/// `uploads.state` of an upload receiving chunks.
pub const OPEN: &str = "open";
/// `uploads.state` of a checked, immutable file.
pub const COMPLETE: &str = "complete";

/// What a system accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UploadLimits {
    /// The largest file, in bytes (`MAP_UPLOAD_MAX_BYTES`).
    pub max_file_bytes: u64,
}

impl Default for UploadLimits {
    fn default() -> Self {
        UploadLimits {
            max_file_bytes: DEFAULT_MAX_FILE_BYTES,
        }
    }
}

/// The uploads of one system's database.
#[derive(Debug, Clone)]
pub struct Uploads {
    system: System,
    db: Db,
    clock: Clock,
    limits: UploadLimits,
}

impl Uploads {
    /// The uploads `system` holds in `db`, accepted within `limits`.
    pub fn new(system: System, db: Db, clock: Clock, limits: UploadLimits) -> Uploads {
        Uploads {
            system,
            db,
            clock,
            limits,
        }
    }

    /// The same uploads within other limits.
    pub fn with_limits(mut self, limits: UploadLimits) -> Uploads {
        self.limits = limits;
        self
    }

    /// The system holding these files (`FileRef.system`).
    pub fn system(&self) -> System {
        self.system
    }

    /// The limits in force.
    pub fn limits(&self) -> UploadLimits {
        self.limits
    }

    /// When something unattached of `now` is pruned.
    fn expiry(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        now + KEEP_UNATTACHED
    }

    /// The reference to a complete upload of this system.
    pub fn file_ref(&self, id: &str) -> pb::FileRef {
        pb::FileRef {
            system: self.system.name().to_owned(),
            id: id.to_owned(),
        }
    }
}

/// An upload on the wire.
pub fn to_proto(u: &entity::upload::Model) -> pb::Upload {
    pb::Upload {
        id: u.id.clone(),
        file_name: u.file_name.clone(),
        content_type: u.content_type.clone(),
        size_bytes: u.size_bytes,
        received_bytes: u.received_bytes,
        state: if u.state == COMPLETE {
            pb::UploadState::Complete
        } else {
            pb::UploadState::Open
        }
        .into(),
        sha256: u.sha256.clone().unwrap_or_default(),
        expire_time: u.expires_at.map(timestamp),
    }
}
