//! How SLA records keep what is not a column: a calendar's hours and
//! holidays and a policy's escalation levels as JSON text, and a policy's
//! pause statuses as words. Read whole, never queried by parts.

use chrono::{NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::calendar::{Calendar, CalendarError, Holiday, WeeklyInterval};
use crate::entity::{sla_calendars, sla_policies};

/// One weekly interval, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHours {
    /// ISO weekday number, 1 (Monday) to 7 (Sunday).
    pub weekday: u8,
    /// Local minutes after midnight.
    pub start: u16,
    /// Local minutes after midnight, after `start`.
    pub end: u16,
}

/// One holiday, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredHoliday {
    /// The date (for a yearly one, its month and day).
    pub date: NaiveDate,
    /// Display name.
    pub name: String,
    /// Every year on the same month and day.
    pub yearly: bool,
}

/// Which clock an escalation level watches, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelClock {
    /// First response.
    FirstResponse,
    /// Resolution.
    Resolution,
    /// Any step clock.
    Step,
}

/// When an escalation level acts, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelTrigger {
    /// At the warning.
    Warning,
    /// At the breach.
    Breach,
}

/// What an escalation level does, as stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LevelAction {
    /// Tell the assignee.
    NotifyAssignee,
    /// Reassign to the step's escalation role.
    ReassignToStepEscalationRole,
    /// Reassign to the level's role.
    ReassignToRole,
}

/// One escalation level, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredLevel {
    /// The clock it watches.
    pub clock: LevelClock,
    /// When it acts.
    pub trigger: LevelTrigger,
    /// Business milliseconds after the trigger.
    pub delay_ms: i64,
    /// What it does.
    pub action: LevelAction,
    /// For `ReassignToRole`, the Auth role.
    pub role: String,
}

/// The levels of a policy that stores none: a breach of the resolution or
/// a step clock reassigns to the step's escalation role.
pub fn default_levels() -> Vec<StoredLevel> {
    [LevelClock::Resolution, LevelClock::Step]
        .into_iter()
        .map(|clock| StoredLevel {
            clock,
            trigger: LevelTrigger::Breach,
            delay_ms: 0,
            action: LevelAction::ReassignToStepEscalationRole,
            role: String::new(),
        })
        .collect()
}

/// The escalation levels of `policy` (the defaults when it stores none).
pub fn levels(policy: &sla_policies::Model) -> Vec<StoredLevel> {
    let stored: Vec<StoredLevel> =
        serde_json::from_str(&policy.escalation_levels).unwrap_or_default();
    if stored.is_empty() {
        default_levels()
    } else {
        stored
    }
}

/// The stored statuses `policy` pauses in.
pub fn pause_statuses(policy: &sla_policies::Model) -> Vec<&str> {
    policy.pause_statuses.split_whitespace().collect()
}

/// The weekday of an ISO number (1 = Monday).
pub fn weekday(n: u8) -> Option<Weekday> {
    match n {
        1..=7 => Weekday::try_from(n - 1).ok(),
        _ => None,
    }
}

/// The calendar a stored row describes. A row that no longer validates
/// (it was written by a validating RPC, so only a changed time-zone
/// database could do that) is an error.
pub fn calendar(row: &sla_calendars::Model) -> Result<Calendar, CalendarError> {
    let hours: Vec<StoredHours> =
        serde_json::from_str(&row.business_hours).map_err(|_| CalendarError::NoBusinessHours)?;
    let holidays: Vec<StoredHoliday> =
        serde_json::from_str(&row.holidays).map_err(|_| CalendarError::NoBusinessHours)?;
    let hours: Vec<WeeklyInterval> = hours
        .iter()
        .enumerate()
        .map(|(index, h)| {
            Ok(WeeklyInterval {
                weekday: weekday(h.weekday).ok_or(CalendarError::OutOfRange { index })?,
                start_minute: h.start,
                end_minute: h.end,
            })
        })
        .collect::<Result<_, CalendarError>>()?;
    let holidays: Vec<Holiday> = holidays
        .iter()
        .map(|h| Holiday {
            date: h.date,
            yearly: h.yearly,
        })
        .collect();
    Calendar::new(&row.time_zone, &hours, &holidays)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weekdays_are_iso_numbered() {
        assert_eq!(weekday(1), Some(Weekday::Mon));
        assert_eq!(weekday(7), Some(Weekday::Sun));
        assert_eq!(weekday(0), None);
        assert_eq!(weekday(8), None);
    }

    #[test]
    fn levels_round_trip_and_default() {
        let level = StoredLevel {
            clock: LevelClock::Step,
            trigger: LevelTrigger::Warning,
            delay_ms: 4 * 3_600_000,
            action: LevelAction::ReassignToRole,
            role: "tts:manager".into(),
        };
        let json = serde_json::to_string(std::slice::from_ref(&level)).unwrap_or_default();
        assert!(json.contains("\"reassign_to_role\""), "{json}");
        let back: Vec<StoredLevel> = serde_json::from_str(&json).unwrap_or_default();
        assert_eq!(back, [level]);
        assert_eq!(default_levels().len(), 2);
    }
}
