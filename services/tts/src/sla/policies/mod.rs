//! SLA policies as records (`map.tts.v1.SlaService`'s CreateSlaPolicy,
//! GetSlaPolicy, ListSlaPolicies, UpdateSlaPolicy): targets for one
//! priority, optionally narrowed to one help topic, workflow or department,
//! checked whole by [`input`] before anything is written. At most one
//! active policy per priority and scope: checked before the write, and the
//! unique index of migration m0009 turns a race lost into the same
//! FAILED_PRECONDITION. Creates are idempotent per `request_id`; updates
//! are etag-checked and re-target, in the same transaction, the clocks of
//! the open tickets it concerns (settled first on the calendar they counted
//! on: [`SlaClocks::before_policy_edit`], then [`SlaClocks::refollow`]); a
//! new active policy takes over the open tickets of its priority it is the
//! most specific for. Which policy a
//! ticket follows is [`crate::sla::matching`]'s.

pub mod input;
mod list;

use std::{collections::BTreeSet, sync::Arc};

use map_contracts::tts::v1 as pb;
use map_kit::{
    ApiError, FieldViolation, Reason, System, Violations, clock::Clock, db::Db, directory,
    idempotency::Idempotent, paging::Pager, wire::etag::check_etag,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _,
};

use self::input::{DEFAULT_PAUSE, Fields, Wire, to_proto};
use crate::{
    TtsError,
    entity::{sla_calendars, sla_policies},
    error::is_unique_violation,
    sla::clocks::SlaClocks,
    tickets::Tickets,
    workflows::{Workflows, roles::RoleCatalog},
};

/// The update_mask paths of UpdateSlaPolicy.
pub const UPDATE_PATHS: [&str; 12] = [
    "name",
    "priority",
    "first_response_target",
    "resolution_target",
    "warning_threshold_percent",
    "calendar_id",
    "active",
    "pause_statuses",
    "help_topic_id",
    "workflow_id",
    "department_code",
    "escalation_levels",
];

/// `ErrorInfo.reason` of a second active policy for one priority and scope.
pub const PRIORITY_HAS_ACTIVE_POLICY: &str = "PRIORITY_HAS_ACTIVE_POLICY";

/// The policies' domain.
#[derive(Debug, Clone)]
pub struct PolicyRecords {
    db: Db,
    roles: Arc<dyn RoleCatalog>,
    clock: Clock,
    pager: Pager,
}

impl PolicyRecords {
    /// Over `db`, escalation roles checked against `roles` (Auth's roles of
    /// TTS), stamped by `clock`, paged with `pager`.
    pub fn new(db: Db, roles: Arc<dyn RoleCatalog>, clock: Clock, pager: Pager) -> PolicyRecords {
        PolicyRecords {
            db,
            roles,
            clock,
            pager,
        }
    }

    /// Beside the tickets and workflows of one server: their database,
    /// clock and page tokens, the workflows' catalogue of roles.
    pub fn beside(tickets: &Tickets, workflows: &Workflows) -> PolicyRecords {
        let (db, clock, pager) = tickets.parts();
        PolicyRecords::new(db, workflows.role_catalog(), clock, pager)
    }

    /// CreateSlaPolicy: empty pause statuses mean WAITING_ON_REQUESTER, a
    /// warning threshold of 0 means 80 %.
    pub async fn create(
        &self,
        key: &Idempotent,
        r: &pb::CreateSlaPolicyRequest,
    ) -> Result<pb::CreateSlaPolicyResponse, TtsError> {
        let roles = self.roles_for(&r.escalation_levels).await?;
        let extra = self
            .department(&r.department_code, "department_code")
            .await?;
        let default_pause = [i32::from(DEFAULT_PAUSE)];
        let mut wire = Wire::from(r);
        if wire.pause_statuses.is_empty() {
            wire.pause_statuses = &default_pause;
        }
        let fields = input::check("", wire, roles.as_deref().map(Vec::as_slice), extra)?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        ensure_calendar(&txn, "calendar_id", &fields.calendar_id).await?;
        ensure_scope_free(&txn, &fields, None).await?;
        let now = self.clock.now();
        let row = sla_policies::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            ..fields.columns()?
        }
        .insert(&txn)
        .await
        .map_err(scope_taken_or)?;
        // An active policy may now be the one the open tickets of its
        // priority follow.
        if row.active {
            SlaClocks::new(self.clock.clone())
                .refollow(&txn, &[], Some(&row.priority), now)
                .await?;
        }
        let response = pb::CreateSlaPolicyResponse {
            sla_policy: Some(to_proto(&row)?),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(policy_id = %row.id, priority = %row.priority, "sla policy created");
        Ok(response)
    }

