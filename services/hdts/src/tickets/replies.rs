//! Replies on help-desk tickets. The requester (or an agent) replies here;
//! the reply and its `hdts.ticket.replied` commit together, and TTS adds it
//! to its ticket as a comment — a requester's reply also fires the
//! workflow's REQUESTER_REPLIED transition there. Public TTS comments come
//! back as replies through the mirror. Employees see only public replies on
//! their own tickets.

use chrono::{DateTime, Utc};
use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use map_kit::{
    Violations,
    authn::Principal,
    directory,
    idempotency::Idempotent,
    outbox::NewEvent,
    paging::{Direction, PageSize, Sort},
    wire::time::timestamp,
};
use sea_orm::{
    ActiveModelTrait as _,
    ActiveValue::Set,
    ColumnTrait as _, ConnectionTrait, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
    QuerySelect as _,
    sea_query::{Expr, ExprTrait as _},
};

use super::{HelpDesk, MAX_DESCRIPTION, find, is_agent, lifecycle, snapshot, to_proto};
use crate::{
    HdtsError,
    entity::{replies, tickets},
};

/// A reply on the wire.
pub fn reply_to_proto(r: &replies::Model) -> pb::Reply {
    pb::Reply {
        id: r.id.clone(),
        ticket_id: r.ticket_id.clone(),
        author_user_id: r.author_user_id.clone(),
        author_display_name: r.author_display_name.clone(),
        body: r.body.clone(),
        visibility: if r.visibility == "internal" {
            pb::ReplyVisibility::Internal
        } else {
            pb::ReplyVisibility::Public
        }
        .into(),
        source: match r.source.as_str() {
            "email" => pb::Source::Email,
            "tts" => pb::Source::Tts,
            _ => pb::Source::Portal,
        }
        .into(),
        attachments: super::attachments::to_proto(r.attachments.as_deref()),
        create_time: Some(timestamp(r.created_at)),
    }
}

/// The ticket `id` as `actor` may see it (NOT_FOUND otherwise).
async fn visible<C: ConnectionTrait>(
    conn: &C,
    actor: &Principal,
    id: &str,
) -> Result<tickets::Model, HdtsError> {
    let mut v = Violations::default();
    v.uuid("ticket_id", id);
    v.finish()?;
    match find(conn, id).await? {
        Some(t) if is_agent(actor) || t.requester_user_id == actor.id => Ok(t),
        _ => Err(HdtsError::NotFound("ticket")),
    }
}

/// Bumps the ticket's version (replies never conflict: no compare-and-set)
/// and returns it as it is now.
pub(crate) async fn touch(
    txn: &DatabaseTransaction,
    id: &str,
    now: DateTime<Utc>,
) -> Result<tickets::Model, HdtsError> {
    tickets::Entity::update_many()
        .col_expr(
            tickets::Column::Version,
            Expr::col(tickets::Column::Version).add(1),
        )
        .col_expr(tickets::Column::UpdatedAt, Expr::value(now))
        .filter(tickets::Column::Id.eq(id.to_owned()))
        .exec(txn)
        .await?;
    find(txn, id).await?.ok_or(HdtsError::NotFound("ticket"))
}

