//! A policy's fields from the wire, checked whole — every bad field named
//! (`resolution_target`, `pause_statuses[1]`, `escalation_levels[0].role`)
//! — into the form it is stored in; and a stored policy on the wire.

use map_contracts::tts::v1 as pb;
use map_kit::{
    ApiError, FieldViolation, Violations,
    wire::{etag::etag, time::from_duration, time::timestamp},
};
use sea_orm::ActiveValue::Set;

use crate::{
    TtsError,
    entity::sla_policies,
    sla::stored::{LevelAction, LevelClock, LevelTrigger, StoredLevel},
    tickets::model::{Status, priority_from_proto, priority_rank},
};

/// Longest policy name.
pub const MAX_NAME: usize = 200;
/// Longest target and escalation delay: 366 days, in milliseconds.
pub const MAX_MS: i64 = 366 * 86_400_000;
/// The warning threshold of a policy that names none (0).
pub const DEFAULT_WARNING_PERCENT: i32 = 80;
/// Most escalation levels.
pub const MAX_LEVELS: usize = 20;
/// Longest department code (the column's width).
pub const MAX_DEPARTMENT_CODE: usize = 32;
/// Longest escalation role.
pub const MAX_ROLE: usize = 100;
/// The statuses a clock may pause in, in their stored order.
pub const PAUSABLE: [pb::TicketStatus; 4] = [
    pb::TicketStatus::Open,
    pb::TicketStatus::InProgress,
    pb::TicketStatus::WaitingOnRequester,
    pb::TicketStatus::OnHold,
];
/// What a policy created without pause statuses pauses in.
pub const DEFAULT_PAUSE: pb::TicketStatus = pb::TicketStatus::WaitingOnRequester;

/// A policy's fields as they arrive (a CreateSlaPolicyRequest, or an
/// UpdateSlaPolicyRequest's policy with its masked fields applied).
#[derive(Debug, Clone, Copy)]
pub struct Wire<'a> {
    pub name: &'a str,
    pub priority: i32,
    pub first_response_target: Option<&'a prost_types::Duration>,
    pub resolution_target: Option<&'a prost_types::Duration>,
    pub warning_threshold_percent: i32,
    pub calendar_id: &'a str,
    pub active: bool,
    pub pause_statuses: &'a [i32],
    pub help_topic_id: &'a str,
    pub workflow_id: &'a str,
    pub department_code: &'a str,
    pub escalation_levels: &'a [pb::EscalationLevel],
}

impl<'a> From<&'a pb::CreateSlaPolicyRequest> for Wire<'a> {
    fn from(r: &'a pb::CreateSlaPolicyRequest) -> Wire<'a> {
        Wire {
            name: &r.name,
            priority: r.priority,
            first_response_target: r.first_response_target.as_ref(),
            resolution_target: r.resolution_target.as_ref(),
            warning_threshold_percent: r.warning_threshold_percent,
            calendar_id: &r.calendar_id,
            active: r.active,
            pause_statuses: &r.pause_statuses,
            help_topic_id: &r.help_topic_id,
            workflow_id: &r.workflow_id,
            department_code: &r.department_code,
            escalation_levels: &r.escalation_levels,
        }
    }
}

impl<'a> From<&'a pb::SlaPolicy> for Wire<'a> {
    fn from(p: &'a pb::SlaPolicy) -> Wire<'a> {
        Wire {
            name: &p.name,
            priority: p.priority,
            first_response_target: p.first_response_target.as_ref(),
            resolution_target: p.resolution_target.as_ref(),
            warning_threshold_percent: p.warning_threshold_percent,
            calendar_id: &p.calendar_id,
            active: p.active,
            pause_statuses: &p.pause_statuses,
            help_topic_id: &p.help_topic_id,
            workflow_id: &p.workflow_id,
            department_code: &p.department_code,
            escalation_levels: &p.escalation_levels,
        }
    }
}

/// A policy's fields checked, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    pub name: String,
    pub priority: &'static str,
    pub first_response_ms: i64,
    pub resolution_ms: i64,
    pub warning_percent: i32,
    pub calendar_id: String,
    pub active: bool,
    /// Stored status words, separated by spaces, in [`PAUSABLE`]'s order.
    pub pause_statuses: String,
    pub help_topic_id: String,
    pub workflow_id: String,
    pub department_code: String,
    pub levels: Vec<StoredLevel>,
}

