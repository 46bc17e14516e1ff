//! One SLA clock, as arithmetic: the business time it counted, whether it
//! counts now, and the instants it projects — pure, so every rule is tested
//! without a database.
//!
//! A clock counts business time of its calendar. It keeps `elapsed` as of
//! `counted_at` and, while counting, grows by the calendar's business time
//! since then; a mode change first *settles* it (brings `elapsed` up to the
//! moment of the change), so paused time never counts and a new target
//! (a priority or topic change) keeps everything already counted. Warning
//! and breach are projected from the settled state; they happen once (their
//! instants recorded), never again for the same clock — a re-entered step
//! continues its own clock.

use chrono::{DateTime, Duration, Utc};

use super::calendar::Calendar;

/// What a clock should be doing, decided from the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Counting business time.
    Counting,
    /// Not counting: the ticket is in one of the policy's pause statuses.
    Paused,
    /// Not counting: a step clock of a step the ticket is not at.
    Suspended,
    /// Done: responded, resolved, closed or cancelled.
    Stopped,
}

/// Where a clock stands, for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Counting, before its warning.
    Running,
    /// Paused.
    Paused,
    /// Counting (or suspended), past its warning.
    Warned,
    /// Past its target.
    Breached,
    /// Stopped within its target.
    Met,
}

/// One clock of one ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    /// Business time allowed.
    pub target: Duration,
    /// Business time after which it warns (less than `target`).
    pub warn_after: Duration,
    /// Business time counted up to `counted_at`.
    pub elapsed: Duration,
    /// Whether it counts from `counted_at` on.
    pub counting: bool,
    /// When `elapsed` was last settled.
    pub counted_at: DateTime<Utc>,
    /// Since when it is paused.
    pub paused_since: Option<DateTime<Utc>>,
    /// When it warned.
    pub warned_at: Option<DateTime<Utc>>,
    /// When it breached.
    pub breached_at: Option<DateTime<Utc>>,
    /// When it stopped.
    pub stopped_at: Option<DateTime<Utc>>,
}

/// The instants a clock's timers follow: when it warns and when it
/// breaches, each `None` once it happened or while it cannot happen (not
/// counting and not already past it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Projection {
    /// When the warning is due.
    pub warn_at: Option<DateTime<Utc>>,
    /// When the breach is due.
    pub due_at: Option<DateTime<Utc>>,
}

impl Clock {
    /// A clock started at `now` with `target` and a warning at
    /// `warn_percent` of it, in `mode`.
    pub fn start(target: Duration, warn_percent: i32, mode: Mode, now: DateTime<Utc>) -> Clock {
        let mut clock = Clock {
            target,
            warn_after: warn_after(target, warn_percent),
            elapsed: Duration::zero(),
            counting: false,
            counted_at: now,
            paused_since: None,
            warned_at: None,
            breached_at: None,
            stopped_at: None,
        };
        clock.enter(mode, now);
        clock
    }

    /// Business time counted by `now`.
    pub fn elapsed_at(&self, calendar: &Calendar, now: DateTime<Utc>) -> Duration {
        if self.counting && now > self.counted_at {
            self.elapsed + calendar.business_between(self.counted_at, now)
        } else {
            self.elapsed
        }
    }

    /// Brings `elapsed` up to `now`.
    pub fn settle(&mut self, calendar: &Calendar, now: DateTime<Utc>) {
        self.elapsed = self.elapsed_at(calendar, now);
        if now > self.counted_at {
            self.counted_at = now;
        }
    }

    /// The mode it is in.
    pub fn mode(&self) -> Mode {
        if self.stopped_at.is_some() {
            Mode::Stopped
        } else if self.counting {
            Mode::Counting
        } else if self.paused_since.is_some() {
            Mode::Paused
        } else {
            Mode::Suspended
        }
    }

    /// Puts a settled clock in `mode` at `now` (settle first). A stopped
    /// clock that counts again (a reopened ticket) continues where it
    /// stopped.
    pub fn enter(&mut self, mode: Mode, now: DateTime<Utc>) {
        if mode == self.mode() {
            return;
        }
        self.counting = mode == Mode::Counting;
        self.paused_since = (mode == Mode::Paused).then_some(now);
        self.stopped_at = (mode == Mode::Stopped).then_some(now);
    }

    /// Moves a settled clock to a new target (and warning), keeping what it
    /// counted.
    pub fn retarget(&mut self, target: Duration, warn_percent: i32) {
        self.target = target;
        self.warn_after = warn_after(target, warn_percent);
    }

    /// When its warning and breach fall, from its settled state. A
    /// threshold already passed but not yet recorded is due at once
    /// (`counted_at`), whatever the mode, so it is recorded exactly once.
    pub fn project(&self, calendar: &Calendar) -> Projection {
        let at = |threshold: Duration| {
            if self.elapsed >= threshold {
                Some(self.counted_at)
            } else if self.counting {
                Some(calendar.add_business(self.counted_at, threshold - self.elapsed))
            } else {
                None
            }
        };
        Projection {
            warn_at: if self.warned_at.is_none() && self.breached_at.is_none() {
                at(self.warn_after)
            } else {
                None
            },
            due_at: if self.breached_at.is_none() {
                at(self.target)
            } else {
                None
            },
        }
    }

    /// Business time left at `now`; negative once past the target.
    pub fn remaining(&self, calendar: &Calendar, now: DateTime<Utc>) -> Duration {
        self.target - self.elapsed_at(calendar, now)
    }

