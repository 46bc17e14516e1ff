//! A ticket's status and priority as stored, and the ticket on the wire and
//! in events (`map.tts.v1.Ticket`, `map.events.v1.TtsTicketSnapshot`).

use map_contracts::{events::v1 as ev, tts::v1 as pb};
use map_kit::{
    asset_tags,
    wire::{etag::etag, time::timestamp},
};

use super::tags;

use crate::{
    entity::tickets,
    workflows::{
        definition::{Graph, StepStatus},
        model::Revision,
    },
};

/// A ticket's status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// At a step whose status it takes.
    Step(StepStatus),
    /// Stopped without resolution; out of the workflow.
    Cancelled,
    /// Opened without a workflow.
    Triage,
}

impl Status {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Step(StepStatus::Open) => "open",
            Status::Step(StepStatus::InProgress) => "in_progress",
            Status::Step(StepStatus::WaitingOnRequester) => "waiting_on_requester",
            Status::Step(StepStatus::OnHold) => "on_hold",
            Status::Step(StepStatus::Resolved) => "resolved",
            Status::Step(StepStatus::Closed) => "closed",
            Status::Cancelled => "cancelled",
            Status::Triage => "triage",
        }
    }

    /// From its stored form.
    pub fn parse(s: &str) -> Option<Status> {
        Some(match s {
            "open" => Status::Step(StepStatus::Open),
            "in_progress" => Status::Step(StepStatus::InProgress),
            "waiting_on_requester" => Status::Step(StepStatus::WaitingOnRequester),
            "on_hold" => Status::Step(StepStatus::OnHold),
            "resolved" => Status::Step(StepStatus::Resolved),
            "closed" => Status::Step(StepStatus::Closed),
            "cancelled" => Status::Cancelled,
            "triage" => Status::Triage,
            _ => return None,
        })
    }

    /// From the wire; `None` for UNSPECIFIED.
    pub fn from_proto(s: pb::TicketStatus) -> Option<Status> {
        Some(match s {
            pb::TicketStatus::Open => Status::Step(StepStatus::Open),
            pb::TicketStatus::InProgress => Status::Step(StepStatus::InProgress),
            pb::TicketStatus::WaitingOnRequester => Status::Step(StepStatus::WaitingOnRequester),
            pb::TicketStatus::OnHold => Status::Step(StepStatus::OnHold),
            pb::TicketStatus::Resolved => Status::Step(StepStatus::Resolved),
            pb::TicketStatus::Closed => Status::Step(StepStatus::Closed),
            pb::TicketStatus::Cancelled => Status::Cancelled,
            pb::TicketStatus::Triage => Status::Triage,
            pb::TicketStatus::Unspecified => return None,
        })
    }

    /// The statuses of work still to do: all but resolved, closed and
    /// cancelled.
    pub const OPEN: [Status; 5] = [
        Status::Step(StepStatus::Open),
        Status::Step(StepStatus::InProgress),
        Status::Step(StepStatus::WaitingOnRequester),
        Status::Step(StepStatus::OnHold),
        Status::Triage,
    ];

    /// On the wire.
    pub fn to_proto(self) -> pb::TicketStatus {
        match self {
            Status::Step(s) => crate::workflows::model::status_to_proto(s),
            Status::Cancelled => pb::TicketStatus::Cancelled,
            Status::Triage => pb::TicketStatus::Triage,
        }
    }

    fn to_event(self) -> ev::TtsTicketStatus {
        match self.to_proto() {
            pb::TicketStatus::Unspecified => ev::TtsTicketStatus::Unspecified,
            pb::TicketStatus::Open => ev::TtsTicketStatus::Open,
            pb::TicketStatus::InProgress => ev::TtsTicketStatus::InProgress,
            pb::TicketStatus::WaitingOnRequester => ev::TtsTicketStatus::WaitingOnRequester,
            pb::TicketStatus::OnHold => ev::TtsTicketStatus::OnHold,
            pb::TicketStatus::Resolved => ev::TtsTicketStatus::Resolved,
            pb::TicketStatus::Closed => ev::TtsTicketStatus::Closed,
            pb::TicketStatus::Cancelled => ev::TtsTicketStatus::Cancelled,
            pb::TicketStatus::Triage => ev::TtsTicketStatus::Triage,
        }
    }
}

/// The stored forms of a request's repeated `statuses` filter, and a
/// violation naming each value that is not a status.
pub fn stored_statuses(values: &[i32]) -> (Vec<&'static str>, Vec<map_kit::FieldViolation>) {
    let mut bad = Vec::new();
    let statuses = values
        .iter()
        .enumerate()
        .filter_map(|(i, s)| {
            let status = pb::TicketStatus::try_from(*s)
                .ok()
                .and_then(Status::from_proto);
            if status.is_none() {
                bad.push(map_kit::FieldViolation {
                    field: format!("statuses[{i}]"),
                    description: "is not a ticket status".into(),
                });
            }
            status.map(Status::as_str)
        })
        .collect();
    (statuses, bad)
}

/// The stored form of a wire priority; `None` for UNSPECIFIED or unknown.
pub fn priority_from_proto(n: i32) -> Option<&'static str> {
    match pb::TicketPriority::try_from(n).ok()? {
        pb::TicketPriority::Low => Some("low"),
        pb::TicketPriority::Medium => Some("medium"),
        pb::TicketPriority::High => Some("high"),
        pb::TicketPriority::Urgent => Some("urgent"),
        pb::TicketPriority::Unspecified => None,
    }
}

