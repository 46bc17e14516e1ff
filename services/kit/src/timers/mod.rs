//! Timers: persisted due work, fired exactly once.
//!
//! A timer is a row of the `timers` table (every system's migrations create
//! it): a kind (what to do), a subject (what about; unique with the kind), a
//! due time and a payload. [`Timers`] schedules, re-arms and cancels timers
//! inside the caller's transaction, so a timer exists exactly when the
//! change that wanted it committed. A [`TimerWorker`] fires the due ones:
//!
//! - it claims due timers through the same claim as the outbox relay
//!   (`FOR UPDATE SKIP LOCKED` on PostgreSQL, so any number of workers share
//!   them; a single claimer inside a write transaction on SQLite);
//! - a timer's [`TimerHandler::fire`] writes in the transaction that also
//!   marks the timer done (a savepoint per timer), so its effect happens
//!   exactly once: both commit, or neither does and the timer stays due;
//! - a failing handler's writes are rolled back, its attempt is counted
//!   (`attempts`, `last_error`) and it is retried with doubling delays;
//! - between batches it sleeps until the next due time on its [`Clock`],
//!   until [`Timers::schedule`] or [`Timers::rearm`] in this process wakes it,
//!   or until its poll interval (timers scheduled by other processes).
//!
//! Handlers only write to their database: a timer never holds its
//! transaction across a network call. Work that needs one (escalating a
//! breach through Auth) is an event the handler enqueues in the outbox.
//!
//! ```no_run
//! use std::time::Duration;
//! use map_kit::{
//!     clock::Clock,
//!     db::Db,
//!     timers::{FireError, Timer, TimerHandler, TimerWorker, TimerWorkerConfig, Timers},
//! };
//! use sea_orm::DatabaseTransaction;
//!
//! struct Breach;
//!
//! #[async_trait::async_trait]
//! impl TimerHandler for Breach {
//!     async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
//!         // record the breach of ticket `timer.subject` through `txn`
//!         Ok(())
//!     }
//! }
//!
//! # async fn example(db: Db) -> Result<(), sea_orm::DbErr> {
//! let clock = Clock::system();
//! let timers = Timers::new(clock.clone());
//! let txn = db.begin_write().await?;
//! // … the change that starts the SLA clock, then:
//! let due = clock.now() + Duration::from_secs(4 * 3600);
//! timers.schedule(&txn, "tts.sla.breach", "ticket-1", due, Vec::new()).await?;
//! txn.commit().await?;
//!
//! let worker = TimerWorker::new(db, clock, TimerWorkerConfig::default())
//!     .handle("tts.sla.breach", Breach);
//! worker.run(std::future::pending()).await; // until shutdown
//! # Ok(()) }
//! ```

pub mod entity;
mod worker;

use std::sync::LazyLock;

use chrono::{DateTime, Utc};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, QueryFilter as _,
    sea_query::Expr, sea_query::OnConflict,
};
use tokio::sync::watch;

pub use worker::{FireError, FireOutcome, TimerHandler, TimerWorker, TimerWorkerConfig};

use crate::clock::Clock;

/// A timer as its handler sees it.
pub type Timer = entity::Model;

/// State of a timer waiting to fire.
pub const PENDING: &str = "pending";
/// State of a timer whose handler's writes committed.
pub const DONE: &str = "done";

/// Longest kind.
pub const MAX_KIND: usize = 64;
/// Longest subject.
pub const MAX_SUBJECT: usize = 128;

/// Bumped by every schedule and re-arm in this process: wakes the workers.
static SCHEDULED: LazyLock<watch::Sender<u64>> = LazyLock::new(|| watch::Sender::new(0));

fn notify_scheduled() {
    SCHEDULED.send_modify(|n| *n = n.wrapping_add(1));
}

/// Schedules, re-arms and cancels timers in the caller's transaction.
/// Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Timers {
    clock: Clock,
}

impl Timers {
    /// Timers stamped with `clock`'s time.
    pub fn new(clock: Clock) -> Timers {
        Timers { clock }
    }

