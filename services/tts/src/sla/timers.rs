//! The SLA timers, fired exactly once by the kit's timer worker: a clock's
//! warning and breach ([`ClockTimer`]) and each escalation level
//! ([`LevelTimer`]).
//!
//! A warning or breach is recorded on the clock and in the ticket's history
//! and published (`tts.sla.warning`, `tts.sla.breached`) in the timer's
//! transaction; it then arms the policy's escalation levels for that clock
//! and trigger, each due its delay in business time later. A level, when
//! due, publishes `tts.sla.escalation_due`: the reassignment itself is the
//! `tts.sla-escalations` consumer's ([`super::escalation`]), which asks
//! Auth for the next holder before its transaction — never a network call
//! inside a timer's. A timer that finds its threshold not reached (the
//! clock moved while it was being claimed) waits for the new instant.

use chrono::{DateTime, Duration, Utc};
use map_contracts::{events::v1 as ev, tts::v1 as pb};
use map_kit::{
    System,
    clock::Clock as WallClock,
    outbox::Outbox,
    timers::{FireError, Timer, TimerHandler, Timers},
    wire::time::timestamp,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
};

use super::{
    calendar::Calendar,
    clocks::{self, BREACH, Calendars, FIRST_RESPONSE, RESOLUTION, WARNING},
    stored::{self, LevelAction, LevelClock, LevelTrigger},
};
use crate::{
    TtsError,
    entity::{sla_policies, ticket_sla_clocks, tickets},
    tickets::{enqueue_event, model, write_history},
    workflows::{Workflows, model::Revision},
};

/// Timer kind of an escalation level.
pub const LEVEL: &str = "tts.sla.escalation";

/// The kind of clock a clock name is, for events.
fn kind_of(clock: &str) -> ev::SlaKind {
    match clock {
        FIRST_RESPONSE => ev::SlaKind::FirstResponse,
        RESOLUTION => ev::SlaKind::Resolution,
        _ => ev::SlaKind::Step,
    }
}

/// The same, on the API.
fn clock_of(clock: &str) -> pb::SlaClock {
    match clock {
        FIRST_RESPONSE => pb::SlaClock::FirstResponse,
        RESOLUTION => pb::SlaClock::Resolution,
        _ => pb::SlaClock::Step,
    }
}

/// Whether escalation level `clock` watches clock `name`.
fn watches(level: LevelClock, name: &str) -> bool {
    match level {
        LevelClock::FirstResponse => name == FIRST_RESPONSE,
        LevelClock::Resolution => name == RESOLUTION,
        LevelClock::Step => name.starts_with("step:"),
    }
}

fn retry(e: TtsError) -> FireError {
    FireError::Retry(e.to_string())
}

/// What a clock timer's transaction reads.
struct Scene {
    clock: ticket_sla_clocks::Model,
    ticket: tickets::Model,
    policy: sla_policies::Model,
}

/// Reads the clock `subject` names, its ticket and policy; `None` when any
/// is gone (nothing to do).
async fn scene(txn: &DatabaseTransaction, subject: &str) -> Result<Option<Scene>, TtsError> {
    let Some((ticket_id, name)) = clocks::parse_subject(subject) else {
        return Ok(None);
    };
    let Some(clock) =
        ticket_sla_clocks::Entity::find_by_id((ticket_id.to_owned(), name.to_owned()))
            .one(txn)
            .await?
    else {
        return Ok(None);
    };
    let Some(ticket) = tickets::Entity::find_by_id(ticket_id.to_owned())
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    let Some(policy) = sla_policies::Entity::find_by_id(clock.policy_id.clone())
        .one(txn)
        .await?
    else {
        return Ok(None);
    };
    Ok(Some(Scene {
        clock,
        ticket,
        policy,
    }))
}

/// The step a clock is about — its own for a step clock, else the
/// ticket's current one — and the revision that defines it (none in
/// triage).
async fn step_of(
    txn: &DatabaseTransaction,
    ticket: &tickets::Model,
    row: &ticket_sla_clocks::Model,
) -> Result<(Option<Revision>, String), TtsError> {
    let revision = match ticket.workflow_id.as_str() {
        "" => None,
        id => Some(Workflows::read_revision(txn, id, ticket.workflow_revision).await?),
    };
    let step_id = if row.step_id.is_empty() {
        ticket.step_id.clone()
    } else {
        row.step_id.clone()
    };
    Ok((revision, step_id))
}

/// A clock's warning (`WARNING`) or breach (`BREACH`).
#[derive(Debug)]
pub struct ClockTimer {
    kind: &'static str,
    outbox: Outbox,
    timers: Timers,
    clock: WallClock,
}

impl ClockTimer {
    /// The handler of a clock's warnings.
    pub fn warning(clock: WallClock) -> ClockTimer {
        ClockTimer::new(WARNING, clock)
    }

    /// The handler of a clock's breaches.
    pub fn breach(clock: WallClock) -> ClockTimer {
        ClockTimer::new(BREACH, clock)
    }

