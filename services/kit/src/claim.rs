//! Claiming rows of due work (outbox rows, timers) so that concurrent
//! workers never take the same row: one helper for the relay and the
//! timers.
//!
//! - PostgreSQL: `SELECT … FOR UPDATE SKIP LOCKED` in a transaction of the
//!   claim's own. Any number of workers claim disjoint rows; the locks last
//!   until [`Claim::commit`], and the outcome is written in that same
//!   transaction.
//! - SQLite has no row locks, so a database has a single claimer, and what
//!   the claim holds depends on the work ([`OnSqlite`]).

use sea_orm::{
    DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait, QuerySelect as _, Select,
    sea_query::{LockBehavior, LockType},
};

use crate::db::Db;

/// What a claim holds on SQLite.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnSqlite {
    /// A plain read; the outcome goes into a new, short write transaction
    /// ([`Claim::txn`]). For work that waits on the network (publishing):
    /// SQLite's one write lock must not wait with it, or every writer of the
    /// database waits too. Correct because the single claimer is the only
    /// writer of the claimed rows' state.
    Read,
    /// Inside an IMMEDIATE write transaction, held to the end. For local
    /// work whose rows other writers may change at any time (timers that are
    /// re-armed or cancelled): the claim and the outcome see the same rows.
    Write,
}

/// Rows claimed by [`claim`], with the transaction that holds them.
#[derive(Debug)]
pub(crate) struct Claim<M> {
    /// The claimed rows, in the query's order.
    pub(crate) rows: Vec<M>,
    txn: Option<DatabaseTransaction>,
}

/// Claims the rows `query` selects (it carries the filter, order and limit).
pub(crate) async fn claim<E: EntityTrait>(
    db: &Db,
    query: Select<E>,
    on_sqlite: OnSqlite,
) -> Result<Claim<E::Model>, DbErr> {
    if db.backend() == DatabaseBackend::Postgres {
        let txn = db.begin_write().await?;
        let rows = query
            .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
            .all(&txn)
            .await?;
        return Ok(Claim {
            rows,
            txn: Some(txn),
        });
    }
    match on_sqlite {
        OnSqlite::Read => Ok(Claim {
            rows: query.all(db.conn()).await?,
            txn: None,
        }),
        OnSqlite::Write => {
            let txn = db.begin_write().await?;
            let rows = query.all(&txn).await?;
            Ok(Claim {
                rows,
                txn: Some(txn),
            })
        }
    }
}

impl<M> Claim<M> {
    /// The transaction to write the outcome in: the claim's own, or after a
    /// plain read on SQLite a write transaction begun now.
    pub(crate) async fn txn(&mut self, db: &Db) -> Result<&DatabaseTransaction, DbErr> {
        let txn = match self.txn.take() {
            Some(txn) => txn,
            None => db.begin_write().await?,
        };
        Ok(self.txn.insert(txn))
    }

    /// Commits the outcome and releases the claim.
    pub(crate) async fn commit(self) -> Result<(), DbErr> {
        match self.txn {
            Some(txn) => txn.commit().await,
            None => Ok(()),
        }
    }
}
