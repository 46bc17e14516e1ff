//! The live streams of TicketService: WatchTicket (one ticket, resumable
//! by `since_version`) and WatchTickets (a person's queue). Each runs as a
//! task feeding its stream until the client goes away, the server drains
//! (UNAVAILABLE at once: reconnect elsewhere), or the caller's access is
//! revoked — the credential is validated again every [`WatchConfig::recheck`],
//! through the same cached validator as every call, so a logout,
//! deactivation or lost role ends the stream within the cache's 30 s.

use std::{collections::HashSet, pin::Pin, sync::Arc, time::Duration};

use futures::Stream;
use map_contracts::tts::v1 as pb;
use map_kit::{
    ApiError, System, Violations,
    authn::{Credential, Principal, Validator},
    authz::Access,
};
use tokio::sync::{broadcast::error::RecvError, mpsc};
use tokio_stream::wrappers::ReceiverStream;
use tokio_util::sync::CancellationToken;
use tonic::Status;

use crate::tickets::{
    Tickets,
    live::{Change, LiveTickets},
    model::Status as TicketStatus,
};

/// A stream of messages of type `T`.
pub type Streaming<T> = Pin<Box<dyn Stream<Item = Result<T, Status>> + Send>>;

/// How often streams look again.
#[derive(Debug, Clone, Copy)]
pub struct WatchConfig {
    /// Between validations of the caller's credential.
    pub recheck: Duration,
    /// Between reads of the database for a change the bus did not bring.
    pub poll_with_bus: Duration,
    /// Between reads of the database while the process has no bus.
    pub poll_without_bus: Duration,
}

impl Default for WatchConfig {
    fn default() -> Self {
        WatchConfig {
            recheck: Duration::from_secs(2),
            poll_with_bus: Duration::from_secs(10),
            poll_without_bus: Duration::from_secs(1),
        }
    }
}

/// What every stream needs besides the domain.
#[derive(Clone)]
pub struct Watchers {
    /// The fan-out of changes.
    pub live: LiveTickets,
    /// The validator of every call, to look again at a running stream's caller.
    pub validator: Arc<dyn Validator>,
    /// Cancelled when the server begins to drain.
    pub draining: CancellationToken,
    /// How often to look again.
    pub config: WatchConfig,
}

/// Messages buffered for a slow client before the stream waits for it.
const STREAM_BUFFER: usize = 64;

/// The caller of a stream, validated again while it runs.
struct Caller {
    secret: String,
    access: Access,
    validator: Arc<dyn Validator>,
}

impl Caller {
    fn of<T>(
        request: &tonic::Request<T>,
        access: Access,
        validator: Arc<dyn Validator>,
    ) -> Result<Caller, Status> {
        let headers = request.metadata().clone().into_headers();
        let secret = Credential::from_headers(&headers)?
            .map(|c| c.secret().to_owned())
            .ok_or_else(|| {
                Status::from(ApiError::unauthenticated(
                    "MISSING_CREDENTIALS",
                    "no credential",
                ))
            })?;
        Ok(Caller {
            secret,
            access,
            validator,
        })
    }

    /// `Err` with the status that ends the stream when access was revoked.
    /// Auth being unreachable is not a revocation: the stream goes on.
    async fn still(&self) -> Result<(), Status> {
        match self.validator.validate(&self.secret).await {
            Ok(Some(principal)) => self.access.admit(&principal).map_err(Status::from),
            Ok(None) => Err(ApiError::unauthenticated(
                "INVALID_TOKEN",
                "the credential was revoked or has expired: the stream ends",
            )
            .into()),
            Err(error) => {
                tracing::debug!(%error, "cannot validate a watcher again now; the stream goes on");
                Ok(())
            }
        }
    }
}