    fn new(kind: &'static str, clock: WallClock) -> ClockTimer {
        ClockTimer {
            kind,
            outbox: Outbox::new(System::Tts).with_clock(clock.clone()),
            timers: Timers::new(clock.clone()),
            clock,
        }
    }

    async fn fire_clock(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), TtsError> {
        let Some(Scene {
            clock: row,
            ticket,
            policy,
        }) = scene(txn, &timer.subject).await?
        else {
            return Ok(());
        };
        let breach = self.kind == BREACH;
        let c = clocks::from_row(&row);
        if c.breached_at.is_some() || (!breach && c.warned_at.is_some()) {
            return Ok(());
        }
        let mut calendars = Calendars::default();
        let calendar = calendars.get(txn, &policy.calendar_id).await?.clone();
        let now = self.clock.now();
        let threshold = if breach { c.target } else { c.warn_after };
        if c.elapsed_at(&calendar, now) < threshold {
            let projection = c.project(&calendar);
            let next = if breach {
                projection.due_at
            } else {
                projection.warn_at
            };
            if let Some(at) = next {
                self.timers
                    .schedule(txn, self.kind, &timer.subject, at, Vec::new())
                    .await?;
            }
            return Ok(());
        }
        // When it happened: the instant the timer was due, unless the clock
        // was not counting then (a threshold found passed on a change).
        let at = timer.due_at.min(now);
        let mut update = ticket_sla_clocks::ActiveModel {
            ticket_id: Set(row.ticket_id.clone()),
            clock: Set(row.clock.clone()),
            ..Default::default()
        };
        if breach {
            update.breached_at = Set(Some(at));
            update.due_at = Set(None);
            update.warn_at = Set(None);
            tickets::Entity::update_many()
                .col_expr(tickets::Column::SlaBreached, true.into())
                .filter(tickets::Column::Id.eq(ticket.id.clone()))
                .exec(txn)
                .await?;
        } else {
            update.warned_at = Set(Some(at));
            update.warn_at = Set(None);
        }
        ticket_sla_clocks::Entity::update(update).exec(txn).await?;
        self.record(txn, (&ticket, &row, &policy), &calendar, at, now)
            .await?;
        // The levels this trigger starts.
        let trigger = if breach {
            LevelTrigger::Breach
        } else {
            LevelTrigger::Warning
        };
        for (index, level) in stored::levels(&policy).iter().enumerate() {
            if level.trigger != trigger || !watches(level.clock, &row.clock) {
                continue;
            }
            let due = calendar.add_business(at, Duration::milliseconds(level.delay_ms.max(0)));
            let subject = format!("{}/{index}", timer.subject);
            self.timers
                .schedule(txn, LEVEL, &subject, due, Vec::new())
                .await?;
        }
        Ok(())
    }

    /// The history entry and the event of the warning or breach of the
    /// clock `row` of `ticket` (which follows `policy`, on `calendar`).
    async fn record(
        &self,
        txn: &DatabaseTransaction,
        (ticket, row, policy): (
            &tickets::Model,
            &ticket_sla_clocks::Model,
            &sla_policies::Model,
        ),
        calendar: &Calendar,
        at: DateTime<Utc>,
        now: DateTime<Utc>,
    ) -> Result<(), TtsError> {
        let breach = self.kind == BREACH;
        let (revision, step_id) = step_of(txn, ticket, row).await?;
        let graph = revision.as_ref().map(|r| &r.definition.graph);
        let step = graph.and_then(|g| g.step(&step_id));
        let escalation_role = step.map(|s| s.escalation_role.clone()).unwrap_or_default();
        let due_time = row.due_at.or(row.warn_at).unwrap_or(at);
        let details = pb::ticket_event::Details::Sla(pb::TicketSlaDetails {
            clock: clock_of(&row.clock).into(),
            due_time: Some(timestamp(if breach { at } else { due_time })),
            step_id: row.step_id.clone(),
            escalation_role: if breach {
                escalation_role.clone()
            } else {
                String::new()
            },
        });
        let kind = if breach {
            pb::TicketEventType::SlaBreached
        } else {
            pb::TicketEventType::SlaWarning
        };
        write_history(txn, ticket, "", now, kind, details).await?;
        let occurrence_id = uuid::Uuid::now_v7().to_string();
        let step_ref = graph.and_then(|g| model::step_ref(g, &step_id));
        let assignee = (!ticket.assignee_user_id.is_empty()).then(|| ev::UserRef {
            user_id: ticket.assignee_user_id.clone(),
            ..Default::default()
        });
        if breach {
            let payload = ev::TtsSlaBreached {
                occurrence_id,
                tts_ticket_id: ticket.id.clone(),
                tts_ticket_number: ticket.number.clone(),
                hdts_ticket_id: ticket.hdts_ticket_id.clone().unwrap_or_default(),
                kind: kind_of(&row.clock).into(),
                step: step_ref,
                policy_name: policy.name.clone(),
                due_time: Some(timestamp(at)),
                assignee,
                escalation_role: model::role_ref(&escalation_role),
                escalated_to: None,
                breach_time: Some(timestamp(now)),
            };
            enqueue_event(&self.outbox, txn, "tts.sla.breached", ticket, &payload).await
        } else {
            let remaining = clocks::from_row(row).remaining(calendar, now);
            let payload = ev::TtsSlaWarning {
                occurrence_id,
                tts_ticket_id: ticket.id.clone(),
                tts_ticket_number: ticket.number.clone(),
                hdts_ticket_id: ticket.hdts_ticket_id.clone().unwrap_or_default(),
                kind: kind_of(&row.clock).into(),
                step: step_ref,
                policy_name: policy.name.clone(),
                due_time: row.due_at.map(timestamp),
                remaining: Some(prost_types::Duration {
                    seconds: remaining.num_seconds().max(0),
                    nanos: 0,
                }),
                assignee,
                warn_time: Some(timestamp(at)),
            };
            enqueue_event(&self.outbox, txn, "tts.sla.warning", ticket, &payload).await
        }
    }
}

