//! Failed-login accounting per normalised email, known or not (so the
//! answer never reveals which emails exist). Each step is one atomic SQL
//! statement, correct under concurrent logins on PostgreSQL and SQLite:
//! failures within the lock duration of each other accumulate; reaching the
//! threshold locks the email for the lock duration and starts a new count.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sea_orm::{ConnectionTrait, Statement};

use crate::{AuthError, config::LockoutPolicy};

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// How long after `now` the email stays locked, or `None` when it is not
/// locked.
pub async fn locked_for<C: ConnectionTrait>(
    conn: &C,
    email_normalized: &str,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, AuthError> {
    let backend = conn.get_database_backend();
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "SELECT locked_until_ms FROM login_attempts WHERE email_normalized = $1",
            [email_normalized.into()],
        ))
        .await?;
    let until: i64 = match row {
        Some(r) => r.try_get_by_index(0)?,
        None => return Ok(None),
    };
    let left = until - now.timestamp_millis();
    Ok((left > 0).then(|| Duration::from_millis(u64::try_from(left).unwrap_or(0))))
}

/// Records a failure at `now`; returns the lock duration when this failure
/// locked the email.
pub async fn record_failure<C: ConnectionTrait>(
    conn: &C,
    email_normalized: &str,
    policy: LockoutPolicy,
    now: DateTime<Utc>,
) -> Result<Option<Duration>, AuthError> {
    let backend = conn.get_database_backend();
    let now = now.timestamp_millis();
    let window_start = now - millis(policy.duration);
    let row = conn
        .query_one_raw(Statement::from_sql_and_values(
            backend,
            "INSERT INTO login_attempts (email_normalized, failures, last_failure_ms, locked_until_ms) \
             VALUES ($1, 1, $2, 0) \
             ON CONFLICT (email_normalized) DO UPDATE SET \
               failures = CASE WHEN login_attempts.last_failure_ms < $3 THEN 1 \
                               ELSE login_attempts.failures + 1 END, \
               last_failure_ms = $2 \
             RETURNING failures",
            [email_normalized.into(), now.into(), window_start.into()],
        ))
        .await?;
    let failures: i32 = match row {
        Some(r) => r.try_get_by_index(0)?,
        None => 1,
    };
    if u32::try_from(failures).unwrap_or(0) < policy.threshold {
        return Ok(None);
    }
    let until = now + millis(policy.duration);
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        "UPDATE login_attempts SET failures = 0, locked_until_ms = $2 WHERE email_normalized = $1",
        [email_normalized.into(), until.into()],
    ))
    .await?;
    Ok(Some(policy.duration))
}

/// Forgets the failures of an email after a successful login.
pub async fn clear<C: ConnectionTrait>(conn: &C, email_normalized: &str) -> Result<(), AuthError> {
    let backend = conn.get_database_backend();
    conn.execute_raw(Statement::from_sql_and_values(
        backend,
        "DELETE FROM login_attempts WHERE email_normalized = $1",
        [email_normalized.into()],
    ))
    .await?;
    Ok(())
}
