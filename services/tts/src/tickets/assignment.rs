//! AssignTicket: a manager gives a ticket to someone holding its step's role
//! (or, in triage, `tts:agent`), or to the next holder round-robin; an agent
//! may take it themselves. Recorded in the history and as
//! `tts.ticket.assigned`.

use map_contracts::{events::v1 as ev, tts::v1 as pb};
use map_kit::{
    System, Violations,
    authn::Principal,
    directory,
    idempotency::Idempotent,
    wire::{etag::check_etag, time::timestamp},
};
use sea_orm::ActiveValue::Set;

use super::{Tickets, find, model, revision_of, user_ref};
use crate::{TtsError, entity::tickets};

impl Tickets {
    /// AssignTicket.
    pub async fn assign(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: pb::AssignTicketRequest,
    ) -> Result<pb::AssignTicketResponse, TtsError> {
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id)
            .optional_text("note", &r.note, 2000);
        if !r.assignee_user_id.is_empty() {
            v.uuid("assignee_user_id", &r.assignee_user_id);
        }
        v.finish()?;
        if let Some(first) = key.replay(self.db.conn()).await? {
            return Ok(first);
        }
        let manager =
            actor.has_role(System::Tts, "manager") || actor.has_role(System::Tts, "admin");
        if !manager && r.assignee_user_id != actor.id {
            return Err(TtsError::PermissionDenied {
                reason: "MANAGER_REQUIRED",
                message: "agents may only assign tickets to themselves".into(),
            });
        }
        let row = find(self.db.conn(), &r.ticket_id).await?;
        if !r.etag.is_empty() {
            check_etag(System::Tts, "etag", &r.etag, row.version)?;
        }
        if matches!(row.status.as_str(), "resolved" | "closed" | "cancelled") {
            return Err(TtsError::precondition(
                "TICKET_CLOSED",
                format!("ticket {} is {}", row.number, row.status),
            ));
        }
        let revision = revision_of(self.db.conn(), &row).await?;
        let graph = revision.as_ref().map(|rev| &rev.definition.graph);
        let role = graph
            .and_then(|g| g.step(&row.step_id))
            .map_or_else(|| "tts:agent".to_owned(), |s| s.role.clone());
        let (assignee, reason) = if r.assignee_user_id.is_empty() {
            let next = self.assigner.next(&role, &r.request_id).await?;
            let next = next.ok_or_else(|| {
                TtsError::precondition("NO_ASSIGNEE", format!("nobody active holds {role}"))
            })?;
            (next, pb::AssignmentReason::RoundRobin)
        } else {
            let (system, name) = role.split_once(':').unwrap_or(("tts", role.as_str()));
            let holds = directory::read::user(self.db.conn(), &r.assignee_user_id)
                .await?
                .is_some_and(|u| u.active && u.holds(system, name));
            if !holds {
                return Err(TtsError::precondition(
                    "ASSIGNEE_LACKS_ROLE",
                    format!("the assignee is inactive or does not hold {role}"),
                ));
            }
            (r.assignee_user_id.clone(), pb::AssignmentReason::Manual)
        };
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let after = self
            .save(
                &txn,
                &row,
                tickets::ActiveModel {
                    assignee_user_id: Set(assignee.clone()),
                    // An unassigned ticket's reason is gone; triage keeps its own.
                    triage_reason: Set(if row.status == "triage" {
                        row.triage_reason.clone()
                    } else {
                        String::new()
                    }),
                    updated_at: Set(now),
                    ..Default::default()
                },
            )
            .await?;
        let details = pb::ticket_event::Details::Assigned(pb::TicketAssignedDetails {
            previous_assignee_user_id: row.assignee_user_id.clone(),
            assignee_user_id: assignee.clone(),
            reason: reason.into(),
            note: r.note.clone(),
        });
        self.history(
            &txn,
            &after,
            &actor.id,
            now,
            pb::TicketEventType::Assigned,
            details,
        )
        .await?;
        let payload = ev::TtsTicketAssigned {
            ticket: Some(model::snapshot(&after, revision.as_ref())),
            previous_assignee: (!row.assignee_user_id.is_empty())
                .then(|| user_ref(&row.assignee_user_id)),
            reason: match reason {
                pb::AssignmentReason::Manual => ev::AssignmentReason::Manual,
                _ => ev::AssignmentReason::RoundRobin,
            }
            .into(),
            actor: Some(user_ref(&actor.id)),
            assign_time: Some(timestamp(now)),
        };
        self.enqueue(&txn, "tts.ticket.assigned", &after, &payload)
            .await?;
        let response = pb::AssignTicketResponse {
            ticket: Some(model::to_proto(&after, graph)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(ticket = %after.number, ?reason, "ticket assigned");
        Ok(response)
    }

    /// Moves ticket `ticket_id` from `from` (deactivated, or without the
    /// step's role any more) to `to`, or leaves it unassigned with the
    /// reason; nothing when it is no longer `from`'s.
    pub(crate) async fn reassign(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        ticket_id: &str,
        from: &str,
        to: Option<&str>,
    ) -> Result<(), TtsError> {
        let row = find(txn, ticket_id).await?;
        if row.assignee_user_id != from {
            return Ok(());
        }
        self.hand_over(txn, row, to, pb::AssignmentReason::Reassignment)
            .await
    }

    /// Escalates ticket `ticket_id` to `to` (an SLA escalation level's
    /// pick); nothing when the ticket is done, or already `to`'s, or there
    /// is nobody to hand it to (it stays with its assignee).
    pub(crate) async fn escalate(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        ticket_id: &str,
        to: Option<&str>,
    ) -> Result<(), TtsError> {
        let Some(to) = to else { return Ok(()) };
        let row = find(txn, ticket_id).await?;
        let done = ["resolved", "closed", "cancelled"].contains(&row.status.as_str());
        if done || row.assignee_user_id == to {
            return Ok(());
        }
        self.hand_over(txn, row, Some(to), pb::AssignmentReason::Escalation)
            .await
    }

    /// Gives `row` to `to` (or nobody, with the reason) for `reason`, with
    /// its history entry and `tts.ticket.assigned`.
    async fn hand_over(
        &self,
        txn: &sea_orm::DatabaseTransaction,
        row: tickets::Model,
        to: Option<&str>,
        reason: pb::AssignmentReason,
    ) -> Result<(), TtsError> {
        let from = row.assignee_user_id.clone();
        let from = from.as_str();
        let now = self.clock.now();
        let after = self
            .save(
                txn,
                &row,
                tickets::ActiveModel {
                    assignee_user_id: Set(to.unwrap_or_default().to_owned()),
                    triage_reason: Set(match to {
                        Some(_) => String::new(),
                        None => {
                            "its assignee left the step's role, and nobody active holds it".into()
                        }
                    }),
                    updated_at: Set(now),
                    ..Default::default()
                },
            )
            .await?;
        let details = pb::ticket_event::Details::Assigned(pb::TicketAssignedDetails {
            previous_assignee_user_id: from.to_owned(),
            assignee_user_id: to.unwrap_or_default().to_owned(),
            reason: reason.into(),
            note: String::new(),
        });
        self.history(txn, &after, "", now, pb::TicketEventType::Assigned, details)
            .await?;
        let revision = revision_of(txn, &after).await?;
        let payload = ev::TtsTicketAssigned {
            ticket: Some(model::snapshot(&after, revision.as_ref())),
            previous_assignee: (!from.is_empty()).then(|| user_ref(from)),
            reason: match reason {
                pb::AssignmentReason::Escalation => ev::AssignmentReason::Escalation,
                _ => ev::AssignmentReason::Reassignment,
            }
            .into(),
            actor: None,
            assign_time: Some(timestamp(now)),
        };
        self.enqueue(txn, "tts.ticket.assigned", &after, &payload)
            .await?;
        tracing::info!(ticket = %after.number, %from, to = to.unwrap_or("nobody"), "ticket reassigned");
        Ok(())
    }
}
