//! The consumer of `hdts.ticket-updates`: the TTS side of each help-desk
//! ticket, from `tts.ticket.*` snapshots (each carries the whole TTS ticket
//! and its version). A snapshot is applied only when newer than the one the
//! ticket holds, so a repeated or late event changes nothing; a snapshot for
//! a help-desk ticket this database does not have yet is parked and applied
//! when it arrives. Public TTS comments become replies, by comment id. A
//! status change arms or cancels the ticket's auto-close timer in the same
//! transaction ([`super::auto_close`]).
//! Event types this handler does not know are acknowledged and ignored.

use map_contracts::events::v1 as ev;
use map_kit::{
    bus::{Event, Handler, HandlerError},
    directory,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseTransaction,
    EntityTrait as _, QueryFilter as _,
};

use super::auto_close::AutoClose;
use crate::entity::{replies, tickets};

/// Inserts the reply mirroring TTS comment `c` unless it is here.
async fn mirror_comment(
    txn: &DatabaseTransaction,
    ticket: &tickets::Model,
    c: &ev::TtsTicketCommented,
) -> Result<(), HandlerError> {
    let here = replies::Entity::find()
        .filter(replies::Column::TtsCommentId.eq(c.comment_id.clone()))
        .one(txn)
        .await?
        .is_some();
    if here {
        return Ok(());
    }
    let author = c
        .author
        .as_ref()
        .map(|a| a.user_id.clone())
        .unwrap_or_default();
    let name = directory::read::user(txn, &author)
        .await?
        .map(|u| u.display_name)
        .unwrap_or_default();
    let at = c
        .create_time
        .as_ref()
        .and_then(|t| {
            chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
        })
        .unwrap_or_else(chrono::Utc::now);
    replies::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        ticket_id: Set(ticket.id.clone()),
        author_user_id: Set(author),
        author_display_name: Set(name),
        body: Set(c.body.clone()),
        visibility: Set("public".into()),
        source: Set("tts".into()),
        tts_comment_id: Set(Some(c.comment_id.clone())),
        created_at: Set(at),
        // TTS's files, by reference: TTS holds and serves them.
        attachments: Set(map_kit::uploads::attachments::encode(&c.attachments)),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// The queue it consumes.
pub const QUEUE: &str = "hdts.ticket-updates";

/// Keeps help-desk tickets in step with TTS, and their auto-close timers
/// in step with their status.
#[derive(Debug, Clone, Default)]
pub struct Mirror {
    auto_close: AutoClose,
}

impl Mirror {
    /// A mirror whose resolved tickets close by themselves as `auto_close`
    /// says ([`Mirror::default`]: after the default delay).
    pub fn new(auto_close: AutoClose) -> Mirror {
        Mirror { auto_close }
    }
}

/// The snapshot an event carries, if it is one this mirror applies.
fn snapshot_of(event: &Event) -> Result<Option<ev::TtsTicketSnapshot>, HandlerError> {
    Ok(match event.event_type() {
        "tts.ticket.created" => event.payload::<ev::TtsTicketCreated>()?.ticket,
        "tts.ticket.assigned" => event.payload::<ev::TtsTicketAssigned>()?.ticket,
        "tts.ticket.status_changed" => event.payload::<ev::TtsTicketStatusChanged>()?.ticket,
        "tts.ticket.commented" => event.payload::<ev::TtsTicketCommented>()?.ticket,
        "tts.ticket.updated" => event.payload::<ev::TtsTicketUpdated>()?.ticket,
        _ => None,
    })
}

/// HDTS's status for a TTS status (events.proto: OPEN, IN_PROGRESS, ON_HOLD
/// and TRIAGE are IN_PROGRESS to the employee; CANCELLED is CLOSED unless the
/// employee withdrew).
fn status_for(tts: ev::TtsTicketStatus, current: &str) -> &'static str {
    use ev::TtsTicketStatus as S;
    match tts {
        S::WaitingOnRequester => "waiting_on_requester",
        S::Resolved => "resolved",
        S::Closed => "closed",
        S::Cancelled if current == "withdrawn" => "withdrawn",
        S::Cancelled => "closed",
        S::Open | S::InProgress | S::OnHold | S::Triage | S::Unspecified => "in_progress",
    }
}

#[async_trait::async_trait]
impl Handler for Mirror {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let Some(s) = snapshot_of(event)? else {
            return Ok(());
        };
        if s.hdts_ticket_id.is_empty() {
            return Ok(()); // opened in TTS directly: not a help-desk ticket
        }
        let Some(row) = super::find(txn, &s.hdts_ticket_id)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?
        else {
            return Err(HandlerError::NotYet(format!(
                "help-desk ticket {} is not here yet",
                s.hdts_ticket_id
            )));
        };
        // A public TTS comment is a reply here, applied by its id whatever
        // the snapshot's version (those that came from HDTS are here already).
        if event.event_type() == "tts.ticket.commented" {
            let c = event.payload::<ev::TtsTicketCommented>()?;
            if c.public && c.hdts_reply_id.is_empty() {
                mirror_comment(txn, &row, &c).await?;
            }
        }
        if s.version <= row.tts_version {
            return Ok(());
        }
        let assignee = match s.assignee.as_ref().map(|a| a.user_id.as_str()) {
            Some(id) if !id.is_empty() => directory::read::user(txn, id)
                .await?
                .map(|u| u.display_name)
                .unwrap_or_default(),
            _ => String::new(),
        };
        let status = status_for(s.status(), &row.status);
        let now = s
            .update_time
            .as_ref()
            .and_then(|t| {
                chrono::DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0))
            })
            .unwrap_or_else(chrono::Utc::now);
        let resolved_at = if status == "resolved" && row.status != "resolved" {
            Some(now)
        } else {
            row.resolved_at
        };
        // Before the row is written (the timer is locked first, as the
        // timer worker does).
        self.auto_close
            .follow(txn, &row, status, resolved_at)
            .await?;
        let mut update = tickets::ActiveModel {
            tts_ticket_id: Set(s.id.clone()),
            tts_ticket_number: Set(s.number.clone()),
            assignee_display_name: Set(assignee),
            status: Set(status.to_owned()),
            tts_version: Set(s.version),
            updated_at: Set(now),
            ..Default::default()
        };
        if resolved_at != row.resolved_at {
            update.resolved_at = Set(resolved_at);
        }
        if matches!(status, "closed" | "withdrawn") && row.closed_at.is_none() {
            update.closed_at = Set(Some(now));
        }
        // Only the row read above: a concurrent change makes this match
        // nothing, and the event is retried against the new row.
        let saved = super::save(txn, &row, update)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        if saved.is_none() {
            return Err(HandlerError::Transient(
                "the ticket changed meanwhile".into(),
            ));
        }
        Ok(())
    }
}
