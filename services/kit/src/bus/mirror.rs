//! Mirrors of another system's data (local user directories, HDTS's view of
//! a TTS ticket) follow that system's events, which may arrive out of order
//! (several relays, redelivery). The owner increments a subject's version on
//! every change and publishes it as `Envelope.subject_version`; a mirror
//! applies an event only when it is newer than what it holds.

/// What a mirror should do with an event, given the version it holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Freshness {
    /// The mirror has no copy of the subject: insert it.
    Unknown,
    /// The event is newer than the copy: replace it.
    Newer,
    /// The event is not newer (older, or the same version again): ignore it.
    Stale,
}

impl Freshness {
    /// Compares the `held` version (if any) with an event's `incoming` one.
    pub fn of(held: Option<i64>, incoming: i64) -> Freshness {
        match held {
            None => Freshness::Unknown,
            Some(h) if incoming > h => Freshness::Newer,
            Some(_) => Freshness::Stale,
        }
    }

    /// Whether the event should be applied.
    pub fn should_apply(self) -> bool {
        self != Freshness::Stale
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_newer_versions_apply() {
        assert_eq!(Freshness::of(None, 1), Freshness::Unknown);
        assert_eq!(Freshness::of(Some(3), 4), Freshness::Newer);
        assert_eq!(Freshness::of(Some(3), 3), Freshness::Stale);
        assert_eq!(Freshness::of(Some(3), 2), Freshness::Stale);
        assert!(Freshness::Unknown.should_apply() && Freshness::Newer.should_apply());
        assert!(!Freshness::Stale.should_apply());
    }
}
