//! A stored workflow revision, and its form on the wire (`map.tts.v1.Workflow`)
//! both ways.

use chrono::{DateTime, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::wire::{etag::etag, time::timestamp};

use super::definition::{Definition, Graph, Selector, Step, StepStatus, Transition, Trigger};
use crate::{
    TtsError,
    entity::{workflow_revisions, workflows},
};

/// A revision's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Being edited.
    Draft,
    /// Used for new tickets.
    Published,
    /// No longer used for new tickets.
    Archived,
}

impl State {
    /// As stored.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Draft => "draft",
            State::Published => "published",
            State::Archived => "archived",
        }
    }

    /// From its stored form.
    pub fn parse(s: &str) -> Option<State> {
        match s {
            "draft" => Some(State::Draft),
            "published" => Some(State::Published),
            "archived" => Some(State::Archived),
            _ => None,
        }
    }

    /// From the wire; `None` for UNSPECIFIED or an unknown number.
    pub fn from_proto(n: i32) -> Option<State> {
        match pb::WorkflowState::try_from(n).ok()? {
            pb::WorkflowState::Draft => Some(State::Draft),
            pb::WorkflowState::Published => Some(State::Published),
            pb::WorkflowState::Archived => Some(State::Archived),
            pb::WorkflowState::Unspecified => None,
        }
    }

    fn to_proto(self) -> pb::WorkflowState {
        match self {
            State::Draft => pb::WorkflowState::Draft,
            State::Published => pb::WorkflowState::Published,
            State::Archived => pb::WorkflowState::Archived,
        }
    }
}

/// One revision of a workflow, with the workflow's version (its etag).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Revision {
    /// The workflow.
    pub workflow_id: String,
    /// Its number.
    pub revision: i32,
    /// Its state.
    pub state: State,
    /// Its content.
    pub definition: Definition,
    /// The workflow's version when read.
    pub version: i64,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it was published.
    pub published_at: Option<DateTime<Utc>>,
    /// When it was archived.
    pub archived_at: Option<DateTime<Utc>>,
}

impl Revision {
    /// From its rows.
    ///
    /// # Errors
    /// A row that does not decode (a defect): internal.
    pub fn from_rows(
        w: &workflows::Model,
        r: workflow_revisions::Model,
    ) -> Result<Revision, TtsError> {
        let broken = |what: &str| {
            TtsError::from(map_kit::ApiError::Internal(
                format!("workflow {} revision {}: {what}", r.workflow_id, r.revision).into(),
            ))
        };
        let graph: Graph =
            serde_json::from_str(&r.graph).map_err(|_| broken("graph does not decode"))?;
        let state = State::parse(&r.state).ok_or_else(|| broken("unknown state"))?;
        Ok(Revision {
            workflow_id: r.workflow_id,
            revision: r.revision,
            state,
            definition: Definition {
                name: r.name,
                description: r.description,
                selector: Selector {
                    department_code: r.department_code,
                    category: r.category,
                    sub_category: r.sub_category,
                },
                graph,
            },
            version: w.version,
            created_at: r.created_at,
            published_at: r.published_at,
            archived_at: r.archived_at,
        })
    }

    /// On the wire.
    pub fn to_proto(&self) -> pb::Workflow {
        let d = &self.definition;
        pb::Workflow {
            id: self.workflow_id.clone(),
            revision: self.revision,
            state: self.state.to_proto().into(),
            name: d.name.clone(),
            description: d.description.clone(),
            department_code: d.selector.department_code.clone(),
            category: d.selector.category.clone(),
            sub_category: d.selector.sub_category.clone(),
            steps: d.graph.steps.iter().map(step_to_proto).collect(),
            transitions: d
                .graph
                .transitions
                .iter()
                .map(transition_to_proto)
                .collect(),
            initial_step_id: d.graph.initial_step_id.clone(),
            etag: etag(self.version),
            version: self.version,
            create_time: Some(timestamp(self.created_at)),
            publish_time: self.published_at.map(timestamp),
            archive_time: self.archived_at.map(timestamp),
        }
    }
}

fn step_to_proto(s: &Step) -> pb::WorkflowStep {
    pb::WorkflowStep {
        id: s.id.clone(),
        name: s.name.clone(),
        role: s.role.clone(),
        escalation_role: s.escalation_role.clone(),
        sla: s
            .sla_seconds
            .map(|seconds| prost_types::Duration { seconds, nanos: 0 }),
        ticket_status: s
            .status
            .map_or(pb::TicketStatus::Unspecified, status_to_proto)
            .into(),
        end: s.end,
        weight: s.weight,
    }
}

