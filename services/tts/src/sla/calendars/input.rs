//! A calendar's fields from the wire, checked whole — every bad field named
//! (`business_hours[1].end_minute`, `holidays[3].date`) — into the form it
//! is stored in; and a stored calendar on the wire.

use chrono::NaiveDate;
use chrono_tz::Tz;
use map_contracts::tts::v1 as pb;
use map_kit::{
    ApiError, FieldViolation, Violations,
    wire::{
        date::{date, from_date},
        etag::etag,
        time::timestamp,
    },
};

use crate::{
    TtsError,
    entity::sla_calendars,
    sla::{
        calendar::{Calendar, CalendarError, Holiday, WeeklyInterval},
        stored::{self, StoredHoliday, StoredHours},
    },
};

/// Longest calendar name.
pub const MAX_NAME: usize = 200;
/// Most working intervals in a week.
pub const MAX_HOURS: usize = 100;
/// Most holidays.
pub const MAX_HOLIDAYS: usize = 1000;
/// Longest holiday name.
pub const MAX_HOLIDAY_NAME: usize = 200;

/// A calendar's fields as they arrive (a CreateCalendarRequest, or an
/// UpdateCalendarRequest's calendar with its masked fields applied).
#[derive(Debug, Clone, Copy)]
pub struct Wire<'a> {
    /// Display name.
    pub name: &'a str,
    /// IANA time zone.
    pub time_zone: &'a str,
    /// Working intervals.
    pub business_hours: &'a [pb::BusinessHours],
    /// Days off.
    pub holidays: &'a [pb::Holiday],
}

impl<'a> From<&'a pb::CreateCalendarRequest> for Wire<'a> {
    fn from(r: &'a pb::CreateCalendarRequest) -> Wire<'a> {
        Wire {
            name: &r.name,
            time_zone: &r.time_zone,
            business_hours: &r.business_hours,
            holidays: &r.holidays,
        }
    }
}

impl<'a> From<&'a pb::Calendar> for Wire<'a> {
    fn from(c: &'a pb::Calendar) -> Wire<'a> {
        Wire {
            name: &c.name,
            time_zone: &c.time_zone,
            business_hours: &c.business_hours,
            holidays: &c.holidays,
        }
    }
}

/// A calendar's fields checked, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fields {
    /// Display name, trimmed.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// The intervals as given.
    pub hours: Vec<StoredHours>,
    /// The holidays as given.
    pub holidays: Vec<StoredHoliday>,
}

impl Fields {
    /// The hours as stored JSON.
    pub fn hours_json(&self) -> Result<String, TtsError> {
        serde_json::to_string(&self.hours).map_err(internal)
    }

    /// The holidays as stored JSON.
    pub fn holidays_json(&self) -> Result<String, TtsError> {
        serde_json::to_string(&self.holidays).map_err(internal)
    }

    /// Whether `row` already holds exactly these fields.
    pub fn same_as(&self, row: &sla_calendars::Model) -> bool {
        let hours: Option<Vec<StoredHours>> = serde_json::from_str(&row.business_hours).ok();
        let holidays: Option<Vec<StoredHoliday>> = serde_json::from_str(&row.holidays).ok();
        row.name == self.name
            && row.time_zone == self.time_zone
            && hours.as_ref() == Some(&self.hours)
            && holidays.as_ref() == Some(&self.holidays)
    }
}

/// The fields of `w`, or INVALID_ARGUMENT naming every bad one, each field
/// prefixed with `prefix` (`""` for a create, `"calendar."` for an update).
/// Overlapping intervals are named pairwise, each naming the other; of
/// holidays that repeat one another, the first repeat is named.
pub fn check(prefix: &str, w: Wire<'_>) -> Result<Fields, TtsError> {
    let mut v = Violations::default();
    let field = |name: &str| format!("{prefix}{name}");
    v.text(&field("name"), w.name, MAX_NAME);
    if w.time_zone.is_empty() {
        v.add(
            field("time_zone"),
            "is required (an IANA time zone, e.g. Asia/Manila)",
        );
    } else if w.time_zone.parse::<Tz>().is_err() {
        v.add(
            field("time_zone"),
            format!("{:?} is not an IANA time zone", w.time_zone),
        );
    }
    let hours = check_hours(&mut v, prefix, w.business_hours);
    let holidays = check_holidays(&mut v, prefix, w.holidays);
    if !v.is_empty() {
        return Err(TtsError::InvalidArgument(v.into_violations()));
    }
    let fields = Fields {
        name: w.name.trim().to_owned(),
        time_zone: w.time_zone.to_owned(),
        hours,
        holidays,
    };
    // The calendar's own rules decide last (holidays repeating one another,
    // yearly holidays leaving no business day).
    calendar_of(&fields).map_err(|e| TtsError::InvalidArgument(violations(prefix, &e)))?;
    Ok(fields)
}

