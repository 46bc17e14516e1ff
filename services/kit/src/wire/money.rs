//! Exact money: `map.common.v1.Money` is integer minor units (cents) plus an
//! ISO-4217 alphabetic code; the domain's [`Money`] keeps both and refuses
//! to add amounts of different currencies or to overflow.

use std::fmt;

use map_contracts::common::v1 as pb;

use crate::ApiError;

/// An ISO-4217 alphabetic currency code: three upper-case ASCII letters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency([u8; 3]);

impl Currency {
    /// The code, if `code` has the shape of one (`PHP`, `USD`).
    pub fn parse(code: &str) -> Option<Currency> {
        let bytes: [u8; 3] = code.as_bytes().try_into().ok()?;
        bytes
            .iter()
            .all(u8::is_ascii_uppercase)
            .then_some(Currency(bytes))
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Three ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("XXX")
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An amount of one currency in its minor unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Money {
    /// Amount in minor units, e.g. 12345 = 123.45 PHP.
    pub amount_minor: i64,
    /// The currency.
    pub currency: Currency,
}

/// Why two amounts could not be combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The currencies differ.
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
    /// The result does not fit in 64-bit minor units.
    #[error("amount out of range")]
    Overflow,
}

impl Money {
    /// `amount_minor` of `currency`.
    pub fn new(amount_minor: i64, currency: Currency) -> Money {
        Money {
            amount_minor,
            currency,
        }
    }

    /// Zero of `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money::new(0, currency)
    }

    /// The sum; an error for another currency or on overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_add(other.amount_minor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    /// The difference; an error for another currency or on overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        self.amount_minor
            .checked_sub(other.amount_minor)
            .map(|a| Money::new(a, self.currency))
            .ok_or(MoneyError::Overflow)
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch(self.currency, other.currency))
        }
    }

    /// The wire form.
    pub fn to_proto(self) -> pb::Money {
        pb::Money {
            amount_minor: self.amount_minor,
            currency_code: self.currency.as_str().to_owned(),
        }
    }

    /// The amount a request's `field` names; INVALID_ARGUMENT naming
    /// `<field>.currency_code` for a code that is not three upper-case letters.
    pub fn from_proto(field: &str, m: &pb::Money) -> Result<Money, ApiError> {
        let currency = Currency::parse(&m.currency_code).ok_or_else(|| {
            ApiError::invalid(
                format!("{field}.currency_code"),
                "must be an ISO-4217 code of three upper-case letters, e.g. PHP",
            )
        })?;
        Ok(Money::new(m.amount_minor, currency))
    }

    /// Like [`from_proto`](Self::from_proto) for a field that must be set,
    /// and whose amount must not be negative.
    pub fn required_non_negative(field: &str, m: Option<&pb::Money>) -> Result<Money, ApiError> {
        let money = Money::from_proto(
            field,
            m.ok_or_else(|| ApiError::invalid(field, "is required"))?,
        )?;
        if money.amount_minor < 0 {
            return Err(ApiError::invalid(
                format!("{field}.amount_minor"),
                "must not be negative",
            ));
        }
        Ok(money)
    }
}

impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} (minor units)", self.amount_minor, self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn php() -> Currency {
        Currency::parse("PHP").unwrap_or_else(|| panic!("PHP"))
    }

    #[test]
    fn currencies_are_three_upper_case_letters() {
        assert_eq!(php().as_str(), "PHP");
        for bad in ["", "php", "PH", "PHPX", "P1P", "ÄBC"] {
            assert_eq!(Currency::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn sums_refuse_other_currencies_and_overflow() {
        let usd = Currency::parse("USD").unwrap_or_else(|| panic!("USD"));
        let a = Money::new(150, php());
        assert_eq!(
            a.checked_add(Money::new(50, php())),
            Ok(Money::new(200, php()))
        );
        assert_eq!(
            a.checked_sub(Money::new(200, php())),
            Ok(Money::new(-50, php()))
        );
        assert_eq!(
            a.checked_add(Money::zero(usd)),
            Err(MoneyError::CurrencyMismatch(php(), usd))
        );
        assert_eq!(
            Money::new(i64::MAX, php()).checked_add(Money::new(1, php())),
            Err(MoneyError::Overflow)
        );
    }

    #[test]
    fn the_wire_form_round_trips_and_bad_input_names_the_field() {
        let m = Money::new(12_345, php());
        assert_eq!(Money::from_proto("cost", &m.to_proto()).ok(), Some(m));
        let field = |r: Result<Money, ApiError>| match r {
            Err(ApiError::InvalidArgument(v)) => v[0].field.clone(),
            other => panic!("{other:?}"),
        };
        let lower = pb::Money {
            amount_minor: 1,
            currency_code: "php".into(),
        };
        assert_eq!(
            field(Money::from_proto("cost", &lower)),
            "cost.currency_code"
        );
        let negative = pb::Money {
            amount_minor: -1,
            currency_code: "PHP".into(),
        };
        assert_eq!(
            field(Money::required_non_negative("cost", Some(&negative))),
            "cost.amount_minor"
        );
        assert_eq!(field(Money::required_non_negative("cost", None)), "cost");
    }
}