#[async_trait::async_trait]
impl TimerHandler for ClockTimer {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        self.fire_clock(timer, txn).await.map_err(retry)
    }
}

/// One escalation level of one clock: publishes `tts.sla.escalation_due`
/// once, unless the clock stopped meanwhile.
#[derive(Debug)]
pub struct LevelTimer {
    outbox: Outbox,
    clock: WallClock,
}

impl LevelTimer {
    /// The handler of [`LEVEL`] timers.
    pub fn new(clock: WallClock) -> LevelTimer {
        LevelTimer {
            outbox: Outbox::new(System::Tts).with_clock(clock.clone()),
            clock,
        }
    }

    async fn fire_level(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), TtsError> {
        let Some((clock_subject, index)) = timer.subject.rsplit_once('/') else {
            return Ok(());
        };
        let Ok(index) = index.parse::<usize>() else {
            return Ok(());
        };
        let Some(Scene {
            clock: row,
            ticket,
            policy,
        }) = scene(txn, clock_subject).await?
        else {
            return Ok(());
        };
        let done: Vec<&str> = row.levels_done.split_whitespace().collect();
        if row.stopped_at.is_some() || done.contains(&index.to_string().as_str()) {
            return Ok(());
        }
        let levels = stored::levels(&policy);
        let Some(level) = levels.get(index) else {
            return Ok(());
        };
        let (revision, step_id) = step_of(txn, &ticket, &row).await?;
        let graph = revision.as_ref().map(|r| &r.definition.graph);
        let (action, role) = match level.action {
            LevelAction::NotifyAssignee => (ev::SlaEscalationAction::NotifyAssignee, String::new()),
            LevelAction::ReassignToStepEscalationRole => (
                ev::SlaEscalationAction::Reassign,
                graph
                    .and_then(|g| g.step(&step_id))
                    .map(|s| s.escalation_role.clone())
                    .unwrap_or_default(),
            ),
            LevelAction::ReassignToRole => (ev::SlaEscalationAction::Reassign, level.role.clone()),
        };
        let mut levels_done = row.levels_done.clone();
        if !levels_done.is_empty() {
            levels_done.push(' ');
        }
        levels_done.push_str(&index.to_string());
        ticket_sla_clocks::Entity::update(ticket_sla_clocks::ActiveModel {
            ticket_id: Set(row.ticket_id.clone()),
            clock: Set(row.clock.clone()),
            levels_done: Set(levels_done),
            ..Default::default()
        })
        .exec(txn)
        .await?;
        // A reassignment to no role (a step without an escalation role) has
        // nothing to do.
        if action == ev::SlaEscalationAction::Reassign && role.is_empty() {
            return Ok(());
        }
        let payload = ev::TtsSlaEscalationDue {
            occurrence_id: uuid::Uuid::now_v7().to_string(),
            tts_ticket_id: ticket.id.clone(),
            tts_ticket_number: ticket.number.clone(),
            kind: kind_of(&row.clock).into(),
            step: graph.and_then(|g| model::step_ref(g, &step_id)),
            level: i32::try_from(index).unwrap_or(i32::MAX),
            action: action.into(),
            role: model::role_ref(&role),
            assignee: (!ticket.assignee_user_id.is_empty()).then(|| ev::UserRef {
                user_id: ticket.assignee_user_id.clone(),
                ..Default::default()
            }),
            policy_name: policy.name.clone(),
            due_time: Some(timestamp(timer.due_at.min(self.clock.now()))),
        };
        enqueue_event(
            &self.outbox,
            txn,
            "tts.sla.escalation_due",
            &ticket,
            &payload,
        )
        .await
    }
}

#[async_trait::async_trait]
impl TimerHandler for LevelTimer {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        self.fire_level(timer, txn).await.map_err(retry)
    }
}
