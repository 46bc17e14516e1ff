//! A ticket's SLA as people see it: each clock's state, due time,
//! remaining business time and pause, computed at the moment of reading
//! from the clocks as stored.

use chrono::{DateTime, Duration, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::wire::time::timestamp;
use sea_orm::{ColumnTrait as _, ConnectionTrait, EntityTrait as _, QueryFilter as _};

use super::{
    clock::State,
    clocks::{self, Calendars, FIRST_RESPONSE, RESOLUTION},
};
use crate::{
    TtsError,
    entity::{sla_policies, ticket_sla_clocks, tickets},
};

/// A duration on the wire (it may be negative: overdue).
fn duration(d: Duration) -> prost_types::Duration {
    let ms = d.num_milliseconds();
    prost_types::Duration {
        seconds: ms / 1000,
        nanos: i32::try_from((ms % 1000) * 1_000_000).unwrap_or(0),
    }
}

fn state(s: State) -> pb::SlaClockState {
    match s {
        State::Running => pb::SlaClockState::Running,
        State::Paused => pb::SlaClockState::Paused,
        State::Warned => pb::SlaClockState::Warned,
        State::Breached => pb::SlaClockState::Breached,
        State::Met => pb::SlaClockState::Met,
    }
}

/// The summary a list shows, from the ticket's own columns.
pub fn summary(t: &tickets::Model) -> Option<pb::TicketSla> {
    if t.sla_policy_id.is_empty() {
        return None;
    }
    Some(pb::TicketSla {
        sla_policy_id: t.sla_policy_id.clone(),
        resolution_due_time: t.sla_due_at.map(timestamp),
        first_response_time: t.first_response_at.map(timestamp),
        resolution_breached: t.sla_breached,
        ..Default::default()
    })
}

/// The summary events carry, from the ticket's own columns (the policy's
/// name is left out: events carry what the ticket row holds).
pub fn published(t: &tickets::Model) -> Option<map_contracts::events::v1::TtsTicketSla> {
    summary(t).map(|s| map_contracts::events::v1::TtsTicketSla {
        sla_policy_id: s.sla_policy_id,
        resolution_due_time: s.resolution_due_time,
        first_response_time: s.first_response_time,
        resolution_breached: s.resolution_breached,
        ..Default::default()
    })
}

/// The whole SLA of `ticket` at `now`: every clock, as GetTicket shows it.
pub async fn detail<C: ConnectionTrait>(
    conn: &C,
    ticket: &tickets::Model,
    now: DateTime<Utc>,
) -> Result<Option<pb::TicketSla>, TtsError> {
    let rows = ticket_sla_clocks::Entity::find()
        .filter(ticket_sla_clocks::Column::TicketId.eq(ticket.id.clone()))
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(summary(ticket));
    }
    let calendar_id = match sla_policies::Entity::find_by_id(ticket.sla_policy_id.clone())
        .one(conn)
        .await?
    {
        Some(p) => p.calendar_id,
        None => String::new(),
    };
    let mut calendars = Calendars::default();
    let calendar = calendars.get(conn, &calendar_id).await?.clone();
    let current_step = clocks::step_clock(&ticket.step_id);
    let mut sla = pb::TicketSla {
        sla_policy_id: ticket.sla_policy_id.clone(),
        first_response_time: ticket.first_response_at.map(timestamp),
        ..Default::default()
    };
    for row in &rows {
        let c = clocks::from_row(row);
        let s = c.state(&calendar, now);
        let due = c.due_from(&calendar, now);
        let breached = s == State::Breached;
        match row.clock.as_str() {
            FIRST_RESPONSE => {
                sla.first_response_due_time = due.map(timestamp);
                sla.first_response_breached = breached;
            }
            RESOLUTION => {
                sla.resolution_due_time = due.map(timestamp);
                sla.resolution_breached = breached;
                sla.paused = s == State::Paused;
            }
            name if name == current_step => {
                sla.step_due_time = due.map(timestamp);
                sla.step_breached = breached;
            }
            // Clocks of steps the ticket left are history, not its state.
            _ => continue,
        }
        sla.clocks.push(pb::SlaClockStatus {
            clock: match row.clock.as_str() {
                FIRST_RESPONSE => pb::SlaClock::FirstResponse,
                RESOLUTION => pb::SlaClock::Resolution,
                _ => pb::SlaClock::Step,
            }
            .into(),
            step_id: row.step_id.clone(),
            state: state(s).into(),
            target: Some(duration(c.target)),
            due_time: due.map(timestamp),
            remaining: Some(duration(c.remaining(&calendar, now))),
            paused_since: c.paused_since.map(timestamp),
            stop_time: c.stopped_at.map(timestamp),
        });
    }
    Ok(Some(sla))
}
