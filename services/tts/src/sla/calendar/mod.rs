//! Business calendars for SLA clocks: weekly business hours in an IANA time zone,
//! minus holidays, with fast business-time arithmetic on UTC instants.
//!
//! Semantics (the brute-force [`oracle`] is the reference): a UTC instant is
//! business time iff, converted to the calendar's zone, its local date is not a
//! holiday and its local (weekday, time of day) lies in one of that weekday's
//! intervals `[start, end)`. On a spring-forward day the skipped local hour holds
//! no business time; on a fall-back day a repeated local hour inside an interval
//! counts twice, once per UTC occurrence. Time is continuous: inputs keep their
//! sub-second parts and nothing is rounded.

mod arithmetic;
pub mod micro_bench;
mod offsets;
pub mod oracle;
#[cfg(test)]
mod tests;

use std::fmt;

use chrono::{Datelike, NaiveDate, Weekday};
use chrono_tz::Tz;

/// Seconds in a day of local (naive) time.
const DAY: i64 = 86_400;

/// One weekly span of business hours, in local minutes after midnight: `[start_minute, end_minute)`.
///
/// `start_minute` is in `0..=1439`, `end_minute` in `1..=1440`, and `start_minute < end_minute`.
/// An interval ending at 1440 and one starting at 0 on the next weekday form continuous business time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct WeeklyInterval {
    pub weekday: Weekday,
    pub start_minute: u16,
    pub end_minute: u16,
}

/// A local date without business hours.
///
/// With `yearly`, only the month and day of `date` count and the holiday recurs every year
/// (a yearly Feb 29 applies in leap years only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Holiday {
    pub date: NaiveDate,
    pub yearly: bool,
}

/// Why [`Calendar::new`] rejected its input. Indexes refer to the input slices, so the caller can
/// name the offending field (`business_hours[3].end_minute`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarError {
    /// The zone name is not in the IANA database.
    UnknownTimeZone(String),
    /// No business time can ever occur: no intervals, or yearly holidays cover every date.
    NoBusinessHours,
    /// `hours[index]` has `start_minute >= end_minute`.
    InvertedInterval { index: usize },
    /// `hours[index]` has `start_minute > 1439`, `end_minute == 0` or `end_minute > 1440`.
    OutOfRange { index: usize },
    /// `hours[first]` and `hours[second]` (`first < second`) share a minute on the same weekday.
    Overlap { first: usize, second: usize },
    /// `holidays[index]` names a day that an earlier entry already names: the same date, the same
    /// month and day for two yearly entries, or a dated entry on a yearly entry's month and day.
    DuplicateHoliday { index: usize },
}

impl fmt::Display for CalendarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownTimeZone(name) => write!(f, "unknown time zone {name:?}"),
            Self::NoBusinessHours => write!(f, "calendar has no business hours"),
            Self::InvertedInterval { index } => {
                write!(
                    f,
                    "business_hours[{index}]: start_minute must be before end_minute"
                )
            }
            Self::OutOfRange { index } => write!(
                f,
                "business_hours[{index}]: start_minute must be 0..=1439 and end_minute 1..=1440"
            ),
            Self::Overlap { first, second } => {
                write!(
                    f,
                    "business_hours[{first}] and business_hours[{second}] overlap"
                )
            }
            Self::DuplicateHoliday { index } => {
                write!(f, "holidays[{index}] repeats an earlier holiday")
            }
        }
    }
}

impl std::error::Error for CalendarError {}

/// Weekly business hours in a time zone, minus holidays. Immutable and cheap to share.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    tz: Tz,
    /// Intervals as given (read by the oracle).
    hours: Vec<WeeklyInterval>,
    /// Holidays as given (read by the oracle).
    holidays: Vec<Holiday>,
    /// Per weekday (Monday = 0): sorted, merged `[start, end)` in seconds after local midnight.
    day_spans: [Vec<(i64, i64)>; 7],
    /// Per weekday: total business seconds of a non-holiday day.
    day_seconds: [i64; 7],
    /// Dated holidays as sorted local epoch days (days since 1970-01-01).
    dated: Vec<i64>,
    /// Yearly holidays: bit `(month - 1) * 32 + day`.
    yearly: [u64; 6],
    /// Every instant is business time: arithmetic is plain UTC arithmetic.
    always: bool,
}