    /// Schedules the timer (`kind`, `subject`) to be due at `due` with
    /// `payload`, replacing the one of that kind and subject if there is
    /// one (pending or done: a fired timer can be scheduled again). Its
    /// attempts start from zero.
    pub async fn schedule<C: ConnectionTrait>(
        &self,
        txn: &C,
        kind: &str,
        subject: &str,
        due: DateTime<Utc>,
        payload: Vec<u8>,
    ) -> Result<(), DbErr> {
        check(kind, subject)?;
        let row = entity::ActiveModel {
            kind: Set(kind.to_owned()),
            subject: Set(subject.to_owned()),
            due_at: Set(due),
            run_at: Set(due),
            payload: Set(payload),
            state: Set(PENDING.to_owned()),
            attempts: Set(0),
            last_error: Set(None),
            scheduled_at: Set(self.clock.now()),
            fired_at: Set(None),
            ..Default::default()
        };
        use entity::Column as C;
        entity::Entity::insert(row)
            .on_conflict(
                OnConflict::columns([C::Kind, C::Subject])
                    .update_columns([
                        C::DueAt,
                        C::RunAt,
                        C::Payload,
                        C::State,
                        C::Attempts,
                        C::LastError,
                        C::ScheduledAt,
                        C::FiredAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(txn)
            .await?;
        notify_scheduled();
        Ok(())
    }

    /// Moves the pending timer (`kind`, `subject`) to `due`; its attempts
    /// start from zero. `false` when there is no pending one (never
    /// scheduled, cancelled, or fired already).
    pub async fn rearm<C: ConnectionTrait>(
        &self,
        txn: &C,
        kind: &str,
        subject: &str,
        due: DateTime<Utc>,
    ) -> Result<bool, DbErr> {
        let none: Option<String> = None;
        let done = entity::Entity::update_many()
            .col_expr(entity::Column::DueAt, Expr::value(due))
            .col_expr(entity::Column::RunAt, Expr::value(due))
            .col_expr(entity::Column::Attempts, Expr::value(0))
            .col_expr(entity::Column::LastError, Expr::value(none))
            .col_expr(entity::Column::ScheduledAt, Expr::value(self.clock.now()))
            .filter(entity::Column::Kind.eq(kind))
            .filter(entity::Column::Subject.eq(subject))
            .filter(entity::Column::State.eq(PENDING))
            .exec(txn)
            .await?;
        if done.rows_affected > 0 {
            notify_scheduled();
        }
        Ok(done.rows_affected > 0)
    }

    /// Cancels the pending timer (`kind`, `subject`): it never fires.
    /// `false` when there is no pending one.
    pub async fn cancel<C: ConnectionTrait>(
        &self,
        txn: &C,
        kind: &str,
        subject: &str,
    ) -> Result<bool, DbErr> {
        let done = entity::Entity::delete_many()
            .filter(entity::Column::Kind.eq(kind))
            .filter(entity::Column::Subject.eq(subject))
            .filter(entity::Column::State.eq(PENDING))
            .exec(txn)
            .await?;
        Ok(done.rows_affected > 0)
    }

    /// The timer (`kind`, `subject`), pending or done.
    pub async fn get<C: ConnectionTrait>(
        conn: &C,
        kind: &str,
        subject: &str,
    ) -> Result<Option<Timer>, DbErr> {
        entity::Entity::find()
            .filter(entity::Column::Kind.eq(kind))
            .filter(entity::Column::Subject.eq(subject))
            .one(conn)
            .await
    }
}

fn check(kind: &str, subject: &str) -> Result<(), DbErr> {
    if kind.is_empty() || kind.len() > MAX_KIND {
        return Err(DbErr::Custom(format!(
            "timer kind '{kind}' must be 1 to {MAX_KIND} bytes"
        )));
    }
    if subject.len() > MAX_SUBJECT {
        return Err(DbErr::Custom(format!(
            "timer subject must be at most {MAX_SUBJECT} bytes"
        )));
    }
    Ok(())
}
