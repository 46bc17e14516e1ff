//! RateTicket: the requester's judgement (1 to 5, a comment) of a resolved
//! or closed ticket; rating again replaces it. The rating and its
//! `hdts.ticket.rated` commit together; TTS records it for its reports.

use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use map_kit::{
    System, Violations, authn::Principal, idempotency::Idempotent, outbox::NewEvent,
    wire::etag::check_etag,
};
use sea_orm::ActiveValue::Set;

use super::{HelpDesk, find, save, snapshot, to_proto};
use crate::{HdtsError, entity::tickets};

impl HelpDesk {
    /// RateTicket.
    pub async fn rate(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: pb::RateTicketRequest,
    ) -> Result<pb::Ticket, HdtsError> {
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id)
            .check((1..=5).contains(&r.score), "score", "must be 1 to 5")
            .optional_text("comment", &r.comment, 2000);
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay::<pb::Ticket, _>(&txn).await? {
            return Ok(first);
        }
        let row = match find(&txn, &r.ticket_id).await? {
            Some(t) if t.requester_user_id == actor.id => t,
            _ => return Err(HdtsError::NotFound("ticket")),
        };
        if !r.etag.is_empty() {
            check_etag(System::Hdts, "etag", &r.etag, row.version)?;
        }
        if !matches!(row.status.as_str(), "resolved" | "closed") {
            return Err(HdtsError::FailedPrecondition {
                reason: "INVALID_STATUS",
                message: format!(
                    "ticket {} is {}: only a resolved or closed ticket is rated",
                    row.number, row.status
                ),
            });
        }
        let now = self.clock.now();
        let after = save(
            &txn,
            &row,
            tickets::ActiveModel {
                rating_score: Set(r.score),
                rating_comment: Set(r.comment.clone()),
                rated_at: Set(Some(now)),
                updated_at: Set(now),
                ..Default::default()
            },
        )
        .await?
        .ok_or(HdtsError::EtagMismatch)?;
        let payload = ev::HdtsTicketRated {
            ticket: Some(snapshot(&after)),
        };
        self.outbox
            .enqueue(
                &txn,
                NewEvent::new(
                    "hdts.ticket.rated",
                    after.id.clone(),
                    after.version,
                    &payload,
                ),
            )
            .await
            .map_err(|e| HdtsError::from(map_kit::ApiError::from(e)))?;
        let answer = to_proto(&after);
        key.record(&txn, &answer, now).await?;
        txn.commit().await?;
        Ok(answer)
    }
}