/// The intervals of `hours` as stored; every bad one named in `v`.
fn check_hours(v: &mut Violations, prefix: &str, hours: &[pb::BusinessHours]) -> Vec<StoredHours> {
    if hours.is_empty() {
        v.add(
            format!("{prefix}business_hours"),
            "needs at least one working interval",
        );
    } else if hours.len() > MAX_HOURS {
        v.add(
            format!("{prefix}business_hours"),
            format!("must hold at most {MAX_HOURS} intervals"),
        );
        return Vec::new();
    }
    let mut stored = Vec::with_capacity(hours.len());
    for (i, h) in hours.iter().enumerate() {
        let at = |name: &str| format!("{prefix}business_hours[{i}].{name}");
        let weekday = pb::Weekday::try_from(h.weekday)
            .ok()
            .filter(|w| *w != pb::Weekday::Unspecified);
        if weekday.is_none() {
            v.add(
                at("weekday"),
                "is required (WEEKDAY_MONDAY to WEEKDAY_SUNDAY)",
            );
        }
        let start = u16::try_from(h.start_minute).ok().filter(|m| *m <= 1439);
        let end = u16::try_from(h.end_minute)
            .ok()
            .filter(|m| (1..=1440).contains(m));
        if start.is_none() {
            v.add(
                at("start_minute"),
                "must be 0 to 1439 (minutes after local midnight)",
            );
        }
        if end.is_none() {
            v.add(
                at("end_minute"),
                "must be 1 to 1440 (minutes after local midnight)",
            );
        }
        if let (Some(s), Some(e)) = (start, end) {
            if s >= e {
                v.add(at("end_minute"), "must be after start_minute");
            } else if let Some(w) = weekday {
                stored.push(StoredHours {
                    // ISO numbering: the enum's numbers are 1 (Monday) to 7.
                    weekday: u8::try_from(i32::from(w)).unwrap_or(0),
                    start: s,
                    end: e,
                });
            }
        }
    }
    if stored.len() == hours.len() {
        for (a, x) in stored.iter().enumerate() {
            for (b, y) in stored.iter().enumerate().skip(a + 1) {
                if x.weekday == y.weekday && x.start < y.end && y.start < x.end {
                    v.add(
                        format!("{prefix}business_hours[{a}]"),
                        format!("overlaps business_hours[{b}] on the same weekday"),
                    );
                    v.add(
                        format!("{prefix}business_hours[{b}]"),
                        format!("overlaps business_hours[{a}] on the same weekday"),
                    );
                }
            }
        }
    }
    stored
}

/// The holidays of `holidays` as stored; every bad one named in `v`.
fn check_holidays(
    v: &mut Violations,
    prefix: &str,
    holidays: &[pb::Holiday],
) -> Vec<StoredHoliday> {
    if holidays.len() > MAX_HOLIDAYS {
        v.add(
            format!("{prefix}holidays"),
            format!("must hold at most {MAX_HOLIDAYS} days"),
        );
        return Vec::new();
    }
    let mut stored = Vec::with_capacity(holidays.len());
    for (i, h) in holidays.iter().enumerate() {
        let at = |name: &str| format!("{prefix}holidays[{i}].{name}");
        v.optional_text(&at("name"), &h.name, MAX_HOLIDAY_NAME);
        match holiday_date(&at("date"), h) {
            Ok(date) => stored.push(StoredHoliday {
                date,
                name: h.name.trim().to_owned(),
                yearly: h.yearly,
            }),
            Err(f) => {
                v.add(f.field, f.description);
            }
        }
    }
    stored
}

