//! The employee's side of a ticket's life: withdraw it before it is
//! resolved, confirm a resolution (closed), or reopen it within the reopen
//! window counted from its resolution (closed tickets included, whether
//! the requester or the auto-close timer closed them). Each commits with its
//! event — `hdts.ticket.withdrawn`, `.closed`, `.reopened` — which TTS acts
//! on (cancel, close, the workflow's REOPENED transition); [`apply`] writes
//! them, for the requester here and for [`super::auto_close`]. Only the
//! requester may; the etag, when given, must be current.

use chrono::{DateTime, Duration, Utc};
use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use map_kit::{
    System, Violations,
    authn::Principal,
    idempotency::Idempotent,
    outbox::{NewEvent, Outbox},
    wire::{etag::check_etag, time::timestamp},
};
use sea_orm::{ActiveValue::Set, DatabaseTransaction};

use super::{HelpDesk, find, save, snapshot, to_proto};
use crate::{HdtsError, entity::tickets};

/// How long after its resolution a ticket may be reopened.
pub const REOPEN_WINDOW: Duration = Duration::days(7);

/// What the requester does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    /// Withdraw before resolution.
    Withdraw,
    /// Confirm the resolution.
    Confirm,
    /// Reopen within the window.
    Reopen,
}

impl HelpDesk {
    /// WithdrawTicket, ConfirmResolution or ReopenTicket.
    pub async fn lifecycle(
        &self,
        actor: &Principal,
        key: &Idempotent,
        command: Command,
        ticket_id: &str,
        etag: &str,
        reason: &str,
    ) -> Result<pb::Ticket, HdtsError> {
        let mut v = Violations::default();
        v.uuid("ticket_id", ticket_id);
        match command {
            Command::Reopen => {
                v.text("reason", reason, 2000);
            }
            Command::Withdraw => {
                v.optional_text("reason", reason, 2000);
            }
            Command::Confirm => {}
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay::<pb::Ticket, _>(&txn).await? {
            return Ok(first);
        }
        let row = match find(&txn, ticket_id).await? {
            Some(t) if t.requester_user_id == actor.id => t,
            Some(_) if super::is_agent(actor) => {
                return Err(HdtsError::PermissionDenied {
                    reason: "REQUESTER_REQUIRED",
                    message: "only the ticket's requester may".into(),
                });
            }
            _ => return Err(HdtsError::NotFound("ticket")),
        };
        if !etag.is_empty() {
            check_etag(System::Hdts, "etag", etag, row.version)?;
        }
        let now = self.clock.now();
        let status = row.status.as_str();
        let allowed = match command {
            Command::Withdraw => !matches!(status, "resolved" | "closed" | "withdrawn"),
            Command::Confirm => status == "resolved",
            Command::Reopen => {
                matches!(status, "resolved" | "closed")
                    && row.resolved_at.is_some_and(|at| within_window(at, now))
            }
        };
        if !allowed {
            let message = match command {
                Command::Withdraw => {
                    format!("ticket {} is {}: too late to withdraw", row.number, status)
                }
                Command::Confirm => format!("ticket {} is {}, not resolved", row.number, status),
                Command::Reopen => format!(
                    "ticket {} is {}; only a ticket resolved within the last {} days reopens",
                    row.number,
                    status,
                    REOPEN_WINDOW.num_days()
                ),
            };
            return Err(HdtsError::FailedPrecondition {
                reason: "INVALID_STATUS",
                message,
            });
        }
        let change = match command {
            Command::Withdraw => Change::Withdraw(reason),
            Command::Confirm => Change::Close(ev::HdtsCloseReason::Confirmed),
            Command::Reopen => Change::Reopen(reason),
        };
        // A ticket leaving `resolved` takes its auto-close timer with it.
        self.auto_close
            .follow(&txn, &row, change.status(), row.resolved_at)
            .await?;
        let after = apply(&txn, &self.outbox, &row, change, now)
            .await?
            .ok_or(HdtsError::EtagMismatch)?;
        let answer = to_proto(&after);
        key.record(&txn, &answer, now).await?;
        txn.commit().await?;
        tracing::info!(ticket = %after.number, status = %after.status, "help-desk ticket changed by its requester");
        Ok(answer)
    }
}

/// A change of a ticket's status that starts in HDTS, and so goes out as
/// an instruction to TTS.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Change<'a> {
    /// Withdrawn by its requester, for this reason (may be empty).
    Withdraw(&'a str),
    /// Closed after its resolution: confirmed by its requester, or by
    /// itself when nobody answered in time ([`super::auto_close`]).
    Close(ev::HdtsCloseReason),
    /// Reopened by its requester, for this reason.
    Reopen(&'a str),
}

impl Change<'_> {
    /// The status it leaves the ticket in.
    pub(crate) fn status(self) -> &'static str {
        match self {
            Change::Withdraw(_) => "withdrawn",
            Change::Close(_) => "closed",
            Change::Reopen(_) => "in_progress",
        }
    }
}

/// Writes `change` over `row` at `now` with the next version, and enqueues
/// its event — `hdts.ticket.withdrawn`, `.closed` or `.reopened`, carrying
/// the ticket after it — in `txn`. The ticket as it is now, or `None` when
/// the ticket changed since `row` was read (nothing written).
pub(crate) async fn apply(
    txn: &DatabaseTransaction,
    outbox: &Outbox,
    row: &tickets::Model,
    change: Change<'_>,
    now: DateTime<Utc>,
) -> Result<Option<tickets::Model>, HdtsError> {
    let update = tickets::ActiveModel {
        status: Set(change.status().to_owned()),
        updated_at: Set(now),
        closed_at: Set(match change {
            Change::Withdraw(_) | Change::Close(_) => Some(now),
            Change::Reopen(_) => None,
        }),
        ..Default::default()
    };
    let Some(after) = save(txn, row, update).await? else {
        return Ok(None);
    };
    let ticket = Some(snapshot(&after));
    let at = Some(timestamp(now));
    let (subject, version) = (after.id.clone(), after.version);
    let event = match change {
        Change::Withdraw(reason) => NewEvent::new(
            "hdts.ticket.withdrawn",
            subject,
            version,
            &ev::HdtsTicketWithdrawn {
                ticket,
                reason: reason.to_owned(),
                withdraw_time: at,
            },
        ),
        Change::Close(reason) => NewEvent::new(
            "hdts.ticket.closed",
            subject,
            version,
            &ev::HdtsTicketClosed {
                ticket,
                reason: reason.into(),
                close_time: at,
            },
        ),
        Change::Reopen(reason) => NewEvent::new(
            "hdts.ticket.reopened",
            subject,
            version,
            &ev::HdtsTicketReopened {
                ticket,
                reason: reason.to_owned(),
                reopen_time: at,
            },
        ),
    };
    outbox
        .enqueue(txn, event)
        .await
        .map_err(|e| HdtsError::from(map_kit::ApiError::from(e)))?;
    Ok(Some(after))
}

pub(crate) fn within_window(resolved_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - resolved_at <= REOPEN_WINDOW
}
