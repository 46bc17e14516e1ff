//! Brute-force reference for the calendar semantics: converts every minute to local time and
//! checks it against the calendar's input lists, sharing no code with the fast arithmetic.
//!
//! Exact for minute-aligned instants and whole-minute durations in zones whose offsets are whole
//! minutes (every zone since the 1970s). Cost is one time-zone conversion per minute walked:
//! for tests and benchmarks only.

use chrono::{DateTime, Datelike, Duration, Timelike, Utc};

use super::Calendar;

/// Whether `at` is business time, read straight from the definition.
pub fn is_business(calendar: &Calendar, at: DateTime<Utc>) -> bool {
    let local = at.with_timezone(&calendar.time_zone());
    let date = local.date_naive();
    let holiday = calendar.holidays().iter().any(|h| {
        if h.yearly {
            h.date.month() == date.month() && h.date.day() == date.day()
        } else {
            h.date == date
        }
    });
    if holiday {
        return false;
    }
    let minute = local.hour() * 60 + local.minute();
    calendar.business_hours().iter().any(|i| {
        i.weekday == local.weekday()
            && u32::from(i.start_minute) <= minute
            && minute < u32::from(i.end_minute)
    })
}

/// [`Calendar::add_business`] by walking minute by minute; `business` is rounded up to whole
/// minutes. Gives up (returns `None`) after `max_minutes` minutes walked.
pub fn add_business(
    calendar: &Calendar,
    start: DateTime<Utc>,
    business: Duration,
    max_minutes: u64,
) -> Option<DateTime<Utc>> {
    let mut remaining = (business.num_seconds() + 59).div_euclid(60);
    if business <= Duration::zero() {
        return Some(start);
    }
    let mut at = start;
    for _ in 0..max_minutes {
        let next = at + Duration::minutes(1);
        if is_business(calendar, at) {
            remaining -= 1;
            if remaining == 0 {
                return Some(next);
            }
        }
        at = next;
    }
    None
}

/// [`Calendar::business_between`] by counting the business minutes that start in `[from, to)`.
pub fn business_between(calendar: &Calendar, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
    let mut minutes = 0;
    let mut at = from;
    while at < to {
        if is_business(calendar, at) {
            minutes += 1;
        }
        at += Duration::minutes(1);
    }
    Duration::minutes(minutes)
}
