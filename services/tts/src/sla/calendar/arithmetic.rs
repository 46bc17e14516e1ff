//! Fast business-time arithmetic: a forward walk over local days that costs time per day
//! spanned, never per minute.
//!
//! The walk keeps a position in local (naive) time and the UTC offset in force. While the offset
//! is constant, local business spans map to UTC pieces by subtracting it, and whole days are
//! consumed from precomputed per-weekday totals, a week at a time between offset probes. When a
//! probe finds an offset change (see [`super::offsets`]), the pieces are cut at the change and
//! the walk resumes at the change's local time under the new offset: a spring-forward jump
//! skips local time, a fall-back jump walks the repeated local time again.

use chrono::{DateTime, Duration, Utc};

use super::offsets::{MAX_SECS, OffsetTracker, offset_at};
use super::{Calendar, DAY};

const NANOS: i128 = 1_000_000_000;

/// Days consumed per offset probe while no deadline or end of range is near.
const CHUNK_DAYS: i64 = 7;

impl Calendar {
    /// The instant at which `business` of business time has elapsed after `start` (start itself
    /// may be outside business hours: counting begins at the next business instant). Zero or
    /// negative → `start`.
    ///
    /// The result is the earliest instant `r` with `business_between(start, r) == business`, so it
    /// may be the end of an interval. Time is continuous: sub-second parts are kept. Saturates at
    /// `DateTime::<Utc>::MAX_UTC`.
    pub fn add_business(&self, start: DateTime<Utc>, business: Duration) -> DateTime<Utc> {
        let remaining = duration_nanos(business);
        if remaining <= 0 {
            return start;
        }
        if self.always {
            return start
                .checked_add_signed(business)
                .unwrap_or(DateTime::<Utc>::MAX_UTC);
        }
        let mut goal = Deadline {
            start: instant_nanos(start),
            remaining,
            result: None,
        };
        self.walk(start.timestamp(), &mut goal);
        goal.result.map_or(DateTime::<Utc>::MAX_UTC, nanos_instant)
    }

    /// Business time elapsed in `[from, to)` (zero if `to <= from`).
    pub fn business_between(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        if self.always {
            return to.signed_duration_since(from);
        }
        let mut goal = Elapsed {
            from: instant_nanos(from),
            to: instant_nanos(to),
            total: 0,
        };
        self.walk(from.timestamp(), &mut goal);
        let secs = goal.total.div_euclid(NANOS) as i64;
        let nanos = goal.total.rem_euclid(NANOS) as u32;
        Duration::new(secs, nanos).unwrap_or(Duration::MAX)
    }

    /// Whether `at` is business time: its local date is no holiday and its local time lies in one
    /// of that weekday's intervals.
    pub fn is_business_instant(&self, at: DateTime<Utc>) -> bool {
        if self.always {
            return true;
        }
        let secs = at.timestamp();
        let local = secs + offset_at(self.tz, secs);
        let day = local.div_euclid(DAY);
        let second_of_day = local - day * DAY;
        self.spans_of_day(day)
            .iter()
            .any(|&(s, e)| s <= second_of_day && second_of_day < e)
    }

    /// Walks business time forward from UTC second `from_secs`, offering whole days and single
    /// pieces to `goal` in UTC order until it is done or time runs out.
    fn walk<G: Goal>(&self, from_secs: i64, goal: &mut G) {
        let mut offsets = OffsetTracker::new(self.tz, from_secs);
        let mut offset = offsets.offset();
        // Local (naive) second up to which the walk is complete.
        let mut pos = from_secs + offset;
        'walk: loop {
            let utc = pos - offset;
            if utc > MAX_SECS {
                return;
            }
            if goal.stops_at(utc) {
                // Done only if no offset change hides before `utc`.
                match offsets.check(utc - 1) {
                    None => return,
                    Some(change) => {
                        offset = offsets.advance();
                        pos = change + offset;
                        continue;
                    }
                }
            }
            let day = pos.div_euclid(DAY);
            let day_start = day * DAY;
            if pos == day_start {
                // Whole days, up to a week, while the offset is constant.
                let mut end_day = day + CHUNK_DAYS;
                let change = offsets.check(end_day * DAY - offset - 1);
                if let Some(change) = change {
                    if change <= day_start - offset {
                        offset = offsets.advance();
                        pos = change + offset;
                        continue;
                    }
                    end_day = (change + offset).div_euclid(DAY);
                }
                let mut d = day;
                while d < end_day
                    && goal.take_day(
                        d * DAY - offset,
                        (d + 1) * DAY - offset,
                        self.business_seconds_of_day(d),
                    )
                {
                    d += 1;
                }
                pos = d * DAY;
                if d == end_day && change.is_none() {
                    continue;
                }
            }
            // The day holding `pos`, piece by piece.
            let day = pos.div_euclid(DAY);
            let day_start = day * DAY;
            for &(s, e) in self.spans_of_day(day) {
                let end = day_start + e;
                if end <= pos {
                    continue;
                }
                let start = (day_start + s).max(pos);
                let (a, b) = (start - offset, end - offset);
                match offsets.check(b - 1) {
                    None => {
                        if goal.take_piece(a, b) {
                            return;
                        }
                    }
                    Some(change) => {
                        if a < change && goal.take_piece(a, change) {
                            return;
                        }
                        offset = offsets.advance();
                        pos = change + offset;
                        continue 'walk;
                    }
                }
            }
            pos = day_start + DAY;
        }
    }
}

