//! Help-desk tickets: what employees submit (under a help topic, which
//! routes it) and see. A submission is stored and `hdts.ticket.submitted`
//! enqueued in one transaction — TTS opens its ticket from it — and the
//! ticket's TTS side (its number, assignee, status) is mirrored back from
//! `tts.ticket.*` snapshots by [`mirror`]. Employees see only their own
//! tickets (another's is NOT_FOUND); agents see all. A submission may name
//! the AMS assets it is about by their asset tags, kept as given until AMS
//! runs and carried to TTS in the submission's snapshot. A ticket left
//! resolved closes by itself after a while ([`auto_close`]).

pub mod attachments;
pub mod auto_close;
pub mod lifecycle;
mod list;
pub mod mirror;
pub mod rating;
pub mod replies;

use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use map_kit::{
    System, Violations, asset_tags,
    authn::Principal,
    clock::Clock,
    counters::next_number,
    db::Db,
    directory,
    idempotency::Idempotent,
    outbox::{NewEvent, Outbox},
    paging::Pager,
    uploads::{UploadLimits, Uploads},
    wire::{etag::etag, time::timestamp},
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _,
};

use self::auto_close::AutoClose;
use crate::{HdtsError, entity::tickets, topics::Topics};

/// Longest subject.
pub const MAX_SUBJECT: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 20_000;

/// The help-desk tickets' domain.
#[derive(Debug, Clone)]
pub struct HelpDesk {
    db: Db,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
    uploads: Uploads,
    auto_close: AutoClose,
}

/// Whether `p` works the help desk (sees every ticket).
pub fn is_agent(p: &Principal) -> bool {
    p.has_role(System::Hdts, "agent")
}

