//! Auto-close: a ticket left resolved for longer than the configured delay
//! (`MAP_HDTS_AUTO_CLOSE_AFTER`, [`DEFAULT_AFTER`] unless set; `0` or `off`
//! never) closes by itself, once, as if its requester had confirmed the
//! resolution — `hdts.ticket.closed` with the reason AUTO_CLOSED, which TTS
//! acts on by closing its ticket. The requester may still reopen it within
//! the reopen window counted from the resolution
//! ([`super::lifecycle::REOPEN_WINDOW`]).
//!
//! The deadline is one of map-kit's persisted timers (kind [`KIND`], subject
//! the ticket's id), kept in step with the ticket by [`AutoClose::follow`]
//! in the transaction of every change of its status: scheduled at
//! `resolved_at` + the delay when the ticket becomes resolved (the mirror of
//! TTS), cancelled when it leaves `resolved` (reopened or confirmed here,
//! reopened, closed or cancelled in TTS — which is also how a requester's
//! reply that TTS's workflow answers by reopening the ticket stops it), and
//! scheduled again by a later resolution. [`AutoCloser`] fires it in the
//! timer's transaction: it closes the ticket only if it is still resolved
//! and resolved for long enough, so a stale timer changes nothing.
//!
//! A requester's reply on a resolved ticket changes nothing here: HDTS
//! keeps the ticket resolved and TTS decides (its workflow's
//! REQUESTER_REPLIED transition from the resolved step, if it has one).

use std::time::Duration;

use chrono::{DateTime, Utc};
use map_contracts::events::v1 as ev;
use map_kit::{
    System,
    clock::{Clock, later},
    outbox::Outbox,
    timers::{FireError, Timer, TimerHandler, Timers},
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, DbErr};

use super::{
    find,
    lifecycle::{Change, apply},
};
use crate::entity::tickets;

/// The kind of the auto-close timers; their subject is the ticket's id.
pub const KIND: &str = "hdts.ticket.auto-close";

/// How long a resolved ticket waits for its requester unless configured.
pub const DEFAULT_AFTER: Duration = Duration::from_secs(72 * 3600);

const RESOLVED: &str = "resolved";

/// When resolved tickets close by themselves, and their timers. Cheap to
/// clone.
#[derive(Debug, Clone)]
pub struct AutoClose {
    after: Option<Duration>,
    clock: Clock,
    timers: Timers,
}

impl Default for AutoClose {
    /// After [`DEFAULT_AFTER`], on the system clock.
    fn default() -> Self {
        AutoClose::new(Some(DEFAULT_AFTER), Clock::system())
    }
}

impl AutoClose {
    /// Resolved tickets close `after` their resolution (`None` or zero:
    /// never), on `clock`.
    pub fn new(after: Option<Duration>, clock: Clock) -> AutoClose {
        AutoClose {
            after: after.filter(|d| !d.is_zero()),
            timers: Timers::new(clock.clone()),
            clock,
        }
    }

    /// How long a resolved ticket waits; `None` when it never closes by
    /// itself.
    pub fn after(&self) -> Option<Duration> {
        self.after
    }

    /// The handler of [`KIND`] timers for a timer worker; `None` when
    /// tickets never close by themselves (timers an earlier configuration
    /// left then wait, and fire once it is on again).
    pub fn closer(&self) -> Option<AutoCloser> {
        Some(AutoCloser {
            after: self.after?,
            clock: self.clock.clone(),
            timers: self.timers.clone(),
            outbox: Outbox::new(System::Hdts).with_clock(self.clock.clone()),
        })
    }

    /// Keeps the auto-close timer of ticket `before` in step with the change
    /// of its status to `status`, resolved at `resolved_at`, in the change's
    /// transaction: scheduled when it becomes resolved, cancelled when it
    /// stops being so. Called before the ticket's row is written, so that
    /// the change, like the timer worker, locks the timer before the ticket
    /// (on PostgreSQL the two then never wait for each other in a circle).
    pub(crate) async fn follow<C: ConnectionTrait>(
        &self,
        txn: &C,
        before: &tickets::Model,
        status: &str,
        resolved_at: Option<DateTime<Utc>>,
    ) -> Result<(), DbErr> {
        match (before.status == RESOLVED, status == RESOLVED) {
            (false, true) => {
                if let (Some(after), Some(at)) = (self.after, resolved_at) {
                    let due = later(at, after);
                    self.timers
                        .schedule(txn, KIND, &before.id, due, Vec::new())
                        .await?;
                }
            }
            (true, false) => {
                self.timers.cancel(txn, KIND, &before.id).await?;
            }
            _ => {}
        }
        Ok(())
    }
}

/// Fires [`KIND`] timers: closes the ticket if it is still resolved and
/// has been for the delay, exactly as a confirmation does but with the
/// reason AUTO_CLOSED; anything else changes nothing. Made by
/// [`AutoClose::closer`].
#[derive(Debug, Clone)]
pub struct AutoCloser {
    after: Duration,
    clock: Clock,
    timers: Timers,
    outbox: Outbox,
}

#[async_trait::async_trait]
impl TimerHandler for AutoCloser {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        let Some(row) = find(txn, &timer.subject).await.map_err(retry)? else {
            return Ok(());
        };
        let Some(resolved_at) = row.resolved_at.filter(|_| row.status == RESOLVED) else {
            return Ok(()); // no longer resolved: a stale timer
        };
        let due = later(resolved_at, self.after);
        let now = self.clock.now();
        if now < due {
            // Scheduled under a shorter delay than today's: wait for this one.
            self.timers
                .schedule(txn, KIND, &row.id, due, Vec::new())
                .await?;
            return Ok(());
        }
        let change = Change::Close(ev::HdtsCloseReason::AutoClosed);
        let Some(after) = apply(txn, &self.outbox, &row, change, now)
            .await
            .map_err(retry)?
        else {
            // Changed since it was read (a reply, a rating): look again.
            return Err(FireError::Retry("the ticket changed meanwhile".into()));
        };
        tracing::info!(ticket = %after.number, %resolved_at, "help-desk ticket closed automatically");
        Ok(())
    }
}

fn retry(e: crate::HdtsError) -> FireError {
    FireError::Retry(e.to_string())
}