    /// When it runs out if it counts from `now` on (while paused: as if it
    /// resumed now); `None` once stopped.
    pub fn due_from(&self, calendar: &Calendar, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        if self.stopped_at.is_some() {
            return None;
        }
        let from = if self.counting {
            self.counted_at
        } else {
            now.max(self.counted_at)
        };
        let left = self.target - self.elapsed;
        Some(if left > Duration::zero() {
            calendar.add_business(from, left)
        } else {
            from
        })
    }

    /// Where it stands at `now`.
    pub fn state(&self, calendar: &Calendar, now: DateTime<Utc>) -> State {
        let elapsed = self.elapsed_at(calendar, now);
        if self.breached_at.is_some() || elapsed >= self.target {
            State::Breached
        } else if self.stopped_at.is_some() {
            State::Met
        } else if self.paused_since.is_some() {
            State::Paused
        } else if self.warned_at.is_some() || elapsed >= self.warn_after {
            State::Warned
        } else {
            State::Running
        }
    }
}

/// `percent` of `target`, at least a millisecond below it.
pub fn warn_after(target: Duration, percent: i32) -> Duration {
    let ms = target.num_milliseconds();
    let warn = ms.saturating_mul(i64::from(percent.clamp(1, 99))) / 100;
    Duration::milliseconds(warn.clamp(0, (ms - 1).max(0)))
}

/// A step's share of the resolution target: `weight` of `total` weights;
/// `None` when the step has no weight.
pub fn step_share(resolution: Duration, weight: i32, total: i32) -> Option<Duration> {
    if weight <= 0 || total <= 0 {
        return None;
    }
    let ms = i128::from(resolution.num_milliseconds()) * i128::from(weight) / i128::from(total);
    Some(Duration::milliseconds(
        i64::try_from(ms).unwrap_or(i64::MAX),
    ))
}

#[cfg(test)]
mod tests {
    use chrono::{TimeZone as _, Weekday};
    use proptest::prelude::*;

    use super::*;
    use crate::sla::calendar::{WeeklyInterval, oracle};

    /// Weekdays 09:00–17:00 in Berlin.
    fn office() -> Calendar {
        let hours: Vec<WeeklyInterval> = [
            Weekday::Mon,
            Weekday::Tue,
            Weekday::Wed,
            Weekday::Thu,
            Weekday::Fri,
        ]
        .into_iter()
        .map(|weekday| WeeklyInterval {
            weekday,
            start_minute: 540,
            end_minute: 1020,
        })
        .collect();
        Calendar::new("Europe/Berlin", &hours, &[]).unwrap_or_else(|e| panic!("{e:?}"))
    }

    fn monday() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 2, 7, 0, 0)
            .single()
            .unwrap_or_default()
    }

    #[test]
    fn a_retarget_keeps_what_was_counted_and_a_stop_keeps_the_breach_due() {
        let cal = office();
        let start = monday(); // 08:00 Berlin
        let mut c = Clock::start(Duration::hours(8), 75, Mode::Counting, start);
        let noon = start + Duration::hours(4); // 12:00: 3 h counted
        c.settle(&cal, noon);
        assert_eq!(c.elapsed, Duration::hours(3));
        c.retarget(Duration::hours(4), 50);
        assert_eq!(
            c.project(&cal).warn_at,
            Some(noon),
            "2 h warning already passed"
        );
        assert_eq!(c.project(&cal).due_at, Some(noon + Duration::hours(1)));
        c.enter(Mode::Stopped, noon);
        // Stopped within target: no breach to come, and it is met.
        assert_eq!(c.project(&cal).due_at, None);
        assert_eq!(c.state(&cal, noon + Duration::days(3)), State::Met);
        // A threshold passed but not recorded is due at once, even stopped.
        let mut late = Clock::start(Duration::hours(1), 50, Mode::Counting, start);
        late.settle(&cal, noon);
        late.enter(Mode::Stopped, noon);
        assert_eq!(late.project(&cal).due_at, Some(noon));
        assert_eq!(late.state(&cal, noon), State::Breached);
    }

    #[test]
    fn warnings_fall_below_their_target_and_steps_share_by_weight() {
        assert_eq!(warn_after(Duration::hours(4), 75), Duration::hours(3));
        assert_eq!(warn_after(Duration::milliseconds(1), 99), Duration::zero());
        assert_eq!(
            step_share(Duration::hours(8), 1, 4),
            Some(Duration::hours(2))
        );
        assert_eq!(step_share(Duration::hours(8), 0, 4), None);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(32))]

        /// Paused (and suspended) time never counts: after any sequence of
        /// mode changes, the elapsed business time is the oracle's business
        /// time over the spans the clock was counting, and a longer target
        /// never yields an earlier due time.
        #[test]
        fn only_counting_spans_count(
            steps in proptest::collection::vec((1u32..3_000, 0u8..3), 1..12),
            extra in 1i64..600,
        ) {
            let cal = office();
            let mut now = monday();
            let mut c = Clock::start(Duration::hours(20), 75, Mode::Counting, now);
            let mut expected = Duration::zero();
            let mut counting = true;
            for (minutes, mode) in steps {
                let next = now + Duration::minutes(i64::from(minutes));
                if counting {
                    expected += oracle::business_between(&cal, now, next);
                }
                now = next;
                c.settle(&cal, now);
                let mode = [Mode::Counting, Mode::Paused, Mode::Suspended][usize::from(mode)];
                c.enter(mode, now);
                counting = mode == Mode::Counting;
            }
            prop_assert_eq!(c.elapsed, expected);
            let longer = {
                let mut l = c.clone();
                l.retarget(c.target + Duration::minutes(extra), 75);
                l
            };
            if let (Some(a), Some(b)) = (c.project(&cal).due_at, longer.project(&cal).due_at) {
                prop_assert!(b >= a);
            }
        }
    }
}
