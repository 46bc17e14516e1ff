//! Help topics: the employees' catalogue (osTicket's help topics). Each names
//! the department, category and sub-category its submissions are routed by,
//! which TTS matches its workflows against; `hdts.topic.*` events carry the
//! whole topic and its version, so TTS can keep a copy.
//!
//! Every change increments the topic's version and enqueues its event in the
//! same write transaction; an update that changes nothing enqueues nothing.

use std::collections::BTreeSet;

use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use map_kit::{
    FieldViolation, System, Violations,
    clock::Clock,
    db::Db,
    directory,
    idempotency::Idempotent,
    outbox::{NewEvent, Outbox},
    paging::{PageSize, Pager, after},
    wire::{
        etag::{check_etag, etag},
        time::timestamp,
    },
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait,
    DatabaseTransaction, EntityTrait as _, QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use crate::{HdtsError, entity::help_topics, error::is_unique_violation};

/// Longest name.
pub const MAX_NAME: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 2000;
/// Longest category or sub-category.
pub const MAX_CATEGORY: usize = 100;

/// A help topic as stored.
pub type HelpTopic = help_topics::Model;

/// What a topic routes by and shows: the fields CreateHelpTopic takes and
/// UpdateHelpTopic may replace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TopicFields {
    /// Name shown to employees.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// Auth's department code; empty for the requester's.
    pub department_code: String,
    /// Category.
    pub category: String,
    /// Sub-category.
    pub sub_category: String,
    /// Offered to employees (UpdateHelpTopic only; a new topic is active).
    pub active: bool,
}

/// The update_mask paths of UpdateHelpTopic.
pub const UPDATE_PATHS: [&str; 6] = [
    "name",
    "description",
    "department_code",
    "category",
    "sub_category",
    "active",
];

/// The topic on the wire.
pub fn to_proto(t: &HelpTopic) -> pb::HelpTopic {
    pb::HelpTopic {
        id: t.id.clone(),
        name: t.name.clone(),
        description: t.description.clone(),
        department_code: t.department_code.clone(),
        category: t.category.clone(),
        sub_category: t.sub_category.clone(),
        active: t.active,
        etag: etag(t.version),
        version: t.version,
        create_time: Some(timestamp(t.created_at)),
        update_time: Some(timestamp(t.updated_at)),
    }
}

/// The event payload's snapshot of a topic.
pub fn snapshot(t: &HelpTopic) -> ev::HdtsHelpTopicSnapshot {
    ev::HdtsHelpTopicSnapshot {
        id: t.id.clone(),
        name: t.name.clone(),
        department_code: t.department_code.clone(),
        category: t.category.clone(),
        sub_category: t.sub_category.clone(),
        active: t.active,
        version: t.version,
        update_time: Some(timestamp(t.updated_at)),
    }
}

/// The violations of `f`, each field named under `prefix` (`""` or
/// `help_topic.`).
pub fn violations(prefix: &str, f: &TopicFields) -> Vec<FieldViolation> {
    let at = |field: &str| format!("{prefix}{field}");
    let mut v = Violations::default();
    v.text(&at("name"), &f.name, MAX_NAME);
    v.optional_text(&at("description"), &f.description, MAX_DESCRIPTION);
    for (field, value) in [("category", &f.category), ("sub_category", &f.sub_category)] {
        v.optional_text(&at(field), value, MAX_CATEGORY);
        if value.trim() != value.as_str() || value.chars().any(char::is_control) {
            v.add(
                at(field),
                "must not start or end with spaces or hold control characters",
            );
        }
    }
    if !f.sub_category.is_empty() && f.category.is_empty() {
        v.add(at("sub_category"), "needs a category");
    }
    v.into_violations()
}

/// Who is asking, as far as topics care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Viewer {
    /// An employee: active topics only.
    Employee,
    /// An agent or administrator: every topic.
    Staff,
}

/// The help topics' domain.
#[derive(Debug, Clone)]
pub struct Topics {
    db: Db,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
}

