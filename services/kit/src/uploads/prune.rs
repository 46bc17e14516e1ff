//! Deleting what was never finished or never used: an open upload a day
//! after it started, a complete file nobody attached a day after it
//! completed. Attached files are never pruned (they have no expiry). The
//! worker of every system that holds files runs [`run_pruner`].

use std::{future::Future, time::Duration};

use chrono::{DateTime, Utc};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};

use super::entity::{chunk, upload};
use crate::{clock::Clock, db::Db};

/// How often the worker prunes.
pub const PRUNE_EVERY: Duration = Duration::from_secs(300);

/// Uploads deleted per transaction: a long backlog never holds the write
/// lock for long.
const BATCH: u64 = 100;

/// Deletes the uploads of `db` that expired before `now`, with their
/// chunks; returns how many.
///
/// An attachment racing with the pruner either comes first (the file has
/// no expiry any more and stays) or finds the file gone (and is refused).
pub async fn prune(db: &Db, now: DateTime<Utc>) -> Result<u64, sea_orm::DbErr> {
    let mut pruned = 0;
    loop {
        let txn = db.begin_write().await?;
        let ids: Vec<String> = upload::Entity::find()
            .select_only()
            .column(upload::Column::Id)
            .filter(upload::Column::ExpiresAt.lt(now))
            .limit(BATCH)
            .into_tuple()
            .all(&txn)
            .await?;
        if ids.is_empty() {
            return Ok(pruned);
        }
        let ids_found = ids.len();
        // The expiry is checked again by the delete, which holds the rows.
        let deleted = upload::Entity::delete_many()
            .filter(upload::Column::Id.is_in(ids.clone()))
            .filter(upload::Column::ExpiresAt.lt(now))
            .exec(&txn)
            .await?;
        let kept: Vec<String> = upload::Entity::find()
            .select_only()
            .column(upload::Column::Id)
            .filter(upload::Column::Id.is_in(ids.clone()))
            .into_tuple()
            .all(&txn)
            .await?;
        // The foreign key cascades too; this does not rely on it.
        chunk::Entity::delete_many()
            .filter(chunk::Column::UploadId.is_in(ids))
            .filter(chunk::Column::UploadId.is_not_in(kept))
            .exec(&txn)
            .await?;
        txn.commit().await?;
        pruned += deleted.rows_affected;
        if (ids_found as u64) < BATCH {
            return Ok(pruned);
        }
    }
}

/// Prunes `db` now and every `every` until `shutdown` resolves. A failure
/// is logged and tried again next time.
pub async fn run_pruner(db: Db, clock: Clock, every: Duration, shutdown: impl Future<Output = ()>) {
    tokio::pin!(shutdown);
    loop {
        match prune(&db, clock.now()).await {
            Ok(0) => {}
            Ok(pruned) => tracing::info!(pruned, "pruned stale uploads"),
            Err(error) => tracing::warn!(%error, "pruning uploads failed"),
        }
        tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep(every) => {}
        }
    }
}
