//! The register: assets, their status machine and their ledger.
//!
//! Every change of an asset increments its version in a conditional update
//! (`… WHERE id = ? AND version = ?`) and writes, in the same transaction,
//! its immutable ledger entry and — for purchases, checkouts, checkins,
//! disposals, maintenance and cost corrections — its `ams.asset.*` event
//! carrying the whole asset ([`snapshot`]). Of two racing moves of one
//! asset exactly one matches; the other reads the asset again and is
//! refused when the move is no longer legal (FAILED_PRECONDITION).
//!
//! - [`register`]: CreateAsset, and the registration every import row uses;
//! - [`ledger`]: the moves of the status machine ([`Status::moves_to`]);
//! - [`changes`]: UpdateAsset, CorrectAssetCost and AddMaintenanceRecord;
//! - [`list`]: ListAssets, ListMyAssets, ListAssetTransactions and
//!   ListMaintenanceRecords;
//! - GetDepreciationSchedule is in [`schedule`].

/// A move of an asset (see [`ledger`]): `self` (the [`Assets`]) begins it
/// with the request's `key` on asset `(id, etag)`, answers a replay with the
/// first answer, and otherwise plans the move from the asset as read —
/// `|current, txn| { … Ok(Planned) }` — and writes it, planning again from
/// a fresh read when another move won the race; `respond` makes the answer
/// from the moved asset and its ledger entry.
macro_rules! moving {
    ($assets:expr, $key:expr, ($id:expr, $etag:expr), $respond:expr, |$current:ident, $txn:ident| $plan:block) => {{
        let respond = $respond;
        let mut m = match $assets.begin($key, $id, $etag).await? {
            $crate::assets::ledger::Begun::Replayed(first) => return Ok(first),
            $crate::assets::ledger::Begun::Moving(m) => m,
        };
        loop {
            let $current = &m.current().await?;
            let $txn = m.txn()?;
            let planned: $crate::assets::ledger::Planned = async $plan.await?;
            if let Some(done) = m.write($current, planned, &respond).await? {
                return Ok(done);
            }
        }
    }};
}

pub mod changes;
pub mod ledger;
pub mod list;
pub mod register;
pub mod schedule;
mod status;
mod wire;

use map_contracts::events::v1 as ev;
use map_kit::{
    System, authn::Principal, clock::Clock, db::Db, outbox::Outbox, paging::Pager, timers::Timers,
    uploads::Uploads,
};
use sea_orm::{ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _};

pub use status::{Kind, Status};
pub use wire::{disposal_method, snapshot, stored_disposal, to_proto, transaction_to_proto};

use crate::{AmsError, entity::assets};

/// An asset as stored.
pub type Asset = assets::Model;
/// A ledger entry as stored.
pub type Transaction = crate::entity::asset_transactions::Model;

/// The prefix of asset numbers: `AST-000123`.
pub const NUMBER_PREFIX: &str = "AST";
/// Longest name, model, serial, location, supplier or reference.
pub const MAX_TEXT: usize = 200;
/// Longest notes.
pub const MAX_NOTES: usize = 20_000;

/// The register's domain.
#[derive(Debug, Clone)]
pub struct Assets {
    db: Db,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
    timers: Timers,
    uploads: Uploads,
}

impl Assets {
    /// Over `db`; files for imports come from `uploads`.
    pub fn new(db: Db, clock: Clock, pager: Pager, uploads: Uploads) -> Assets {
        Assets {
            outbox: Outbox::new(System::Ams).with_clock(clock.clone()),
            timers: Timers::new(clock.clone()),
            db,
            clock,
            pager,
            uploads,
        }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The clock.
    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// The uploads imports read from.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// GetAsset, by id or number.
    pub async fn get(&self, id: &str, number: &str) -> Result<Asset, AmsError> {
        let q = assets::Entity::find();
        let q = match (id.is_empty(), number.is_empty()) {
            (false, true) => {
                if uuid::Uuid::try_parse(id).is_err() {
                    return Err(AmsError::invalid("id", "must be a UUID"));
                }
                q.filter(assets::Column::Id.eq(id))
            }
            (true, false) => q.filter(assets::Column::Number.eq(number.trim().to_uppercase())),
            _ => {
                return Err(AmsError::invalid(
                    "lookup",
                    "set exactly one of id and number",
                ));
            }
        };
        q.one(self.db.conn())
            .await?
            .ok_or(AmsError::NotFound("asset"))
    }
}

/// The asset `id` (a UUID checked by the caller), NOT_FOUND otherwise.
pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Asset, AmsError> {
    assets::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(AmsError::NotFound("asset"))
}

/// The person or key who did something, as events name them.
pub fn actor_ref(p: &Principal) -> ev::UserRef {
    ev::UserRef {
        user_id: p.id.clone(),
        display_name: p.display_name.clone(),
        email: p.email.clone(),
    }
}

/// A user the directory knows, as events name them (the id alone when it
/// does not).
pub async fn user_ref<C: ConnectionTrait>(conn: &C, id: &str) -> Result<ev::UserRef, AmsError> {
    Ok(map_kit::directory::read::user_ref(conn, id).await?)
}
