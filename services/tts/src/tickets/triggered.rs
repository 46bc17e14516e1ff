//! Who works a ticket after a requester's trigger moved it (a reply fires
//! REQUESTER_REPLIED, a reopen REOPENED): the assignee stays when they hold
//! the new step's role, as with an agent's transition; otherwise the next
//! holder takes it. The pick is asked of Auth before the event's transaction
//! (keyed by the event id, so a redelivery gets the same person) and handed
//! on inside it, recorded as a reassignment.

use map_kit::directory;
use sea_orm::{ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _};

use super::{Tickets, revision_of};
use crate::{
    TtsError,
    entity::tickets,
    workflows::definition::{Graph, Step, Trigger},
};

/// The holder who takes a ticket at `step_id` (`None`: nobody holds its
/// role), when its assignee does not hold that step's role.
#[derive(Debug, Clone)]
pub(crate) struct TriggeredPick {
    step_id: String,
    assignee: Option<String>,
}

/// Where `trigger` takes a ticket at `step_id`: the step its transition
/// enters; a reopen without such a transition goes back to the first step.
pub(crate) fn target<'g>(graph: &'g Graph, step_id: &str, trigger: Trigger) -> Option<&'g Step> {
    let by_transition = graph
        .triggered(step_id, trigger)
        .and_then(|t| graph.step(&t.to));
    match trigger {
        Trigger::Reopened => by_transition.or_else(|| graph.step(&graph.initial_step_id)),
        _ => by_transition,
    }
}

impl Tickets {
    /// Before the transaction: the holder to hand help-desk ticket
    /// `hdts_ticket_id` to once `trigger` moves it, if its assignee will not
    /// hold the new step's role. `None` when nothing is to be handed on.
    pub(crate) async fn triggered_pick(
        &self,
        hdts_ticket_id: &str,
        trigger: Trigger,
        pick_key: &str,
    ) -> Result<Option<TriggeredPick>, TtsError> {
        let conn = self.db.conn();
        let Some(row) = tickets::Entity::find()
            .filter(tickets::Column::HdtsTicketId.eq(hdts_ticket_id.to_owned()))
            .one(conn)
            .await?
        else {
            return Ok(None);
        };
        let Some(revision) = revision_of(conn, &row).await? else {
            return Ok(None);
        };
        let Some(step) = target(&revision.definition.graph, &row.step_id, trigger) else {
            return Ok(None);
        };
        let (system, role) = step.role.split_once(':').unwrap_or(("tts", &step.role));
        let keeps = directory::read::user(conn, &row.assignee_user_id)
            .await?
            .is_some_and(|u| u.active && u.holds(system, role));
        if keeps {
            return Ok(None);
        }
        Ok(Some(TriggeredPick {
            step_id: step.id.clone(),
            assignee: self.assigner.next(&step.role, pick_key).await?,
        }))
    }

    /// In the transaction, after the move: hands the ticket to the picked
    /// holder (or leaves it unassigned with the reason) if it did reach the
    /// step the pick was made for and is still with the same assignee.
    pub(crate) async fn hand_on(
        &self,
        txn: &DatabaseTransaction,
        hdts_ticket_id: &str,
        pick: &TriggeredPick,
    ) -> Result<(), TtsError> {
        let Some(row) = tickets::Entity::find()
            .filter(tickets::Column::HdtsTicketId.eq(hdts_ticket_id.to_owned()))
            .one(txn)
            .await?
        else {
            return Ok(());
        };
        if row.step_id != pick.step_id || pick.assignee.as_deref() == Some(&row.assignee_user_id) {
            return Ok(());
        }
        self.reassign(
            txn,
            &row.id,
            &row.assignee_user_id,
            pick.assignee.as_deref(),
        )
        .await
    }
}
