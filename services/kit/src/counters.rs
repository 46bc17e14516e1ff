//! People-facing numbers (`TT-000123`, `HD-000042`, `AST-0007`): a counter
//! per prefix in the system's `counters` table, taken in the transaction
//! that creates the numbered record.
//!
//! [`next_number`] is one upsert that increments and returns the counter
//! (`INSERT … ON CONFLICT DO UPDATE … RETURNING`, the same statement on
//! PostgreSQL and SQLite). The counter row stays locked until the
//! transaction ends, so concurrent creators queue on it: committed records
//! get consecutive numbers without duplicates, and a rolled-back
//! transaction gives its number back. Keep the call late in the transaction
//! (after validation and the other writes) so the row is held briefly.
//!
//! ```no_run
//! # async fn example(db: &map_kit::db::Db) -> Result<(), sea_orm::DbErr> {
//! let txn = db.begin_write().await?;
//! let number = map_kit::counters::next_number(&txn, "TT").await?;
//! assert!(number.to_string().starts_with("TT-"));
//! txn.commit().await?;
//! # Ok(()) }
//! ```

use std::fmt;

use sea_orm::{ConnectionTrait as _, DatabaseTransaction, DbErr, Statement};

/// A people-facing number: a prefix and a value, shown as `TT-000123`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Number {
    /// The counter's name, e.g. `TT`.
    pub prefix: String,
    /// 1 for the first record, then consecutive.
    pub value: i64,
}

impl fmt::Display for Number {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{:06}", self.prefix, self.value)
    }
}

impl Number {
    /// Parses `TT-000123` back (any number of digits, at least one).
    pub fn parse(text: &str) -> Option<Number> {
        let (prefix, digits) = text.rsplit_once('-')?;
        if prefix.is_empty() || digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        Some(Number {
            prefix: prefix.to_owned(),
            value: digits.parse().ok()?,
        })
    }
}

/// The next number of counter `prefix`, taken in `txn` (see the module docs).
pub async fn next_number(txn: &DatabaseTransaction, prefix: &str) -> Result<Number, DbErr> {
    next_numbers(txn, prefix, 1).await
}

/// The first of the next `count` (at least 1) consecutive numbers of
/// counter `prefix`, all taken in `txn` by one statement: a bulk import
/// numbers a batch of rows at once. The others follow it by value.
pub async fn next_numbers(
    txn: &DatabaseTransaction,
    prefix: &str,
    count: i64,
) -> Result<Number, DbErr> {
    let count = count.max(1);
    let backend = txn.get_database_backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "INSERT INTO counters (name, value) VALUES ($1, $2) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + $2 RETURNING value"
        }
        _ => {
            "INSERT INTO counters (name, value) VALUES (?1, ?2) \
             ON CONFLICT (name) DO UPDATE SET value = counters.value + ?2 RETURNING value"
        }
    };
    let row = txn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [prefix.into(), count.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(format!("counter {prefix}")))?;
    let last: i64 = row.try_get_by_index(0)?;
    Ok(Number {
        prefix: prefix.to_owned(),
        value: last - count + 1,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_show_and_parse() {
        let n = Number {
            prefix: "TT".into(),
            value: 123,
        };
        assert_eq!(n.to_string(), "TT-000123");
        assert_eq!(Number::parse("TT-000123"), Some(n));
        assert_eq!(
            Number::parse("AST-1234567").map(|n| n.value),
            Some(1_234_567)
        );
        for bad in ["TT", "TT-", "-12", "TT-12a", "TT-+1"] {
            assert_eq!(Number::parse(bad), None, "{bad}");
        }
    }
}
