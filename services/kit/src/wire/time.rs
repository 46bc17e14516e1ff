//! `google.protobuf.Timestamp` and `google.protobuf.Duration`.

use std::time::Duration;

use chrono::{DateTime, Utc};

use crate::ApiError;

/// The wire form of an instant.
pub fn timestamp(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        // Always below 2·10⁹ (a leap second's nanos are at most 1_999_999_999).
        nanos: i32::try_from(t.timestamp_subsec_nanos()).unwrap_or(999_999_999),
    }
}

/// The instant a request's `field` names; INVALID_ARGUMENT naming the field
/// when it is out of range (nanos outside 0‥10⁹, or beyond year 262143).
pub fn from_timestamp(field: &str, t: &prost_types::Timestamp) -> Result<DateTime<Utc>, ApiError> {
    u32::try_from(t.nanos)
        .ok()
        .filter(|n| *n < 1_000_000_000)
        .and_then(|nanos| DateTime::from_timestamp(t.seconds, nanos))
        .ok_or_else(|| ApiError::invalid(field, "is not a valid timestamp"))
}

/// Like [`from_timestamp`] for a field that must be set.
pub fn required_timestamp(
    field: &str,
    t: Option<&prost_types::Timestamp>,
) -> Result<DateTime<Utc>, ApiError> {
    from_timestamp(
        field,
        t.ok_or_else(|| ApiError::invalid(field, "is required"))?,
    )
}

/// Time from `now` until `t`; zero when `t` has passed or is before the
/// Unix epoch; beyond the representable range, a very long time.
pub fn time_until(t: &prost_types::Timestamp, now: DateTime<Utc>) -> Duration {
    let nanos = u32::try_from(t.nanos).unwrap_or(0).min(999_999_999);
    let Ok(seconds) = u64::try_from(t.seconds) else {
        return Duration::ZERO;
    };
    let at = Duration::new(seconds, nanos);
    let now = Duration::new(
        u64::try_from(now.timestamp()).unwrap_or(0),
        now.timestamp_subsec_nanos().min(999_999_999),
    );
    at.saturating_sub(now)
}

/// The wire form of a duration (saturating at the largest the wire holds).
pub fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

/// The duration a request's `field` names; INVALID_ARGUMENT naming the
/// field when negative or malformed (nanos out of range or of the other sign).
pub fn from_duration(field: &str, d: &prost_types::Duration) -> Result<Duration, ApiError> {
    let seconds = u64::try_from(d.seconds).ok();
    let nanos = u32::try_from(d.nanos).ok().filter(|n| *n < 1_000_000_000);
    match (seconds, nanos) {
        (Some(s), Some(n)) => Ok(Duration::new(s, n)),
        _ => Err(ApiError::invalid(field, "must be a non-negative duration")),
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone as _;

    use super::*;

    fn field_of(e: ApiError) -> String {
        match e {
            ApiError::InvalidArgument(v) => v[0].field.clone(),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn timestamps_round_trip_and_bad_ones_name_the_field() {
        let t = Utc
            .with_ymd_and_hms(2026, 12, 2, 9, 30, 15)
            .single()
            .unwrap_or_default()
            + chrono::Duration::nanoseconds(123_456_789);
        assert_eq!(from_timestamp("t", &timestamp(t)).ok(), Some(t));
        let epoch = prost_types::Timestamp::default();
        assert_eq!(from_timestamp("t", &epoch).ok(), Some(DateTime::UNIX_EPOCH));
        for bad in [
            prost_types::Timestamp {
                seconds: 0,
                nanos: -1,
            },
            prost_types::Timestamp {
                seconds: 0,
                nanos: 1_000_000_000,
            },
            prost_types::Timestamp {
                seconds: i64::MAX,
                nanos: 0,
            },
        ] {
            let e = from_timestamp("due_time", &bad).err().map(field_of);
            assert_eq!(e.as_deref(), Some("due_time"), "{bad:?}");
        }
        let e = required_timestamp("start_time", None).err().map(field_of);
        assert_eq!(e.as_deref(), Some("start_time"));
    }

    #[test]
    fn durations_round_trip_and_negative_ones_are_refused() {
        let d = Duration::new(90, 5);
        assert_eq!(from_duration("d", &duration(d)).ok(), Some(d));
        assert_eq!(duration(Duration::MAX).seconds, i64::MAX);
        for bad in [
            prost_types::Duration {
                seconds: -1,
                nanos: 0,
            },
            prost_types::Duration {
                seconds: 1,
                nanos: -5,
            },
            prost_types::Duration {
                seconds: 0,
                nanos: 1_000_000_000,
            },
        ] {
            let e = from_duration("ttl", &bad).err().map(field_of);
            assert_eq!(e.as_deref(), Some("ttl"), "{bad:?}");
        }
    }

    #[test]
    fn time_until_is_zero_for_the_past() {
        let now = Utc::now();
        assert_eq!(
            time_until(&prost_types::Timestamp::default(), now),
            Duration::ZERO
        );
        let soon = timestamp(now + chrono::Duration::milliseconds(60_500));
        assert_eq!(time_until(&soon, now), Duration::from_millis(60_500));
        let malformed = prost_types::Timestamp {
            seconds: i64::MAX,
            nanos: -3,
        };
        assert!(time_until(&malformed, now) > Duration::ZERO);
    }
}
