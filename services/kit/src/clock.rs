//! The time of day, injectable: the system clock in production, a
//! [`ManualClock`] that tests set and advance.
//!
//! Everything that stores a time or compares one with a stored time (token
//! expiry, timers' due times, outbox retry times, cache ages) asks a
//! [`Clock`] instead of `Utc::now()`, so a test can move time instead of
//! waiting for it. Pacing that never meets a stored time (a relay's idle
//! pause, a backoff between broker reconnects) stays on tokio's monotonic
//! timer.
//!
//! ```
//! use std::time::Duration;
//! use map_kit::clock::{Clock, ManualClock};
//!
//! # #[tokio::main(flavor = "current_thread")] async fn main() {
//! let manual = ManualClock::new("2030-01-01T00:00:00Z".parse().unwrap());
//! let clock: Clock = manual.clock();
//! let due = clock.now() + Duration::from_secs(3600);
//! let sleeper = tokio::spawn({
//!     let clock = clock.clone();
//!     async move { clock.sleep_until(due).await }
//! });
//! manual.advance(Duration::from_secs(3600)); // the hour passes at once
//! sleeper.await.unwrap();
//! assert_eq!(clock.now(), due);
//! assert!(Clock::system().now() < due);
//! # }
//! ```

use std::{fmt, sync::Arc, time::Duration};

use chrono::{DateTime, Utc};
use tokio::sync::watch;

/// Longest single tokio sleep of [`Clock::sleep_until`] on the system
/// clock: the wall clock may be stepped (NTP) while a monotonic sleep runs,
/// so a long wait looks at the clock again at least this often.
const RECHECK: Duration = Duration::from_secs(60);

/// A source of the current time. Cheap to clone; clones share the source.
#[derive(Clone, Default)]
pub struct Clock {
    manual: Option<Arc<watch::Sender<DateTime<Utc>>>>,
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.manual {
            None => f.write_str("Clock(system)"),
            Some(now) => write!(f, "Clock(manual {})", *now.borrow()),
        }
    }
}

impl Clock {
    /// The system clock (`Utc::now()`); also the [`Default`].
    pub fn system() -> Clock {
        Clock::default()
    }

    /// The current time.
    pub fn now(&self) -> DateTime<Utc> {
        match &self.manual {
            None => Utc::now(),
            Some(now) => *now.borrow(),
        }
    }

    /// Whether this clock is a [`ManualClock`]'s.
    pub fn is_manual(&self) -> bool {
        self.manual.is_some()
    }

    /// Returns once [`Clock::now`] has reached `at` (at once if it has).
    /// On a manual clock, when a test sets or advances it that far.
    pub async fn sleep_until(&self, at: DateTime<Utc>) {
        match &self.manual {
            None => loop {
                let Ok(left) = (at - Utc::now()).to_std() else {
                    return;
                };
                if left.is_zero() {
                    return;
                }
                tokio::time::sleep(left.min(RECHECK)).await;
            },
            Some(now) => {
                let mut rx = now.subscribe();
                // The sender lives as long as this clock: never closed here.
                let _ = rx.wait_for(|now| *now >= at).await;
            }
        }
    }

    /// Returns once `d` has passed on this clock.
    pub async fn sleep(&self, d: Duration) {
        self.sleep_until(later(self.now(), d)).await;
    }
}

/// `t` plus `d`, saturating at the latest representable time.
pub fn later(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_add_signed(d))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// `t` minus `d`, saturating at the earliest representable time.
pub fn earlier(t: DateTime<Utc>, d: Duration) -> DateTime<Utc> {
    chrono::Duration::from_std(d)
        .ok()
        .and_then(|d| t.checked_sub_signed(d))
        .unwrap_or(DateTime::<Utc>::MIN_UTC)
}

/// A clock that only moves when told to (tests). [`ManualClock::clock`]
/// gives the [`Clock`] to hand to the code under test.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManualClock({})", *self.now.borrow())
    }
}

impl ManualClock {
    /// A clock standing at `start`.
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Arc::new(watch::Sender::new(start)),
        }
    }

    /// A clock standing at the current system time, to the whole second
    /// (so times survive every database's precision unchanged).
    pub fn at_system_time() -> ManualClock {
        let now = Utc::now();
        ManualClock::new(DateTime::from_timestamp(now.timestamp(), 0).unwrap_or(now))
    }

    /// The clock to inject.
    pub fn clock(&self) -> Clock {
        Clock {
            manual: Some(self.now.clone()),
        }
    }

    /// Its current time.
    pub fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    /// Moves the clock to `at` (backwards too) and wakes the sleepers it
    /// passes.
    pub fn set(&self, at: DateTime<Utc>) {
        self.now.send_replace(at);
    }

    /// Moves the clock forward by `d`.
    pub fn advance(&self, d: Duration) {
        self.now.send_modify(|now| *now = later(*now, d));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_sleeper_wakes_when_the_manual_clock_passes_its_time() {
        let manual = ManualClock::at_system_time();
        let clock = manual.clock();
        let due = clock.now() + Duration::from_secs(10);
        let sleeper = tokio::spawn({
            let clock = clock.clone();
            async move { clock.sleep_until(due).await }
        });
        manual.advance(Duration::from_secs(9));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished(), "woke before its time");
        manual.advance(Duration::from_secs(1));
        tokio::time::timeout(Duration::from_secs(5), sleeper)
            .await
            .expect("woke at its time")
            .expect("sleeper ran");
        assert_eq!(clock.now(), due);
    }

    #[tokio::test]
    async fn the_system_clock_returns_at_once_for_a_past_time() {
        let clock = Clock::system();
        assert!(!clock.is_manual());
        let past = clock.now() - chrono::Duration::seconds(1);
        tokio::time::timeout(Duration::from_secs(5), clock.sleep_until(past))
            .await
            .expect("no wait for the past");
    }
}
