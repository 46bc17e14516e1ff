//! The employee's side of a ticket's life: withdraw it before it is
//! resolved, confirm a resolution (closed), or reopen it within the reopen
//! window counted from its resolution (closed tickets included). Each
//! commits with its event — `hdts.ticket.withdrawn`, `.closed`, `.reopened`
//! — which TTS acts on (cancel, close, the workflow's REOPENED transition).
//! Only the requester may; the etag, when given, must be current.

use chrono::{DateTime, Duration, Utc};
use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use map_kit::{
    System, Violations,
    authn::Principal,
    idempotency::Idempotent,
    outbox::NewEvent,
    wire::{etag::check_etag, time::timestamp},
};
use sea_orm::ActiveValue::Set;

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
        let (next, event_type) = match command {
            Command::Withdraw => ("withdrawn", "hdts.ticket.withdrawn"),
            Command::Confirm => ("closed", "hdts.ticket.closed"),
            Command::Reopen => ("in_progress", "hdts.ticket.reopened"),
        };
        let mut update = tickets::ActiveModel {
            status: Set(next.to_owned()),
            updated_at: Set(now),
            ..Default::default()
        };
        match command {
            Command::Withdraw | Command::Confirm => update.closed_at = Set(Some(now)),
            Command::Reopen => update.closed_at = Set(None),
        }
        let after = save(&txn, &row, update)
            .await?
            .ok_or(HdtsError::EtagMismatch)?;
        let ticket = Some(snapshot(&after));
        let at = Some(timestamp(now));
        let event = match command {
            Command::Withdraw => NewEvent::new(
                event_type,
                after.id.clone(),
                after.version,
                &ev::HdtsTicketWithdrawn {
                    ticket,
                    reason: reason.to_owned(),
                    withdraw_time: at,
                },
            ),
            Command::Confirm => NewEvent::new(
                event_type,
                after.id.clone(),
                after.version,
                &ev::HdtsTicketClosed {
                    ticket,
                    reason: ev::HdtsCloseReason::Confirmed.into(),
                    close_time: at,
                },
            ),
            Command::Reopen => NewEvent::new(
                event_type,
                after.id.clone(),
                after.version,
                &ev::HdtsTicketReopened {
                    ticket,
                    reason: reason.to_owned(),
                    reopen_time: at,
                },
            ),
        };
        self.outbox
            .enqueue(&txn, event)
            .await
            .map_err(|e| HdtsError::from(map_kit::ApiError::from(e)))?;
        let answer = to_proto(&after);
        key.record(&txn, &answer, now).await?;
        txn.commit().await?;
        tracing::info!(ticket = %after.number, status = next, "help-desk ticket changed by its requester");
        Ok(answer)
    }
}

fn within_window(resolved_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now - resolved_at <= REOPEN_WINDOW
}
