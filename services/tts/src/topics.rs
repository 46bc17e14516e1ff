//! TTS's copy of HDTS's help-topic catalogue (ARCHITECTURE.md: help topics
//! belong to HDTS; `hdts.topic.*` lets TTS check its workflows' match keys).
//!
//! The consumer of [`QUEUE`] applies `hdts.topic.created` and
//! `hdts.topic.updated` by the whole topic each carries, newer version wins,
//! so order and redelivery do not matter; other event types are ignored.
//! TTS reads the copy to tell a workflow's publisher which topics it will
//! receive submissions from ([`matching`]), to move a ticket to another
//! topic (UpdateTicket's `help_topic_id`), and to name the topic in a
//! triage reason.

use chrono::DateTime;
use map_contracts::events::v1 as ev;
use map_kit::bus::{Event, Handler, HandlerError, mirror::Freshness};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait,
    DatabaseTransaction, DbErr, EntityTrait as _, QueryFilter as _, QueryOrder as _,
};

use crate::{entity::help_topics, workflows::definition::Selector};

/// The queue it consumes.
pub const QUEUE: &str = "tts.catalog-sync";

/// Keeps the copy of the catalogue.
#[derive(Debug, Clone, Copy, Default)]
pub struct TopicSync;

#[async_trait::async_trait]
impl Handler for TopicSync {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let topic = match event.event_type() {
            "hdts.topic.created" => event.payload::<ev::HdtsTopicCreated>()?.topic,
            "hdts.topic.updated" => event.payload::<ev::HdtsTopicUpdated>()?.topic,
            _ => return Ok(()),
        };
        let topic = topic.ok_or_else(|| {
            HandlerError::Permanent(format!("{} without its topic", event.event_type()))
        })?;
        apply(txn, &topic)
            .await
            .map_err(|e| HandlerError::Transient(e.to_string()))?;
        Ok(())
    }
}

/// Writes `topic` unless the copy holds its version or a newer one; whether
/// it was written.
pub async fn apply(
    txn: &DatabaseTransaction,
    topic: &ev::HdtsHelpTopicSnapshot,
) -> Result<bool, DbErr> {
    let held = help_topics::Entity::find_by_id(topic.id.clone())
        .one(txn)
        .await?;
    let freshness = Freshness::of(held.as_ref().map(|h| h.version), topic.version);
    if !freshness.should_apply() {
        return Ok(false);
    }
    let updated_at = topic
        .update_time
        .as_ref()
        .and_then(|t| DateTime::from_timestamp(t.seconds, u32::try_from(t.nanos).unwrap_or(0)))
        .unwrap_or_default();
    let row = help_topics::ActiveModel {
        id: Set(topic.id.clone()),
        name: Set(topic.name.clone()),
        department_code: Set(topic.department_code.clone()),
        category: Set(topic.category.clone()),
        sub_category: Set(topic.sub_category.clone()),
        active: Set(topic.active),
        version: Set(topic.version),
        updated_at: Set(updated_at),
    };
    if freshness == Freshness::Unknown {
        row.insert(txn).await?;
    } else {
        row.update(txn).await?;
    }
    Ok(true)
}

/// An active topic by id.
pub async fn active<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<Option<help_topics::Model>, DbErr> {
    Ok(help_topics::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .filter(|t| t.active))
}

/// The active topics whose keys `selector` matches, by name: each part the
/// selector names must be the topic's; a topic without a department (it
/// takes the requester's) matches any department.
pub async fn matching<C: ConnectionTrait>(
    conn: &C,
    selector: &Selector,
) -> Result<Vec<help_topics::Model>, DbErr> {
    let mut q = help_topics::Entity::find().filter(help_topics::Column::Active.eq(true));
    if !selector.category.is_empty() {
        q = q.filter(help_topics::Column::Category.eq(selector.category.clone()));
    }
    if !selector.sub_category.is_empty() {
        q = q.filter(help_topics::Column::SubCategory.eq(selector.sub_category.clone()));
    }
    if !selector.department_code.is_empty() {
        q = q.filter(
            Condition::any()
                .add(help_topics::Column::DepartmentCode.eq(selector.department_code.clone()))
                .add(help_topics::Column::DepartmentCode.eq("")),
        );
    }
    q.order_by_asc(help_topics::Column::Name)
        .order_by_asc(help_topics::Column::Id)
        .all(conn)
        .await
}