impl HelpDesk {
    /// AddReply.
    pub async fn add_reply(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: pb::AddReplyRequest,
    ) -> Result<pb::AddReplyResponse, HdtsError> {
        let mut v = Violations::default();
        v.text("body", &r.body, MAX_DESCRIPTION);
        for wrong in self.uploads.check_refs("attachments", &r.attachments) {
            v.add(wrong.field, wrong.description);
        }
        v.finish()?;
        let internal = match pb::ReplyVisibility::try_from(r.visibility) {
            Ok(pb::ReplyVisibility::Internal) => true,
            Ok(_) => false,
            Err(_) => return Err(HdtsError::invalid("visibility", "is not a visibility")),
        };
        if internal && !is_agent(actor) {
            return Err(HdtsError::PermissionDenied {
                reason: "AGENT_REQUIRED",
                message: "only agents post internal replies".into(),
            });
        }
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let mut ticket = visible(&txn, actor, &r.ticket_id).await?;
        // The requester's public reply to a ticket closed within the reopen
        // window (by them or by itself after resolution) reopens it first,
        // as ReopenTicket would: its `hdts.ticket.reopened` goes before the
        // reply's event.
        if ticket.status == "closed"
            && !internal
            && actor.id == ticket.requester_user_id
            && ticket
                .resolved_at
                .is_some_and(|at| lifecycle::within_window(at, self.clock.now()))
        {
            ticket = lifecycle::apply(
                &txn,
                &self.outbox,
                &ticket,
                lifecycle::Change::Reopen("the requester replied"),
                self.clock.now(),
            )
            .await?
            .ok_or(HdtsError::EtagMismatch)?;
        }
        if matches!(ticket.status.as_str(), "closed" | "withdrawn") {
            return Err(HdtsError::FailedPrecondition {
                reason: "TICKET_CLOSED",
                message: format!("ticket {} is {}", ticket.number, ticket.status),
            });
        }
        let now = self.clock.now();
        let author = directory::read::user(&txn, &actor.id).await?;
        let id = uuid::Uuid::now_v7().to_string();
        let files = self
            .uploads
            .attach(
                &txn,
                &actor.id,
                "attachments",
                &r.attachments,
                &super::attachments::reply_owner(&id),
            )
            .await?;
        let reply = replies::ActiveModel {
            id: Set(id),
            ticket_id: Set(ticket.id.clone()),
            author_user_id: Set(actor.id.clone()),
            author_display_name: Set(author
                .as_ref()
                .map(|u| u.display_name.clone())
                .unwrap_or_default()),
            body: Set(r.body.clone()),
            visibility: Set(if internal { "internal" } else { "public" }.into()),
            source: Set("portal".into()),
            tts_comment_id: Set(None),
            created_at: Set(now),
            attachments: Set(map_kit::uploads::attachments::encode(&files)),
        }
        .insert(&txn)
        .await?;
        let ticket = touch(&txn, &ticket.id, now).await?;
        let payload = ev::HdtsTicketReplied {
            ticket: Some(snapshot(&ticket)),
            reply_id: reply.id.clone(),
            author: Some(ev::UserRef {
                user_id: actor.id.clone(),
                display_name: reply.author_display_name.clone(),
                email: author.map(|u| u.email).unwrap_or_default(),
            }),
            from_requester: actor.id == ticket.requester_user_id,
            body: reply.body.clone(),
            public: !internal,
            source: ev::TicketSource::Portal.into(),
            attachments: files,
            create_time: Some(timestamp(now)),
        };
        self.outbox
            .enqueue(
                &txn,
                NewEvent::new(
                    "hdts.ticket.replied",
                    ticket.id.clone(),
                    ticket.version,
                    &payload,
                ),
            )
            .await
            .map_err(|e| HdtsError::from(map_kit::ApiError::from(e)))?;
        let response = pb::AddReplyResponse {
            reply: Some(reply_to_proto(&reply)),
            ticket: Some(to_proto(&ticket)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// ListReplies, oldest first or (`create_time desc`) newest first;
    /// employees see the public ones. Keyset pages over (creation time, id),
    /// the token bound to the ticket, the caller's view and the order.
    pub async fn list_replies(
        &self,
        actor: &Principal,
        r: &pb::ListRepliesRequest,
    ) -> Result<(Vec<pb::Reply>, String), HdtsError> {
        let size = PageSize::parse(r.page_size)?;
        let words: Vec<&str> = r.order_by.split_whitespace().collect();
        let direction = match words.as_slice() {
            [] | ["create_time"] | ["create_time", "asc"] => Direction::Ascending,
            ["create_time", "desc"] => Direction::Descending,
            _ => {
                return Err(HdtsError::invalid(
                    "order_by",
                    "supported: \"create_time\" (the default: oldest first), \"create_time desc\"",
                ));
            }
        };
        let ticket = visible(self.db.conn(), actor, &r.ticket_id).await?;
        let newest_first = direction == Direction::Descending;
        let filters = (ticket.id.clone(), is_agent(actor), newest_first);
        let cursor: Option<(DateTime<Utc>, String)> =
            self.pager.open("hdts_replies", &filters, &r.page_token)?;
        let sort = Sort::default()
            .key(replies::Column::CreatedAt.into_expr(), direction)
            .key(replies::Column::Id.into_expr(), direction);
        let mut q = replies::Entity::find().filter(replies::Column::TicketId.eq(ticket.id.clone()));
        if !is_agent(actor) {
            q = q.filter(replies::Column::Visibility.eq("public"));
        }
        if let Some((at, id)) = cursor {
            q = q.filter(sort.after(vec![at.into(), id.into()]));
        }
        let rows = sort
            .order(q)
            .limit(size.fetch())
            .all(self.db.conn())
            .await?;
        let (rows, token) = self.pager.page("hdts_replies", &filters, rows, size, |r| {
            (r.created_at, r.id.clone())
        });
        Ok((rows.iter().map(reply_to_proto).collect(), token))
    }
}
