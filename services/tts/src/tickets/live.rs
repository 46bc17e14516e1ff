//! What live streams (WatchTicket, WatchTickets) read: one watch of
//! `tts.ticket.*` per API process — its own exclusive queue on RabbitMQ, so
//! a change committed on another replica arrives too — fanned out in
//! process to every open stream ([`LiveTickets`]), never a queue per stream.
//! A change is only a wake-up: streams read the ticket and its history from
//! the database, so a lost or reordered message costs latency, never
//! correctness; they also re-read on a slow timer, and every second while
//! the process has no bus yet.

use std::sync::Arc;

use map_contracts::tts::v1 as pb;
use map_kit::bus::live::Feed;
use prost::Message as _;
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};
use tokio::{sync::broadcast, task::JoinHandle};

use super::{Tickets, find, model, revision_of};
use crate::{
    TtsError,
    entity::{ticket_events, tickets},
};

/// Changes buffered for a slow stream; one that falls further behind
/// re-reads the database instead.
const FANOUT_BUFFER: usize = 4096;
/// Most tickets a queue view opens with.
pub const QUEUE_SNAPSHOT_LIMIT: u64 = 500;
/// Most missed events one catch-up sends (a longer gap is read in turns).
const CATCH_UP_LIMIT: u64 = 500;

/// A ticket changed: its id and version after the change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The ticket.
    pub ticket_id: String,
    /// Its version after the change.
    pub version: i64,
}

/// The process's fan-out of ticket changes to its live streams.
#[derive(Debug, Clone)]
pub struct LiveTickets {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    feed: Feed,
    tx: broadcast::Sender<Change>,
    hub: std::sync::OnceLock<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        if let Some(hub) = self.hub.get() {
            hub.abort();
        }
    }
}

impl LiveTickets {
    /// Over `feed` (the process's bus, once connected).
    pub fn new(feed: Feed) -> LiveTickets {
        LiveTickets {
            inner: Arc::new(Inner {
                feed,
                tx: broadcast::channel(FANOUT_BUFFER).0,
                hub: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The changes from now on; the process's watch starts with the first
    /// subscriber.
    pub fn subscribe(&self) -> broadcast::Receiver<Change> {
        let rx = self.inner.tx.subscribe();
        self.inner
            .hub
            .get_or_init(|| tokio::spawn(hub(self.inner.feed.clone(), self.inner.tx.clone())));
        rx
    }

    /// Whether changes arrive by the bus (else streams poll).
    pub fn has_bus(&self) -> bool {
        self.inner.feed.bus().is_some()
    }
}

/// Watches `tts.ticket.*` on the bus once there is one, again after a lost
/// watch, and fans each change out.
async fn hub(feed: Feed, tx: broadcast::Sender<Change>) {
    loop {
        if let Some(bus) = feed.bus() {
            match bus.watch(&["tts.ticket.*"]).await {
                Ok(mut watch) => {
                    while let Some(e) = watch.next().await {
                        // No stream open is fine: nothing to tell.
                        let _ = tx.send(Change {
                            ticket_id: e.subject,
                            version: e.subject_version,
                        });
                    }
                    tracing::warn!("the live watch of tts.ticket.* ended; watching again");
                }
                Err(error) => {
                    tracing::warn!(%error, "cannot watch tts.ticket.*; streams poll meanwhile");
                }
            }
        }
        tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    }
}

impl Tickets {
    /// A ticket's current version (NOT_FOUND when it is gone).
    pub async fn version_of(&self, id: &str) -> Result<i64, TtsError> {
        Ok(find(self.db.conn(), id).await?.version)
    }

    /// The events of ticket `id` after `version`, oldest first, at most
    /// [`CATCH_UP_LIMIT`].
    pub async fn events_after(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Vec<pb::TicketEvent>, TtsError> {
        let rows = ticket_events::Entity::find()
            .filter(ticket_events::Column::TicketId.eq(id.to_owned()))
            .filter(ticket_events::Column::TicketVersion.gt(version))
            .order_by_asc(ticket_events::Column::TicketVersion)
            .order_by_asc(ticket_events::Column::Id)
            .limit(CATCH_UP_LIMIT)
            .all(self.db.conn())
            .await?;
        rows.into_iter()
            .map(|r| {
                pb::TicketEvent::decode(r.event.as_slice())
                    .map_err(|e| TtsError::from(map_kit::ApiError::Internal(Box::new(e))))
            })
            .collect()
    }

    /// Ticket `id` on the wire, with its step named.
    pub async fn by_id(&self, id: &str) -> Result<pb::Ticket, TtsError> {
        let row = find(self.db.conn(), id).await?;
        let revision = revision_of(self.db.conn(), &row).await?;
        Ok(model::to_proto(
            &row,
            revision.as_ref().map(|r| &r.definition.graph),
        ))
    }

    /// The queue of `assignee` in `statuses` (stored names), most recently
    /// updated first, at most [`QUEUE_SNAPSHOT_LIMIT`].
    pub async fn queue(
        &self,
        assignee: &str,
        statuses: &[&'static str],
    ) -> Result<Vec<pb::Ticket>, TtsError> {
        let rows = tickets::Entity::find()
            .filter(tickets::Column::AssigneeUserId.eq(assignee.to_owned()))
            .filter(tickets::Column::Status.is_in(statuses.iter().copied()))
            .order_by_desc(tickets::Column::UpdatedAt)
            .order_by_desc(tickets::Column::Id)
            .limit(QUEUE_SNAPSHOT_LIMIT)
            .all(self.db.conn())
            .await?;
        Ok(rows.iter().map(|t| model::to_proto(t, None)).collect())
    }
}
