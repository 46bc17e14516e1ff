//! The local directory of Auth's users and departments that every system
//! but Auth keeps in its own database (ARCHITECTURE.md, flow 4), so that
//! showing a name, checking a department code or finding a role's holders
//! needs no call to Auth.
//!
//! - [`entity`]: the tables `directory_users`, `directory_user_roles`,
//!   `directory_departments` and `directory_state` (the `directory`
//!   migration of the ams, bms, tts and hdts migrators);
//! - [`SyncHandler`]: the consumer handler of the system's
//!   `<system>.user-sync` queue ([`sync_queue`]). It applies `auth.user.*`,
//!   `auth.role.*` and `auth.department.*` by the full snapshot each event
//!   carries, newer version wins, so order and redelivery do not matter;
//!   unknown event types are ignored. A [`Reaction`] adds a system's own
//!   work to each applied user change, in the same transaction;
//! - [`Directory`]: the backfill ([`Directory::backfill_if_empty`]) and the
//!   periodic reconcile ([`Directory::reconcile`],
//!   [`Directory::run_reconcile`]) through Auth's paged `ListUsers` and
//!   `ListDepartments`, called with the system's API key (role
//!   `auth:service`). See [`backfill`] for what a pass repairs: a user or
//!   department Auth no longer lists is marked inactive, never deleted;
//! - [`read`]: the look-ups systems use (a user, users by ids, a role's
//!   holders, a department and whether it is active), on any connection.
//!
//! "Empty" means "never matched Auth completely": a directory that so far
//! only followed events is still backfilled, because the milestone of a
//! complete pass is recorded apart from the rows.
//!
//! # Wiring it into a worker
//!
//! The consumer and the reconcile run side by side from the start: events
//! and listings commute (each write is gated by version), so the consumer
//! need not wait for the backfill.
//!
//! ```no_run
//! use std::time::Duration;
//!
//! use map_kit::{
//!     System,
//!     bus::{Bus, Consumer, ConsumerConfig},
//!     db::Db,
//!     directory::{self, Directory, SyncHandler},
//! };
//! use secrecy::SecretString;
//! use tokio_util::sync::CancellationToken;
//!
//! async fn wire(
//!     system: System,
//!     db: Db,
//!     bus: Bus,
//!     auth_target: &map_kit::authn::AuthTarget,
//!     api_key: &SecretString,
//!     stop: CancellationToken,
//! ) -> Result<(), Box<dyn std::error::Error>> {
//!     // MAP_AUTH_URL and MAP_AUTH_API_KEY (required for every system but Auth).
//!     let auth = map_kit::authn::auth_channel(auth_target);
//!     let directory = Directory::new(db.clone(), auth, api_key)?;
//!     // Backfill when empty, then repair drift hourly.
//!     tokio::spawn(
//!         directory
//!             .clone()
//!             .run_reconcile(Duration::from_secs(3600), stop.clone().cancelled_owned()),
//!     );
//!     let queue = directory::sync_queue(system).ok_or("no user-sync queue")?;
//!     let consumer = Consumer::new(queue, db, bus, SyncHandler::new(), ConsumerConfig::default())?;
//!     consumer.run(stop.cancelled_owned()).await?;
//!     Ok(())
//! }
//! ```
//!
//! Reading, e.g. in a TTS handler that files a ticket under a department:
//!
//! ```no_run
//! # async fn f(db: &map_kit::db::Db, ids: &[String]) -> Result<(), sea_orm::DbErr> {
//! use map_kit::directory::read;
//!
//! if !read::department_is_active(db.conn(), "IT").await? {
//!     // INVALID_ARGUMENT: not a department in use
//! }
//! let agents = read::holders(db.conn(), "tts", "agent", true).await?;
//! let people = read::users_by_ids(db.conn(), ids).await?;
//! # let _ = (agents, people);
//! # Ok(())
//! # }
//! ```

pub mod backfill;
pub mod entity;
mod model;
pub mod read;
mod store;
mod sync;

use chrono::{DateTime, Utc};
use sea_orm::DbErr;
use secrecy::SecretString;
use tonic::transport::Channel;

