//! Following Auth's events: the [`SyncHandler`] of a system's
//! `<system>.user-sync` queue applies `auth.user.*`, `auth.role.*` and
//! `auth.department.*` by the full snapshot each carries. A snapshot
//! replaces the directory's copy only when its version is newer
//! ([`Freshness`]), so events may arrive in any order and more than once;
//! event types it does not know are ignored.

use std::sync::Arc;

use map_contracts::events::v1 as ev;
use sea_orm::{DatabaseTransaction, EntityTrait as _, QuerySelect as _};

use super::{
    entity::users,
    model::{self, DirectoryUser},
    read,
    store::{self, Replace},
};
use crate::bus::{Event, Handler, HandlerError, mirror::Freshness};

/// A change of one user that the directory applied: the copy it held
/// before (none for a user it did not know) and the one it holds now.
#[derive(Debug, Clone)]
pub struct UserChange {
    /// The directory's copy before the event.
    pub before: Option<DirectoryUser>,
    /// The copy the event left.
    pub after: DirectoryUser,
}

impl UserChange {
    /// Whether the user was active and is no longer.
    pub fn deactivated(&self) -> bool {
        self.before.as_ref().is_some_and(|b| b.active) && !self.after.active
    }

    /// The roles the user held before and holds no more.
    pub fn lost_roles(&self) -> impl Iterator<Item = &crate::authn::RoleRef> {
        self.before
            .iter()
            .flat_map(|b| b.roles.iter())
            .filter(|r| !self.after.holds(&r.system, &r.role))
    }
}

/// What a system does, in the same transaction, when the directory applied
/// a user change: TTS reassigns a deactivated user's open work, AMS flags
/// the assets checked out to them. Runs only for changes actually applied
/// (never for a stale or duplicate event). An error rolls the change back
/// and the consumer retries or dead-letters the event as for any handler;
/// calls to other services belong before the transaction, not here.
#[async_trait::async_trait]
pub trait Reaction: Send + Sync + 'static {
    /// Reacts to `change`, made by `event`, within `txn`.
    async fn user_changed(
        &self,
        event: &Event,
        change: &UserChange,
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError>;
}

/// The consumer [`Handler`] of the `<system>.user-sync` queues.
#[derive(Clone, Default)]
pub struct SyncHandler {
    reaction: Option<Arc<dyn Reaction>>,
}

impl std::fmt::Debug for SyncHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SyncHandler")
            .field("reaction", &self.reaction.is_some())
            .finish()
    }
}

impl SyncHandler {
    /// A handler that keeps the directory and does nothing else.
    pub fn new() -> SyncHandler {
        SyncHandler::default()
    }

    /// A handler that also runs `reaction` for each user change it applies.
    pub fn with_reaction(mut self, reaction: impl Reaction) -> SyncHandler {
        self.reaction = Some(Arc::new(reaction));
        self
    }

    async fn apply_user(
        &self,
        event: &Event,
        snapshot: Option<ev::UserSnapshot>,
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        let snapshot = snapshot.ok_or_else(|| {
            HandlerError::Permanent(format!("{} carries no user", event.event_type()))
        })?;
        let user = DirectoryUser::from_snapshot(snapshot).map_err(HandlerError::Permanent)?;
        warn_on_version_mismatch(event, user.version);
        // Locked on PostgreSQL, so a concurrent newer version waits and the
        // reaction sees the copy this change really replaces.
        let held = users::Entity::find_by_id(user.id.clone())
            .lock_exclusive()
            .one(txn)
            .await?;
        let before = match held {
            Some(row) => read::with_roles(txn, vec![row]).await?.pop(),
            None => None,
        };
        let freshness = Freshness::of(before.as_ref().map(|b| b.version), user.version);
        if !freshness.should_apply() {
            tracing::debug!(user_id = %user.id, version = user.version, "stale user event; ignored");
            return Ok(());
        }
        if !store::put_user(txn, &user, Replace::Older).await? {
            return Ok(());
        }
        if let Some(reaction) = &self.reaction {
            let change = UserChange {
                before,
                after: user,
            };
            reaction.user_changed(event, &change, txn).await?;
        }
        Ok(())
    }

