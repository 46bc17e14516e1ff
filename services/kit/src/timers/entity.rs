//! The `timers` table, created by every system's migrations.

use sea_orm::entity::prelude::*;

/// A timer waiting for (or done with) its handler.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "timers")]
pub struct Model {
    /// Row id.
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What the timer does: the key of its [`TimerHandler`](super::TimerHandler),
    /// e.g. `tts.sla.breach`.
    pub kind: String,
    /// What it is about, e.g. a ticket id; unique with `kind`.
    pub subject: String,
    /// When it is due, as scheduled or re-armed.
    pub due_at: ChronoDateTimeUtc,
    /// When it may be claimed next: `due_at`, or later after failed attempts.
    pub run_at: ChronoDateTimeUtc,
    /// What its handler needs, encoded by whoever scheduled it.
    pub payload: Vec<u8>,
    /// [`PENDING`](super::PENDING) or [`DONE`](super::DONE).
    pub state: String,
    /// Failed attempts of its handler since it was scheduled or re-armed.
    pub attempts: i32,
    /// The last failure, for operators.
    pub last_error: Option<String>,
    /// When it was last scheduled or re-armed.
    pub scheduled_at: ChronoDateTimeUtc,
    /// When its handler's writes committed.
    pub fired_at: Option<ChronoDateTimeUtc>,
}

/// No relations.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