impl HelpDesk {
    /// Over `db`, taking uploads within the default limits.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> HelpDesk {
        HelpDesk {
            uploads: Uploads::new(
                System::Hdts,
                db.clone(),
                clock.clone(),
                UploadLimits::default(),
            ),
            db,
            outbox: Outbox::new(System::Hdts).with_clock(clock.clone()),
            auto_close: AutoClose::new(Some(auto_close::DEFAULT_AFTER), clock.clone()),
            clock,
            pager,
        }
    }

    /// The same help desk, resolved tickets closing by themselves `after`
    /// their resolution, or never (`None`) (`MAP_HDTS_AUTO_CLOSE_AFTER`).
    pub fn with_auto_close(mut self, after: Option<std::time::Duration>) -> HelpDesk {
        self.auto_close = AutoClose::new(after, self.clock.clone());
        self
    }

    /// The same help desk, taking uploads within `limits`
    /// (`MAP_UPLOAD_MAX_BYTES`).
    pub fn with_upload_limits(mut self, limits: UploadLimits) -> HelpDesk {
        self.uploads = self.uploads.with_limits(limits);
        self
    }

    /// The files HDTS holds: what UploadService receives and tickets and
    /// replies attach.
    pub fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// SubmitTicket.
    pub async fn submit(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: pb::SubmitTicketRequest,
    ) -> Result<pb::SubmitTicketResponse, HdtsError> {
        let mut v = Violations::default();
        v.text("subject", &r.subject, MAX_SUBJECT).text(
            "description",
            &r.description,
            MAX_DESCRIPTION,
        );
        let routed_by_topic = !r.help_topic_id.is_empty();
        if routed_by_topic {
            for (field, value) in [
                ("department_code", &r.department_code),
                ("category", &r.category),
                ("sub_category", &r.sub_category),
            ] {
                v.check(
                    value.is_empty(),
                    field,
                    "must be empty with a help_topic_id (the topic routes the ticket)",
                );
            }
        } else {
            v.text("category", &r.category, 100)
                .text("sub_category", &r.sub_category, 100);
        }
        let priority = match pb::TicketPriority::try_from(r.priority) {
            Ok(pb::TicketPriority::Low) => "low",
            Ok(pb::TicketPriority::Unspecified | pb::TicketPriority::Medium) => "medium",
            Ok(pb::TicketPriority::High) => "high",
            Ok(pb::TicketPriority::Urgent) => "urgent",
            Err(_) => {
                v.add("priority", "is not a priority");
                "medium"
            }
        };
        for wrong in self.uploads.check_refs("attachments", &r.attachments) {
            v.add(wrong.field, wrong.description);
        }
        if !r.requester_user_id.is_empty() {
            v.uuid("requester_user_id", &r.requester_user_id);
        }
        asset_tags::check(&mut v, "asset_tags", &r.asset_tags);
        v.finish()?;
        if !r.requester_user_id.is_empty() && r.requester_user_id != actor.id && !is_agent(actor) {
            return Err(HdtsError::PermissionDenied {
                reason: "AGENT_REQUIRED",
                message: "only agents submit tickets for someone else".into(),
            });
        }
        let requester_id = if r.requester_user_id.is_empty() {
            actor.id.clone()
        } else {
            r.requester_user_id.clone()
        };
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let requester = directory::read::user(&txn, &requester_id).await?;
        if !r.requester_user_id.is_empty() && !requester.as_ref().is_some_and(|u| u.active) {
            return Err(HdtsError::NotFound("requester"));
        }
        let (mut department, category, sub_category) = if routed_by_topic {
            let topic = Topics::for_submission(&txn, &r.help_topic_id).await?;
            (topic.department_code, topic.category, topic.sub_category)
        } else {
            (
                r.department_code.clone(),
                r.category.clone(),
                r.sub_category.clone(),
            )
        };
        if department.is_empty() {
            department = requester
                .as_ref()
                .map(|u| u.department_code.clone())
                .unwrap_or_default();
        }
        if department.is_empty() {
            return Err(HdtsError::invalid(
                "department_code",
                "is required: the requester has no department",
            ));
        }
        if !directory::read::department_is_active(&txn, &department).await? {
            return Err(HdtsError::NotFound("department"));
        }
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        // The caller's uploads, attached in this transaction: a refusal
        // attaches nothing.
        let files = self
            .uploads
            .attach(
                &txn,
                &actor.id,
                "attachments",
                &r.attachments,
                &attachments::ticket_owner(&id),
            )
            .await?;
        let number = next_number(&txn, "HD").await?;
        let row = tickets::ActiveModel {
            id: Set(id),
            number: Set(number.to_string()),
            requester_user_id: Set(requester_id),
            requester_display_name: Set(requester.map(|u| u.display_name).unwrap_or_default()),
            subject: Set(r.subject.trim().to_owned()),
            description: Set(r.description.clone()),
            department_code: Set(department),
            category: Set(category),
            sub_category: Set(sub_category),
            priority: Set(priority.to_owned()),
            status: Set("submitted".into()),
            source: Set("portal".into()),
            help_topic_id: Set(r.help_topic_id.clone()),
            tts_ticket_id: Set(String::new()),
            tts_ticket_number: Set(String::new()),
            assignee_display_name: Set(String::new()),
            tts_version: Set(0),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            resolved_at: Set(None),
            closed_at: Set(None),
            rating_score: Set(0),
            rating_comment: Set(String::new()),
            rated_at: Set(None),
            attachments: Set(map_kit::uploads::attachments::encode(&files)),
            asset_tags: Set(asset_tags::stored(&r.asset_tags)),
        }
        .insert(&txn)
        .await?;
        let payload = ev::HdtsTicketSubmitted {
            ticket: Some(snapshot(&row)),
        };
        self.outbox
            .enqueue(
                &txn,
                NewEvent::new(
                    "hdts.ticket.submitted",
                    row.id.clone(),
                    row.version,
                    &payload,
                ),
            )
            .await
            .map_err(|e| HdtsError::from(map_kit::ApiError::from(e)))?;
        let response = pb::SubmitTicketResponse {
            ticket: Some(to_proto(&row)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(ticket = %row.number, "help-desk ticket submitted");
        Ok(response)
    }

    /// GetTicket by id or number; another's ticket is NOT_FOUND to an employee.
    pub async fn get(
        &self,
        actor: &Principal,
        id: &str,
        number: &str,
    ) -> Result<pb::Ticket, HdtsError> {
        let row = match (id.is_empty(), number.is_empty()) {
            (false, _) => {
                let mut v = Violations::default();
                v.uuid("id", id);
                v.finish()?;
                tickets::Entity::find_by_id(id.to_owned())
                    .one(self.db.conn())
                    .await?
            }
            (true, false) => {
                tickets::Entity::find()
                    .filter(tickets::Column::Number.eq(number.to_owned()))
                    .one(self.db.conn())
                    .await?
            }
            (true, true) => return Err(HdtsError::invalid("lookup", "give id or number")),
        };
        match row {
            Some(t) if is_agent(actor) || t.requester_user_id == actor.id => Ok(to_proto(&t)),
            _ => Err(HdtsError::NotFound("ticket")),
        }
    }
}

/// Writes `update` over `row` with the next version, only if nobody changed
/// the ticket since `row` was read; the ticket as it is now, or `None` when
/// a concurrent change won.
pub(crate) async fn save(
    txn: &sea_orm::DatabaseTransaction,
    row: &tickets::Model,
    mut update: tickets::ActiveModel,
) -> Result<Option<tickets::Model>, HdtsError> {
    update.version = Set(row.version + 1);
    let done = tickets::Entity::update_many()
        .set(update)
        .filter(tickets::Column::Id.eq(row.id.clone()))
        .filter(tickets::Column::Version.eq(row.version))
        .exec(txn)
        .await?;
    if done.rows_affected != 1 {
        return Ok(None);
    }
    find(txn, &row.id).await
}

pub(crate) async fn find<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<tickets::Model>, HdtsError> {
    Ok(tickets::Entity::find_by_id(id.to_owned()).one(conn).await?)
}

fn status_to_proto(s: &str) -> pb::TicketStatus {
    match s {
        "submitted" => pb::TicketStatus::Submitted,
        "in_progress" => pb::TicketStatus::InProgress,
        "waiting_on_requester" => pb::TicketStatus::WaitingOnRequester,
        "resolved" => pb::TicketStatus::Resolved,
        "closed" => pb::TicketStatus::Closed,
        "withdrawn" => pb::TicketStatus::Withdrawn,
        _ => pb::TicketStatus::Unspecified,
    }
}

fn priority_to_proto(s: &str) -> pb::TicketPriority {
    match s {
        "low" => pb::TicketPriority::Low,
        "high" => pb::TicketPriority::High,
        "urgent" => pb::TicketPriority::Urgent,
        _ => pb::TicketPriority::Medium,
    }
}

/// The rating a ticket holds: score, comment, time.
fn rating(t: &tickets::Model) -> Option<(i32, String, prost_types::Timestamp)> {
    let at = t.rated_at?;
    (t.rating_score > 0).then(|| (t.rating_score, t.rating_comment.clone(), timestamp(at)))
}

/// The ticket on the wire.
pub fn to_proto(t: &tickets::Model) -> pb::Ticket {
    pb::Ticket {
        id: t.id.clone(),
        number: t.number.clone(),
        requester_user_id: t.requester_user_id.clone(),
        requester_display_name: t.requester_display_name.clone(),
        subject: t.subject.clone(),
        description: t.description.clone(),
        department_code: t.department_code.clone(),
        category: t.category.clone(),
        sub_category: t.sub_category.clone(),
        priority: priority_to_proto(&t.priority).into(),
        status: status_to_proto(&t.status).into(),
        source: pb::Source::Portal.into(),
        attachments: attachments::to_proto(t.attachments.as_deref()),
        tts_ticket_id: t.tts_ticket_id.clone(),
        tts_ticket_number: t.tts_ticket_number.clone(),
        assignee_display_name: t.assignee_display_name.clone(),
        rating: rating(t).map(|(score, comment, at)| pb::Rating {
            score,
            comment,
            rate_time: Some(at),
        }),
        etag: etag(t.version),
        version: t.version,
        create_time: Some(timestamp(t.created_at)),
        update_time: Some(timestamp(t.updated_at)),
        resolve_time: t.resolved_at.map(timestamp),
        close_time: t.closed_at.map(timestamp),
        help_topic_id: t.help_topic_id.clone(),
        asset_tags: asset_tags::from_stored(&t.asset_tags),
    }
}

/// The whole ticket for `hdts.ticket.*` events.
pub fn snapshot(t: &tickets::Model) -> ev::HdtsTicketSnapshot {
    let status = match status_to_proto(&t.status) {
        pb::TicketStatus::Submitted => ev::HdtsTicketStatus::Submitted,
        pb::TicketStatus::InProgress => ev::HdtsTicketStatus::InProgress,
        pb::TicketStatus::WaitingOnRequester => ev::HdtsTicketStatus::WaitingOnRequester,
        pb::TicketStatus::Resolved => ev::HdtsTicketStatus::Resolved,
        pb::TicketStatus::Closed => ev::HdtsTicketStatus::Closed,
        pb::TicketStatus::Withdrawn => ev::HdtsTicketStatus::Withdrawn,
        pb::TicketStatus::Unspecified => ev::HdtsTicketStatus::Unspecified,
    };
    ev::HdtsTicketSnapshot {
        id: t.id.clone(),
        number: t.number.clone(),
        requester: Some(ev::UserRef {
            user_id: t.requester_user_id.clone(),
            display_name: t.requester_display_name.clone(),
            email: String::new(),
        }),
        subject: t.subject.clone(),
        description: t.description.clone(),
        department_code: t.department_code.clone(),
        category: t.category.clone(),
        sub_category: t.sub_category.clone(),
        priority: i32::from(priority_to_proto(&t.priority)),
        status: status.into(),
        source: ev::TicketSource::Portal.into(),
        attachments: map_kit::uploads::attachments::decode(t.attachments.as_deref()),
        tts_ticket_id: t.tts_ticket_id.clone(),
        tts_ticket_number: t.tts_ticket_number.clone(),
        assignee_display_name: t.assignee_display_name.clone(),
        rating: rating(t).map(|(score, comment, at)| ev::HdtsTicketRating {
            score,
            comment,
            rate_time: Some(at),
        }),
        version: t.version,
        create_time: Some(timestamp(t.created_at)),
        update_time: Some(timestamp(t.updated_at)),
        resolve_time: t.resolved_at.map(timestamp),
        close_time: t.closed_at.map(timestamp),
        help_topic_id: t.help_topic_id.clone(),
        asset_tags: asset_tags::from_stored(&t.asset_tags),
    }
}
