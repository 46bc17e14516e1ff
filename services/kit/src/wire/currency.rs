//! Money as the business systems take it: an ISO-4217 currency with a known
//! number of minor digits (the `iso_currency` table), an amount zero or more.

use crate::{FieldViolation, wire::money::Money};
use map_contracts::common::v1 as pb;

/// How many minor digits `code` has (`USD` 2, `JPY` 0, `KWD` 3); `None` for
/// a code that is not a currency of ISO 4217 or has no minor unit (gold).
pub fn minor_digits(code: &str) -> Option<u32> {
    iso_currency::Currency::from_code(code)?
        .exponent()
        .map(u32::from)
}

/// The amount a request's `field` names, required, zero or more, of a known
/// currency; a violation naming the field (or its part) otherwise.
pub fn required_amount(field: &str, m: Option<&pb::Money>) -> Result<Money, FieldViolation> {
    let m = m.ok_or_else(|| violation(field, "is required"))?;
    amount(field, m)
}

/// Like [`required_amount`] for a value that is set.
pub fn amount(field: &str, m: &pb::Money) -> Result<Money, FieldViolation> {
    let money = Money::from_proto(field, m).map_err(|_| {
        violation(
            &format!("{field}.currency_code"),
            "must be an ISO-4217 code of three upper-case letters, e.g. PHP",
        )
    })?;
    if minor_digits(&m.currency_code).is_none() {
        return Err(violation(
            &format!("{field}.currency_code"),
            "is not an ISO-4217 currency",
        ));
    }
    if money.amount_minor < 0 {
        return Err(violation(
            &format!("{field}.amount_minor"),
            "must not be negative",
        ));
    }
    Ok(money)
}

fn violation(field: &str, description: &str) -> FieldViolation {
    FieldViolation {
        field: field.to_owned(),
        description: description.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn minor_digits_follow_iso_4217() {
        assert_eq!(minor_digits("USD"), Some(2));
        assert_eq!(minor_digits("PHP"), Some(2));
        assert_eq!(minor_digits("JPY"), Some(0));
        assert_eq!(minor_digits("KWD"), Some(3));
        assert_eq!(minor_digits("XAU"), None);
        assert_eq!(minor_digits("ABC"), None);
    }

    #[test]
    fn amounts_must_be_known_and_not_negative() {
        let m = |a: i64, c: &str| pb::Money {
            amount_minor: a,
            currency_code: c.into(),
        };
        assert!(amount("cost", &m(0, "USD")).is_ok());
        assert_eq!(
            amount("cost", &m(-1, "USD")).map_err(|v| v.field),
            Err("cost.amount_minor".into())
        );
        assert_eq!(
            amount("cost", &m(1, "usd")).map_err(|v| v.field),
            Err("cost.currency_code".into())
        );
        assert_eq!(
            amount("cost", &m(1, "ABC")).map_err(|v| v.field),
            Err("cost.currency_code".into())
        );
        assert!(required_amount("cost", None).is_err());
    }
}
