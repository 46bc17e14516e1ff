//! ListTicketEvents: a ticket's history a page at a time, oldest or newest
//! first, optionally of some kinds only. Events are ordered by the ticket
//! version they produced, then by id (UUIDv7: the order in which one change
//! recorded its events, e.g. CREATED before ASSIGNED); the index
//! `ticket_events (ticket_id, ticket_version, id)` serves both directions.

use map_contracts::tts::v1 as pb;
use map_kit::{
    Violations,
    paging::{Direction, PageSize, Sort},
};
use prost::Message as _;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};
use serde::Serialize;

use super::{Tickets, find};
use crate::{TtsError, entity::ticket_events};

/// The request's filters, as the page token binds them.
#[derive(Debug, Serialize)]
struct Filters<'a> {
    ticket: &'a str,
    order: Direction,
    /// Stored kinds, sorted: the same set in another order is the same
    /// listing.
    kinds: Vec<String>,
}

/// The `kind` column's value for an event type (`status_changed`).
pub(crate) fn stored_kind(kind: pb::TicketEventType) -> String {
    kind.as_str_name()
        .trim_start_matches("TICKET_EVENT_TYPE_")
        .to_lowercase()
}

impl Tickets {
    /// ListTicketEvents: a page of the ticket's history and the next
    /// page's token (empty on the last page).
    pub async fn events(
        &self,
        r: &pb::ListTicketEventsRequest,
    ) -> Result<(Vec<pb::TicketEvent>, String), TtsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id);
        let order = Direction::of_one_field(&r.order_by, "time").unwrap_or_else(|wrong| {
            v.add(wrong.field, wrong.description);
            Direction::Ascending
        });
        let mut kinds = Vec::with_capacity(r.types.len());
        for (i, t) in r.types.iter().enumerate() {
            match pb::TicketEventType::try_from(*t) {
                Ok(pb::TicketEventType::Unspecified) | Err(_) => {
                    v.add(format!("types[{i}]"), "is not a ticket event type");
                }
                Ok(kind) => kinds.push(stored_kind(kind)),
            }
        }
        v.finish()?;
        kinds.sort_unstable();
        kinds.dedup();
        let f = Filters {
            ticket: &r.ticket_id,
            order,
            kinds,
        };
        let cursor: Option<(i64, String)> = self.pager.open("ticket_events", &f, &r.page_token)?;
        find(self.db.conn(), &r.ticket_id).await?;
        let sort = Sort::default()
            .key(ticket_events::Column::TicketVersion.into_expr(), order)
            .key(ticket_events::Column::Id.into_expr(), order);
        let mut q =
            ticket_events::Entity::find().filter(ticket_events::Column::TicketId.eq(f.ticket));
        if !f.kinds.is_empty() {
            q = q.filter(ticket_events::Column::Kind.is_in(f.kinds.iter().map(String::as_str)));
        }
        if let Some((version, id)) = cursor {
            q = q.filter(sort.after(vec![version.into(), id.into()]));
        }
        let rows = sort
            .order(q)
            .limit(size.fetch())
            .all(self.db.conn())
            .await?;
        let (rows, token) = self.pager.page("ticket_events", &f, rows, size, |e| {
            (e.ticket_version, e.id.clone())
        });
        let events = rows
            .into_iter()
            .map(|r| {
                pb::TicketEvent::decode(r.event.as_slice())
                    .map_err(|e| TtsError::from(map_kit::ApiError::Internal(Box::new(e))))
            })
            .collect::<Result<_, _>>()?;
        Ok((events, token))
    }
}
