//! Tickets (`map.tts.v1.TicketService`): opened by agents (and, with the
//! help-desk flow, by the worker from `hdts.ticket.submitted`), worked
//! through the workflow revision they started on, with an append-only
//! history and `tts.ticket.*` events carrying the whole ticket and its
//! version, enqueued in the transaction of the change.
//!
//! A ticket is never stuck: with no matching workflow it opens in TRIAGE,
//! and with nobody holding the step's role it opens unassigned, with the
//! reason recorded. Assignees come from Auth's round-robin, asked before the
//! write transaction with the request id as the pick's key, so a retry gets
//! the same person. Concurrent changes of one ticket: exactly one wins (a
//! compare-and-set on the version); the loser gets ABORTED.

pub mod assign;
mod assignment;
pub mod attachments;
mod comment_list;
mod history;
pub mod intake;
mod list;
pub mod live;
pub mod model;
pub mod reassign;
pub mod search;
pub mod tags;
mod triggered;
pub mod update;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use map_contracts::{events::v1 as ev, tts::v1 as pb};
use map_kit::{
    System, Violations,
    authn::Principal,
    clock::Clock,
    counters::next_number,
    db::Db,
    directory,
    idempotency::Idempotent,
    outbox::{NewEvent, Outbox},
    paging::Pager,
    uploads::{UploadLimits, Uploads, attachments::encode},
    wire::{etag::check_etag, time::timestamp},
};
use prost::Message as _;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait,
    DatabaseTransaction, EntityTrait as _, QueryFilter as _,
};

use self::{
    assign::Assigner,
    model::{Status, status_of, to_proto},
};
use crate::{
    TtsError,
    entity::{comments, help_topics, ticket_events, tickets},
    sla::clocks::SlaClocks,
    workflows::{
        Workflows,
        definition::{Graph, StepStatus, Trigger},
        model::Revision,
    },
};

/// Longest subject.
pub const MAX_SUBJECT: usize = 200;
/// Longest description or comment.
pub const MAX_TEXT: usize = 20_000;

/// What CreateTicket opens.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    /// Short summary.
    pub subject: String,
    /// Full description.
    pub description: String,
    /// Who asked; empty for the caller.
    pub requester_user_id: String,
    /// Auth's department code.
    pub department_code: String,
    /// Category.
    pub category: String,
    /// Sub-category.
    pub sub_category: String,
    /// The wire priority.
    pub priority: i32,
    /// The HDTS ticket it serves, if any.
    pub hdts_ticket_id: String,
    /// The HDTS help topic it was submitted under, if any.
    pub help_topic_id: String,
    /// The HDTS ticket's version it was opened from (0 for agents' tickets).
    pub hdts_version: i64,
    /// The HDTS submission's files, by reference (HDTS holds them).
    pub attachments: Vec<ev::Attachment>,
    /// AMS asset tags of the assets it is about, as given.
    pub asset_tags: Vec<String>,
}

/// The tickets' domain.
#[derive(Debug, Clone)]
pub struct Tickets {
    db: Db,
    assigner: Arc<dyn Assigner>,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
    uploads: Uploads,
    sla: SlaClocks,
}

/// What a requester did to their help-desk ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequesterChange {
    /// Withdrew it.
    Withdrawn,
    /// Confirmed its resolution (or left it unanswered until HDTS closed
    /// it by itself).
    Closed,
    /// Reopened it.
    Reopened,
}

/// Where a new ticket goes: its workflow and first step, or triage.
#[derive(Debug, Clone)]
pub(crate) struct Route {
    revision: Option<(Revision, String)>,
    step_id: String,
    status: Status,
    assignee: String,
    triage_reason: String,
}

impl Tickets {
    /// Over `db`, assigning with `assigner`, minting page tokens with `pager`.
    /// Uploads are taken within the default limits.
    pub fn new(db: Db, assigner: Arc<dyn Assigner>, clock: Clock, pager: Pager) -> Tickets {
        Tickets {
            uploads: Uploads::new(
                System::Tts,
                db.clone(),
                clock.clone(),
                UploadLimits::default(),
            ),
            db,
            assigner,
            outbox: Outbox::new(System::Tts).with_clock(clock.clone()),
            sla: SlaClocks::new(clock.clone()),
            clock,
            pager,
        }
    }

    /// The same tickets, taking uploads within `limits`
    /// (`MAP_UPLOAD_MAX_BYTES`).
    pub fn with_upload_limits(mut self, limits: UploadLimits) -> Tickets {
        self.uploads = self.uploads.with_limits(limits);
        self
    }

    /// The files TTS holds: what UploadService receives and comments
    /// attach.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// The time of day, by the domain's clock.
    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    /// Its database, clock and page tokens, for the domains served beside
    /// it (canned responses).
    pub(crate) fn parts(&self) -> (Db, Clock, Pager) {
        (self.db.clone(), self.clock.clone(), self.pager.clone())
    }