/// The stored priorities, least urgent first.
pub const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];

/// How urgent a stored priority is: its wire number, LOW 1 to URGENT 4
/// (0 for an unknown value, below every known one).
pub fn priority_rank(s: &str) -> i32 {
    priority_to_proto(s).into()
}

fn priority_to_proto(s: &str) -> pb::TicketPriority {
    match s {
        "low" => pb::TicketPriority::Low,
        "medium" => pb::TicketPriority::Medium,
        "high" => pb::TicketPriority::High,
        "urgent" => pb::TicketPriority::Urgent,
        _ => pb::TicketPriority::Unspecified,
    }
}

/// The status of a stored ticket (an unknown value reads as triage, which
/// puts it before a person rather than losing it).
pub fn status_of(t: &tickets::Model) -> Status {
    Status::parse(&t.status).unwrap_or(Status::Triage)
}

/// The ticket on the wire; `graph` names its current step.
pub fn to_proto(t: &tickets::Model, graph: Option<&Graph>) -> pb::Ticket {
    let step_name = graph
        .and_then(|g| g.step(&t.step_id))
        .map(|s| s.name.clone())
        .unwrap_or_default();
    pb::Ticket {
        id: t.id.clone(),
        number: t.number.clone(),
        hdts_ticket_id: t.hdts_ticket_id.clone().unwrap_or_default(),
        subject: t.subject.clone(),
        description: t.description.clone(),
        requester_user_id: t.requester_user_id.clone(),
        department_code: t.department_code.clone(),
        category: t.category.clone(),
        sub_category: t.sub_category.clone(),
        priority: priority_to_proto(&t.priority).into(),
        status: status_of(t).to_proto().into(),
        current_step_id: t.step_id.clone(),
        current_step_name: step_name,
        assignee_user_id: t.assignee_user_id.clone(),
        workflow_id: t.workflow_id.clone(),
        workflow_revision: t.workflow_revision,
        sla: crate::sla::view::summary(t),
        attachments: super::attachments::to_proto(t.attachments.as_deref()),
        etag: etag(t.version),
        version: t.version,
        create_time: Some(timestamp(t.created_at)),
        update_time: Some(timestamp(t.updated_at)),
        resolve_time: t.resolved_at.map(timestamp),
        close_time: t.closed_at.map(timestamp),
        triage_reason: t.triage_reason.clone(),
        workflow_match: t.workflow_match.clone(),
        help_topic_id: t.help_topic_id.clone(),
        tags: tags::from_stored(&t.tags),
        asset_tags: asset_tags::from_stored(&t.asset_tags),
    }
}

/// Step `step_id` of `graph` for events.
pub fn step_ref(graph: &Graph, step_id: &str) -> Option<ev::StepRef> {
    graph.step(step_id).map(|s| ev::StepRef {
        step_id: s.id.clone(),
        name: s.name.clone(),
        role: role_ref(&s.role),
    })
}

/// A role `system:role` for events; `None` for an empty one.
pub fn role_ref(role: &str) -> Option<ev::RoleRef> {
    role.split_once(':').map(|(system, role)| ev::RoleRef {
        system: system.to_owned(),
        role: role.to_owned(),
    })
}

/// The whole ticket for `tts.ticket.*` events; `revision`, the workflow
/// revision it follows (none in triage), names its step and workflow.
pub fn snapshot(t: &tickets::Model, revision: Option<&Revision>) -> ev::TtsTicketSnapshot {
    let graph = revision.map(|r| &r.definition.graph);
    let workflow_name = revision.map_or("", |r| r.definition.name.as_str());
    let user = |id: &str| {
        (!id.is_empty()).then(|| ev::UserRef {
            user_id: id.to_owned(),
            ..Default::default()
        })
    };
    let step = graph.and_then(|g| step_ref(g, &t.step_id));
    ev::TtsTicketSnapshot {
        id: t.id.clone(),
        number: t.number.clone(),
        hdts_ticket_id: t.hdts_ticket_id.clone().unwrap_or_default(),
        hdts_ticket_number: String::new(),
        subject: t.subject.clone(),
        description: t.description.clone(),
        requester: user(&t.requester_user_id),
        department_code: t.department_code.clone(),
        category: t.category.clone(),
        sub_category: t.sub_category.clone(),
        priority: i32::from(priority_to_proto(&t.priority)),
        status: status_of(t).to_event().into(),
        workflow_id: t.workflow_id.clone(),
        workflow_name: workflow_name.to_owned(),
        workflow_revision: t.workflow_revision,
        step,
        assignee: user(&t.assignee_user_id),
        sla: crate::sla::view::published(t),
        attachments: map_kit::uploads::attachments::decode(t.attachments.as_deref()),
        version: t.version,
        create_time: Some(timestamp(t.created_at)),
        update_time: Some(timestamp(t.updated_at)),
        resolve_time: t.resolved_at.map(timestamp),
        close_time: t.closed_at.map(timestamp),
        triage_reason: t.triage_reason.clone(),
        workflow_match: t.workflow_match.clone(),
        help_topic_id: t.help_topic_id.clone(),
        tags: tags::from_stored(&t.tags),
        asset_tags: asset_tags::from_stored(&t.asset_tags),
    }
}
