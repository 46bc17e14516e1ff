#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test
//! Unit tests with hand-worked instants, validation tests, and proptests against the oracle.

use std::collections::HashSet;
use std::sync::OnceLock;

use chrono::Weekday::*;
use chrono::{DateTime, Datelike, Duration, NaiveDate, Offset, TimeZone, Utc, Weekday};
use chrono_tz::Tz;
use proptest::prelude::*;

use super::{Calendar, CalendarError, Holiday, WeeklyInterval, oracle};

fn utc(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

fn date(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn iv(weekday: Weekday, start_minute: u16, end_minute: u16) -> WeeklyInterval {
    WeeklyInterval {
        weekday,
        start_minute,
        end_minute,
    }
}

fn dated(y: i32, m: u32, d: u32) -> Holiday {
    Holiday {
        date: date(y, m, d),
        yearly: false,
    }
}

fn yearly(m: u32, d: u32) -> Holiday {
    Holiday {
        date: date(2000, m, d),
        yearly: true,
    }
}

fn mins(m: i64) -> Duration {
    Duration::minutes(m)
}

/// America/New_York, Monday–Friday 09:00–12:00 and 13:00–18:00.
fn office(holidays: &[Holiday]) -> Calendar {
    let mut hours = Vec::new();
    for d in [Mon, Tue, Wed, Thu, Fri] {
        hours.push(iv(d, 9 * 60, 12 * 60));
        hours.push(iv(d, 13 * 60, 18 * 60));
    }
    Calendar::new("America/New_York", &hours, holidays).unwrap()
}

fn sundays(zone: &str, start_minute: u16, end_minute: u16) -> Calendar {
    Calendar::new(zone, &[iv(Sun, start_minute, end_minute)], &[]).unwrap()
}

/// Local offset of `zone` at `at`, in hours (for asserting the premises of DST tests).
fn offset_hours(zone: &str, at: &str) -> f64 {
    let tz: Tz = zone.parse().unwrap();
    f64::from(
        tz.offset_from_utc_datetime(&utc(at).naive_utc())
            .fix()
            .local_minus_utc(),
    ) / 3600.0
}

// ---- unit tests -------------------------------------------------------------------------------

#[test]
fn across_a_weekend() {
    let cal = office(&[]);
    // Fri 2025-01-10 17:00 EST = 22:00Z: one hour left on Friday, one more from Mon 09:00 EST.
    // Mon 2025-01-13 10:00 EST = 15:00Z.
    let start = utc("2025-01-10T22:00:00Z");
    assert_eq!(
        cal.add_business(start, mins(120)),
        utc("2025-01-13T15:00:00Z")
    );
    assert_eq!(
        cal.business_between(start, utc("2025-01-13T15:00:00Z")),
        mins(120)
    );
    assert!(!cal.is_business_instant(utc("2025-01-11T15:00:00Z")));
}

#[test]
fn across_a_dated_holiday() {
    let cal = office(&[dated(2025, 1, 13)]);
    // As above, but Monday is off: Tue 2025-01-14 10:00 EST = 15:00Z.
    let start = utc("2025-01-10T22:00:00Z");
    assert_eq!(
        cal.add_business(start, mins(120)),
        utc("2025-01-14T15:00:00Z")
    );
    assert_eq!(
        cal.business_between(start, utc("2025-01-14T15:00:00Z")),
        mins(120)
    );
    // A dated holiday does not recur: Tue 2026-01-13 10:00 EST is business time.
    assert!(cal.is_business_instant(utc("2026-01-13T15:00:00Z")));
}

#[test]
fn across_a_yearly_holiday() {
    let cal = office(&[yearly(7, 4)]);
    // Thu 2025-07-03 17:00 EDT = 21:00Z; Fri 07-04 is off; Mon 2025-07-07 10:00 EDT = 14:00Z.
    assert_eq!(date(2025, 7, 4).weekday(), Fri);
    let start = utc("2025-07-03T21:00:00Z");
    assert_eq!(
        cal.add_business(start, mins(120)),
        utc("2025-07-07T14:00:00Z")
    );
    // It recurs: Thu 2030-07-04 10:00 EDT is off, Fri 2030-07-05 is not.
    assert_eq!(date(2030, 7, 4).weekday(), Thu);
    assert!(!cal.is_business_instant(utc("2030-07-04T14:00:00Z")));
    assert!(cal.is_business_instant(utc("2030-07-05T14:00:00Z")));
}

#[test]
fn yearly_feb_29_applies_in_leap_years_only() {
    let cal = office(&[yearly(2, 29)]);
    assert_eq!(date(2028, 2, 29).weekday(), Tue);
    assert_eq!(date(2027, 3, 1).weekday(), Mon);
    assert!(!cal.is_business_instant(utc("2028-02-29T15:00:00Z")));
    assert!(cal.is_business_instant(utc("2027-03-01T15:00:00Z")));
    assert!(cal.is_business_instant(utc("2027-02-26T15:00:00Z")));
}

#[test]
fn new_york_spring_forward() {
    // 2025-03-09: 02:00 EST (07:00Z) jumps to 03:00 EDT. Sunday 01:00–04:00 local is
    // 01:00–02:00 EST = 06:00–07:00Z, then 03:00–04:00 EDT = 07:00–08:00Z: two hours.
    assert_eq!(
        offset_hours("America/New_York", "2025-03-09T06:59:59Z"),
        -5.0
    );
    assert_eq!(
        offset_hours("America/New_York", "2025-03-09T07:00:00Z"),
        -4.0
    );
    let cal = sundays("America/New_York", 60, 240);
    let start = utc("2025-03-09T05:00:00Z");
    assert_eq!(
        cal.add_business(start, mins(90)),
        utc("2025-03-09T07:30:00Z")
    );
    assert_eq!(
        cal.add_business(start, mins(120)),
        utc("2025-03-09T08:00:00Z")
    );
    // One more minute: next Sunday 01:00 EDT = 2025-03-16 05:00Z, plus a minute.
    assert_eq!(
        cal.add_business(start, mins(121)),
        utc("2025-03-16T05:01:00Z")
    );
    assert_eq!(
        cal.business_between(utc("2025-03-08T00:00:00Z"), utc("2025-03-10T00:00:00Z")),
        mins(120)
    );
    assert!(cal.is_business_instant(utc("2025-03-09T06:59:59Z")));
    assert!(cal.is_business_instant(utc("2025-03-09T07:00:00Z")));
    assert!(!cal.is_business_instant(utc("2025-03-09T08:00:00Z")));
}

#[test]
fn new_york_fall_back() {
    // 2025-11-02: 02:00 EDT (06:00Z) falls back to 01:00 EST. Sunday 01:00–03:00 local is
    // 01:00–02:00 EDT = 05:00–06:00Z, then 01:00–03:00 EST = 06:00–08:00Z: three hours.
    assert_eq!(
        offset_hours("America/New_York", "2025-11-02T05:59:59Z"),
        -4.0
    );
    assert_eq!(
        offset_hours("America/New_York", "2025-11-02T06:00:00Z"),
        -5.0
    );
    let cal = sundays("America/New_York", 60, 180);
    let saturday = utc("2025-11-01T00:00:00Z");
    assert_eq!(
        cal.add_business(saturday, mins(150)),
        utc("2025-11-02T07:30:00Z")
    );
    assert_eq!(
        cal.business_between(saturday, utc("2025-11-03T00:00:00Z")),
        mins(180)
    );

    // 01:30–01:45 happens twice: 05:30–05:45Z (EDT) and 06:30–06:45Z (EST).
    let cal = sundays("America/New_York", 90, 105);
    let start = utc("2025-11-02T05:00:00Z");
    assert_eq!(
        cal.add_business(start, mins(15)),
        utc("2025-11-02T05:45:00Z")
    );
    assert_eq!(
        cal.add_business(start, mins(20)),
        utc("2025-11-02T06:35:00Z")
    );
    assert_eq!(
        cal.business_between(utc("2025-11-02T05:40:00Z"), utc("2025-11-02T06:40:00Z")),
        mins(15)
    );
    assert!(!cal.is_business_instant(utc("2025-11-02T06:00:00Z")));
    assert!(cal.is_business_instant(utc("2025-11-02T06:30:00Z")));
}

#[test]
fn berlin_spring_forward() {
    // 2025-03-30: 02:00 CET (01:00Z) jumps to 03:00 CEST. Sunday 01:00–04:00 local is
    // 01:00–02:00 CET = 00:00–01:00Z, then 03:00–04:00 CEST = 01:00–02:00Z.
    assert_eq!(offset_hours("Europe/Berlin", "2025-03-30T00:59:59Z"), 1.0);
    assert_eq!(offset_hours("Europe/Berlin", "2025-03-30T01:00:00Z"), 2.0);
    let cal = sundays("Europe/Berlin", 60, 240);
    let saturday = utc("2025-03-29T12:00:00Z");
    assert_eq!(
        cal.add_business(saturday, mins(90)),
        utc("2025-03-30T01:30:00Z")
    );
    assert_eq!(
        cal.business_between(saturday, utc("2025-03-31T00:00:00Z")),
        mins(120)
    );
}

#[test]
fn berlin_fall_back() {
    // 2025-10-26: 03:00 CEST (01:00Z) falls back to 02:00 CET. Sunday 02:00–04:00 local is
    // 02:00–03:00 CEST = 00:00–01:00Z, then 02:00–04:00 CET = 01:00–03:00Z.
    assert_eq!(offset_hours("Europe/Berlin", "2025-10-26T00:59:59Z"), 2.0);
    assert_eq!(offset_hours("Europe/Berlin", "2025-10-26T01:00:00Z"), 1.0);
    let cal = sundays("Europe/Berlin", 120, 240);
    let saturday = utc("2025-10-25T12:00:00Z");
    assert_eq!(
        cal.add_business(saturday, mins(150)),
        utc("2025-10-26T02:30:00Z")
    );
    assert_eq!(
        cal.business_between(saturday, utc("2025-10-27T00:00:00Z")),
        mins(180)
    );
    // 02:15–02:30 twice: 00:15–00:30Z and 01:15–01:30Z.
    let cal = sundays("Europe/Berlin", 135, 150);
    assert_eq!(
        cal.add_business(saturday, mins(20)),
        utc("2025-10-26T01:20:00Z")
    );
}

#[test]
fn santiago_changes_at_midnight() {
    // 2025-04-06 00:00 -03 (03:00Z) falls back to Sat 04-05 23:00 -04. Saturday 23:00–24:00
    // happens twice (02:00–03:00Z, 03:00–04:00Z), then Sunday 00:00–01:00 -04 is 04:00–05:00Z.
    assert_eq!(
        offset_hours("America/Santiago", "2025-04-06T02:59:59Z"),
        -3.0
    );
    assert_eq!(
        offset_hours("America/Santiago", "2025-04-06T03:00:00Z"),
        -4.0
    );
    let hours = [iv(Sat, 23 * 60, 1440), iv(Sun, 0, 60)];
    let cal = Calendar::new("America/Santiago", &hours, &[]).unwrap();
    let friday = utc("2025-04-04T12:00:00Z");
    assert_eq!(
        cal.business_between(friday, utc("2025-04-07T00:00:00Z")),
        mins(180)
    );
    assert_eq!(
        cal.add_business(friday, mins(150)),
        utc("2025-04-06T04:30:00Z")
    );
    // 2025-09-07 00:00 -04 (04:00Z) jumps to 01:00 -03: Sunday 00:00–01:00 does not exist, so
    // only Saturday 23:00–24:00 -04 = 03:00–04:00Z counts. The next business minute is
    // Sat 09-13 23:00 -03 = 09-14 02:00Z.
    assert_eq!(
        offset_hours("America/Santiago", "2025-09-07T03:59:59Z"),
        -4.0
    );
    assert_eq!(
        offset_hours("America/Santiago", "2025-09-07T04:00:00Z"),
        -3.0
    );
    let friday = utc("2025-09-05T12:00:00Z");
    assert_eq!(
        cal.business_between(friday, utc("2025-09-08T00:00:00Z")),
        mins(60)
    );
    assert_eq!(
        cal.add_business(friday, mins(60)),
        utc("2025-09-07T04:00:00Z")
    );
    assert_eq!(
        cal.add_business(friday, mins(61)),
        utc("2025-09-14T02:01:00Z")
    );
}

#[test]
fn start_outside_hours() {
    let cal = office(&[]);
    // Tue 2025-01-14 07:00 EST = 12:00Z: counting starts at 09:00 EST; 10:00 EST = 15:00Z.
    assert_eq!(
        cal.add_business(utc("2025-01-14T12:00:00Z"), mins(60)),
        utc("2025-01-14T15:00:00Z")
    );
    // 12:30 EST (lunch) = 17:30Z: counting starts at 13:00 EST; 14:00 EST = 19:00Z.
    assert_eq!(
        cal.add_business(utc("2025-01-14T17:30:00Z"), mins(60)),
        utc("2025-01-14T19:00:00Z")
    );
    // 19:00 EST = Wed 00:00Z: Wed 10:00 EST = 15:00Z.
    assert_eq!(
        cal.add_business(utc("2025-01-15T00:00:00Z"), mins(60)),
        utc("2025-01-15T15:00:00Z")
    );
}

#[test]
fn start_exactly_at_interval_end() {
    let cal = office(&[]);
    // Tue 12:00 EST = 17:00Z is outside [09:00, 12:00): 30 minutes end at 13:30 EST = 18:30Z.
    let noon = utc("2025-01-14T17:00:00Z");
    assert!(!cal.is_business_instant(noon));
    assert!(cal.is_business_instant(noon - Duration::seconds(1)));
    assert_eq!(
        cal.add_business(noon, mins(30)),
        utc("2025-01-14T18:30:00Z")
    );
    // Filling a whole interval ends at its end (12:00 EST), not at the next start.
    assert_eq!(
        cal.add_business(utc("2025-01-14T14:00:00Z"), mins(180)),
        noon
    );
}

#[test]
fn zero_and_negative_durations() {
    let cal = office(&[]);
    let saturday = utc("2025-01-11T15:00:00Z");
    assert_eq!(cal.add_business(saturday, Duration::zero()), saturday);
    assert_eq!(cal.add_business(saturday, mins(-5)), saturday);
    assert_eq!(cal.business_between(saturday, saturday), Duration::zero());
    assert_eq!(
        cal.business_between(saturday, saturday - mins(60)),
        Duration::zero()
    );
}

#[test]
fn interval_touching_midnight_is_continuous() {
    let hours = [iv(Mon, 22 * 60, 1440), iv(Tue, 0, 120)];
    let cal = Calendar::new("UTC", &hours, &[]).unwrap();
    // Mon 2025-01-13 23:00Z + 2h: 23:00–24:00 Monday, 00:00–01:00 Tuesday.
    assert_eq!(
        cal.add_business(utc("2025-01-13T23:00:00Z"), mins(120)),
        utc("2025-01-14T01:00:00Z")
    );
    assert_eq!(
        cal.business_between(utc("2025-01-13T23:30:00Z"), utc("2025-01-14T00:30:00Z")),
        mins(60)
    );
    assert!(cal.is_business_instant(utc("2025-01-14T00:00:00Z")));
    // Same in New York (EST, -5): Mon 23:00 EST = Tue 04:00Z; 2h later is Tue 06:00Z.
    let cal = Calendar::new("America/New_York", &hours, &[]).unwrap();
    assert_eq!(
        cal.add_business(utc("2025-01-14T04:00:00Z"), mins(120)),
        utc("2025-01-14T06:00:00Z")
    );
}

#[test]
fn adjacent_intervals_are_continuous() {
    let hours = [iv(Wed, 9 * 60, 12 * 60), iv(Wed, 12 * 60, 13 * 60)];
    let cal = Calendar::new("UTC", &hours, &[]).unwrap();
    assert_eq!(
        cal.add_business(utc("2025-01-15T11:00:00Z"), mins(120)),
        utc("2025-01-15T13:00:00Z")
    );
}

#[test]
fn sub_second_instants_are_continuous() {
    let cal = office(&[]);
    // 09:00:00.5 EST + 1 s = 09:00:01.5 EST.
    let start = utc("2025-01-14T14:00:00.5Z");
    assert_eq!(
        cal.add_business(start, Duration::seconds(1)),
        utc("2025-01-14T14:00:01.5Z")
    );
    // 11:59:59.75 EST + 0.5 s: 0.25 s before lunch, 0.25 s after (13:00:00.25 EST = 18:00:00.25Z).
    let start = utc("2025-01-14T16:59:59.75Z");
    let end = utc("2025-01-14T18:00:00.25Z");
    assert_eq!(cal.add_business(start, Duration::milliseconds(500)), end);
    assert_eq!(
        cal.business_between(start, end),
        Duration::milliseconds(500)
    );
    assert_eq!(
        cal.add_business(start, Duration::nanoseconds(1)),
        utc("2025-01-14T16:59:59.750000001Z")
    );
}

#[test]
fn around_the_clock_is_plain_addition() {
    let cal = Calendar::around_the_clock();
    assert_eq!(cal.time_zone(), Tz::UTC);
    let start = utc("2025-03-09T06:30:00.25Z");
    for d in [
        Duration::nanoseconds(1),
        Duration::seconds(1),
        mins(90),
        Duration::days(400),
    ] {
        assert_eq!(cal.add_business(start, d), start + d);
        assert_eq!(cal.business_between(start, start + d), d);
    }
    assert!(cal.is_business_instant(start));
    assert_eq!(
        cal.add_business(start, Duration::MAX),
        DateTime::<Utc>::MAX_UTC
    );
}

#[test]
fn far_deadlines_saturate() {
    let cal = office(&[]);
    let far = DateTime::<Utc>::MAX_UTC - Duration::days(100);
    assert_eq!(
        cal.add_business(far, Duration::days(366)),
        DateTime::<Utc>::MAX_UTC
    );
    let early = DateTime::<Utc>::MIN_UTC;
    assert_eq!(
        cal.business_between(early, early + Duration::days(7)),
        Duration::hours(40)
    );
}

// ---- validation -------------------------------------------------------------------------------

#[test]
fn rejects_unknown_time_zone() {
    assert_eq!(
        Calendar::new("Mars/Olympus", &[iv(Mon, 0, 60)], &[]),
        Err(CalendarError::UnknownTimeZone("Mars/Olympus".into()))
    );
}

#[test]
fn rejects_no_business_hours() {
    assert_eq!(
        Calendar::new("UTC", &[], &[]),
        Err(CalendarError::NoBusinessHours)
    );
    let every_date: Vec<Holiday> = (0..366)
        .map(|n| Holiday {
            date: date(2000, 1, 1) + chrono::Days::new(n),
            yearly: true,
        })
        .collect();
    assert_eq!(
        Calendar::new("UTC", &[iv(Mon, 0, 60)], &every_date),
        Err(CalendarError::NoBusinessHours)
    );
    assert!(Calendar::new("UTC", &[iv(Mon, 0, 60)], &every_date[1..]).is_ok());
}

#[test]
fn rejects_out_of_range_minutes() {
    let ok = iv(Mon, 0, 60);
    for (bad, what) in [
        (iv(Tue, 600, 1441), "end 1441"),
        (iv(Tue, 1440, 1440), "start 1440"),
        (iv(Tue, 0, 0), "end 0"),
    ] {
        assert_eq!(
            Calendar::new("UTC", &[ok, bad], &[]),
            Err(CalendarError::OutOfRange { index: 1 }),
            "{what}"
        );
    }
    assert!(Calendar::new("UTC", &[iv(Sun, 1439, 1440)], &[]).is_ok());
}

#[test]
fn rejects_inverted_intervals() {
    let ok = iv(Mon, 0, 60);
    assert_eq!(
        Calendar::new("UTC", &[ok, iv(Tue, 0, 60), iv(Wed, 600, 600)], &[]),
        Err(CalendarError::InvertedInterval { index: 2 })
    );
    assert_eq!(
        Calendar::new("UTC", &[iv(Wed, 601, 600)], &[]),
        Err(CalendarError::InvertedInterval { index: 0 })
    );
}

#[test]
fn rejects_overlaps_with_both_indexes() {
    let hours = [iv(Mon, 540, 720), iv(Tue, 600, 700), iv(Mon, 719, 800)];
    assert_eq!(
        Calendar::new("UTC", &hours, &[]),
        Err(CalendarError::Overlap {
            first: 0,
            second: 2
        })
    );
    // Containment is overlap too.
    let hours = [iv(Fri, 600, 610), iv(Fri, 0, 1440)];
    assert_eq!(
        Calendar::new("UTC", &hours, &[]),
        Err(CalendarError::Overlap {
            first: 0,
            second: 1
        })
    );
    // Touching is not, nor the same minutes on different weekdays.
    let hours = [iv(Mon, 540, 720), iv(Mon, 720, 780), iv(Tue, 540, 720)];
    assert!(Calendar::new("UTC", &hours, &[]).is_ok());
}

#[test]
fn rejects_duplicate_holidays() {
    let hours = [iv(Mon, 540, 720)];
    let cases = [
        (
            vec![dated(2025, 12, 25), dated(2025, 1, 1), dated(2025, 12, 25)],
            2,
        ),
        (
            vec![
                yearly(12, 25),
                Holiday {
                    date: date(2031, 12, 25),
                    yearly: true,
                },
            ],
            1,
        ),
        (vec![yearly(12, 25), dated(2026, 12, 25)], 1),
        (vec![dated(2026, 12, 25), yearly(12, 25)], 1),
    ];
    for (holidays, index) in cases {
        assert_eq!(
            Calendar::new("UTC", &hours, &holidays),
            Err(CalendarError::DuplicateHoliday { index }),
            "{holidays:?}"
        );
    }
    let distinct = [dated(2025, 12, 25), dated(2026, 12, 25), yearly(12, 26)];
    assert!(Calendar::new("UTC", &hours, &distinct).is_ok());
}

#[test]
fn errors_display_the_field() {
    let e = CalendarError::OutOfRange { index: 3 };
    assert!(e.to_string().contains("business_hours[3]"));
}

// ---- proptests against the oracle -------------------------------------------------------------

const ZONES: [&str; 6] = [
    "UTC",
    "America/New_York",
    "Europe/Berlin",
    "Australia/Lord_Howe",
    "Asia/Manila",
    "America/Santiago",
];

/// 2025-01-01T00:00Z and 2028-01-01T00:00Z.
const RANGE_START: i64 = 1_735_689_600;
const RANGE_END: i64 = 1_830_297_600;

/// Offset changes of each of [`ZONES`] in 2025–2027 (to the hour), for starts near them.
fn transitions(zone: usize) -> &'static [i64] {
    static ALL: OnceLock<Vec<Vec<i64>>> = OnceLock::new();
    &ALL.get_or_init(|| {
        ZONES
            .iter()
            .map(|name| {
                let tz: Tz = name.parse().unwrap();
                let offset = |t: i64| {
                    let at = DateTime::from_timestamp(t, 0).unwrap().naive_utc();
                    tz.offset_from_utc_datetime(&at).fix().local_minus_utc()
                };
                (RANGE_START..RANGE_END)
                    .step_by(3600)
                    .filter(|&t| offset(t) != offset(t + 3600))
                    .collect()
            })
            .collect()
    })[zone]
}

/// Interval ends anywhere in the day, often on the hours where offsets change.
fn minute_point() -> BoxedStrategy<u16> {
    prop_oneof![
        3 => 0u16..=1440,
        1 => prop::sample::select(vec![0u16, 30, 60, 90, 120, 150, 180, 1380, 1410, 1440]),
    ]
    .boxed()
}

/// Interval ends only around midnight and the small hours, where every zone here changes offset.
fn small_hours_point() -> BoxedStrategy<u16> {
    prop_oneof![
        0u16..=300,
        1320u16..=1440,
        prop::sample::select(vec![0u16, 60, 90, 120, 150, 180, 1440]),
    ]
    .boxed()
}

/// 1–3 disjoint (possibly touching) intervals of one day.
fn day_intervals(point: fn() -> BoxedStrategy<u16>) -> impl Strategy<Value = Vec<(u16, u16)>> {
    (1usize..=3)
        .prop_flat_map(move |k| prop::collection::vec(point(), 2 * k))
        .prop_map(|mut points| {
            points.sort_unstable();
            points
                .chunks(2)
                .filter(|c| c[0] < c[1])
                .map(|c| (c[0], c[1]))
                .collect()
        })
}

fn hours(point: fn() -> BoxedStrategy<u16>) -> impl Strategy<Value = Vec<WeeklyInterval>> {
    prop::collection::vec(prop::option::weighted(0.6, day_intervals(point)), 7).prop_map(|days| {
        const WEEK: [Weekday; 7] = [Mon, Tue, Wed, Thu, Fri, Sat, Sun];
        let mut hours: Vec<WeeklyInterval> = days
            .iter()
            .zip(WEEK)
            .flat_map(|(spans, weekday)| {
                spans.iter().flatten().map(move |&(s, e)| iv(weekday, s, e))
            })
            .collect();
        if hours.is_empty() {
            hours.push(iv(Mon, 9 * 60, 17 * 60));
        }
        hours
    })
}

/// Up to 3 yearly and 6 dated holidays (near the start range), without duplicates.
fn holidays() -> impl Strategy<Value = Vec<Holiday>> {
    (
        prop::collection::vec(0u64..366, 0..=3),
        prop::collection::vec(0u64..(3 * 365 + 60), 0..=6),
    )
        .prop_map(|(yearly_days, dated_days)| {
            let mut month_days = HashSet::new();
            let mut dates = HashSet::new();
            let mut out = Vec::new();
            for n in yearly_days {
                let date = date(2000, 1, 1) + chrono::Days::new(n);
                if month_days.insert((date.month(), date.day())) {
                    out.push(Holiday { date, yearly: true });
                }
            }
            for n in dated_days {
                let date = date(2024, 12, 1) + chrono::Days::new(n);
                if !month_days.contains(&(date.month(), date.day())) && dates.insert(date) {
                    out.push(Holiday {
                        date,
                        yearly: false,
                    });
                }
            }
            out
        })
}

fn calendar() -> impl Strategy<Value = Calendar> {
    (0..ZONES.len(), hours(minute_point), holidays())
        .prop_map(|(zone, hours, holidays)| Calendar::new(ZONES[zone], &hours, &holidays).unwrap())
}

/// A minute-aligned instant in 2025–2027, half of them within 3 days (often 3 hours) of an
/// offset change.
fn start_for(calendar: &Calendar) -> BoxedStrategy<DateTime<Utc>> {
    let zone = ZONES
        .iter()
        .position(|z| *z == calendar.time_zone().name())
        .unwrap();
    let uniform = (RANGE_START / 60..RANGE_END / 60).prop_map(|m| m * 60);
    let changes = transitions(zone);
    let secs = if changes.is_empty() {
        uniform.boxed()
    } else {
        prop_oneof![
            uniform,
            (
                prop::sample::select(changes.to_vec()),
                prop_oneof![-3 * 1440i64..=3 * 1440, -180i64..=180],
            )
                .prop_map(|(t, m)| t - t.rem_euclid(60) + m * 60),
        ]
        .boxed()
    };
    secs.prop_map(|s| DateTime::from_timestamp(s, 0).unwrap())
        .boxed()
}

/// Business minutes in one week of `calendar` (ignoring holidays and DST).
fn weekly_minutes(calendar: &Calendar) -> i64 {
    calendar
        .business_hours()
        .iter()
        .map(|i| i64::from(i.end_minute - i.start_minute))
        .sum()
}

/// A calendar, a start, and a whole-minute duration up to two weeks of its business time.
fn case() -> impl Strategy<Value = (Calendar, DateTime<Utc>, i64)> {
    calendar().prop_flat_map(|cal| {
        let max = 2 * weekly_minutes(&cal);
        let start = start_for(&cal);
        (Just(cal), start, 0..=max)
    })
}

/// A calendar with hours only in the small hours of a zone with DST, a start within 6 hours of
/// an offset change, and a span of up to 2 days: the repeated and skipped hours, stressed.
fn dst_case() -> impl Strategy<Value = (Calendar, DateTime<Utc>, i64)> {
    (
        prop::sample::select(vec![1usize, 2, 3, 5]),
        hours(small_hours_point),
    )
        .prop_flat_map(|(zone, hours)| {
            let cal = Calendar::new(ZONES[zone], &hours, &[]).unwrap();
            let start = (
                prop::sample::select(transitions(zone).to_vec()),
                -360i64..=360,
            )
                .prop_map(|(t, m)| DateTime::from_timestamp(t + m * 60, 0).unwrap());
            (Just(cal), start, 0i64..=2 * 1440)
        })
}

/// Oracle walk cap: far beyond any case (two weeks of business time plus holidays).
const ORACLE_CAP: u64 = 5_000_000;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn add_business_agrees_with_oracle((cal, start, minutes) in case()) {
        let expected = oracle::add_business(&cal, start, mins(minutes), ORACLE_CAP);
        prop_assert_eq!(Some(cal.add_business(start, mins(minutes))), expected);
    }

    /// Targets that end exactly where business time pauses (an interval end, a day's last
    /// interval, a holiday eve): the boundaries where an off-by-one would show.
    #[test]
    fn add_business_agrees_with_oracle_at_piece_ends(
        (cal, start, _) in case(),
        span in 1i64..=2 * 7 * 1440,
    ) {
        let d = oracle::business_between(&cal, start, start + mins(span));
        let expected = oracle::add_business(&cal, start, d, ORACLE_CAP);
        prop_assert_eq!(Some(cal.add_business(start, d)), expected);
    }

    #[test]
    fn business_between_agrees_with_oracle(
        (cal, from, _) in case(),
        span in prop_oneof![0i64..=3 * 7 * 1440, 0i64..=240],
    ) {
        let to = from + mins(span);
        prop_assert_eq!(cal.business_between(from, to), oracle::business_between(&cal, from, to));
    }

    #[test]
    fn is_business_instant_agrees_with_oracle(
        (cal, start, _) in case(),
        offsets in prop::collection::vec(-2000i64..=2000, 16),
    ) {
        for m in offsets {
            let at = start + mins(m);
            prop_assert_eq!(cal.is_business_instant(at), oracle::is_business(&cal, at), "at {}", at);
        }
    }

    #[test]
    fn add_business_agrees_with_oracle_near_offset_changes((cal, start, span) in dst_case()) {
        let d = oracle::business_between(&cal, start, start + mins(span));
        prop_assume!(d > Duration::zero());
        for d in [d, d - mins(1), d + mins(1)] {
            let expected = oracle::add_business(&cal, start, d, ORACLE_CAP);
            prop_assert_eq!(Some(cal.add_business(start, d)), expected, "d = {}", d);
        }
    }

    #[test]
    fn business_between_agrees_with_oracle_near_offset_changes((cal, from, span) in dst_case()) {
        let to = from + mins(span);
        prop_assert_eq!(cal.business_between(from, to), oracle::business_between(&cal, from, to));
    }

    #[test]
    fn business_between_inverts_add_business(
        (cal, start, minutes) in case(),
        start_nanos in 0u32..1_000_000_000,
        extra_nanos in 0i64..60_000_000_000,
    ) {
        // Continuous time: sub-second start and duration.
        let start = start + Duration::nanoseconds(i64::from(start_nanos));
        let d = mins(minutes) + Duration::nanoseconds(extra_nanos);
        prop_assume!(d > Duration::zero());
        let deadline = cal.add_business(start, d);
        prop_assert_eq!(cal.business_between(start, deadline), d);
    }

    #[test]
    fn longer_targets_never_end_earlier(
        (cal, start, minutes) in case(),
        a in 0i64..1_000_000_000_000,
        b in 0i64..1_000_000_000_000,
    ) {
        let base = mins(minutes);
        let (short, long) = (base + Duration::nanoseconds(a.min(b)), base + Duration::nanoseconds(a.max(b)));
        let (early, late) = (cal.add_business(start, short), cal.add_business(start, long));
        prop_assert!(early <= late);
        if short < long {
            prop_assert!(early < late);
        }
    }

    /// The deadline is the instant the last business nanosecond completes: the instant just
    /// before it is business time, and it is the first instant with `d` elapsed.
    #[test]
    fn deadline_ends_a_business_stretch((cal, start, minutes) in case()) {
        prop_assume!(minutes > 0);
        let d = mins(minutes);
        let deadline = cal.add_business(start, d);
        let just_before = deadline - Duration::nanoseconds(1);
        prop_assert!(cal.is_business_instant(just_before));
        prop_assert!(oracle::is_business(&cal, deadline - mins(1)));
        prop_assert!(cal.business_between(start, just_before) < d);
    }

    #[test]
    fn business_between_is_additive(
        (cal, from, _) in case(),
        a in 0i64..20_000_000_000_000,
        b in 0i64..20_000_000_000_000,
    ) {
        let mid = from + Duration::nanoseconds(a.min(b));
        let to = from + Duration::nanoseconds(a.max(b));
        prop_assert_eq!(
            cal.business_between(from, to),
            cal.business_between(from, mid) + cal.business_between(mid, to)
        );
    }
}
