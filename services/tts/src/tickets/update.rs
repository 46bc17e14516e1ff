//! UpdateTicket: the subject, priority, routing fields, help topic, tags
//! and asset tags of a ticket, by update_mask and etag. A ticket keeps the
//! workflow revision it started on; new routing fields are recorded, not
//! re-matched. Tags and asset tags are replaced whole, their filter rows
//! with them.

use std::collections::BTreeSet;

use map_contracts::{events::v1 as ev, tts::v1 as pb};
use map_kit::{
    System, Violations, asset_tags,
    authn::Principal,
    directory,
    wire::{etag::check_etag, time::timestamp},
};
use sea_orm::ActiveValue::Set;

use super::{MAX_SUBJECT, Tickets, find, model, revision_of, tags, user_ref};
use crate::{TtsError, entity::tickets, topics};

/// The update_mask paths of UpdateTicket.
pub const UPDATE_PATHS: [&str; 8] = [
    "subject",
    "priority",
    "department_code",
    "category",
    "sub_category",
    "help_topic_id",
    "tags",
    "asset_tags",
];

/// The routing fields a help topic decides.
const ROUTING_PATHS: [&str; 3] = ["department_code", "category", "sub_category"];

impl Tickets {
    /// UpdateTicket.
    pub async fn update(
        &self,
        actor: &Principal,
        paths: &BTreeSet<&'static str>,
        t: pb::Ticket,
    ) -> Result<pb::Ticket, TtsError> {
        let mut v = Violations::default();
        v.uuid("ticket.id", &t.id);
        if t.etag.is_empty() {
            v.add("ticket.etag", "is required (the etag you read)");
        }
        if paths.contains("subject") {
            v.text("ticket.subject", &t.subject, MAX_SUBJECT);
        }
        if paths.contains("department_code") {
            v.text("ticket.department_code", &t.department_code, 32);
        }
        if paths.contains("category") {
            v.text("ticket.category", &t.category, 100);
        }
        if paths.contains("sub_category") {
            v.optional_text("ticket.sub_category", &t.sub_category, 100);
        }
        let by_topic = paths.contains("help_topic_id");
        if by_topic {
            v.uuid("ticket.help_topic_id", &t.help_topic_id);
            if ROUTING_PATHS.iter().any(|p| paths.contains(p)) {
                v.add(
                    "update_mask",
                    "help_topic_id takes the topic's department, category and sub-category: \
                     it cannot be combined with them",
                );
            }
        }
        if paths.contains("tags") {
            tags::check_tags(&mut v, "ticket.tags", &t.tags);
        }
        if paths.contains("asset_tags") {
            asset_tags::check(&mut v, "ticket.asset_tags", &t.asset_tags);
        }
        let priority = model::priority_from_proto(t.priority);
        if paths.contains("priority") && priority.is_none() {
            v.add(
                "ticket.priority",
                "is required (LOW, MEDIUM, HIGH or URGENT)",
            );
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        let row = find(&txn, &t.id).await?;
        check_etag(System::Tts, "ticket.etag", &t.etag, row.version)?;
        let manager =
            actor.has_role(System::Tts, "manager") || actor.has_role(System::Tts, "admin");
        if !manager && row.assignee_user_id != actor.id {
            return Err(TtsError::PermissionDenied {
                reason: "NOT_ASSIGNEE",
                message: "only the ticket's assignee or a tts manager may change it".into(),
            });
        }
        if matches!(row.status.as_str(), "closed" | "cancelled") {
            return Err(TtsError::precondition(
                "TICKET_CLOSED",
                format!("ticket {} is {}", row.number, row.status),
            ));
        }
        // A new topic brings its routing fields (a topic without a department
        // keeps the ticket's: it takes the requester's).
        let mut t = t;
        let mut paths = paths.clone();
        if by_topic {
            let topic = topics::active(&txn, &t.help_topic_id)
                .await?
                .ok_or(TtsError::NotFound("help topic"))?;
            t.department_code = if topic.department_code.is_empty() {
                row.department_code.clone()
            } else {
                topic.department_code
            };
            t.category = topic.category;
            t.sub_category = topic.sub_category;
            paths.extend(ROUTING_PATHS);
        }
        let mut update = tickets::ActiveModel::default();
        let mut changed = Vec::new();
        let mut take = |path: &'static str, old: &str, new: &str| {
            let differs = paths.contains(path) && old != new;
            if differs {
                changed.push(path.to_owned());
            }
            differs.then(|| new.to_owned())
        };
        if let Some(s) = take("subject", &row.subject, t.subject.trim()) {
            update.subject = Set(s);
        }
        if let Some(p) = take("priority", &row.priority, priority.unwrap_or(&row.priority)) {
            update.priority = Set(p);
        }
        if let Some(d) = take("department_code", &row.department_code, &t.department_code) {
            update.department_code = Set(d);
        }
        if let Some(c) = take("category", &row.category, &t.category) {
            update.category = Set(c);
        }
        if let Some(s) = take("sub_category", &row.sub_category, &t.sub_category) {
            update.sub_category = Set(s);
        }
        if let Some(h) = take("help_topic_id", &row.help_topic_id, &t.help_topic_id) {
            update.help_topic_id = Set(h);
        }
        let new_tags = tags::stored(&tags::sorted(&t.tags));
        let retag = take("tags", &row.tags, &new_tags);
        if let Some(s) = &retag {
            update.tags = Set(s.clone());
        }
        let new_assets = asset_tags::stored(&t.asset_tags);
        let reasset = take("asset_tags", &row.asset_tags, &new_assets);
        if let Some(s) = &reasset {
            update.asset_tags = Set(s.clone());
        }
        let revision = revision_of(&txn, &row).await?;
        let graph = revision.as_ref().map(|r| &r.definition.graph);
        if changed.is_empty() {
            return Ok(model::to_proto(&row, graph));
        }
        if changed.iter().any(|c| c == "department_code")
            && !directory::read::department_is_active(&txn, &t.department_code).await?
        {
            return Err(TtsError::NotFound("department"));
        }
        let now = self.clock.now();
        update.updated_at = Set(now);
        let after = self.save(&txn, &row, update).await?;
        if retag.is_some() {
            tags::write_tags(&txn, &after.id, &tags::from_stored(&after.tags)).await?;
        }
        if reasset.is_some() {
            tags::write_asset_tags(&txn, &after.id, &t.asset_tags).await?;
        }
        let details = pb::ticket_event::Details::Updated(pb::TicketUpdatedDetails {
            changed_fields: changed.clone(),
        });
        self.history(
            &txn,
            &after,
            &actor.id,
            now,
            pb::TicketEventType::Updated,
            details,
        )
        .await?;
        let payload = ev::TtsTicketUpdated {
            ticket: Some(model::snapshot(&after, revision.as_ref())),
            changed_fields: changed,
            actor: Some(user_ref(&actor.id)),
            update_time: Some(timestamp(now)),
        };
        self.enqueue(&txn, "tts.ticket.updated", &after, &payload)
            .await?;
        txn.commit().await?;
        Ok(model::to_proto(&after, graph))
    }
}