impl std::fmt::Debug for Watchers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchers")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Watchers {
    /// WatchTicket.
    pub async fn ticket(
        &self,
        tickets: Tickets,
        request: tonic::Request<pb::WatchTicketRequest>,
        access: Access,
    ) -> Result<Streaming<pb::WatchTicketResponse>, Status> {
        let caller = Caller::of(&request, access, self.validator.clone())?;
        let r = request.into_inner();
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id);
        if r.since_version < 0 {
            v.add("since_version", "must not be negative");
        }
        v.finish().map_err(Status::from)?;
        // Subscribed before the snapshot is read: no change falls between.
        let mut changes = self.live.subscribe();
        let first = tickets.by_id(&r.ticket_id).await?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut sent = r.since_version.min(first.version);
        let catch_up = r.since_version > 0 && r.since_version < first.version;
        let current = first.version;
        if tx
            .send(Ok(pb::WatchTicketResponse {
                ticket: Some(first),
                event: None,
            }))
            .await
            .is_err()
        {
            return Ok(Box::pin(ReceiverStream::new(rx)));
        }
        if !catch_up {
            sent = current;
        }
        let me = self.clone();
        let id = r.ticket_id;
        tokio::spawn(async move {
            let mut recheck = tokio::time::interval(me.config.recheck);
            let mut poll = tokio::time::interval(me.poll_interval());
            let mut dirty = catch_up;
            loop {
                if dirty {
                    dirty = false;
                    match send_events_after(&tickets, &id, &mut sent, &tx).await {
                        Ok(true) => {}
                        Ok(false) => return, // the client went away
                        Err(status) => {
                            let _ = tx.send(Err(status)).await;
                            return;
                        }
                    }
                }
                tokio::select! {
                    () = me.draining.cancelled() => {
                        let _ = tx.send(Err(draining())).await;
                        return;
                    }
                    () = tx.closed() => return,
                    _ = recheck.tick() => {
                        if let Err(status) = caller.still().await {
                            let _ = tx.send(Err(status)).await;
                            return;
                        }
                    }
                    _ = poll.tick() => {
                        dirty = tickets.version_of(&id).await.map_or(true, |v| v > sent);
                    }
                    change = changes.recv() => match change {
                        Ok(Change { ticket_id, version }) => {
                            dirty = ticket_id == id && version > sent;
                        }
                        // Fell behind the fan-out: the database says what was missed.
                        Err(RecvError::Lagged(_)) => dirty = true,
                        Err(RecvError::Closed) => return,
                    },
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    /// WatchTickets.
    pub async fn queue(
        &self,
        tickets: Tickets,
        request: tonic::Request<pb::WatchTicketsRequest>,
        access: Access,
    ) -> Result<Streaming<pb::WatchTicketsResponse>, Status> {
        let principal = map_kit::authn::principal(&request)?;
        let caller = Caller::of(&request, access, self.validator.clone())?;
        let r = request.into_inner();
        let (assignee, statuses) = queue_of(&principal, &r)?;
        let mut changes = self.live.subscribe();
        let snapshot = tickets.queue(&assignee, &statuses).await?;
        let (tx, rx) = mpsc::channel(STREAM_BUFFER);
        let mut in_view: HashSet<String> = snapshot.iter().map(|t| t.id.clone()).collect();
        let me = self.clone();
        tokio::spawn(async move {
            for ticket in snapshot {
                let message = pb::WatchTicketsResponse {
                    ticket: Some(ticket),
                    in_view: true,
                    snapshot_complete: false,
                };
                if tx.send(Ok(message)).await.is_err() {
                    return;
                }
            }
            let done = pb::WatchTicketsResponse {
                snapshot_complete: true,
                ..Default::default()
            };
            if tx.send(Ok(done)).await.is_err() {
                return;
            }
            let mut recheck = tokio::time::interval(me.config.recheck);
            loop {
                tokio::select! {
                    () = me.draining.cancelled() => {
                        let _ = tx.send(Err(draining())).await;
                        return;
                    }
                    () = tx.closed() => return,
                    _ = recheck.tick() => {
                        if let Err(status) = caller.still().await {
                            let _ = tx.send(Err(status)).await;
                            return;
                        }
                    }
                    change = changes.recv() => {
                        let Ok(Change { ticket_id, .. }) = change else {
                            // Lagged or closed: the view can no longer be
                            // kept exact; the client lists it afresh.
                            let _ = tx.send(Err(Status::unavailable(
                                "the queue view fell behind; watch again",
                            ))).await;
                            return;
                        };
                        let ticket = match tickets.by_id(&ticket_id).await {
                            Ok(t) => t,
                            Err(e) => {
                                tracing::warn!(error = %e, %ticket_id, "a changed ticket cannot be read");
                                continue;
                            }
                        };
                        let now = ticket.assignee_user_id == assignee
                            && TicketStatus::from_proto(ticket.status())
                                .is_some_and(|s| statuses.contains(&s.as_str()));
                        let was = if now {
                            !in_view.insert(ticket_id)
                        } else {
                            in_view.remove(&ticket_id)
                        };
                        if now || was {
                            let message = pb::WatchTicketsResponse {
                                ticket: Some(ticket),
                                in_view: now,
                                snapshot_complete: false,
                            };
                            if tx.send(Ok(message)).await.is_err() {
                                return;
                            }
                        }
                    }
                }
            }
        });
        Ok(Box::pin(ReceiverStream::new(rx)))
    }

    fn poll_interval(&self) -> Duration {
        if self.live.has_bus() {
            self.config.poll_with_bus
        } else {
            self.config.poll_without_bus
        }
    }
}

/// Sends the events of ticket `id` after `*sent`, each with the ticket as
/// it is now, and moves `*sent` on; `Ok(false)` when the client went away.
async fn send_events_after(
    tickets: &Tickets,
    id: &str,
    sent: &mut i64,
    tx: &mpsc::Sender<Result<pb::WatchTicketResponse, Status>>,
) -> Result<bool, Status> {
    loop {
        let events = tickets.events_after(id, *sent).await?;
        if events.is_empty() {
            return Ok(true);
        }
        let ticket = tickets.by_id(id).await?;
        for event in events {
            let version = event.ticket_version;
            let message = pb::WatchTicketResponse {
                ticket: Some(ticket.clone()),
                event: Some(event),
            };
            if tx.send(Ok(message)).await.is_err() {
                return Ok(false);
            }
            *sent = (*sent).max(version);
        }
    }
}

/// Whose queue, in which stored statuses; an agent may watch only their own.
fn queue_of(
    principal: &Principal,
    r: &pb::WatchTicketsRequest,
) -> Result<(String, Vec<&'static str>), Status> {
    let mut v = Violations::default();
    if !r.assignee_user_id.is_empty() {
        v.uuid("assignee_user_id", &r.assignee_user_id);
    }
    let (mut statuses, wrong) = crate::tickets::model::stored_statuses(&r.statuses);
    for w in wrong {
        v.add(w.field, w.description);
    }
    v.finish().map_err(Status::from)?;
    if statuses.is_empty() {
        statuses = TicketStatus::OPEN.iter().map(|s| s.as_str()).collect();
    }
    let assignee = if r.assignee_user_id.is_empty() {
        principal.id.clone()
    } else {
        r.assignee_user_id.clone()
    };
    let manager =
        principal.has_role(System::Tts, "manager") || principal.has_role(System::Tts, "admin");
    if assignee != principal.id && !manager {
        return Err(crate::TtsError::PermissionDenied {
            reason: "NOT_OWN_QUEUE",
            message: "agents watch their own queue only".into(),
        }
        .into());
    }
    Ok((assignee, statuses))
}

fn draining() -> Status {
    Status::unavailable("the server is shutting down; watch again (with since_version)")
}
