//! The consumer of `tts.user-sync`: the directory of Auth's users (the
//! kit's [`SyncHandler`]) and, when a user is deactivated or loses a step's
//! role, their open tickets reassigned round-robin — the next holders asked
//! of Auth in `prepare`, before the event's transaction, keyed by event and
//! ticket so a redelivery picks the same people; with nobody left the
//! ticket is unassigned with the reason. Only a change the directory
//! applies (a newer version) reassigns anything.

use std::{collections::BTreeMap, sync::Arc};

use map_kit::{
    bus::{Event, Handler, HandlerError, Prepared},
    directory::{self, DirectoryUser, SyncHandler},
};
use sea_orm::{ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _};

use super::{Tickets, revision_of};
use crate::{TtsError, entity::tickets};

/// The queue it consumes.
pub const QUEUE: &str = "tts.user-sync";

/// Statuses in which a ticket is someone's work.
const OPEN: [&str; 4] = ["open", "in_progress", "waiting_on_requester", "on_hold"];

/// The directory, and the reassignment of a departed assignee's tickets.
#[derive(Debug, Clone)]
pub struct UserSync {
    directory: SyncHandler,
    tickets: Tickets,
}

impl UserSync {
    /// Over `tickets`.
    pub fn new(tickets: Tickets) -> UserSync {
        UserSync {
            directory: SyncHandler::new(),
            tickets,
        }
    }
}

/// For one user's change: each ticket to move and its next assignee
/// (`None`: nobody holds the role).
#[derive(Debug)]
struct Plan {
    user: DirectoryUser,
    moves: BTreeMap<String, Option<String>>,
}

fn handler_error(e: TtsError) -> HandlerError {
    match e {
        TtsError::Api(api) if matches!(*api, map_kit::ApiError::Unavailable(_)) => {
            HandlerError::NotYet(api.to_string())
        }
        other => HandlerError::Transient(other.to_string()),
    }
}

#[async_trait::async_trait]
impl Handler for UserSync {
    async fn prepare(&self, event: &Event) -> Result<Option<Prepared>, HandlerError> {
        let Some(user) = directory::user_of(event)? else {
            return Ok(None);
        };
        let conn = self.tickets.db.conn();
        let held = directory::read::user(conn, &user.id).await?;
        if held.is_some_and(|h| h.version >= user.version) {
            return Ok(None); // stale or repeated: the directory ignores it
        }
        let open = tickets::Entity::find()
            .filter(tickets::Column::AssigneeUserId.eq(user.id.clone()))
            .filter(tickets::Column::Status.is_in(OPEN))
            .all(conn)
            .await?;
        let mut moves = BTreeMap::new();
        for t in open {
            let revision = revision_of(conn, &t).await.map_err(handler_error)?;
            let Some(role) = revision
                .as_ref()
                .and_then(|r| r.definition.graph.step(&t.step_id))
                .map(|s| s.role.clone())
            else {
                continue;
            };
            let (system, name) = role.split_once(':').unwrap_or(("tts", role.as_str()));
            if user.active && user.holds(system, name) {
                continue;
            }
            let key = format!("{}:{}", event.id(), t.id);
            let next = self
                .tickets
                .assigner
                .next(&role, &key)
                .await
                .map_err(|e| handler_error(e.into()))?;
            // Round-robin may offer the departing user while Auth's copy lags.
            moves.insert(t.id.clone(), next.filter(|n| *n != user.id));
        }
        if moves.is_empty() {
            return Ok(None);
        }
        Ok(Some(Arc::new(Plan { user, moves })))
    }

    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        self.directory.handle(event, txn).await?;
        let Some(plan) = event.prepared::<Plan>() else {
            return Ok(());
        };
        // Only if the directory took this change (not a stale one).
        let applied = directory::read::user(txn, &plan.user.id)
            .await?
            .is_some_and(|u| u.version == plan.user.version);
        if !applied {
            return Ok(());
        }
        for (ticket_id, next) in &plan.moves {
            self.tickets
                .reassign(txn, ticket_id, &plan.user.id, next.as_deref())
                .await
                .map_err(handler_error)?;
        }
        Ok(())
    }
}