/// The date of holiday `h`. A dated one is a full date; a yearly one needs
/// a month and a day that exist in a leap year, and its year is kept when
/// the day exists in it, else (year 0, or 29 February of a common year)
/// stored as year 0, which the proleptic calendar makes a leap year.
fn holiday_date(field: &str, h: &pb::Holiday) -> Result<NaiveDate, FieldViolation> {
    let bad = |description: &str| FieldViolation {
        field: field.to_owned(),
        description: description.to_owned(),
    };
    let Some(d) = h.date.as_ref() else {
        return Err(bad("is required"));
    };
    if !h.yearly {
        return from_date(field, d).map_err(|_| {
            bad("is not a full calendar date (year, month and day; month and day start at 1)")
        });
    }
    if !(0..=9999).contains(&d.year) {
        return Err(bad("year must be 0 to 9999 (ignored for a yearly holiday)"));
    }
    let (Ok(month), Ok(day)) = (u32::try_from(d.month), u32::try_from(d.day)) else {
        return Err(bad("needs a month and a day (both start at 1)"));
    };
    NaiveDate::from_ymd_opt(d.year, month, day)
        .or_else(|| NaiveDate::from_ymd_opt(0, month, day))
        .ok_or_else(|| bad("names no day of the year (month 1 to 12, a day of that month)"))
}

/// The calendar `fields` describe.
fn calendar_of(fields: &Fields) -> Result<Calendar, CalendarError> {
    let hours: Vec<WeeklyInterval> = fields
        .hours
        .iter()
        .enumerate()
        .map(|(index, h)| {
            Ok(WeeklyInterval {
                weekday: stored::weekday(h.weekday).ok_or(CalendarError::OutOfRange { index })?,
                start_minute: h.start,
                end_minute: h.end,
            })
        })
        .collect::<Result<_, CalendarError>>()?;
    let holidays: Vec<Holiday> = fields
        .holidays
        .iter()
        .map(|h| Holiday {
            date: h.date,
            yearly: h.yearly,
        })
        .collect();
    Calendar::new(&fields.time_zone, &hours, &holidays)
}

/// The field violations of a calendar error, each field prefixed with
/// `prefix`: the error's indexes name the fields.
pub fn violations(prefix: &str, e: &CalendarError) -> Vec<FieldViolation> {
    let one = |field: String, description: String| FieldViolation { field, description };
    match e {
        CalendarError::UnknownTimeZone(name) => vec![one(
            format!("{prefix}time_zone"),
            format!("{name:?} is not an IANA time zone"),
        )],
        CalendarError::NoBusinessHours => vec![one(
            format!("{prefix}holidays"),
            "leave no business day in the year".into(),
        )],
        CalendarError::InvertedInterval { index } => vec![one(
            format!("{prefix}business_hours[{index}].end_minute"),
            "must be after start_minute".into(),
        )],
        CalendarError::OutOfRange { index } => vec![one(
            format!("{prefix}business_hours[{index}]"),
            "start_minute must be 0 to 1439 and end_minute 1 to 1440".into(),
        )],
        CalendarError::Overlap { first, second } => vec![
            one(
                format!("{prefix}business_hours[{first}]"),
                format!("overlaps business_hours[{second}] on the same weekday"),
            ),
            one(
                format!("{prefix}business_hours[{second}]"),
                format!("overlaps business_hours[{first}] on the same weekday"),
            ),
        ],
        CalendarError::DuplicateHoliday { index } => vec![one(
            format!("{prefix}holidays[{index}].date"),
            "repeats an earlier holiday".into(),
        )],
    }
}

/// A stored calendar on the wire.
pub fn to_proto(row: &sla_calendars::Model) -> Result<pb::Calendar, TtsError> {
    let hours: Vec<StoredHours> = serde_json::from_str(&row.business_hours).map_err(internal)?;
    let holidays: Vec<StoredHoliday> = serde_json::from_str(&row.holidays).map_err(internal)?;
    Ok(pb::Calendar {
        id: row.id.clone(),
        name: row.name.clone(),
        time_zone: row.time_zone.clone(),
        business_hours: hours
            .iter()
            .map(|h| pb::BusinessHours {
                weekday: i32::from(h.weekday),
                start_minute: i32::from(h.start),
                end_minute: i32::from(h.end),
            })
            .collect(),
        holidays: holidays
            .iter()
            .map(|h| pb::Holiday {
                // A yearly holiday may be in year 0: google.type.Date's "no year".
                date: Some(date(h.date)),
                name: h.name.clone(),
                yearly: h.yearly,
            })
            .collect(),
        create_time: Some(timestamp(row.created_at)),
        etag: etag(row.version),
        version: row.version,
        update_time: Some(timestamp(row.updated_at)),
    })
}

/// INTERNAL: a stored calendar that does not read back.
fn internal(e: serde_json::Error) -> TtsError {
    TtsError::from(ApiError::internal(e))
}
