//! What a test asks of a failed call: its code, its `ErrorInfo` reason, the
//! fields its `BadRequest` names.

use tonic::{Code, Status};
use tonic_types::StatusExt as _;

/// The `google.rpc.ErrorInfo` reason of `status`; empty when it has none.
pub fn reason(status: &Status) -> String {
    status
        .get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

/// The fields named by `status`'s `google.rpc.BadRequest` violations.
pub fn fields(status: &Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|f| f.field).collect())
        .unwrap_or_default()
}

/// The status of a call that must have failed with `code`.
///
/// # Panics
/// When the call succeeded or failed with another code.
pub fn expect_err<T: std::fmt::Debug>(result: Result<T, Status>, code: Code) -> Status {
    match result {
        Ok(v) => panic!("expected {code:?}, got {v:?}"),
        Err(s) => {
            assert_eq!(s.code(), code, "{s:?}");
            s
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{ApiError, Violations};

    #[test]
    fn reasons_and_fields_are_read_from_the_details() {
        let mut v = Violations::default();
        v.text("email", "", 10).text("name", "", 10);
        let status = Status::from(
            v.finish()
                .err()
                .unwrap_or_else(|| ApiError::invalid("x", "y")),
        );
        assert_eq!(fields(&status), ["email", "name"]);
        assert_eq!(reason(&status), "");
        let status = Status::from(ApiError::Aborted(crate::Reason::new(
            crate::System::Tts,
            "VERSION_MISMATCH",
            "stale",
        )));
        assert_eq!(reason(&status), "VERSION_MISMATCH");
        assert!(fields(&status).is_empty());
        let got = expect_err::<()>(Err(status), Code::Aborted);
        assert_eq!(got.code(), Code::Aborted);
    }
}