impl Topics {
    /// Over `db`.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> Topics {
        Topics {
            db,
            outbox: Outbox::new(System::Hdts).with_clock(clock.clone()),
            clock,
            pager,
        }
    }

    /// CreateHelpTopic: an active topic; `hdts.topic.created`.
    pub async fn create(
        &self,
        key: &Idempotent,
        fields: TopicFields,
    ) -> Result<pb::CreateHelpTopicResponse, HdtsError> {
        let v = violations("", &fields);
        if !v.is_empty() {
            return Err(HdtsError::InvalidArgument(v));
        }
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        ensure_department(&txn, &fields.department_code).await?;
        let now = self.clock.now();
        let topic = help_topics::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            name: Set(fields.name.trim().to_owned()),
            name_normalized: Set(normalize(&fields.name)),
            description: Set(fields.description),
            department_code: Set(fields.department_code),
            category: Set(fields.category),
            sub_category: Set(fields.sub_category),
            active: Set(true),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| name_taken_or(e, &fields.name))?;
        let payload = ev::HdtsTopicCreated {
            topic: Some(snapshot(&topic)),
        };
        self.enqueue(&txn, "hdts.topic.created", &topic, &payload)
            .await?;
        let response = pb::CreateHelpTopicResponse {
            help_topic: Some(to_proto(&topic)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(help_topic_id = %topic.id, "help topic created");
        Ok(response)
    }

    /// GetHelpTopic: an inactive topic is NOT_FOUND to an employee.
    pub async fn get(&self, viewer: Viewer, id: &str) -> Result<HelpTopic, HdtsError> {
        let mut v = Violations::default();
        v.uuid("help_topic_id", id);
        v.finish()?;
        let topic = find(self.db.conn(), id).await?;
        if viewer == Viewer::Employee && !topic.active {
            return Err(HdtsError::NotFound("help topic"));
        }
        Ok(topic)
    }

    /// The active topic `id` a submission names (NOT_FOUND naming it
    /// otherwise): what the ticket is routed by.
    pub async fn for_submission<C: ConnectionTrait>(
        conn: &C,
        id: &str,
    ) -> Result<HelpTopic, HdtsError> {
        let mut v = Violations::default();
        v.uuid("help_topic_id", id);
        v.finish()?;
        match find(conn, id).await {
            Ok(t) if t.active => Ok(t),
            _ => Err(HdtsError::NotFound("help topic")),
        }
    }

    /// ListHelpTopics by name; `show_inactive` is for staff only.
    pub async fn list(
        &self,
        viewer: Viewer,
        show_inactive: bool,
        order_by: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<HelpTopic>, String), HdtsError> {
        let size = PageSize::parse(page_size)?;
        if !matches!(order_by.trim(), "" | "name" | "name asc") {
            return Err(HdtsError::invalid("order_by", "only \"name\" is supported"));
        }
        if show_inactive && viewer == Viewer::Employee {
            return Err(HdtsError::PermissionDenied {
                reason: "AGENT_REQUIRED",
                message: "only agents and administrators see inactive help topics".into(),
            });
        }
        let cursor: Option<(String, String)> =
            self.pager.open("help_topics", &show_inactive, page_token)?;
        let mut q = help_topics::Entity::find()
            .order_by_asc(help_topics::Column::NameNormalized)
            .order_by_asc(help_topics::Column::Id);
        if let Some((name, id)) = cursor {
            q = q.filter(after(vec![
                (help_topics::Column::NameNormalized, name.into()),
                (help_topics::Column::Id, id.into()),
            ]));
        }
        if !show_inactive {
            q = q.filter(help_topics::Column::Active.eq(true));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self
            .pager
            .page("help_topics", &show_inactive, rows, size, |t| {
                (t.name_normalized.clone(), t.id.clone())
            }))
    }

    /// UpdateHelpTopic: the `paths` of `fields` replaced if `etag` is
    /// current; `hdts.topic.updated` when something changed.
    pub async fn update(
        &self,
        id: &str,
        etag: &str,
        paths: &BTreeSet<&'static str>,
        fields: TopicFields,
    ) -> Result<HelpTopic, HdtsError> {
        let mut v = Violations::default();
        v.uuid("help_topic.id", id);
        if etag.is_empty() {
            v.add("help_topic.etag", "is required (the etag you read)");
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        let row = find(&txn, id).await?;
        check_etag(System::Hdts, "help_topic.etag", etag, row.version)?;
        let mut next = TopicFields {
            name: row.name.clone(),
            description: row.description.clone(),
            department_code: row.department_code.clone(),
            category: row.category.clone(),
            sub_category: row.sub_category.clone(),
            active: row.active,
        };
        let mut changed = Vec::new();
        macro_rules! take {
            ($field:ident) => {
                if paths.contains(stringify!($field)) && next.$field != fields.$field {
                    next.$field = fields.$field.clone();
                    changed.push(stringify!($field).to_owned());
                }
            };
        }
        take!(name);
        take!(description);
        take!(department_code);
        take!(category);
        take!(sub_category);
        take!(active);
        let v = violations("help_topic.", &next);
        if !v.is_empty() {
            return Err(HdtsError::InvalidArgument(v));
        }
        if changed.is_empty() {
            return Ok(row);
        }
        if changed.iter().any(|c| c == "department_code") {
            ensure_department(&txn, &next.department_code).await?;
        }
        let updated = help_topics::Entity::update_many()
            .set(help_topics::ActiveModel {
                name: Set(next.name.trim().to_owned()),
                name_normalized: Set(normalize(&next.name)),
                description: Set(next.description),
                department_code: Set(next.department_code),
                category: Set(next.category),
                sub_category: Set(next.sub_category),
                active: Set(next.active),
                version: Set(row.version + 1),
                updated_at: Set(self.clock.now()),
                ..Default::default()
            })
            .filter(help_topics::Column::Id.eq(row.id.clone()))
            .filter(help_topics::Column::Version.eq(row.version))
            .exec(&txn)
            .await
            .map_err(|e| name_taken_or(e, &fields.name))?;
        if updated.rows_affected != 1 {
            return Err(HdtsError::EtagMismatch);
        }
        let topic = find(&txn, id).await?;
        let payload = ev::HdtsTopicUpdated {
            topic: Some(snapshot(&topic)),
            changed_fields: changed.clone(),
        };
        self.enqueue(&txn, "hdts.topic.updated", &topic, &payload)
            .await?;
        txn.commit().await?;
        tracing::info!(help_topic_id = %topic.id, ?changed, "help topic updated");
        Ok(topic)
    }

    async fn enqueue(
        &self,
        txn: &DatabaseTransaction,
        event_type: &'static str,
        topic: &HelpTopic,
        payload: &impl prost::Name,
    ) -> Result<(), HdtsError> {
        self.outbox
            .enqueue(
                txn,
                NewEvent::new(event_type, topic.id.clone(), topic.version, payload),
            )
            .await
            .map_err(|e| HdtsError::from(map_kit::ApiError::from(e)))?;
        Ok(())
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

fn name_taken_or(e: sea_orm::DbErr, name: &str) -> HdtsError {
    if is_unique_violation(&e) {
        HdtsError::AlreadyExists {
            reason: "HELP_TOPIC_NAME_TAKEN",
            message: format!("a help topic named {:?} exists", name.trim()),
        }
    } else {
        HdtsError::Db(e)
    }
}

async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<HelpTopic, HdtsError> {
    help_topics::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(HdtsError::NotFound("help topic"))
}

/// NOT_FOUND unless `code` is empty or an active department in the directory.
async fn ensure_department<C: ConnectionTrait>(conn: &C, code: &str) -> Result<(), HdtsError> {
    if code.is_empty() || directory::read::department_is_active(conn, code).await? {
        Ok(())
    } else {
        Err(HdtsError::NotFound("department"))
    }
}