    /// GetSlaPolicy.
    pub async fn get(&self, id: &str) -> Result<pb::SlaPolicy, TtsError> {
        let mut v = Violations::default();
        v.uuid("id", id);
        v.finish()?;
        to_proto(&find(self.db.conn(), id).await?)
    }

    /// UpdateSlaPolicy: the fields of `p` named by `paths` replace the
    /// policy's if `p.etag` is current; the whole result is checked as a
    /// create is (but empty pause statuses stay empty: the clocks never
    /// pause). Nothing changes (not even the version) when they equal what
    /// is stored.
    pub async fn update(
        &self,
        paths: &BTreeSet<&'static str>,
        p: pb::SlaPolicy,
    ) -> Result<pb::SlaPolicy, TtsError> {
        let mut v = Violations::default();
        v.uuid("sla_policy.id", &p.id);
        if p.etag.is_empty() {
            v.add("sla_policy.etag", "is required (the etag you read)");
        }
        v.finish()?;
        // Auth and the directory are asked before the write begins, and only
        // about what this update replaces.
        let roles = if paths.contains("escalation_levels") {
            self.roles_for(&p.escalation_levels).await?
        } else {
            None
        };
        let extra = if paths.contains("department_code") {
            self.department(&p.department_code, "sla_policy.department_code")
                .await?
        } else {
            Vec::new()
        };
        let txn = self.db.begin_write().await?;
        let row = find(&txn, &p.id).await?;
        check_etag(System::Tts, "sla_policy.etag", &p.etag, row.version)?;
        let merged = merge(to_proto(&row)?, p, paths);
        let fields = input::check(
            "sla_policy.",
            Wire::from(&merged),
            roles.as_deref().map(Vec::as_slice),
            extra,
        )?;
        if fields.same_as(&row) {
            return to_proto(&row);
        }
        if fields.calendar_id != row.calendar_id {
            ensure_calendar(&txn, "sla_policy.calendar_id", &fields.calendar_id).await?;
        }
        ensure_scope_free(&txn, &fields, Some(&row.id)).await?;
        let now = self.clock.now();
        let sla = SlaClocks::new(self.clock.clone());
        sla.before_policy_edit(&txn, &row, now).await?;
        let update = sla_policies::ActiveModel {
            version: Set(row.version + 1),
            updated_at: Set(now),
            ..fields.columns()?
        };
        let done = sla_policies::Entity::update_many()
            .set(update)
            .filter(sla_policies::Column::Id.eq(row.id.clone()))
            .filter(sla_policies::Column::Version.eq(row.version))
            .exec(&txn)
            .await
            .map_err(scope_taken_or)?;
        if done.rows_affected != 1 {
            return Err(TtsError::EtagMismatch);
        }
        sla.refollow(
            &txn,
            std::slice::from_ref(&row.id),
            Some(fields.priority),
            now,
        )
        .await?;
        let after = find(&txn, &row.id).await?;
        txn.commit().await?;
        tracing::info!(policy_id = %after.id, version = after.version, "sla policy updated");
        to_proto(&after)
    }

    /// Auth's roles of TTS when a level names a role to check; `None` when
    /// none does (nothing to ask).
    async fn roles_for(
        &self,
        levels: &[pb::EscalationLevel],
    ) -> Result<Option<Arc<Vec<String>>>, TtsError> {
        if levels.iter().all(|l| l.role.is_empty()) {
            return Ok(None);
        }
        Ok(Some(self.roles.roles().await?))
    }