/// What a walk is looking for. Pieces and days arrive in UTC order, as whole UTC seconds.
trait Goal {
    /// Whether the walk may stop once it reaches UTC second `secs`.
    fn stops_at(&self, secs: i64) -> bool;
    /// Offers a whole local day spanning UTC `[start, end)` with `business` seconds in it.
    /// Returns false to have the day walked piece by piece instead.
    fn take_day(&mut self, start: i64, end: i64, business: i64) -> bool;
    /// Offers the business piece UTC `[start, end)`. Returns true when the goal is reached.
    fn take_piece(&mut self, start: i64, end: i64) -> bool;
}

/// Finds the instant at which `remaining` business nanoseconds after `start` have elapsed.
struct Deadline {
    start: i128,
    remaining: i128,
    result: Option<i128>,
}

impl Goal for Deadline {
    fn stops_at(&self, _secs: i64) -> bool {
        false
    }

    fn take_day(&mut self, start: i64, _end: i64, business: i64) -> bool {
        let business = i128::from(business) * NANOS;
        if i128::from(start) * NANOS >= self.start && business < self.remaining {
            self.remaining -= business;
            true
        } else {
            false
        }
    }

    fn take_piece(&mut self, start: i64, end: i64) -> bool {
        let lo = (i128::from(start) * NANOS).max(self.start);
        let hi = i128::from(end) * NANOS;
        if hi <= lo {
            return false;
        }
        if hi - lo >= self.remaining {
            self.result = Some(lo + self.remaining);
            return true;
        }
        self.remaining -= hi - lo;
        false
    }
}

/// Sums business nanoseconds in `[from, to)`.
struct Elapsed {
    from: i128,
    to: i128,
    total: i128,
}

impl Goal for Elapsed {
    fn stops_at(&self, secs: i64) -> bool {
        i128::from(secs) * NANOS >= self.to
    }

    fn take_day(&mut self, start: i64, end: i64, business: i64) -> bool {
        if i128::from(start) * NANOS >= self.from && i128::from(end) * NANOS <= self.to {
            self.total += i128::from(business) * NANOS;
            true
        } else {
            false
        }
    }

    fn take_piece(&mut self, start: i64, end: i64) -> bool {
        let lo = (i128::from(start) * NANOS).max(self.from);
        let hi = (i128::from(end) * NANOS).min(self.to);
        if hi > lo {
            self.total += hi - lo;
        }
        i128::from(end) * NANOS >= self.to
    }
}

/// Nanoseconds since the epoch (a leap-second representation counts as the second's last nanosecond).
fn instant_nanos(at: DateTime<Utc>) -> i128 {
    i128::from(at.timestamp()) * NANOS + i128::from(at.timestamp_subsec_nanos().min(999_999_999))
}

/// Inverse of [`instant_nanos`], saturating at the representable range.
fn nanos_instant(nanos: i128) -> DateTime<Utc> {
    let secs = nanos.div_euclid(NANOS);
    let sub = nanos.rem_euclid(NANOS) as u32;
    i64::try_from(secs)
        .ok()
        .and_then(|secs| DateTime::from_timestamp(secs, sub))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// Total nanoseconds of a duration (sign included).
fn duration_nanos(d: Duration) -> i128 {
    i128::from(d.num_seconds()) * NANOS + i128::from(d.subsec_nanos())
}
