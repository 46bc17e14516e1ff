//! A ticket's SLA clocks, kept in line with the ticket in the transaction
//! that changes it.
//!
//! [`SlaClocks::follow`] reads the ticket as it is after a change and
//! decides each clock's mode from it — stopped once resolved, closed or
//! cancelled (first response also once an agent responded), paused in the
//! policy's pause statuses, a step clock suspended while the ticket is at
//! another step — settles every clock on the calendar it counted on,
//! re-targets it when the policy changed (keeping what it counted), and
//! re-arms its warning and breach timers where their instants moved. It is
//! stateless about *why* the ticket changed, so every path that writes a
//! ticket (commands, help-desk instructions, escalations) keeps the clocks
//! right by calling it.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use map_kit::timers::Timers;
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _,
    sea_query::OnConflict,
};

use super::{
    calendar::Calendar,
    clock::{self, Clock, Mode, Projection},
    matching, stored,
};
use crate::{
    TtsError,
    entity::{sla_calendars, sla_policies, ticket_sla_clocks, tickets},
    workflows::{Workflows, model::Revision},
};

/// Timer kind of a clock's warning.
pub const WARNING: &str = "tts.sla.warning";
/// Timer kind of a clock's breach.
pub const BREACH: &str = "tts.sla.breach";
/// The first-response clock's name.
pub const FIRST_RESPONSE: &str = "first_response";
/// The resolution clock's name.
pub const RESOLUTION: &str = "resolution";

/// The name of the clock of step `step_id`.
pub fn step_clock(step_id: &str) -> String {
    format!("step:{step_id}")
}

/// The subject of a clock's timers.
pub fn subject(ticket_id: &str, clock: &str) -> String {
    format!("{ticket_id}/{clock}")
}

/// The ticket and clock a timer subject names.
pub fn parse_subject(subject: &str) -> Option<(&str, &str)> {
    subject.split_once('/')
}

/// The statuses in which every clock stops.
const TERMINAL: [&str; 3] = ["resolved", "closed", "cancelled"];

/// Keeps tickets' clocks and their timers. Cheap to clone.
#[derive(Debug, Clone)]
pub struct SlaClocks {
    timers: Timers,
}

/// Calendars read once per call, by calendar id ("" is around the clock),
/// and which calendar each policy counts on.
#[derive(Default)]
pub(crate) struct Calendars {
    by_id: HashMap<String, Calendar>,
    of_policy: HashMap<String, String>,
}

impl Calendars {
    /// The calendar `id`; around the clock for "" or one that no longer
    /// exists or validates (it cannot be deleted, so neither happens).
    pub(crate) async fn get<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        id: &str,
    ) -> Result<&Calendar, TtsError> {
        if !self.by_id.contains_key(id) {
            let calendar = if id.is_empty() {
                Calendar::around_the_clock()
            } else {
                sla_calendars::Entity::find_by_id(id.to_owned())
                    .one(conn)
                    .await?
                    .and_then(|row| stored::calendar(&row).ok())
                    .unwrap_or_else(Calendar::around_the_clock)
            };
            self.by_id.insert(id.to_owned(), calendar);
        }
        Ok(&self.by_id[id])
    }

    /// Records that `policy` counts on its calendar (no read later).
    pub(crate) fn know(&mut self, policy: &sla_policies::Model) {
        self.of_policy
            .insert(policy.id.clone(), policy.calendar_id.clone());
    }

    /// The calendar of policy `policy_id` (around the clock for an unknown
    /// one), the policy read once.
    pub(crate) async fn of_policy<C: ConnectionTrait>(
        &mut self,
        conn: &C,
        policy_id: &str,
    ) -> Result<&Calendar, TtsError> {
        if !self.of_policy.contains_key(policy_id) {
            let calendar_id = sla_policies::Entity::find_by_id(policy_id.to_owned())
                .one(conn)
                .await?
                .map(|p| p.calendar_id)
                .unwrap_or_default();
            self.of_policy.insert(policy_id.to_owned(), calendar_id);
        }
        let calendar_id = self.of_policy[policy_id].clone();
        self.get(conn, &calendar_id).await
    }
}

/// A clock as stored, read back.
pub(crate) fn from_row(row: &ticket_sla_clocks::Model) -> Clock {
    Clock {
        target: Duration::milliseconds(row.target_ms),
        warn_after: Duration::milliseconds(row.warn_ms),
        elapsed: Duration::milliseconds(row.elapsed_ms),
        counting: row.counting,
        counted_at: row.counted_at,
        paused_since: row.paused_since,
        warned_at: row.warned_at,
        breached_at: row.breached_at,
        stopped_at: row.stopped_at,
    }
}