    /// A violation of `field` unless `code` is empty or an active department
    /// of the directory (a code too long to be one is named by the checks).
    async fn department(&self, code: &str, field: &str) -> Result<Vec<FieldViolation>, TtsError> {
        if code.is_empty()
            || code.chars().count() > input::MAX_DEPARTMENT_CODE
            || directory::read::department_is_active(self.db.conn(), code).await?
        {
            return Ok(Vec::new());
        }
        Ok(vec![FieldViolation {
            field: field.to_owned(),
            description: format!("{code} is not an active department"),
        }])
    }
}

/// `current` with the fields of `p` named by `paths`.
fn merge(
    mut current: pb::SlaPolicy,
    p: pb::SlaPolicy,
    paths: &BTreeSet<&'static str>,
) -> pb::SlaPolicy {
    for path in paths {
        match *path {
            "name" => current.name.clone_from(&p.name),
            "priority" => current.priority = p.priority,
            "first_response_target" => current.first_response_target = p.first_response_target,
            "resolution_target" => current.resolution_target = p.resolution_target,
            "warning_threshold_percent" => {
                current.warning_threshold_percent = p.warning_threshold_percent;
            }
            "calendar_id" => current.calendar_id.clone_from(&p.calendar_id),
            "active" => current.active = p.active,
            "pause_statuses" => current.pause_statuses.clone_from(&p.pause_statuses),
            "help_topic_id" => current.help_topic_id.clone_from(&p.help_topic_id),
            "workflow_id" => current.workflow_id.clone_from(&p.workflow_id),
            "department_code" => current.department_code.clone_from(&p.department_code),
            "escalation_levels" => current.escalation_levels.clone_from(&p.escalation_levels),
            _ => {}
        }
    }
    current
}

/// The policy `id`; NOT_FOUND when there is none.
async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<sla_policies::Model, TtsError> {
    sla_policies::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(TtsError::NotFound("sla policy"))
}

/// NOT_FOUND (reason CALENDAR_NOT_FOUND, metadata `field`) unless `id` is
/// empty or a calendar.
async fn ensure_calendar<C: ConnectionTrait>(
    conn: &C,
    field: &str,
    id: &str,
) -> Result<(), TtsError> {
    if id.is_empty()
        || sla_calendars::Entity::find_by_id(id.to_owned())
            .one(conn)
            .await?
            .is_some()
    {
        return Ok(());
    }
    Err(TtsError::from(ApiError::NotFoundReason(
        Reason::new(
            System::Tts,
            "CALENDAR_NOT_FOUND",
            format!("{field} names no calendar"),
        )
        .with_metadata("field", field),
    )))
}

/// FAILED_PRECONDITION when `fields` are active and another active policy
/// (not `except`) has their priority and scope.
async fn ensure_scope_free<C: ConnectionTrait>(
    conn: &C,
    fields: &Fields,
    except: Option<&str>,
) -> Result<(), TtsError> {
    if !fields.active {
        return Ok(());
    }
    use sla_policies::Column as P;
    let mut q = sla_policies::Entity::find()
        .filter(P::Active.eq(true))
        .filter(P::Priority.eq(fields.priority))
        .filter(P::HelpTopicId.eq(fields.help_topic_id.clone()))
        .filter(P::WorkflowId.eq(fields.workflow_id.clone()))
        .filter(P::DepartmentCode.eq(fields.department_code.clone()));
    if let Some(id) = except {
        q = q.filter(P::Id.ne(id.to_owned()));
    }
    match q.one(conn).await? {
        Some(other) => Err(TtsError::precondition(
            PRIORITY_HAS_ACTIVE_POLICY,
            format!(
                "the active policy {:?} has the same priority and scope; deactivate it first",
                other.name
            ),
        )),
        None => Ok(()),
    }
}

/// FAILED_PRECONDITION when `e` is the violation of the active scopes'
/// unique index: a concurrent write took the scope after the check.
fn scope_taken_or(e: sea_orm::DbErr) -> TtsError {
    if is_unique_violation(&e) {
        TtsError::precondition(
            PRIORITY_HAS_ACTIVE_POLICY,
            "another active policy with the same priority and scope was written at the same time; deactivate it first",
        )
    } else {
        TtsError::Db(e)
    }
}
