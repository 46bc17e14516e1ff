//! The probe consumer: records every event it handles in the table
//! `bus_probe`, without any uniqueness, so a test (or an operator checking
//! the event path) can count how often each event was applied. TEST AND
//! DIAGNOSTICS ONLY: `map worker <system> --probe-queue <queue>` runs it;
//! production consumers are the systems' own.

use sea_orm::{
    ConnectionTrait, DatabaseBackend, DatabaseTransaction, DbErr, Statement, sea_query::Query,
};

use super::{Event, Handler, HandlerError};
use crate::db::Db;

/// Creates `bus_probe` if missing (the probe is not part of any system's
/// schema, so it is not a migration).
pub async fn ensure_table(db: &Db) -> Result<(), DbErr> {
    db.conn()
        .execute_unprepared(
            "CREATE TABLE IF NOT EXISTS bus_probe (\
               consumer VARCHAR(128) NOT NULL, \
               event_id VARCHAR(36) NOT NULL, \
               handled_at_us BIGINT NOT NULL)",
        )
        .await
        .map(|_| ())
}

/// Rows in `bus_probe` for `consumer`: (total, distinct event ids).
pub async fn counts(db: &Db, consumer: &str) -> Result<(i64, i64), DbErr> {
    let sql = match db.backend() {
        DatabaseBackend::Postgres => {
            "SELECT COUNT(*) AS total, COUNT(DISTINCT event_id) AS distinct_events \
             FROM bus_probe WHERE consumer = $1"
        }
        _ => {
            "SELECT COUNT(*) AS total, COUNT(DISTINCT event_id) AS distinct_events \
             FROM bus_probe WHERE consumer = ?"
        }
    };
    let row = db
        .conn()
        .query_one_raw(Statement::from_sql_and_values(
            db.backend(),
            sql,
            [consumer.into()],
        ))
        .await?
        .ok_or_else(|| DbErr::RecordNotFound("count".into()))?;
    Ok((
        row.try_get("", "total")?,
        row.try_get("", "distinct_events")?,
    ))
}

/// Inserts one `bus_probe` row per handled event.
#[derive(Debug, Clone)]
pub struct ProbeHandler {
    consumer: String,
}

impl ProbeHandler {
    /// A probe recording under `consumer` (usually the queue's name).
    pub fn new(consumer: impl Into<String>) -> ProbeHandler {
        ProbeHandler {
            consumer: consumer.into(),
        }
    }
}

/// Records `event_id` in `bus_probe` through `txn`.
pub async fn record(
    txn: &DatabaseTransaction,
    consumer: &str,
    event_id: &str,
) -> Result<(), DbErr> {
    record_many(txn, consumer, &[event_id]).await
}

/// Records each of `event_ids` in `bus_probe` through `txn`, in one
/// multi-row insert.
pub async fn record_many(
    txn: &DatabaseTransaction,
    consumer: &str,
    event_ids: &[&str],
) -> Result<(), DbErr> {
    if event_ids.is_empty() {
        return Ok(());
    }
    let now = chrono::Utc::now().timestamp_micros();
    let mut insert = Query::insert();
    insert
        .into_table("bus_probe")
        .columns(["consumer", "event_id", "handled_at_us"]);
    for id in event_ids {
        insert.values_panic([consumer.into(), (*id).into(), now.into()]);
    }
    txn.execute(&insert).await.map(|_| ())
}

#[async_trait::async_trait]
impl Handler for ProbeHandler {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        record(txn, &self.consumer, event.id()).await?;
        Ok(())
    }

    async fn handle_batch(
        &self,
        events: &[&Event],
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        let ids: Vec<&str> = events.iter().map(|e| e.id()).collect();
        record_many(txn, &self.consumer, &ids).await?;
        Ok(())
    }
}