    /// CreateTicket.
    pub async fn create(
        &self,
        actor: &Principal,
        key: &Idempotent,
        request_id: &str,
        t: NewTicket,
    ) -> Result<pb::CreateTicketResponse, TtsError> {
        let priority = model::priority_from_proto(t.priority);
        let mut v = Violations::default();
        v.text("subject", &t.subject, MAX_SUBJECT)
            .optional_text("description", &t.description, MAX_TEXT)
            .text("department_code", &t.department_code, 32)
            .text("category", &t.category, 100)
            .optional_text("sub_category", &t.sub_category, 100);
        if priority.is_none() {
            v.add("priority", "is required (LOW, MEDIUM, HIGH or URGENT)");
        }
        if !t.requester_user_id.is_empty() {
            v.uuid("requester_user_id", &t.requester_user_id);
        }
        if !t.hdts_ticket_id.is_empty() {
            v.uuid("hdts_ticket_id", &t.hdts_ticket_id);
        }
        map_kit::asset_tags::check(&mut v, "asset_tags", &t.asset_tags);
        v.finish()?;
        // Answered before: no second pick from Auth.
        if let Some(first) = key.replay(self.db.conn()).await? {
            return Ok(first);
        }
        let route = self.route(&t, request_id).await?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        if !directory::read::department_is_active(&txn, &t.department_code).await? {
            return Err(TtsError::NotFound("department"));
        }
        if !t.hdts_ticket_id.is_empty()
            && tickets::Entity::find()
                .filter(tickets::Column::HdtsTicketId.eq(t.hdts_ticket_id.clone()))
                .one(&txn)
                .await?
                .is_some()
        {
            return Err(TtsError::AlreadyExists {
                reason: "HDTS_TICKET_HAS_TICKET",
                message: "a ticket for this help-desk ticket exists".into(),
            });
        }
        let now = self.clock.now();
        let requester = if t.requester_user_id.is_empty() {
            actor.id.clone()
        } else {
            t.requester_user_id.clone()
        };
        let row = self
            .insert(&txn, &actor.id, &requester, t, &route, now)
            .await?;
        let graph = route.revision.as_ref().map(|(r, _)| &r.definition.graph);
        let response = pb::CreateTicketResponse {
            ticket: Some(to_proto(&row, graph)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// Writes a new ticket routed by `route`, its history and its
    /// `tts.ticket.created`, in `txn` (CreateTicket and the intake of
    /// help-desk submissions). `actor` is empty when the system opens it.
    pub(crate) async fn insert(
        &self,
        txn: &DatabaseTransaction,
        actor: &str,
        requester: &str,
        t: NewTicket,
        route: &Route,
        now: DateTime<Utc>,
    ) -> Result<tickets::Model, TtsError> {
        let number = next_number(txn, "TT").await?;
        let (workflow_id, workflow_revision, workflow_match) = match &route.revision {
            Some((r, rule)) => (r.workflow_id.clone(), r.revision, rule.clone()),
            None => (String::new(), 0, String::new()),
        };
        let row = tickets::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            number: Set(number.to_string()),
            hdts_ticket_id: Set((!t.hdts_ticket_id.is_empty()).then(|| t.hdts_ticket_id.clone())),
            subject: Set(t.subject.trim().to_owned()),
            description: Set(t.description),
            requester_user_id: Set(requester.to_owned()),
            department_code: Set(t.department_code),
            category: Set(t.category),
            sub_category: Set(t.sub_category),
            priority: Set(model::priority_from_proto(t.priority)
                .unwrap_or("medium")
                .to_owned()),
            status: Set(route.status.as_str().to_owned()),
            step_id: Set(route.step_id.clone()),
            assignee_user_id: Set(route.assignee.clone()),
            workflow_id: Set(workflow_id.clone()),
            workflow_revision: Set(workflow_revision),
            workflow_match: Set(workflow_match),
            triage_reason: Set(route.triage_reason.clone()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            resolved_at: Set(None),
            closed_at: Set(None),
            help_topic_id: Set(t.help_topic_id),
            requester_version: Set(t.hdts_version),
            attachments: Set(encode(&t.attachments)),
            tags: Set(String::new()),
            asset_tags: Set(map_kit::asset_tags::stored(&t.asset_tags)),
            sla_policy_id: Set(String::new()),
            sla_due_at: Set(None),
            sla_breached: Set(false),
            first_response_at: Set(None),
        }
        .insert(txn)
        .await?;
        let row = self.sla.follow(txn, row, now).await?;
        tags::write_asset_tags(txn, &row.id, &t.asset_tags).await?;
        let details = pb::ticket_event::Details::Created(pb::TicketCreatedDetails {
            priority: row_priority(&row),
            workflow_id,
            workflow_revision,
            step_id: route.step_id.clone(),
            hdts_ticket_id: row.hdts_ticket_id.clone().unwrap_or_default(),
        });
        self.history(txn, &row, actor, now, pb::TicketEventType::Created, details)
            .await?;
        if !route.assignee.is_empty() {
            let details = pb::ticket_event::Details::Assigned(pb::TicketAssignedDetails {
                previous_assignee_user_id: String::new(),
                assignee_user_id: route.assignee.clone(),
                reason: pb::AssignmentReason::RoundRobin.into(),
                note: String::new(),
            });
            self.history(
                txn,
                &row,
                actor,
                now,
                pb::TicketEventType::Assigned,
                details,
            )
            .await?;
        }
        let payload = ev::TtsTicketCreated {
            ticket: Some(model::snapshot(
                &row,
                route.revision.as_ref().map(|(r, _)| r),
            )),
            actor: (!actor.is_empty()).then(|| user_ref(actor)),
        };
        self.enqueue(txn, "tts.ticket.created", &row, &payload)
            .await?;
        tracing::info!(ticket = %row.number, status = row.status, "ticket opened");
        Ok(row)
    }

    /// The workflow, first step and assignee of a new ticket.
    pub(crate) async fn route(&self, t: &NewTicket, pick_key: &str) -> Result<Route, TtsError> {
        let (department, category, sub_category) =
            (&t.department_code, &t.category, &t.sub_category);
        let Some((revision, rule)) =
            Workflows::select(self.db.conn(), department, category, sub_category).await?
        else {
            // Name the topic the employee chose, when TTS knows it: that is
            // what a manager sorting the triage queue recognises.
            let topic = match t.help_topic_id.as_str() {
                "" => None,
                id => help_topics::Entity::find_by_id(id.to_owned())
                    .one(self.db.conn())
                    .await?
                    .map(|topic| format!("help topic {:?}: ", topic.name)),
            };
            return Ok(Route {
                revision: None,
                step_id: String::new(),
                status: Status::Triage,
                assignee: String::new(),
                triage_reason: format!(
                    "{}no published workflow matches department {department:?}, category \
                     {category:?}, sub-category {sub_category:?}, and there is no default workflow",
                    topic.unwrap_or_default()
                ),
            });
        };
        let graph = &revision.definition.graph;
        let step = graph
            .step(&graph.initial_step_id)
            .ok_or(TtsError::NotFound("workflow step"))?;
        let assignee = self.assigner.next(&step.role, pick_key).await?;
        let triage_reason = match &assignee {
            Some(_) => String::new(),
            None => format!(
                "nobody active holds {}, the role of step {:?}",
                step.role, step.id
            ),
        };
        Ok(Route {
            step_id: step.id.clone(),
            status: Status::Step(step.status.unwrap_or(StepStatus::Open)),
            assignee: assignee.unwrap_or_default(),
            triage_reason,
            revision: Some((revision.clone(), rule_name(rule))),
        })
    }

    /// GetTicket, by id or number.
    pub async fn get(&self, id: &str, number: &str) -> Result<pb::Ticket, TtsError> {
        let row = match (id.is_empty(), number.is_empty()) {
            (false, _) => {
                let mut v = Violations::default();
                v.uuid("id", id);
                v.finish()?;
                find(self.db.conn(), id).await?
            }
            (true, false) => tickets::Entity::find()
                .filter(tickets::Column::Number.eq(number.to_owned()))
                .one(self.db.conn())
                .await?
                .ok_or(TtsError::NotFound("ticket"))?,
            (true, true) => return Err(TtsError::invalid("lookup", "give id or number")),
        };
        let revision = revision_of(self.db.conn(), &row).await?;
        let mut ticket = to_proto(&row, revision.as_ref().map(|r| &r.definition.graph));
        ticket.sla = crate::sla::view::detail(self.db.conn(), &row, self.clock.now()).await?;
        Ok(ticket)
    }

    /// TransitionTicket: along the manual transition `action` leaving the
    /// current step; only its assignee or a manager (or admin) may.
    pub async fn transition(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: pb::TransitionTicketRequest,
    ) -> Result<pb::TransitionTicketResponse, TtsError> {
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id)
            .text("action", &r.action, 64);
        v.optional_text("comment", &r.comment, MAX_TEXT);
        v.finish()?;
        if let Some(first) = key.replay(self.db.conn()).await? {
            return Ok(first);
        }
        let row = find(self.db.conn(), &r.ticket_id).await?;
        if !r.etag.is_empty() {
            check_etag(System::Tts, "etag", &r.etag, row.version)?;
        }
        let manager =
            actor.has_role(System::Tts, "manager") || actor.has_role(System::Tts, "admin");
        if !manager && row.assignee_user_id != actor.id {
            return Err(TtsError::PermissionDenied {
                reason: "NOT_ASSIGNEE",
                message: "only the ticket's assignee or a tts manager may move it".into(),
            });
        }
        let revision = revision_of(self.db.conn(), &row)
            .await?
            .ok_or_else(|| invalid_transition(&row, None))?;
        let graph = &revision.definition.graph;
        let Some(t) = graph.transitions.iter().find(|t| {
            t.from == row.step_id && t.action == r.action && t.trigger == Trigger::Manual
        }) else {
            return Err(invalid_transition(&row, Some(graph)));
        };
        if t.requires_comment && r.comment.trim().is_empty() {
            return Err(TtsError::invalid(
                "comment",
                format!("the transition {:?} needs a comment", t.action),
            ));
        }
        let visibility = match pb::CommentVisibility::try_from(r.comment_visibility) {
            Ok(pb::CommentVisibility::Public) => "public",
            Ok(pb::CommentVisibility::Internal) => "internal",
            _ if r.comment.trim().is_empty() => "internal",
            _ => {
                return Err(TtsError::invalid(
                    "comment_visibility",
                    "is required with a comment (PUBLIC or INTERNAL)",
                ));
            }
        };
        let target = graph
            .step(&t.to)
            .ok_or(TtsError::NotFound("workflow step"))?;
        // The assignee stays if they hold the target step's role; otherwise
        // the next holder takes it (asked before the write, keyed by request).
        let keeps = directory::read::user(self.db.conn(), &row.assignee_user_id)
            .await?
            .is_some_and(|u| {
                let (system, role) = target.role.split_once(':').unwrap_or(("tts", &target.role));
                u.active && u.holds(system, role)
            });
        let assignee = if keeps {
            row.assignee_user_id.clone()
        } else {
            self.assigner
                .next(&target.role, &r.request_id)
                .await?
                .unwrap_or_default()
        };
        let from_status = status_of(&row);
        let to_status = Status::Step(target.status.unwrap_or(StepStatus::InProgress));
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let mut update = tickets::ActiveModel {
            status: Set(to_status.as_str().to_owned()),
            step_id: Set(target.id.clone()),
            assignee_user_id: Set(assignee.clone()),
            triage_reason: Set(if assignee.is_empty() {
                format!(
                    "nobody active holds {}, the role of step {:?}",
                    target.role, target.id
                )
            } else {
                String::new()
            }),
            updated_at: Set(now),
            ..Default::default()
        };
        match to_status {
            Status::Step(StepStatus::Resolved) => update.resolved_at = Set(Some(now)),
            Status::Step(StepStatus::Closed) => update.closed_at = Set(Some(now)),
            _ => {}
        }
        // An agent's transition is a response (SLA).
        if row.first_response_at.is_none() {
            update.first_response_at = Set(Some(now));
        }
        let after = self.save(&txn, &row, update).await?;
        let comment = if r.comment.trim().is_empty() {
            None
        } else {
            Some(
                self.comment(&txn, &after, &actor.id, &r.comment, visibility, now)
                    .await?,
            )
        };
        let comment_id = comment.as_ref().map(|c| c.id.clone()).unwrap_or_default();
        let details = pb::ticket_event::Details::Transitioned(pb::TicketTransitionedDetails {
            action: t.action.clone(),
            from_step_id: row.step_id.clone(),
            to_step_id: target.id.clone(),
            from_status: from_status.to_proto().into(),
            to_status: to_status.to_proto().into(),
            comment_id,
        });
        self.history(
            &txn,
            &after,
            &actor.id,
            now,
            pb::TicketEventType::Transitioned,
            details,
        )
        .await?;
        let snapshot = model::snapshot(&after, Some(&revision));
        let payload = ev::TtsTicketStatusChanged {
            ticket: Some(snapshot),
            old_status: model::snapshot(&row, Some(&revision)).status,
            previous_step: model::snapshot(&row, Some(&revision)).step,
            transition: t.name.clone(),
            actor: Some(user_ref(&actor.id)),
            change_time: Some(timestamp(now)),
        };
        self.enqueue(&txn, "tts.ticket.status_changed", &after, &payload)
            .await?;
        // The note reaches the requester (a public one) as any comment does.
        if let Some(c) = &comment {
            let payload = ev::TtsTicketCommented {
                ticket: Some(model::snapshot(&after, Some(&revision))),
                comment_id: c.id.clone(),
                author: Some(user_ref(&actor.id)),
                body: c.body.clone(),
                public: c.visibility == "public",
                attachments: Vec::new(),
                hdts_reply_id: String::new(),
                create_time: Some(timestamp(now)),
            };
            self.enqueue(&txn, "tts.ticket.commented", &after, &payload)
                .await?;
        }
        let response = pb::TransitionTicketResponse {
            ticket: Some(to_proto(&after, Some(graph))),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(ticket = %after.number, action = %t.action, "ticket moved");
        Ok(response)
    }

    /// AddComment.
    pub async fn add_comment(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: pb::AddCommentRequest,
    ) -> Result<pb::AddCommentResponse, TtsError> {
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id)
            .text("body", &r.body, MAX_TEXT);
        for wrong in self.uploads.check_refs("attachments", &r.attachments) {
            v.add(wrong.field, wrong.description);
        }
        let visibility = match pb::CommentVisibility::try_from(r.visibility) {
            Ok(pb::CommentVisibility::Public) => "public",
            Ok(pb::CommentVisibility::Internal) => "internal",
            _ => {
                v.add("visibility", "is required (PUBLIC or INTERNAL)");
                ""
            }
        };
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let row = find(&txn, &r.ticket_id).await?;
        let now = self.clock.now();
        let mut update = tickets::ActiveModel {
            updated_at: Set(now),
            ..Default::default()
        };
        // An agent's first public word is the first response (SLA).
        if visibility == "public"
            && actor.id != row.requester_user_id
            && row.first_response_at.is_none()
        {
            update.first_response_at = Set(Some(now));
        }
        let after = self.save(&txn, &row, update).await?;
        // The caller's uploads, attached in this transaction: a refusal
        // attaches nothing.
        let id = uuid::Uuid::now_v7().to_string();
        let files = self
            .uploads
            .attach(
                &txn,
                &actor.id,
                "attachments",
                &r.attachments,
                &attachments::comment_owner(&id),
            )
            .await?;
        let comment = self
            .comment_with(
                &txn,
                &after,
                (id, &actor.id),
                &r.body,
                visibility,
                now,
                &files,
            )
            .await?;
        let wire = comment_to_proto(&comment);
        let details = pb::ticket_event::Details::Commented(pb::TicketCommentedDetails {
            comment: Some(wire.clone()),
        });
        self.history(
            &txn,
            &after,
            &actor.id,
            now,
            pb::TicketEventType::Commented,
            details,
        )
        .await?;
        let revision = revision_of(&txn, &after).await?;
        let graph = revision.as_ref().map(|r| &r.definition.graph);
        let payload = ev::TtsTicketCommented {
            ticket: Some(model::snapshot(&after, revision.as_ref())),
            comment_id: comment.id.clone(),
            author: Some(user_ref(&actor.id)),
            body: comment.body.clone(),
            public: visibility == "public",
            attachments: files,
            hdts_reply_id: String::new(),
            create_time: Some(timestamp(now)),
        };
        self.enqueue(&txn, "tts.ticket.commented", &after, &payload)
            .await?;
        let response = pb::AddCommentResponse {
            comment: Some(wire),
            ticket: Some(to_proto(&after, graph)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// A help-desk reply (`hdts.ticket.replied`) on the ticket of HDTS ticket
    /// `hdts_ticket_id`: a comment carrying the reply's id (applied once,
    /// whatever the ticket's version), and, from the requester, the current
    /// step's REQUESTER_REPLIED transition when it has one (the assignee
    /// stays). `Ok(false)` when the ticket is not here yet.
    pub(crate) async fn apply_reply(
        &self,
        txn: &DatabaseTransaction,
        r: &ev::HdtsTicketReplied,
        hdts_ticket_id: &str,
    ) -> Result<bool, TtsError> {
        let Some(row) = tickets::Entity::find()
            .filter(tickets::Column::HdtsTicketId.eq(hdts_ticket_id.to_owned()))
            .one(txn)
            .await?
        else {
            return Ok(false);
        };
        let known = comments::Entity::find()
            .filter(comments::Column::HdtsReplyId.eq(r.reply_id.clone()))
            .one(txn)
            .await?
            .is_some();
        if known {
            return Ok(true);
        }
        let revision = revision_of(txn, &row).await?;
        let graph = revision.as_ref().map(|rev| &rev.definition.graph);
        let moved = graph
            .filter(|_| r.from_requester)
            .and_then(|g| g.triggered(&row.step_id, Trigger::RequesterReplied))
            .and_then(|t| Some((t, graph?.step(&t.to)?)));
        let now = self.clock.now();
        let mut update = tickets::ActiveModel {
            updated_at: Set(now),
            ..Default::default()
        };
        if let Some((_, to)) = moved {
            update.step_id = Set(to.id.clone());
            update.status = Set(Status::Step(to.status.unwrap_or(StepStatus::InProgress))
                .as_str()
                .to_owned());
        }
        let after = self.save(txn, &row, update).await?;
        let author = r
            .author
            .as_ref()
            .map(|a| a.user_id.clone())
            .unwrap_or_default();
        let visibility = if r.public { "public" } else { "internal" };
        let comment = comments::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            ticket_id: Set(after.id.clone()),
            author_user_id: Set(author.clone()),
            body: Set(r.body.clone()),
            visibility: Set(visibility.to_owned()),
            hdts_reply_id: Set(Some(r.reply_id.clone())),
            created_at: Set(now),
            // HDTS's files, by reference: HDTS holds and serves them.
            attachments: Set(encode(&r.attachments)),
        }
        .insert(txn)
        .await?;
        let wire = comment_to_proto(&comment);
        let details = pb::ticket_event::Details::Commented(pb::TicketCommentedDetails {
            comment: Some(wire),
        });
        self.history(
            txn,
            &after,
            &author,
            now,
            pb::TicketEventType::Commented,
            details,
        )
        .await?;
        if let Some((t, to)) = moved {
            let details = pb::ticket_event::Details::Transitioned(pb::TicketTransitionedDetails {
                action: t.action.clone(),
                from_step_id: row.step_id.clone(),
                to_step_id: to.id.clone(),
                from_status: status_of(&row).to_proto().into(),
                to_status: status_of(&after).to_proto().into(),
                comment_id: comment.id.clone(),
            });
            self.history(
                txn,
                &after,
                &author,
                now,
                pb::TicketEventType::Transitioned,
                details,
            )
            .await?;
            let before = model::snapshot(&row, revision.as_ref());
            let payload = ev::TtsTicketStatusChanged {
                ticket: Some(model::snapshot(&after, revision.as_ref())),
                old_status: before.status,
                previous_step: before.step,
                transition: t.name.clone(),
                actor: Some(user_ref(&author)),
                change_time: Some(timestamp(now)),
            };
            self.enqueue(txn, "tts.ticket.status_changed", &after, &payload)
                .await?;
        }
        let payload = ev::TtsTicketCommented {
            ticket: Some(model::snapshot(&after, revision.as_ref())),
            comment_id: comment.id.clone(),
            author: Some(user_ref(&author)),
            body: comment.body.clone(),
            public: r.public,
            attachments: r.attachments.clone(),
            hdts_reply_id: r.reply_id.clone(),
            create_time: Some(timestamp(now)),
        };
        self.enqueue(txn, "tts.ticket.commented", &after, &payload)
            .await?;
        Ok(true)
    }

    /// What the requester did in HDTS (`hdts.ticket.withdrawn`, `.closed`,
    /// `.reopened`) applied to the ticket of HDTS ticket `hdts_ticket_id`:
    /// withdrawn → CANCELLED (out of the workflow), closed → CLOSED (at its
    /// step), reopened → along the step's REOPENED transition, or back to the
    /// workflow's first step when it has none. `Ok(false)` when the ticket is
    /// not here yet.
    pub(crate) async fn apply_requester(
        &self,
        txn: &DatabaseTransaction,
        change: RequesterChange,
        hdts_ticket_id: &str,
        hdts_version: i64,
        reason: &str,
    ) -> Result<bool, TtsError> {
        let Some(row) = tickets::Entity::find()
            .filter(tickets::Column::HdtsTicketId.eq(hdts_ticket_id.to_owned()))
            .one(txn)
            .await?
        else {
            return Ok(false);
        };
        // The requester's instructions carry the whole wish (withdrawn,
        // closed, reopened) and the HDTS version it was made at: one older
        // than the last applied arrived late and is already overtaken.
        if hdts_version <= row.requester_version {
            tracing::info!(
                ticket = %row.number,
                hdts_version,
                applied = row.requester_version,
                ?change,
                "an older requester instruction arrived late: ignored"
            );
            return Ok(true);
        }
        let revision = revision_of(txn, &row).await?;
        let graph = revision.as_ref().map(|r| &r.definition.graph);
        let before = status_of(&row);
        let (status, step) = match change {
            RequesterChange::Withdrawn => (Status::Cancelled, String::new()),
            RequesterChange::Closed => (Status::Step(StepStatus::Closed), row.step_id.clone()),
            RequesterChange::Reopened => {
                let to = graph.and_then(|g| triggered::target(g, &row.step_id, Trigger::Reopened));
                match to {
                    Some(s) => (
                        Status::Step(s.status.unwrap_or(StepStatus::InProgress)),
                        s.id.clone(),
                    ),
                    None => (Status::Triage, String::new()),
                }
            }
        };
        if before == status && row.step_id == step {
            // Already so: nothing to show, but the instruction counts, so an
            // older one arriving later is still recognised as older.
            tickets::Entity::update_many()
                .col_expr(
                    tickets::Column::RequesterVersion,
                    sea_orm::sea_query::Expr::value(hdts_version),
                )
                .filter(tickets::Column::Id.eq(row.id.clone()))
                .exec(txn)
                .await?;
            return Ok(true);
        }
        let now = self.clock.now();
        let mut update = tickets::ActiveModel {
            status: Set(status.as_str().to_owned()),
            step_id: Set(step.clone()),
            updated_at: Set(now),
            requester_version: Set(hdts_version),
            ..Default::default()
        };
        match status {
            Status::Cancelled | Status::Step(StepStatus::Closed) => {
                update.closed_at = Set(Some(now))
            }
            _ => update.closed_at = Set(None),
        }
        let after = self.save(txn, &row, update).await?;
        let details = pb::ticket_event::Details::StatusChanged(pb::TicketStatusChangedDetails {
            from_status: before.to_proto().into(),
            to_status: status.to_proto().into(),
            from_step_id: row.step_id.clone(),
            to_step_id: step,
            reason: reason.to_owned(),
        });
        self.history(
            txn,
            &after,
            "",
            now,
            pb::TicketEventType::StatusChanged,
            details,
        )
        .await?;
        let old = model::snapshot(&row, revision.as_ref());
        let payload = ev::TtsTicketStatusChanged {
            ticket: Some(model::snapshot(&after, revision.as_ref())),
            old_status: old.status,
            previous_step: old.step,
            transition: String::new(),
            actor: None,
            change_time: Some(timestamp(now)),
        };
        self.enqueue(txn, "tts.ticket.status_changed", &after, &payload)
            .await?;
        Ok(true)
    }

    /// Records the rating an `hdts.ticket.rated` snapshot carries, unless a
    /// newer one is held. `Ok(false)` when the ticket is not here yet.
    pub(crate) async fn record_rating(
        &self,
        txn: &DatabaseTransaction,
        snapshot: &ev::HdtsTicketSnapshot,
    ) -> Result<bool, TtsError> {
        let Some(row) = tickets::Entity::find()
            .filter(tickets::Column::HdtsTicketId.eq(snapshot.id.clone()))
            .one(txn)
            .await?
        else {
            return Ok(false);
        };
        let Some(rating) = snapshot.rating.as_ref() else {
            return Ok(true);
        };
        let held = crate::entity::ticket_ratings::Entity::find_by_id(row.id.clone())
            .one(txn)
            .await?;
        if held
            .as_ref()
            .is_some_and(|h| h.hdts_version >= snapshot.version)
        {
            return Ok(true);
        }
        let at = rating
            .rate_time
            .as_ref()
            .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
            .unwrap_or_else(|| self.clock.now());
        let model = crate::entity::ticket_ratings::ActiveModel {
            ticket_id: Set(row.id.clone()),
            score: Set(rating.score),
            comment: Set(rating.comment.clone()),
            rated_at: Set(at),
            hdts_version: Set(snapshot.version),
        };
        if held.is_some() {
            model.update(txn).await?;
        } else {
            model.insert(txn).await?;
        }
        tracing::info!(ticket = %row.number, score = rating.score, "rating recorded");
        Ok(true)
    }

    async fn comment(
        &self,
        txn: &DatabaseTransaction,
        ticket: &tickets::Model,
        author: &str,
        body: &str,
        visibility: &str,
        now: DateTime<Utc>,
    ) -> Result<comments::Model, TtsError> {
        let id = uuid::Uuid::now_v7().to_string();
        self.comment_with(txn, ticket, (id, author), body, visibility, now, &[])
            .await
    }

    /// A comment of id and author `by`, with the files attached to it.
    #[allow(clippy::too_many_arguments)] // one row's fields, named at the call
    async fn comment_with(
        &self,
        txn: &DatabaseTransaction,
        ticket: &tickets::Model,
        (id, author): (String, &str),
        body: &str,
        visibility: &str,
        now: DateTime<Utc>,
        files: &[ev::Attachment],
    ) -> Result<comments::Model, TtsError> {
        Ok(comments::ActiveModel {
            id: Set(id),
            ticket_id: Set(ticket.id.clone()),
            author_user_id: Set(author.to_owned()),
            body: Set(body.to_owned()),
            visibility: Set(visibility.to_owned()),
            hdts_reply_id: Set(None),
            created_at: Set(now),
            attachments: Set(encode(files)),
        }
        .insert(txn)
        .await?)
    }

    /// The next holder of `role` for the pick `key` (Auth's round-robin);
    /// `None` when nobody active holds it.
    pub(crate) async fn next_holder(
        &self,
        role: &str,
        key: &str,
    ) -> Result<Option<String>, TtsError> {
        Ok(self.assigner.next(role, key).await?)
    }

    /// Writes `update` over `row` ([`save_row`]: the next version, ABORTED
    /// for a concurrent change) and keeps the ticket's SLA clocks in line
    /// with the change; the ticket as it is now.
    async fn save(
        &self,
        txn: &DatabaseTransaction,
        row: &tickets::Model,
        update: tickets::ActiveModel,
    ) -> Result<tickets::Model, TtsError> {
        let after = save_row(txn, row, update).await?;
        if SlaClocks::concerns(row, &after) {
            return self.sla.follow(txn, after, self.clock.now()).await;
        }
        Ok(after)
    }

    async fn history(
        &self,
        txn: &DatabaseTransaction,
        ticket: &tickets::Model,
        actor: &str,
        now: DateTime<Utc>,
        kind: pb::TicketEventType,
        details: pb::ticket_event::Details,
    ) -> Result<(), TtsError> {
        write_history(txn, ticket, actor, now, kind, details).await
    }

    async fn enqueue(
        &self,
        txn: &DatabaseTransaction,
        event_type: &'static str,
        ticket: &tickets::Model,
        payload: &impl prost::Name,
    ) -> Result<(), TtsError> {
        enqueue_event(&self.outbox, txn, event_type, ticket, payload).await
    }
}

/// Appends an entry to `ticket`'s history, at its current version.
pub(crate) async fn write_history(
    txn: &DatabaseTransaction,
    ticket: &tickets::Model,
    actor: &str,
    now: DateTime<Utc>,
    kind: pb::TicketEventType,
    details: pb::ticket_event::Details,
) -> Result<(), TtsError> {
    let id = uuid::Uuid::now_v7().to_string();
    let event = pb::TicketEvent {
        id: id.clone(),
        ticket_id: ticket.id.clone(),
        r#type: kind.into(),
        actor_user_id: actor.to_owned(),
        time: Some(timestamp(now)),
        ticket_version: ticket.version,
        details: Some(details),
    };
    ticket_events::ActiveModel {
        id: Set(id),
        ticket_id: Set(ticket.id.clone()),
        kind: Set(history::stored_kind(kind)),
        actor_user_id: Set(actor.to_owned()),
        occurred_at: Set(now),
        ticket_version: Set(ticket.version),
        event: Set(event.encode_to_vec()),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Enqueues `payload` as an `event_type` event about `ticket`, at its
/// current version.
pub(crate) async fn enqueue_event(
    outbox: &Outbox,
    txn: &DatabaseTransaction,
    event_type: &'static str,
    ticket: &tickets::Model,
    payload: &impl prost::Name,
) -> Result<(), TtsError> {
    outbox
        .enqueue(
            txn,
            NewEvent::new(event_type, ticket.id.clone(), ticket.version, payload),
        )
        .await
        .map_err(|e| TtsError::from(map_kit::ApiError::from(e)))?;
    Ok(())
}

fn rule_name(rule: crate::workflows::MatchRule) -> String {
    use crate::workflows::MatchRule as M;
    match rule {
        M::SubCategory => "sub_category",
        M::Category => "category",
        M::CategoryAnyDepartment => "category_any_department",
        M::Default => "default",
    }
    .to_owned()
}

fn row_priority(row: &tickets::Model) -> i32 {
    to_proto(row, None).priority
}

fn user_ref(id: &str) -> ev::UserRef {
    ev::UserRef {
        user_id: id.to_owned(),
        ..Default::default()
    }
}

fn comment_to_proto(c: &comments::Model) -> pb::Comment {
    pb::Comment {
        id: c.id.clone(),
        ticket_id: c.ticket_id.clone(),
        author_user_id: c.author_user_id.clone(),
        body: c.body.clone(),
        visibility: if c.visibility == "public" {
            pb::CommentVisibility::Public
        } else {
            pb::CommentVisibility::Internal
        }
        .into(),
        hdts_reply_id: c.hdts_reply_id.clone().unwrap_or_default(),
        create_time: Some(timestamp(c.created_at)),
        attachments: attachments::to_proto(c.attachments.as_deref()),
    }
}

/// FAILED_PRECONDITION naming the actions allowed from the current step.
fn invalid_transition(row: &tickets::Model, graph: Option<&Graph>) -> TtsError {
    let allowed: Vec<&str> = graph
        .map(|g| {
            g.transitions
                .iter()
                .filter(|t| t.from == row.step_id && t.trigger == Trigger::Manual)
                .map(|t| t.action.as_str())
                .collect()
        })
        .unwrap_or_default();
    let message = if allowed.is_empty() {
        format!("ticket {} has no transition it can take now", row.number)
    } else {
        format!(
            "ticket {} is at step {:?}; allowed actions: {}",
            row.number,
            row.step_id,
            allowed.join(", ")
        )
    };
    TtsError::precondition("INVALID_TRANSITION", message)
}

/// Writes `update` over `row` with the next version, only if nobody changed
/// the ticket since `row` was read (ABORTED otherwise: exactly one of two
/// concurrent changes wins), and returns the ticket as it is now.
async fn save_row(
    txn: &DatabaseTransaction,
    row: &tickets::Model,
    mut update: tickets::ActiveModel,
) -> Result<tickets::Model, TtsError> {
    update.version = Set(row.version + 1);
    let changed = tickets::Entity::update_many()
        .set(update)
        .filter(tickets::Column::Id.eq(row.id.clone()))
        .filter(tickets::Column::Version.eq(row.version))
        .exec(txn)
        .await?;
    if changed.rows_affected != 1 {
        return Err(TtsError::EtagMismatch);
    }
    find(txn, &row.id).await
}

async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<tickets::Model, TtsError> {
    tickets::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(TtsError::NotFound("ticket"))
}

/// The workflow revision a ticket follows; `None` in triage.
async fn revision_of<C: ConnectionTrait>(
    conn: &C,
    row: &tickets::Model,
) -> Result<Option<Revision>, TtsError> {
    if row.workflow_id.is_empty() {
        return Ok(None);
    }
    Workflows::read_revision(conn, &row.workflow_id, row.workflow_revision)
        .await
        .map(Some)
}