impl Fields {
    /// The policy's stored columns from these fields: everything but its
    /// id, version and times, which the caller sets.
    pub fn columns(&self) -> Result<sla_policies::ActiveModel, TtsError> {
        Ok(sla_policies::ActiveModel {
            name: Set(self.name.clone()),
            priority: Set(self.priority.to_owned()),
            first_response_ms: Set(self.first_response_ms),
            resolution_ms: Set(self.resolution_ms),
            warning_percent: Set(self.warning_percent),
            calendar_id: Set(self.calendar_id.clone()),
            active: Set(self.active),
            pause_statuses: Set(self.pause_statuses.clone()),
            help_topic_id: Set(self.help_topic_id.clone()),
            workflow_id: Set(self.workflow_id.clone()),
            department_code: Set(self.department_code.clone()),
            escalation_levels: Set(self.levels_json()?),
            ..Default::default()
        })
    }

    /// The escalation levels as stored JSON.
    pub fn levels_json(&self) -> Result<String, TtsError> {
        serde_json::to_string(&self.levels).map_err(|e| TtsError::from(ApiError::internal(e)))
    }

    /// Whether `row` already holds exactly these fields.
    pub fn same_as(&self, row: &sla_policies::Model) -> bool {
        row.name == self.name
            && row.priority == self.priority
            && row.first_response_ms == self.first_response_ms
            && row.resolution_ms == self.resolution_ms
            && row.warning_percent == self.warning_percent
            && row.calendar_id == self.calendar_id
            && row.active == self.active
            && row.pause_statuses == self.pause_statuses
            && row.help_topic_id == self.help_topic_id
            && row.workflow_id == self.workflow_id
            && row.department_code == self.department_code
            && stored_levels(row).ok().as_ref() == Some(&self.levels)
    }
}

/// The fields of `w`, or INVALID_ARGUMENT naming every bad one (with
/// `extra`, found elsewhere), each field prefixed with `prefix` (`""` for a
/// create, `"sla_policy."` for an update). An escalation role must be
/// shaped `tts:<role>`, and one of `roles` when they are given.
pub fn check(
    prefix: &str,
    w: Wire<'_>,
    roles: Option<&[String]>,
    extra: Vec<FieldViolation>,
) -> Result<Fields, TtsError> {
    let mut v = Violations::default();
    let field = |name: &str| format!("{prefix}{name}");
    v.text(&field("name"), w.name, MAX_NAME);
    let priority = priority_from_proto(w.priority);
    if priority.is_none() {
        v.add(
            field("priority"),
            "is required (LOW, MEDIUM, HIGH or URGENT)",
        );
    }
    let first = target_ms(
        &mut v,
        &field("first_response_target"),
        w.first_response_target,
    );
    let resolution = target_ms(&mut v, &field("resolution_target"), w.resolution_target);
    if let (Some(f), Some(r)) = (first, resolution)
        && r < f
    {
        v.add(
            field("resolution_target"),
            "must be at least first_response_target",
        );
    }
    let warning_percent = match w.warning_threshold_percent {
        0 => DEFAULT_WARNING_PERCENT,
        p @ 1..=99 => p,
        _ => {
            v.add(
                field("warning_threshold_percent"),
                "must be 1 to 99 (0 means the default, 80)",
            );
            DEFAULT_WARNING_PERCENT
        }
    };
    let calendar_id = optional_uuid(&mut v, &field("calendar_id"), w.calendar_id);
    let help_topic_id = optional_uuid(&mut v, &field("help_topic_id"), w.help_topic_id);
    let workflow_id = optional_uuid(&mut v, &field("workflow_id"), w.workflow_id);
    v.optional_text(
        &field("department_code"),
        w.department_code,
        MAX_DEPARTMENT_CODE,
    );
    let scopes = [
        ("help_topic_id", w.help_topic_id),
        ("workflow_id", w.workflow_id),
        ("department_code", w.department_code),
    ];
    if scopes.iter().filter(|(_, value)| !value.is_empty()).count() > 1 {
        for (name, value) in scopes {
            if !value.is_empty() {
                v.add(
                    field(name),
                    "at most one of help_topic_id, workflow_id and department_code may be set",
                );
            }
        }
    }
    let pause_statuses = pause_words(&mut v, prefix, w.pause_statuses);
    let levels = check_levels(&mut v, prefix, w.escalation_levels, roles);
    let mut violations = v.into_violations();
    violations.extend(extra);
    let Some(priority) = priority.filter(|_| violations.is_empty()) else {
        return Err(TtsError::InvalidArgument(violations));
    };
    Ok(Fields {
        name: w.name.trim().to_owned(),
        priority,
        first_response_ms: first.unwrap_or_default(),
        resolution_ms: resolution.unwrap_or_default(),
        warning_percent,
        calendar_id,
        active: w.active,
        pause_statuses,
        help_topic_id,
        workflow_id,
        department_code: w.department_code.to_owned(),
        levels,
    })
}

