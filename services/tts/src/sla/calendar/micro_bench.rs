//! Micro-benchmark of the fast arithmetic beside the oracle: "a deadline 500 business hours out
//! over a calendar with 50 holidays" (America/New_York, weekdays 09:00–12:00 and 13:00–18:00,
//! 50 dated holidays spread over 2026, starts varied over its first quarter, which crosses the
//! March DST change).

use std::fmt;
use std::hint::black_box;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, Utc, Weekday};

use super::{Calendar, Holiday, WeeklyInterval, oracle};

/// Timings from [`measure`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MicroBenchReport {
    /// Mean wall time of one `add_business` call.
    pub fast_per_call: Duration,
    /// Mean wall time of one oracle call on the same scenario.
    pub oracle_per_call: Duration,
    /// `add_business` calls timed.
    pub fast_calls: u32,
    /// Oracle calls timed (1 per 100 fast calls, rounded up: the oracle walks every minute).
    pub oracle_calls: u32,
    /// Oracle calls whose deadline differed from the fast one (0 when all is well).
    pub mismatches: u32,
}

impl fmt::Display for MicroBenchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "deadline 500 business hours out, 50 holidays, America/New_York"
        )?;
        writeln!(
            f,
            "  fast:   {:>12.3?} per call ({} calls)",
            self.fast_per_call, self.fast_calls
        )?;
        writeln!(
            f,
            "  oracle: {:>12.3?} per call ({} calls)",
            self.oracle_per_call, self.oracle_calls
        )?;
        write!(f, "  mismatches: {}", self.mismatches)
    }
}

/// The benchmark calendar.
pub fn scenario_calendar() -> Calendar {
    use Weekday::*;
    let mut hours = Vec::new();
    for weekday in [Mon, Tue, Wed, Thu, Fri] {
        hours.push(WeeklyInterval {
            weekday,
            start_minute: 9 * 60,
            end_minute: 12 * 60,
        });
        hours.push(WeeklyInterval {
            weekday,
            start_minute: 13 * 60,
            end_minute: 18 * 60,
        });
    }
    let first = NaiveDate::from_ymd_opt(2026, 1, 1).unwrap_or_default();
    let holidays: Vec<Holiday> = (0..50u64)
        .map(|i| Holiday {
            date: first + chrono::Days::new(i * 7 + i % 5 + 2),
            yearly: false,
        })
        .collect();
    Calendar::new("America/New_York", &hours, &holidays).unwrap_or_else(|e| panic!("{e}"))
}

/// Minute-aligned start instants spread over the first quarter of 2026 (fixed pseudo-random).
fn starts(count: usize) -> Vec<DateTime<Utc>> {
    let base = DateTime::from_timestamp(1_767_225_600, 0).unwrap_or_default(); // 2026-01-01T00:00Z
    let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
    (0..count)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            base + chrono::Duration::minutes(((state >> 33) % (90 * 24 * 60)) as i64)
        })
        .collect()
}

/// Times `iterations` fast calls and `iterations / 100` (rounded up) oracle calls.
pub fn measure(iterations: u32) -> MicroBenchReport {
    let calendar = scenario_calendar();
    let target = chrono::Duration::hours(500);
    let starts = starts(iterations.clamp(1, 4096) as usize);

    let clock = Instant::now();
    for i in 0..iterations as usize {
        black_box(calendar.add_business(black_box(starts[i % starts.len()]), black_box(target)));
    }
    let fast_total = clock.elapsed();

    let oracle_calls = iterations.div_ceil(100);
    let mut mismatches = 0;
    let mut oracle_total = Duration::ZERO;
    for i in 0..oracle_calls as usize {
        let start = starts[i % starts.len()];
        let clock = Instant::now();
        let slow = black_box(oracle::add_business(&calendar, start, target, 1 << 24));
        oracle_total += clock.elapsed();
        if slow != Some(calendar.add_business(start, target)) {
            mismatches += 1;
        }
    }
    MicroBenchReport {
        fast_per_call: fast_total.checked_div(iterations).unwrap_or_default(),
        oracle_per_call: oracle_total.checked_div(oracle_calls).unwrap_or_default(),
        fast_calls: iterations,
        oracle_calls,
        mismatches,
    }
}
