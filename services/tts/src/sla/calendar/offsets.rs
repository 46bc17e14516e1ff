//! UTC-offset tracking for a forward walk through time: finds offset changes (DST transitions)
//! lazily by probing chrono-tz and bisecting, since chrono-tz does not expose its transitions.
//!
//! Assumption: two probes at most [`MAX_PROBE_GAP`] apart that see the same offset saw no change
//! in between, i.e. a zone never changes its offset and back within a week. That holds for every
//! zone in the tz database in practice (DST changes are months apart).

use chrono::{DateTime, Offset, TimeZone, Utc};
use chrono_tz::Tz;

/// Largest gap between two probes that are trusted to bracket a constant offset.
pub(super) const MAX_PROBE_GAP: i64 = 7 * 86_400;

/// First and last whole UTC seconds that `DateTime<Utc>` can represent.
pub(super) const MIN_SECS: i64 = DateTime::<Utc>::MIN_UTC.timestamp();
pub(super) const MAX_SECS: i64 = DateTime::<Utc>::MAX_UTC.timestamp();

/// UTC offset in seconds (local minus UTC) of `tz` at UTC second `secs` (clamped to the
/// representable range).
pub(super) fn offset_at(tz: Tz, secs: i64) -> i64 {
    let secs = secs.clamp(MIN_SECS, MAX_SECS);
    match DateTime::from_timestamp(secs, 0) {
        Some(at) => i64::from(
            tz.offset_from_utc_datetime(&at.naive_utc())
                .fix()
                .local_minus_utc(),
        ),
        None => 0,
    }
}

/// The offset in force from some UTC second on, extended forward on demand.
pub(super) struct OffsetTracker {
    tz: Tz,
    /// Offset (seconds) in force from the last change (or the start) through `verified_to`.
    offset: i64,
    /// Last UTC second known to have `offset`.
    verified_to: i64,
    /// First UTC second with a different offset, once found.
    next_change: Option<i64>,
}

impl OffsetTracker {
    /// Starts tracking at UTC second `secs`.
    pub(super) fn new(tz: Tz, secs: i64) -> Self {
        Self {
            tz,
            offset: offset_at(tz, secs),
            verified_to: secs,
            next_change: None,
        }
    }

    /// The current offset in seconds.
    pub(super) fn offset(&self) -> i64 {
        self.offset
    }

    /// Checks that the current offset holds up to and including UTC second `secs`.
    /// Returns `None` if it does, or the first second of the next offset change if that change
    /// comes at or before `secs` (the offset holds on every second before it).
    pub(super) fn check(&mut self, secs: i64) -> Option<i64> {
        if secs <= self.verified_to {
            return None;
        }
        if let Some(change) = self.next_change {
            return Some(change);
        }
        loop {
            let probe = secs.min(self.verified_to.saturating_add(MAX_PROBE_GAP));
            if offset_at(self.tz, probe) == self.offset {
                self.verified_to = probe;
                if probe >= secs {
                    return None;
                }
                continue;
            }
            // Bisect (verified_to, probe]: lo keeps the old offset, hi has a new one.
            let (mut lo, mut hi) = (self.verified_to, probe);
            while hi - lo > 1 {
                let mid = lo + (hi - lo) / 2;
                if offset_at(self.tz, mid) == self.offset {
                    lo = mid;
                } else {
                    hi = mid;
                }
            }
            self.verified_to = lo;
            self.next_change = Some(hi);
            return Some(hi);
        }
    }

    /// Moves past the change that [`check`](Self::check) reported; returns the new offset.
    pub(super) fn advance(&mut self) -> i64 {
        if let Some(change) = self.next_change.take() {
            self.offset = offset_at(self.tz, change);
            self.verified_to = change;
        }
        self.offset
    }
}
