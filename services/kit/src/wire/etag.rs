//! Entity tags (AIP-154): an opaque token that changes on every change of a
//! resource, sent back by the client on update so that a change made by
//! someone else in between is not silently overwritten.
//!
//! The tag is derived from the resource's version, which every mutable
//! resource of the platform carries and increments on each change.

use crate::{ApiError, Reason, System};

/// `ErrorInfo.reason` of an update whose etag is stale.
pub const ETAG_MISMATCH: &str = "ETAG_MISMATCH";

/// The etag of a resource at `version`.
pub fn etag(version: i64) -> String {
    format!("\"v{version}\"")
}

/// `Ok` when `sent` is the etag of `version`. INVALID_ARGUMENT naming
/// `field` when it is empty or not an etag at all; ABORTED with reason
/// [`ETAG_MISMATCH`] (in `system`'s domain) when it is an older or newer
/// version's: the caller re-reads and retries.
pub fn check_etag(system: System, field: &str, sent: &str, version: i64) -> Result<(), ApiError> {
    if sent.is_empty() {
        return Err(ApiError::invalid(field, "is required (the etag you read)"));
    }
    let parsed = sent
        .strip_prefix("\"v")
        .and_then(|s| s.strip_suffix('"'))
        .and_then(|s| s.parse::<i64>().ok());
    match parsed {
        None => Err(ApiError::invalid(
            field,
            "is not an etag this service issued",
        )),
        Some(v) if v == version => Ok(()),
        Some(_) => Err(ApiError::Aborted(
            stale(system).with_metadata("current_etag", etag(version)),
        )),
    }
}

/// ABORTED with reason [`ETAG_MISMATCH`]: for a conditional write that
/// found the resource changed by a concurrent writer after the check.
pub fn mismatch(system: System) -> ApiError {
    ApiError::Aborted(stale(system))
}

fn stale(system: System) -> Reason {
    Reason::new(
        system,
        ETAG_MISMATCH,
        "the resource changed since it was read; read it again and retry",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_current_etag_passes() {
        assert!(check_etag(System::Auth, "d.etag", &etag(3), 3).is_ok());
        match check_etag(System::Auth, "d.etag", &etag(2), 3) {
            Err(ApiError::Aborted(r)) => {
                assert_eq!((r.reason, r.domain), (ETAG_MISMATCH, "map.auth"));
                assert_eq!(r.metadata.get("current_etag"), Some(&etag(3)));
            }
            other => panic!("{other:?}"),
        }
        for bad in ["", "3", "\"v\"", "W/\"v3\"", "\"vx\""] {
            match check_etag(System::Auth, "d.etag", bad, 3) {
                Err(ApiError::InvalidArgument(v)) => assert_eq!(v[0].field, "d.etag"),
                other => panic!("{bad}: {other:?}"),
            }
        }
    }
}
