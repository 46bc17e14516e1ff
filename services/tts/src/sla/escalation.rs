//! The `tts.sla-escalations` consumer: acts on `tts.sla.escalation_due`.
//! A level that reassigns asks Auth for the role's next holder before the
//! event's transaction (keyed by the event id, so a redelivery gets the same
//! person; while Auth is down the event is parked, not lost), then hands
//! the ticket over in it, recorded in the ticket's history as an
//! escalation. Warnings and breaches on the same queue, and event types it
//! does not know, are acknowledged and left alone.

use std::sync::Arc;

use map_contracts::events::v1 as ev;
use map_kit::bus::{Event, Handler, HandlerError, Prepared};
use sea_orm::DatabaseTransaction;

use crate::tickets::{Tickets, intake::handler_error};

/// The queue (map-kit's topology).
pub const QUEUE: &str = "tts.sla-escalations";
/// The event acted on.
const DUE: &str = "tts.sla.escalation_due";

/// The holder picked for one escalation; `None` when nobody holds the role.
#[derive(Debug)]
struct Pick(Option<String>);

/// Reassigns escalated tickets.
#[derive(Debug)]
pub struct Escalations {
    tickets: Tickets,
}

impl Escalations {
    /// Over `tickets` (whose assigner asks Auth).
    pub fn new(tickets: Tickets) -> Escalations {
        Escalations { tickets }
    }
}

/// The reassignment `event` asks for: the ticket and the role.
fn reassignment(event: &Event) -> Result<Option<(String, String)>, HandlerError> {
    if event.event_type() != DUE {
        return Ok(None);
    }
    let due = event.payload::<ev::TtsSlaEscalationDue>()?;
    if due.action() != ev::SlaEscalationAction::Reassign {
        return Ok(None);
    }
    let Some(role) = due.role else {
        return Ok(None);
    };
    Ok(Some((
        due.tts_ticket_id,
        format!("{}:{}", role.system, role.role),
    )))
}

#[async_trait::async_trait]
impl Handler for Escalations {
    async fn prepare(&self, event: &Event) -> Result<Option<Prepared>, HandlerError> {
        let Some((_, role)) = reassignment(event)? else {
            return Ok(None);
        };
        let pick = self
            .tickets
            .next_holder(&role, event.id())
            .await
            .map_err(handler_error)?;
        Ok(Some(Arc::new(Pick(pick))))
    }

    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let Some((ticket_id, _)) = reassignment(event)? else {
            return Ok(());
        };
        let Some(Pick(to)) = event.prepared::<Pick>() else {
            return Err(HandlerError::Transient(
                "escalation without its pick".into(),
            ));
        };
        self.tickets
            .escalate(txn, &ticket_id, to.as_deref())
            .await
            .map_err(handler_error)
    }
}