/// What one clock should become.
struct Wanted {
    clock: String,
    step_id: String,
    /// The target under the current policy; `None` keeps the clock's own.
    target: Option<Duration>,
    mode: Mode,
}

/// The business time a step may take: its own SLA when it has one, else
/// its weight's share of the resolution target over the weights of the
/// workflow's steps that are not ends; `None` for neither.
pub fn step_target(revision: &Revision, step_id: &str, resolution: Duration) -> Option<Duration> {
    let steps = &revision.definition.graph.steps;
    let step = steps.iter().find(|s| s.id == step_id)?;
    if step.end {
        return None;
    }
    if let Some(seconds) = step.sla_seconds {
        return Some(Duration::seconds(seconds));
    }
    let total: i32 = steps
        .iter()
        .filter(|s| !s.end)
        .map(|s| s.weight.max(0))
        .sum();
    clock::step_share(resolution, step.weight, total)
}

impl SlaClocks {
    /// Clocks whose timers are stamped with `clock`'s time.
    pub fn new(clock: map_kit::clock::Clock) -> SlaClocks {
        SlaClocks {
            timers: Timers::new(clock),
        }
    }

    /// Before an edit of calendar `calendar_id` (`old`, as it was) is
    /// written, in its transaction: settles the clocks counting on it, so
    /// the time before the edit stays counted on the old hours. The
    /// policies that use it, for [`Self::refollow`] after the write.
    pub async fn before_calendar_edit<C: ConnectionTrait>(
        &self,
        txn: &C,
        calendar_id: &str,
        old: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<Vec<String>, TtsError> {
        let policies: Vec<String> = sla_policies::Entity::find()
            .filter(sla_policies::Column::CalendarId.eq(calendar_id))
            .all(txn)
            .await?
            .into_iter()
            .map(|p| p.id)
            .collect();
        self.settle(txn, &policies, old, now).await?;
        Ok(policies)
    }

    /// Before an edit of `policy` (as it was) is written, in its
    /// transaction: settles its clocks on its calendar.
    pub async fn before_policy_edit<C: ConnectionTrait>(
        &self,
        txn: &C,
        policy: &sla_policies::Model,
        now: DateTime<Utc>,
    ) -> Result<(), TtsError> {
        let calendar = Calendars::default()
            .get(txn, &policy.calendar_id)
            .await?
            .clone();
        self.settle(txn, std::slice::from_ref(&policy.id), &calendar, now)
            .await
    }

    /// Whether a change from `before` to `after` can move the clocks.
    pub fn concerns(before: &tickets::Model, after: &tickets::Model) -> bool {
        before.status != after.status
            || before.step_id != after.step_id
            || before.priority != after.priority
            || before.help_topic_id != after.help_topic_id
            || before.workflow_id != after.workflow_id
            || before.workflow_revision != after.workflow_revision
            || before.department_code != after.department_code
            || before.first_response_at != after.first_response_at
    }

    /// Brings the clocks of `ticket` (as it is now, in `txn`) in line with
    /// it at `now`, and their timers with them; the ticket with its SLA
    /// columns as they are now.
    pub async fn follow<C: ConnectionTrait>(
        &self,
        txn: &C,
        ticket: tickets::Model,
        now: DateTime<Utc>,
    ) -> Result<tickets::Model, TtsError> {
        let ticket = &ticket;
        let policy = matching::policy_for(txn, ticket).await?;
        let rows = ticket_sla_clocks::Entity::find()
            .filter(ticket_sla_clocks::Column::TicketId.eq(ticket.id.clone()))
            .all(txn)
            .await?;
        if policy.is_none() && rows.is_empty() {
            return self.mark_ticket(txn, ticket, "", None, false).await;
        }
        let mut calendars = Calendars::default();
        if let Some(p) = &policy {
            calendars.know(p);
        }
        let wanted = self.wanted(txn, ticket, policy.as_ref(), &rows).await?;
        let policy_id = policy.as_ref().map(|p| p.id.clone()).unwrap_or_default();
        let warn_percent = policy.as_ref().map_or(80, |p| p.warning_percent);
        let calendar_id = policy
            .as_ref()
            .map(|p| p.calendar_id.clone())
            .unwrap_or_default();
        let mut due = None;
        let mut breached = false;
        for w in wanted {
            let row = rows.iter().find(|r| r.clock == w.clock);
            let c = match row {
                Some(row) => {
                    let mut c = from_row(row);
                    let counted_on = calendars.of_policy(txn, &row.policy_id).await?.clone();
                    c.settle(&counted_on, now);
                    if let Some(target) = w.target {
                        c.retarget(target, warn_percent);
                    }
                    c.enter(w.mode, now);
                    c
                }
                None => {
                    let Some(target) = w.target else { continue };
                    Clock::start(target, warn_percent, w.mode, now)
                }
            };
            // A clock follows the current policy once it has one.
            let owner = if policy.is_some() {
                policy_id.clone()
            } else {
                row.map(|r| r.policy_id.clone()).unwrap_or_default()
            };
            let calendar = calendars.get(txn, &calendar_id).await?;
            let projection = c.project(calendar);
            if w.clock == RESOLUTION && c.counting {
                due = projection.due_at;
            }
            breached |= c.breached_at.is_some();
            let before = row.map(|r| Projection {
                warn_at: r.warn_at,
                due_at: r.due_at,
            });
            self.arm(txn, &ticket.id, &w.clock, before, projection)
                .await?;
            save(
                txn, &ticket.id, &w.clock, &w.step_id, &owner, &c, projection, row,
            )
            .await?;
        }
        self.mark_ticket(txn, ticket, &policy_id, due, breached)
            .await
    }

    /// Settles, at `now`, the counting clocks that follow `policy_ids` on
    /// `calendar` — the calendar they counted on until an edit of it or of
    /// their policy — so the business time before the edit is kept as it
    /// was counted. Call before writing the edit, then [`Self::refollow`].
    pub async fn settle<C: ConnectionTrait>(
        &self,
        txn: &C,
        policy_ids: &[String],
        calendar: &Calendar,
        now: DateTime<Utc>,
    ) -> Result<(), TtsError> {
        let rows = ticket_sla_clocks::Entity::find()
            .filter(ticket_sla_clocks::Column::PolicyId.is_in(policy_ids.iter().cloned()))
            .filter(ticket_sla_clocks::Column::Counting.eq(true))
            .all(txn)
            .await?;
        for row in rows {
            let mut c = from_row(&row);
            c.settle(calendar, now);
            ticket_sla_clocks::Entity::update(ticket_sla_clocks::ActiveModel {
                ticket_id: Set(row.ticket_id.clone()),
                clock: Set(row.clock.clone()),
                elapsed_ms: Set(c.elapsed.num_milliseconds()),
                counted_at: Set(c.counted_at),
                ..Default::default()
            })
            .exec(txn)
            .await?;
        }
        Ok(())
    }

    /// Brings in line, after an edit of SLA policies or calendars, every
    /// open ticket that follows one of `policy_ids` or has `priority`
    /// (which a new or re-scoped policy may now cover).
    pub async fn refollow<C: ConnectionTrait>(
        &self,
        txn: &C,
        policy_ids: &[String],
        priority: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<usize, TtsError> {
        use sea_orm::sea_query::Condition;
        let mut which =
            Condition::any().add(tickets::Column::SlaPolicyId.is_in(policy_ids.iter().cloned()));
        if let Some(priority) = priority {
            which = which.add(tickets::Column::Priority.eq(priority));
        }
        let open = tickets::Entity::find()
            .filter(which)
            .filter(tickets::Column::Status.is_not_in(TERMINAL))
            .all(txn)
            .await?;
        let n = open.len();
        for ticket in open {
            self.follow(txn, ticket, now).await?;
        }
        Ok(n)
    }

    /// What each clock of `ticket` should become.
    async fn wanted<C: ConnectionTrait>(
        &self,
        txn: &C,
        ticket: &tickets::Model,
        policy: Option<&sla_policies::Model>,
        rows: &[ticket_sla_clocks::Model],
    ) -> Result<Vec<Wanted>, TtsError> {
        let terminal = TERMINAL.contains(&ticket.status.as_str());
        let mut wanted = Vec::new();
        let current_step = step_clock(&ticket.step_id);
        if let Some(p) = policy {
            let paused = stored::pause_statuses(p).contains(&ticket.status.as_str());
            let running = if terminal {
                Mode::Stopped
            } else if paused {
                Mode::Paused
            } else {
                Mode::Counting
            };
            let resolution = Duration::milliseconds(p.resolution_ms);
            wanted.push(Wanted {
                clock: FIRST_RESPONSE.into(),
                step_id: String::new(),
                target: Some(Duration::milliseconds(p.first_response_ms)),
                mode: if ticket.first_response_at.is_some() {
                    Mode::Stopped
                } else {
                    running
                },
            });
            wanted.push(Wanted {
                clock: RESOLUTION.into(),
                step_id: String::new(),
                target: Some(resolution),
                mode: running,
            });
            if !ticket.workflow_id.is_empty() && !ticket.step_id.is_empty() {
                let revision =
                    Workflows::read_revision(txn, &ticket.workflow_id, ticket.workflow_revision)
                        .await?;
                if let Some(target) = step_target(&revision, &ticket.step_id, resolution) {
                    wanted.push(Wanted {
                        clock: current_step.clone(),
                        step_id: ticket.step_id.clone(),
                        target: Some(target),
                        mode: running,
                    });
                }
            }
        }
        // Clocks no longer wanted: the steps the ticket left (or every clock,
        // when no policy applies any more) stop counting and keep what they
        // counted; a stopped one stays stopped.
        for row in rows {
            if wanted.iter().any(|w| w.clock == row.clock) {
                continue;
            }
            let mode = if row.stopped_at.is_some() {
                Mode::Stopped
            } else {
                Mode::Suspended
            };
            wanted.push(Wanted {
                clock: row.clock.clone(),
                step_id: row.step_id.clone(),
                target: None,
                mode,
            });
        }
        Ok(wanted)
    }

    /// Schedules or cancels a clock's timers where its projection moved.
    async fn arm<C: ConnectionTrait>(
        &self,
        txn: &C,
        ticket_id: &str,
        clock: &str,
        before: Option<Projection>,
        now: Projection,
    ) -> Result<(), TtsError> {
        let subject = subject(ticket_id, clock);
        let before = before.unwrap_or_default();
        for (kind, was, is) in [
            (WARNING, before.warn_at, now.warn_at),
            (BREACH, before.due_at, now.due_at),
        ] {
            if was == is {
                continue;
            }
            match is {
                Some(at) => {
                    self.timers
                        .schedule(txn, kind, &subject, at, Vec::new())
                        .await?
                }
                None => {
                    self.timers.cancel(txn, kind, &subject).await?;
                }
            }
        }
        Ok(())
    }

    /// Writes the ticket's SLA columns where they changed (no new version:
    /// its own fields did not change); the ticket with them.
    async fn mark_ticket<C: ConnectionTrait>(
        &self,
        txn: &C,
        ticket: &tickets::Model,
        policy_id: &str,
        due: Option<DateTime<Utc>>,
        breached: bool,
    ) -> Result<tickets::Model, TtsError> {
        let mut after = ticket.clone();
        if ticket.sla_policy_id == policy_id
            && ticket.sla_due_at == due
            && ticket.sla_breached == breached
        {
            return Ok(after);
        }
        after.sla_policy_id = policy_id.to_owned();
        after.sla_due_at = due;
        after.sla_breached = breached;
        tickets::Entity::update_many()
            .set(tickets::ActiveModel {
                sla_policy_id: Set(policy_id.to_owned()),
                sla_due_at: Set(due),
                sla_breached: Set(breached),
                ..Default::default()
            })
            .filter(tickets::Column::Id.eq(ticket.id.clone()))
            .exec(txn)
            .await?;
        Ok(after)
    }
}

/// Inserts or replaces a clock's row.
#[allow(clippy::too_many_arguments)]
async fn save<C: ConnectionTrait>(
    txn: &C,
    ticket_id: &str,
    clock: &str,
    step_id: &str,
    policy_id: &str,
    c: &Clock,
    projection: Projection,
    before: Option<&ticket_sla_clocks::Model>,
) -> Result<(), TtsError> {
    let row = ticket_sla_clocks::ActiveModel {
        ticket_id: Set(ticket_id.to_owned()),
        clock: Set(clock.to_owned()),
        step_id: Set(step_id.to_owned()),
        policy_id: Set(policy_id.to_owned()),
        target_ms: Set(c.target.num_milliseconds()),
        warn_ms: Set(c.warn_after.num_milliseconds()),
        elapsed_ms: Set(c.elapsed.num_milliseconds()),
        counting: Set(c.counting),
        counted_at: Set(c.counted_at),
        paused_since: Set(c.paused_since),
        warn_at: Set(projection.warn_at),
        due_at: Set(projection.due_at),
        warned_at: Set(c.warned_at),
        breached_at: Set(c.breached_at),
        stopped_at: Set(c.stopped_at),
        levels_done: Set(before.map(|b| b.levels_done.clone()).unwrap_or_default()),
    };
    use ticket_sla_clocks::Column as K;
    ticket_sla_clocks::Entity::insert(row)
        .on_conflict(
            OnConflict::columns([K::TicketId, K::Clock])
                .update_columns([
                    K::StepId,
                    K::PolicyId,
                    K::TargetMs,
                    K::WarnMs,
                    K::ElapsedMs,
                    K::Counting,
                    K::CountedAt,
                    K::PausedSince,
                    K::WarnAt,
                    K::DueAt,
                    K::WarnedAt,
                    K::BreachedAt,
                    K::StoppedAt,
                ])
                .to_owned(),
        )
        .exec_without_returning(txn)
        .await?;
    Ok(())
}