/// A target in milliseconds: required, positive, at most [`MAX_MS`]
/// (sub-millisecond parts are dropped: clocks count milliseconds).
fn target_ms(v: &mut Violations, field: &str, d: Option<&prost_types::Duration>) -> Option<i64> {
    let Some(d) = d else {
        v.add(field, "is required (a positive duration)");
        return None;
    };
    let ms = from_duration(field, d)
        .ok()
        .and_then(|d| i64::try_from(d.as_millis()).ok());
    match ms {
        Some(ms) if ms > MAX_MS => {
            v.add(field, "must be at most 366 days");
            None
        }
        Some(ms) if ms > 0 => Some(ms),
        _ => {
            v.add(field, "must be positive (at least one millisecond)");
            None
        }
    }
}

/// An optional UUID reference in its one spelling (hyphenated, lower
/// case); empty when unset.
fn optional_uuid(v: &mut Violations, field: &str, value: &str) -> String {
    if value.is_empty() {
        return String::new();
    }
    match uuid::Uuid::try_parse(value) {
        Ok(id) => id.hyphenated().to_string(),
        Err(_) => {
            v.add(field, "is not a UUID");
            String::new()
        }
    }
}

/// The stored words of the pause statuses, deduplicated in [`PAUSABLE`]'s
/// order; each status that may not pause a clock named.
fn pause_words(v: &mut Violations, prefix: &str, statuses: &[i32]) -> String {
    let mut chosen = [false; PAUSABLE.len()];
    for (i, s) in statuses.iter().enumerate() {
        match PAUSABLE.iter().position(|p| i32::from(*p) == *s) {
            Some(at) => chosen[at] = true,
            None => {
                v.add(
                    format!("{prefix}pause_statuses[{i}]"),
                    "only OPEN, IN_PROGRESS, WAITING_ON_REQUESTER and ON_HOLD may pause a clock",
                );
            }
        }
    }
    PAUSABLE
        .iter()
        .zip(chosen)
        .filter(|(_, on)| *on)
        .filter_map(|(s, _)| Status::from_proto(*s).map(Status::as_str))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The escalation levels as stored; every bad field of each named.
fn check_levels(
    v: &mut Violations,
    prefix: &str,
    levels: &[pb::EscalationLevel],
    roles: Option<&[String]>,
) -> Vec<StoredLevel> {
    if levels.len() > MAX_LEVELS {
        v.add(
            format!("{prefix}escalation_levels"),
            format!("must hold at most {MAX_LEVELS} levels"),
        );
        return Vec::new();
    }
    let mut stored = Vec::with_capacity(levels.len());
    for (i, l) in levels.iter().enumerate() {
        let at = |name: &str| format!("{prefix}escalation_levels[{i}].{name}");
        let clock = match pb::SlaClock::try_from(l.clock) {
            Ok(pb::SlaClock::FirstResponse) => Some(LevelClock::FirstResponse),
            Ok(pb::SlaClock::Resolution) => Some(LevelClock::Resolution),
            Ok(pb::SlaClock::Step) => Some(LevelClock::Step),
            _ => {
                v.add(
                    at("clock"),
                    "is required (FIRST_RESPONSE, RESOLUTION or STEP)",
                );
                None
            }
        };
        let trigger = match pb::EscalationTrigger::try_from(l.trigger) {
            Ok(pb::EscalationTrigger::Warning) => Some(LevelTrigger::Warning),
            Ok(pb::EscalationTrigger::Breach) => Some(LevelTrigger::Breach),
            _ => {
                v.add(at("trigger"), "is required (WARNING or BREACH)");
                None
            }
        };
        let action = match pb::EscalationAction::try_from(l.action) {
            Ok(pb::EscalationAction::NotifyAssignee) => Some(LevelAction::NotifyAssignee),
            Ok(pb::EscalationAction::ReassignToStepEscalationRole) => {
                Some(LevelAction::ReassignToStepEscalationRole)
            }
            Ok(pb::EscalationAction::ReassignToRole) => Some(LevelAction::ReassignToRole),
            _ => {
                v.add(
                    at("action"),
                    "is required (NOTIFY_ASSIGNEE, REASSIGN_TO_STEP_ESCALATION_ROLE or REASSIGN_TO_ROLE)",
                );
                None
            }
        };
        let delay_ms = match l.delay.as_ref() {
            None => Some(0),
            Some(d) => match from_duration("delay", d)
                .ok()
                .and_then(|d| i64::try_from(d.as_millis()).ok())
            {
                Some(ms) if ms <= MAX_MS => Some(ms),
                Some(_) => {
                    v.add(at("delay"), "must be at most 366 days");
                    None
                }
                None => {
                    v.add(at("delay"), "must not be negative");
                    None
                }
            },
        };
        match action {
            Some(LevelAction::ReassignToRole) => check_role(v, &at("role"), &l.role, roles),
            Some(_) if !l.role.is_empty() => {
                v.add(
                    at("role"),
                    "must be empty unless action is ESCALATION_ACTION_REASSIGN_TO_ROLE",
                );
            }
            _ => {}
        }
        if let (Some(clock), Some(trigger), Some(action), Some(delay_ms)) =
            (clock, trigger, action, delay_ms)
        {
            stored.push(StoredLevel {
                clock,
                trigger,
                delay_ms,
                action,
                role: l.role.clone(),
            });
        }
    }
    stored
}

/// The role of a REASSIGN_TO_ROLE level: required, `tts:<role>` (the shape
/// of a workflow step's role), and one of `roles` when they are given.
fn check_role(v: &mut Violations, field: &str, role: &str, roles: Option<&[String]>) {
    if role.is_empty() {
        v.add(
            field,
            "is required for ESCALATION_ACTION_REASSIGN_TO_ROLE (a TTS role, e.g. tts:manager)",
        );
        return;
    }
    let shaped = role.chars().count() <= MAX_ROLE
        && role
            .strip_prefix("tts:")
            .is_some_and(|r| !r.is_empty() && !r.contains(char::is_whitespace));
    if !shaped {
        v.add(field, "must be a TTS role, tts:<role> (e.g. tts:manager)");
    } else if roles.is_some_and(|known| !known.iter().any(|k| k == role)) {
        v.add(field, format!("{role} is not a role of tts in Auth"));
    }
}

/// The escalation levels `row` stores (empty: the default ones apply).
fn stored_levels(row: &sla_policies::Model) -> Result<Vec<StoredLevel>, serde_json::Error> {
    if row.escalation_levels.trim().is_empty() {
        return Ok(Vec::new());
    }
    serde_json::from_str(&row.escalation_levels)
}

/// Milliseconds on the wire.
fn duration(ms: i64) -> prost_types::Duration {
    prost_types::Duration {
        seconds: ms / 1000,
        nanos: i32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
    }
}

/// A stored policy on the wire; its escalation levels as stored (empty
/// when it follows the default ones).
pub fn to_proto(row: &sla_policies::Model) -> Result<pb::SlaPolicy, TtsError> {
    let levels = stored_levels(row).map_err(|e| TtsError::from(ApiError::internal(e)))?;
    Ok(pb::SlaPolicy {
        id: row.id.clone(),
        name: row.name.clone(),
        priority: priority_rank(&row.priority),
        first_response_target: Some(duration(row.first_response_ms)),
        resolution_target: Some(duration(row.resolution_ms)),
        warning_threshold_percent: row.warning_percent,
        calendar_id: row.calendar_id.clone(),
        active: row.active,
        etag: etag(row.version),
        version: row.version,
        create_time: Some(timestamp(row.created_at)),
        update_time: Some(timestamp(row.updated_at)),
        pause_statuses: row
            .pause_statuses
            .split_whitespace()
            .filter_map(Status::parse)
            .map(|s| i32::from(s.to_proto()))
            .collect(),
        help_topic_id: row.help_topic_id.clone(),
        workflow_id: row.workflow_id.clone(),
        department_code: row.department_code.clone(),
        escalation_levels: levels
            .iter()
            .map(|l| pb::EscalationLevel {
                clock: i32::from(match l.clock {
                    LevelClock::FirstResponse => pb::SlaClock::FirstResponse,
                    LevelClock::Resolution => pb::SlaClock::Resolution,
                    LevelClock::Step => pb::SlaClock::Step,
                }),
                trigger: i32::from(match l.trigger {
                    LevelTrigger::Warning => pb::EscalationTrigger::Warning,
                    LevelTrigger::Breach => pb::EscalationTrigger::Breach,
                }),
                delay: Some(duration(l.delay_ms)),
                action: i32::from(match l.action {
                    LevelAction::NotifyAssignee => pb::EscalationAction::NotifyAssignee,
                    LevelAction::ReassignToStepEscalationRole => {
                        pb::EscalationAction::ReassignToStepEscalationRole
                    }
                    LevelAction::ReassignToRole => pb::EscalationAction::ReassignToRole,
                }),
                role: l.role.clone(),
            })
            .collect(),
    })
}
