//! `google.type.Date` (the contracts' one date type) ⇄ `NaiveDate`.

use chrono::{Datelike as _, NaiveDate};
use map_contracts::google::r#type::Date;

use crate::ApiError;

/// The wire form of a calendar date.
pub fn date(d: NaiveDate) -> Date {
    Date {
        year: d.year(),
        // month() is 1‥12 and day() 1‥31: both fit.
        month: i32::try_from(d.month()).unwrap_or(1),
        day: i32::try_from(d.day()).unwrap_or(1),
    }
}

/// The date a request's `field` names. Only full dates are accepted (the
/// platform has no use for `google.type.Date`'s partial forms such as a
/// year alone); INVALID_ARGUMENT naming the field otherwise.
pub fn from_date(field: &str, d: &Date) -> Result<NaiveDate, ApiError> {
    let month = u32::try_from(d.month).ok();
    let day = u32::try_from(d.day).ok();
    month
        .zip(day)
        .filter(|_| d.year >= 1)
        .and_then(|(m, dd)| NaiveDate::from_ymd_opt(d.year, m, dd))
        .ok_or_else(|| {
            ApiError::invalid(field, "is not a full calendar date (year, month and day)")
        })
}

/// Like [`from_date`] for a field that must be set.
pub fn required_date(field: &str, d: Option<&Date>) -> Result<NaiveDate, ApiError> {
    from_date(
        field,
        d.ok_or_else(|| ApiError::invalid(field, "is required"))?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip_and_partial_or_impossible_ones_are_refused() {
        let d = NaiveDate::from_ymd_opt(2028, 2, 29).unwrap_or_default();
        assert_eq!(from_date("d", &date(d)).ok(), Some(d));
        for (year, month, day) in [
            (2027, 2, 29),
            (2026, 0, 1),
            (2026, 12, 0),
            (0, 5, 1),
            (2026, 13, 1),
            (2026, -1, 1),
        ] {
            let bad = Date { year, month, day };
            match from_date("warranty_end", &bad) {
                Err(ApiError::InvalidArgument(v)) => assert_eq!(v[0].field, "warranty_end"),
                other => panic!("{bad:?}: {other:?}"),
            }
        }
        assert!(required_date("start_date", None).is_err());
    }
}