fn transition_to_proto(t: &Transition) -> pb::WorkflowTransition {
    pb::WorkflowTransition {
        from_step_id: t.from.clone(),
        to_step_id: t.to.clone(),
        action: t.action.clone(),
        name: t.name.clone(),
        requires_comment: t.requires_comment,
        trigger: match t.trigger {
            Trigger::Manual => pb::TransitionTrigger::Manual,
            Trigger::RequesterReplied => pb::TransitionTrigger::RequesterReplied,
            Trigger::Reopened => pb::TransitionTrigger::Reopened,
        }
        .into(),
    }
}

/// A step's status on the wire.
pub fn status_to_proto(s: StepStatus) -> pb::TicketStatus {
    match s {
        StepStatus::Open => pb::TicketStatus::Open,
        StepStatus::InProgress => pb::TicketStatus::InProgress,
        StepStatus::WaitingOnRequester => pb::TicketStatus::WaitingOnRequester,
        StepStatus::OnHold => pb::TicketStatus::OnHold,
        StepStatus::Resolved => pb::TicketStatus::Resolved,
        StepStatus::Closed => pb::TicketStatus::Closed,
    }
}

/// The steps and transitions of a request, and the violations of values
/// the definition cannot hold (an SLA with nanoseconds, an unknown enum
/// number, CANCELLED), named by field, to report with the definition's own.
pub fn graph_from_proto(
    steps: &[pb::WorkflowStep],
    transitions: &[pb::WorkflowTransition],
    initial_step_id: &str,
) -> (Graph, Vec<map_kit::FieldViolation>) {
    let mut bad = Vec::new();
    let steps = steps
        .iter()
        .enumerate()
        .map(|(i, s)| {
            let status = match pb::TicketStatus::try_from(s.ticket_status) {
                Ok(pb::TicketStatus::Open) => Some(StepStatus::Open),
                Ok(pb::TicketStatus::InProgress) => Some(StepStatus::InProgress),
                Ok(pb::TicketStatus::WaitingOnRequester) => Some(StepStatus::WaitingOnRequester),
                Ok(pb::TicketStatus::OnHold) => Some(StepStatus::OnHold),
                Ok(pb::TicketStatus::Resolved) => Some(StepStatus::Resolved),
                Ok(pb::TicketStatus::Closed) => Some(StepStatus::Closed),
                Ok(pb::TicketStatus::Unspecified) => None,
                Ok(pb::TicketStatus::Cancelled | pb::TicketStatus::Triage) | Err(_) => {
                    bad.push((
                        format!("steps[{i}].ticket_status"),
                        "must be a status other than CANCELLED and TRIAGE",
                    ));
                    None
                }
            };
            let sla_seconds = s.sla.as_ref().map(|d| {
                if d.nanos != 0 {
                    bad.push((format!("steps[{i}].sla"), "must be whole seconds"));
                }
                d.seconds
            });
            Step {
                id: s.id.clone(),
                name: s.name.clone(),
                role: s.role.clone(),
                escalation_role: s.escalation_role.clone(),
                sla_seconds,
                status,
                end: s.end,
                weight: s.weight,
            }
        })
        .collect();
    let transitions = transitions
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let trigger = match pb::TransitionTrigger::try_from(t.trigger) {
                Ok(pb::TransitionTrigger::Unspecified | pb::TransitionTrigger::Manual) => {
                    Trigger::Manual
                }
                Ok(pb::TransitionTrigger::RequesterReplied) => Trigger::RequesterReplied,
                Ok(pb::TransitionTrigger::Reopened) => Trigger::Reopened,
                Err(_) => {
                    bad.push((
                        format!("transitions[{i}].trigger"),
                        "is not a known trigger",
                    ));
                    Trigger::Manual
                }
            };
            Transition {
                from: t.from_step_id.clone(),
                to: t.to_step_id.clone(),
                action: t.action.clone(),
                name: t.name.clone(),
                requires_comment: t.requires_comment,
                trigger,
            }
        })
        .collect();
    let bad = bad
        .into_iter()
        .map(|(field, description)| map_kit::FieldViolation {
            field,
            description: description.to_owned(),
        })
        .collect();
    let graph = Graph {
        steps,
        transitions,
        initial_step_id: initial_step_id.to_owned(),
    };
    (graph, bad)
}