impl Calendar {
    /// Validates and builds a calendar. `time_zone` is an IANA name such as `"America/New_York"`.
    ///
    /// Checks run in this order: zone, interval ranges and order (per index), overlaps (first
    /// overlapping pair in input order), holidays, and last whether any business time remains.
    pub fn new(
        time_zone: &str,
        hours: &[WeeklyInterval],
        holidays: &[Holiday],
    ) -> Result<Calendar, CalendarError> {
        let tz: Tz = time_zone
            .parse()
            .map_err(|_| CalendarError::UnknownTimeZone(time_zone.to_owned()))?;
        if hours.is_empty() {
            return Err(CalendarError::NoBusinessHours);
        }
        for (index, h) in hours.iter().enumerate() {
            if h.start_minute > 1439 || h.end_minute == 0 || h.end_minute > 1440 {
                return Err(CalendarError::OutOfRange { index });
            }
            if h.start_minute >= h.end_minute {
                return Err(CalendarError::InvertedInterval { index });
            }
        }
        for (first, a) in hours.iter().enumerate() {
            for (second, b) in hours.iter().enumerate().skip(first + 1) {
                if a.weekday == b.weekday
                    && a.start_minute < b.end_minute
                    && b.start_minute < a.end_minute
                {
                    return Err(CalendarError::Overlap { first, second });
                }
            }
        }
        let mut dated = Vec::new();
        let mut yearly = [0u64; 6];
        for (index, h) in holidays.iter().enumerate() {
            let duplicate = holidays[..index].iter().any(|earlier| {
                let same_month_day =
                    earlier.date.month() == h.date.month() && earlier.date.day() == h.date.day();
                match (earlier.yearly, h.yearly) {
                    (false, false) => earlier.date == h.date,
                    _ => same_month_day,
                }
            });
            if duplicate {
                return Err(CalendarError::DuplicateHoliday { index });
            }
            if h.yearly {
                let bit = yearly_bit(h.date.month(), h.date.day());
                yearly[bit / 64] |= 1 << (bit % 64);
            } else {
                dated.push(epoch_day(h.date));
            }
        }
        dated.sort_unstable();
        let yearly_dates: u32 = yearly.iter().map(|w| w.count_ones()).sum();
        if yearly_dates == 366 {
            return Err(CalendarError::NoBusinessHours);
        }

        let mut day_spans: [Vec<(i64, i64)>; 7] = Default::default();
        for h in hours {
            day_spans[h.weekday.num_days_from_monday() as usize]
                .push((i64::from(h.start_minute) * 60, i64::from(h.end_minute) * 60));
        }
        let mut day_seconds = [0i64; 7];
        for (spans, total) in day_spans.iter_mut().zip(day_seconds.iter_mut()) {
            spans.sort_unstable();
            let mut merged: Vec<(i64, i64)> = Vec::with_capacity(spans.len());
            for &(s, e) in spans.iter() {
                match merged.last_mut() {
                    Some(last) if last.1 == s => last.1 = e,
                    _ => merged.push((s, e)),
                }
            }
            *total = merged.iter().map(|(s, e)| e - s).sum();
            *spans = merged;
        }
        let always = holidays.is_empty() && day_seconds.iter().all(|&s| s == DAY);
        Ok(Calendar {
            tz,
            hours: hours.to_vec(),
            holidays: holidays.to_vec(),
            day_spans,
            day_seconds,
            dated,
            yearly,
            always,
        })
    }

    /// UTC, every instant business time: for policies without a calendar.
    pub fn around_the_clock() -> Calendar {
        use Weekday::*;
        let hours = [Mon, Tue, Wed, Thu, Fri, Sat, Sun].map(|weekday| WeeklyInterval {
            weekday,
            start_minute: 0,
            end_minute: 1440,
        });
        Calendar::new("UTC", &hours, &[]).unwrap_or_else(|e| unreachable!("{e}"))
    }

    /// The zone in which business hours and holidays are read.
    pub fn time_zone(&self) -> Tz {
        self.tz
    }

    /// The business hours as given to [`Calendar::new`].
    pub fn business_hours(&self) -> &[WeeklyInterval] {
        &self.hours
    }

    /// The holidays as given to [`Calendar::new`].
    pub fn holidays(&self) -> &[Holiday] {
        &self.holidays
    }

    /// Whether local epoch day `day` is a holiday.
    fn is_holiday(&self, day: i64) -> bool {
        if self.dated.binary_search(&day).is_ok() {
            return true;
        }
        if self.yearly == [0; 6] {
            return false;
        }
        let (month, dom) = month_day(day);
        let bit = yearly_bit(month, dom);
        self.yearly[bit / 64] & (1 << (bit % 64)) != 0
    }

    /// Business seconds of local epoch day `day` (ignoring offset changes).
    fn business_seconds_of_day(&self, day: i64) -> i64 {
        let total = self.day_seconds[weekday_index(day)];
        if total == 0 || self.is_holiday(day) {
            0
        } else {
            total
        }
    }

    /// Business spans of local epoch day `day` in seconds after local midnight (empty on holidays).
    fn spans_of_day(&self, day: i64) -> &[(i64, i64)] {
        let spans = &self.day_spans[weekday_index(day)];
        if spans.is_empty() || self.is_holiday(day) {
            &[]
        } else {
            spans
        }
    }
}

/// Bit index of a month and day in [`Calendar::yearly`].
fn yearly_bit(month: u32, day: u32) -> usize {
    ((month - 1) * 32 + day) as usize
}

/// Days since 1970-01-01 of `date`.
fn epoch_day(date: NaiveDate) -> i64 {
    i64::from(date.num_days_from_ce()) - 719_163
}

/// Weekday of an epoch day, Monday = 0 (1970-01-01 was a Thursday).
fn weekday_index(day: i64) -> usize {
    (day + 3).rem_euclid(7) as usize
}

/// Month (1..=12) and day of month of an epoch day (proleptic Gregorian; H. Hinnant's algorithm).
fn month_day(day: i64) -> (u32, u32) {
    let z = day + 719_468;
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let dom = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (month as u32, dom as u32)
}