pub use backfill::{SyncReport, Tally};
pub use model::{Department, DirectoryUser};
pub use sync::{Reaction, SyncHandler, UserChange, user_of};

use crate::{
    System,
    authn::{AuthClient, BadApiKey, DepartmentClient, auth_client, department_client},
    bus::topology,
    db::Db,
};

/// The page size of the backfill's listings (Auth's largest).
pub const PAGE_SIZE: i32 = 500;

/// The `<system>.user-sync` queue that `system`'s [`SyncHandler`] consumes;
/// `None` for Auth, which owns the data.
pub fn sync_queue(system: System) -> Option<&'static str> {
    topology::queue(&format!("{system}.user-sync")).map(|q| q.name)
}

/// Why a backfill or reconcile did not complete. Every page written before
/// the failure stays; the next pass carries on.
#[derive(Debug, thiserror::Error)]
pub enum DirectoryError {
    /// The directory's database failed.
    #[error("directory database: {0}")]
    Db(#[from] DbErr),
    /// A call to Auth failed (unreachable, or the API key refused).
    #[error("auth {rpc} failed: {code:?}: {message}")]
    Auth {
        /// The RPC, e.g. `ListUsers`.
        rpc: &'static str,
        /// The status code.
        code: tonic::Code,
        /// The status message.
        message: String,
    },
    /// Auth listed something the directory cannot hold (a defect).
    #[error("auth sent a bad row: {0}")]
    BadData(String),
}

/// A system's directory: its database and the clients of Auth that fill it.
/// Cheap to clone.
#[derive(Clone)]
pub struct Directory {
    db: Db,
    users: AuthClient,
    departments: DepartmentClient,
    page_size: i32,
}

impl std::fmt::Debug for Directory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Directory")
            .field("page_size", &self.page_size)
            .finish_non_exhaustive()
    }
}

impl Directory {
    /// The directory in `db`, filled from Auth over `auth` with this
    /// service's `api_key` (`MAP_AUTH_API_KEY`, role `auth:service`).
    pub fn new(db: Db, auth: Channel, api_key: &SecretString) -> Result<Directory, BadApiKey> {
        Ok(Directory {
            db,
            users: auth_client(auth.clone(), api_key)?,
            departments: department_client(auth, api_key)?,
            page_size: PAGE_SIZE,
        })
    }

    /// Lists `page_size` rows per call instead of [`PAGE_SIZE`].
    pub fn with_page_size(mut self, page_size: i32) -> Directory {
        self.page_size = page_size;
        self
    }

    /// The directory's database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Fills the directory from Auth unless it matched Auth completely
    /// before (see the [module docs](self)). `Some` with what the pass did
    /// when it ran, `None` when there was nothing to do.
    pub async fn backfill_if_empty(&self) -> Result<Option<SyncReport>, DirectoryError> {
        if store::last_full_sync(self.db.conn()).await?.is_some() {
            return Ok(None);
        }
        tracing::info!("directory never filled; backfilling from auth");
        self.full_pass().await.map(Some)
    }

    /// One full pass through Auth's listings, repairing drift (see
    /// [`backfill`]).
    pub async fn reconcile(&self) -> Result<SyncReport, DirectoryError> {
        self.full_pass().await
    }

    /// When the directory last matched Auth completely, if ever.
    pub async fn last_full_sync(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        store::last_full_sync(self.db.conn()).await
    }

    /// The user `id`, active or not ([`read::user`]).
    pub async fn user(&self, id: &str) -> Result<Option<DirectoryUser>, DbErr> {
        read::user(self.db.conn(), id).await
    }

    /// The known users among `ids` ([`read::users_by_ids`]).
    pub async fn users(&self, ids: &[String]) -> Result<Vec<DirectoryUser>, DbErr> {
        read::users_by_ids(self.db.conn(), ids).await
    }

    /// The department `code` ([`read::department`]).
    pub async fn department(&self, code: &str) -> Result<Option<Department>, DbErr> {
        read::department(self.db.conn(), code).await
    }

    /// Whether `code` is an active department ([`read::department_is_active`]).
    pub async fn department_is_active(&self, code: &str) -> Result<bool, DbErr> {
        read::department_is_active(self.db.conn(), code).await
    }
}
