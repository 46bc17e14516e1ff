//! Exponential backoff for the bus's retry loops (relay while the broker is
//! away, consumer retries, re-consuming).

use std::time::Duration;

/// Doubling delays from `min` up to `max`.
#[derive(Debug, Clone)]
pub struct Backoff {
    min: Duration,
    max: Duration,
    next: Duration,
}

impl Backoff {
    /// Starts at `min`, never exceeds `max`.
    pub fn new(min: Duration, max: Duration) -> Backoff {
        Backoff {
            min,
            max: max.max(min),
            next: min,
        }
    }

    /// The delay to wait now; the following one doubles.
    pub fn next_delay(&mut self) -> Duration {
        let delay = self.next;
        self.next = (self.next * 2).min(self.max);
        delay
    }

    /// Back to `min` after a success.
    pub fn reset(&mut self) {
        self.next = self.min;
    }

    /// The delay after the `failures`-th failure in a row (1 → `min`) of
    /// work that keeps its count in the database (an outbox row, a timer).
    pub fn nth(min: Duration, max: Duration, failures: u32) -> Duration {
        let doublings = failures.saturating_sub(1).min(31);
        min.saturating_mul(1 << doublings).min(max.max(min))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_up_to_the_cap_and_resets() {
        let mut b = Backoff::new(Duration::from_millis(100), Duration::from_millis(350));
        let seen: Vec<u128> = (0..4).map(|_| b.next_delay().as_millis()).collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        b.reset();
        assert_eq!(b.next_delay(), Duration::from_millis(100));
    }

    #[test]
    fn the_nth_delay_matches_the_running_backoff() {
        let (min, max) = (Duration::from_millis(100), Duration::from_millis(350));
        let seen: Vec<u128> = (1..=4)
            .map(|n| Backoff::nth(min, max, n).as_millis())
            .collect();
        assert_eq!(seen, [100, 200, 350, 350]);
        assert_eq!(Backoff::nth(min, max, 0), min);
        assert_eq!(Backoff::nth(min, Duration::MAX, u32::MAX), min * (1 << 31));
    }
}
