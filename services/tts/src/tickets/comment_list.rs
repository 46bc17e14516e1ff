//! ListComments: a ticket's comments a page at a time, oldest or newest
//! first, optionally of some visibilities only (a client showing what the
//! requester sees asks for PUBLIC). Ordered by creation time, then id; the
//! index `comments (ticket_id, created_at, id)` serves both directions.

use chrono::{DateTime, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::{
    Violations,
    paging::{Direction, PageSize, Sort},
};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use serde::Serialize;

use super::{Tickets, comment_to_proto, find};
use crate::{TtsError, entity::comments};

/// The request's filters, as the page token binds them.
#[derive(Debug, Serialize)]
struct Filters<'a> {
    ticket: &'a str,
    order: Direction,
    /// Stored visibilities, sorted and without repeats.
    visibilities: Vec<&'static str>,
}

impl Tickets {
    /// ListComments: a page of the ticket's comments and the next page's
    /// token (empty on the last page).
    pub async fn comments(
        &self,
        r: &pb::ListCommentsRequest,
    ) -> Result<(Vec<pb::Comment>, String), TtsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id);
        let order = Direction::of_one_field(&r.order_by, "create_time").unwrap_or_else(|wrong| {
            v.add(wrong.field, wrong.description);
            Direction::Ascending
        });
        let mut visibilities = Vec::with_capacity(r.visibilities.len());
        for (i, n) in r.visibilities.iter().enumerate() {
            match pb::CommentVisibility::try_from(*n) {
                Ok(pb::CommentVisibility::Public) => visibilities.push("public"),
                Ok(pb::CommentVisibility::Internal) => visibilities.push("internal"),
                Ok(pb::CommentVisibility::Unspecified) | Err(_) => {
                    v.add(format!("visibilities[{i}]"), "must be PUBLIC or INTERNAL");
                }
            }
        }
        v.finish()?;
        visibilities.sort_unstable();
        visibilities.dedup();
        let f = Filters {
            ticket: &r.ticket_id,
            order,
            visibilities,
        };
        let cursor: Option<(DateTime<Utc>, String)> =
            self.pager.open("comments", &f, &r.page_token)?;
        find(self.db.conn(), &r.ticket_id).await?;
        let sort = Sort::default()
            .key(comments::Column::CreatedAt.into_expr(), order)
            .key(comments::Column::Id.into_expr(), order);
        let mut q = comments::Entity::find().filter(comments::Column::TicketId.eq(f.ticket));
        if !f.visibilities.is_empty() {
            q = q.filter(comments::Column::Visibility.is_in(f.visibilities.iter().copied()));
        }
        if let Some((at, id)) = cursor {
            q = q.filter(sort.after(vec![at.into(), id.into()]));
        }
        let rows = sort
            .order(q)
            .limit(size.fetch())
            .all(self.db.conn())
            .await?;
        let (rows, token) = self
            .pager
            .page("comments", &f, rows, size, |c| (c.created_at, c.id.clone()));
        Ok((rows.iter().map(comment_to_proto).collect(), token))
    }
}
