//! The consumer of `tts.ticket-tasks`: help-desk submissions
//! (`hdts.ticket.submitted`) become TTS tickets, never dropped, and
//! help-desk replies (`hdts.ticket.replied`) become comments — a requester's
//! moving the ticket along its REQUESTER_REPLIED transition; a reply that
//! arrives before its ticket is parked until the ticket is there; the
//! requester's withdrawal, confirmation (or HDTS's auto-close, which
//! the history says) and reopening cancel, close and
//! reopen it (the workflow's REOPENED transition), the newest by the HDTS
//! ticket's version winning whatever order they arrive in; ratings are recorded
//! (the newest by the HDTS ticket's version). Routing and
//! the assignee pick (Auth's NextAssignee, keyed by the event id so a
//! redelivery gets the same person) happen in `prepare`, before the event's
//! transaction; with Auth away the event is parked (`NotYet`) and applied
//! when Auth returns, never dead-lettered. At most one ticket per HDTS
//! ticket: a redelivered submission changes nothing. Event types this
//! handler does not know are acknowledged and ignored.

use std::sync::Arc;

use map_contracts::events::v1 as ev;
use map_kit::{
    ApiError, asset_tags,
    bus::{Event, Handler, HandlerError, Prepared},
};
use sea_orm::{ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _};

use super::{NewTicket, RequesterChange, Route, Tickets, triggered::TriggeredPick};
use crate::{TtsError, entity::tickets, workflows::definition::Trigger};

/// The queue it consumes.
pub const QUEUE: &str = "tts.ticket-tasks";
const SUBMITTED: &str = "hdts.ticket.submitted";
const REPLIED: &str = "hdts.ticket.replied";
const RATED: &str = "hdts.ticket.rated";
const REOPENED: &str = "hdts.ticket.reopened";

/// Opens TTS tickets for help-desk submissions.
#[derive(Debug, Clone)]
pub struct Intake {
    tickets: Tickets,
}

impl Intake {
    /// Over `tickets`.
    pub fn new(tickets: Tickets) -> Intake {
        Intake { tickets }
    }
}

fn submitted(event: &Event) -> Result<ev::HdtsTicketSnapshot, HandlerError> {
    event
        .payload::<ev::HdtsTicketSubmitted>()?
        .ticket
        .ok_or_else(|| HandlerError::Permanent("hdts.ticket.submitted without its ticket".into()))
}

impl Intake {
    /// After a requester's trigger moved the ticket: the holder picked in
    /// `prepare` takes it, if one was.
    async fn hand_on(
        &self,
        event: &Event,
        txn: &DatabaseTransaction,
        hdts_id: &str,
    ) -> Result<(), HandlerError> {
        match event.prepared::<TriggeredPick>() {
            Some(pick) => self
                .tickets
                .hand_on(txn, hdts_id, pick)
                .await
                .map_err(handler_error),
            None => Ok(()),
        }
    }
}

/// The ticket a submission opens.
fn new_ticket(t: &ev::HdtsTicketSnapshot) -> NewTicket {
    NewTicket {
        subject: t.subject.clone(),
        description: t.description.clone(),
        requester_user_id: t
            .requester
            .as_ref()
            .map(|r| r.user_id.clone())
            .unwrap_or_default(),
        department_code: t.department_code.clone(),
        category: t.category.clone(),
        sub_category: t.sub_category.clone(),
        priority: t.priority,
        hdts_ticket_id: t.id.clone(),
        help_topic_id: t.help_topic_id.clone(),
        hdts_version: t.version,
        attachments: t.attachments.clone(),
        asset_tags: asset_tags_of(t),
    }
}

/// The asset tags a submission names. HDTS checked them; one that is still
/// not an asset tag (or a repeat) is left out and logged, never a reason
/// to drop the submission.
fn asset_tags_of(t: &ev::HdtsTicketSnapshot) -> Vec<String> {
    let mut kept: Vec<String> = Vec::new();
    for tag in &t.asset_tags {
        let repeat = kept
            .iter()
            .any(|k| asset_tags::key(k) == asset_tags::key(tag));
        if !asset_tags::is_valid(tag) || repeat || kept.len() == asset_tags::MAX_PER_TICKET {
            tracing::warn!(hdts_ticket = %t.id, asset_tag = %tag, "asset tag left out");
            continue;
        }
        kept.push(tag.clone());
    }
    kept
}

/// Auth away or the database busy: try again later; anything else cannot
/// succeed by retrying.
pub(crate) fn handler_error(e: TtsError) -> HandlerError {
    match e {
        TtsError::Api(api) if matches!(*api, ApiError::Unavailable(_)) => {
            HandlerError::NotYet(api.to_string())
        }
        TtsError::Db(e) => HandlerError::Transient(e.to_string()),
        other => HandlerError::Transient(other.to_string()),
    }
}