    async fn apply_department(
        &self,
        event: &Event,
        snapshot: Option<ev::DepartmentSnapshot>,
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        let snapshot = snapshot.ok_or_else(|| {
            HandlerError::Permanent(format!("{} carries no department", event.event_type()))
        })?;
        let department =
            model::department_from_snapshot(snapshot).map_err(HandlerError::Permanent)?;
        warn_on_version_mismatch(event, department.version);
        let held = read::department(txn, &department.code).await?;
        if !Freshness::of(held.map(|d| d.version), department.version).should_apply() {
            tracing::debug!(code = %department.code, version = department.version, "stale department event; ignored");
            return Ok(());
        }
        store::put_department(txn, &department, Replace::Older).await?;
        Ok(())
    }
}

/// The user an `auth.user.*` or `auth.role.*` event describes, as the
/// directory would hold it; `None` for other events. For a system that acts
/// on a user's change before the event's transaction (TTS asks Auth for the
/// next assignee of a deactivated user's tickets in `prepare`).
///
/// # Errors
/// Permanent when the payload does not decode or carries no valid user.
pub fn user_of(event: &Event) -> Result<Option<DirectoryUser>, HandlerError> {
    let snapshot = match event.event_type() {
        "auth.user.created" => event.payload::<ev::AuthUserCreated>()?.user,
        "auth.user.updated" => event.payload::<ev::AuthUserUpdated>()?.user,
        "auth.user.deactivated" => event.payload::<ev::AuthUserDeactivated>()?.user,
        "auth.role.granted" => event.payload::<ev::AuthRoleGranted>()?.user,
        "auth.role.revoked" => event.payload::<ev::AuthRoleRevoked>()?.user,
        _ => return Ok(None),
    };
    let snapshot = snapshot.ok_or_else(|| {
        HandlerError::Permanent(format!("{} carries no user", event.event_type()))
    })?;
    DirectoryUser::from_snapshot(snapshot)
        .map(Some)
        .map_err(HandlerError::Permanent)
}

/// The snapshot's version is the one compared (it is what the row will
/// hold); Auth publishes it as the envelope's too.
fn warn_on_version_mismatch(event: &Event, version: i64) {
    if event.envelope.subject_version != version {
        tracing::warn!(
            event_id = event.id(),
            envelope = event.envelope.subject_version,
            snapshot = version,
            "subject_version differs from the snapshot's version; using the snapshot's"
        );
    }
}

#[async_trait::async_trait]
impl Handler for SyncHandler {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        match event.event_type() {
            "auth.user.created" => {
                let p: ev::AuthUserCreated = event.payload()?;
                self.apply_user(event, p.user, txn).await
            }
            "auth.user.updated" => {
                let p: ev::AuthUserUpdated = event.payload()?;
                self.apply_user(event, p.user, txn).await
            }
            "auth.user.deactivated" => {
                let p: ev::AuthUserDeactivated = event.payload()?;
                self.apply_user(event, p.user, txn).await
            }
            "auth.role.granted" => {
                let p: ev::AuthRoleGranted = event.payload()?;
                self.apply_user(event, p.user, txn).await
            }
            "auth.role.revoked" => {
                let p: ev::AuthRoleRevoked = event.payload()?;
                self.apply_user(event, p.user, txn).await
            }
            "auth.department.created" => {
                let p: ev::AuthDepartmentCreated = event.payload()?;
                self.apply_department(event, p.department, txn).await
            }
            "auth.department.updated" => {
                let p: ev::AuthDepartmentUpdated = event.payload()?;
                self.apply_department(event, p.department, txn).await
            }
            other => {
                tracing::debug!(event_type = other, "not a directory event; ignored");
                Ok(())
            }
        }
    }
}