#[async_trait::async_trait]
impl Handler for Intake {
    async fn prepare(&self, event: &Event) -> Result<Option<Prepared>, HandlerError> {
        // A requester's reply or reopen may move the ticket to a step whose
        // role its assignee lacks: the next holder is asked now.
        let trigger = match event.event_type() {
            REPLIED => {
                let r = event.payload::<ev::HdtsTicketReplied>()?;
                r.from_requester
                    .then(|| (r.ticket.map(|t| t.id), Trigger::RequesterReplied))
            }
            REOPENED => Some((
                event
                    .payload::<ev::HdtsTicketReopened>()?
                    .ticket
                    .map(|t| t.id),
                Trigger::Reopened,
            )),
            _ => None,
        };
        if let Some((Some(hdts_id), trigger)) = trigger {
            let pick = self
                .tickets
                .triggered_pick(&hdts_id, trigger, event.id())
                .await
                .map_err(handler_error)?;
            return Ok(pick.map(|p| Arc::new(p) as Prepared));
        }
        if event.event_type() != SUBMITTED {
            return Ok(None);
        }
        let route = self
            .tickets
            .route(&new_ticket(&submitted(event)?), event.id())
            .await
            .map_err(handler_error)?;
        Ok(Some(Arc::new(route)))
    }

    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        if event.event_type() == RATED {
            let snapshot = event
                .payload::<ev::HdtsTicketRated>()?
                .ticket
                .ok_or_else(|| {
                    HandlerError::Permanent("hdts.ticket.rated without its ticket".into())
                })?;
            let recorded = self
                .tickets
                .record_rating(txn, &snapshot)
                .await
                .map_err(handler_error)?;
            if !recorded {
                return Err(HandlerError::NotYet(format!(
                    "no ticket for help-desk ticket {} yet",
                    snapshot.id
                )));
            }
            return Ok(());
        }
        if event.event_type() == REPLIED {
            let r = event.payload::<ev::HdtsTicketReplied>()?;
            let hdts_id = r.ticket.as_ref().map(|t| t.id.clone()).unwrap_or_default();
            let applied = self
                .tickets
                .apply_reply(txn, &r, &hdts_id)
                .await
                .map_err(handler_error)?;
            if !applied {
                // The reply came before the submission's ticket: later.
                return Err(HandlerError::NotYet(format!(
                    "no ticket for help-desk ticket {hdts_id} yet"
                )));
            }
            self.hand_on(event, txn, &hdts_id).await?;
            return Ok(());
        }
        let change = match event.event_type() {
            "hdts.ticket.withdrawn" => Some((
                RequesterChange::Withdrawn,
                event
                    .payload::<ev::HdtsTicketWithdrawn>()
                    .map(|w| (w.ticket, w.reason))?,
            )),
            "hdts.ticket.closed" => Some((
                RequesterChange::Closed,
                event.payload::<ev::HdtsTicketClosed>().map(|c| {
                    let why = match c.reason() {
                        ev::HdtsCloseReason::AutoClosed => {
                            "closed automatically: the requester did not answer the resolution in time"
                        }
                        _ => "the requester confirmed the resolution",
                    };
                    (c.ticket, why.to_owned())
                })?,
            )),
            REOPENED => Some((
                RequesterChange::Reopened,
                event
                    .payload::<ev::HdtsTicketReopened>()
                    .map(|r| (r.ticket, r.reason))?,
            )),
            _ => None,
        };
        if let Some((change, (ticket, reason))) = change {
            let (hdts_id, version) = ticket.map(|t| (t.id, t.version)).unwrap_or_default();
            let applied = self
                .tickets
                .apply_requester(txn, change, &hdts_id, version, &reason)
                .await
                .map_err(handler_error)?;
            if !applied {
                return Err(HandlerError::NotYet(format!(
                    "no ticket for help-desk ticket {hdts_id} yet"
                )));
            }
            self.hand_on(event, txn, &hdts_id).await?;
            return Ok(());
        }
        if event.event_type() != SUBMITTED {
            return Ok(());
        }
        let t = submitted(event)?;
        let exists = tickets::Entity::find()
            .filter(tickets::Column::HdtsTicketId.eq(t.id.clone()))
            .one(txn)
            .await?
            .is_some();
        if exists {
            return Ok(());
        }
        let route = event
            .prepared::<Route>()
            .ok_or_else(|| HandlerError::Transient("the submission was not routed".into()))?;
        let ticket = new_ticket(&t);
        let requester = ticket.requester_user_id.clone();
        let now = self.tickets.now();
        self.tickets
            .insert(txn, "", &requester, ticket, route, now)
            .await
            .map_err(handler_error)?;
        Ok(())
    }
}
