//! Parked events: deliveries a consumer cannot apply *yet*, kept in its own
//! database instead of the dead-letter queue.
//!
//! A handler answers [`HandlerError::NotYet`] for an event that arrived
//! before the one it depends on, or while a service it must call is down;
//! a [`HandlerError::Transient`] failure that outlasts the consumer's
//! in-process retries is treated the same way. The consumer then writes the
//! event here and acknowledges the broker message — so a quorum queue's
//! delivery limit never counts an outage against it — and re-drives the row
//! later through the same path as a delivery (prepare, inbox, handler,
//! commit), with doubling delays ([`ConsumerConfig::park_retry_min`] up to
//! [`ConsumerConfig::park_retry_max`]) for as long as
//! [`ConsumerConfig::park_for`]. Only what can never succeed is
//! dead-lettered: a [`HandlerError::Permanent`] answer, or a row parked for
//! longer than the limit.
//!
//! Parked rows are visible (`reason`, `attempts`, `parked_at`, `retry_at`)
//! and counted by [`count`]; the consumer logs each park at `warn`.
//!
//! ```no_run
//! use map_kit::bus::{Event, Handler, HandlerError};
//! use sea_orm::DatabaseTransaction;
//!
//! struct ApplyComment;
//!
//! #[async_trait::async_trait]
//! impl Handler for ApplyComment {
//!     async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
//!         let ticket_known = false; // look the ticket up through `txn`
//!         if !ticket_known {
//!             // the ticket's own event has not arrived yet: try again later
//!             return Err(HandlerError::NotYet("ticket not known yet".into()));
//!         }
//!         Ok(())
//!     }
//! }
//! ```
//!
//! [`HandlerError::NotYet`]: super::HandlerError::NotYet
//! [`HandlerError::Transient`]: super::HandlerError::Transient
//! [`HandlerError::Permanent`]: super::HandlerError::Permanent
//! [`ConsumerConfig::park_retry_min`]: super::ConsumerConfig::park_retry_min
//! [`ConsumerConfig::park_retry_max`]: super::ConsumerConfig::park_retry_max
//! [`ConsumerConfig::park_for`]: super::ConsumerConfig::park_for

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DbErr, EntityTrait as _, PaginatorTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
};

use crate::claim::{self, Claim, OnSqlite};
use crate::db::Db;

/// The `parked_events` table, created by every system's migrations.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One event a consumer could not apply yet.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "parked_events")]
    pub struct Model {
        /// The consumer (its queue's logical name).
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        /// The event id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        /// The event type (also its routing key).
        pub event_type: String,
        /// The encoded `map.events.v1.Envelope`, as delivered.
        pub envelope: Vec<u8>,
        /// Why it was parked, or why its last re-drive failed.
        pub reason: String,
        /// Failed re-drives so far.
        pub attempts: i32,
        /// When it was first parked.
        pub parked_at: ChronoDateTimeUtc,
        /// When it may be re-driven next.
        pub retry_at: ChronoDateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// A parked event as stored.
pub type Parked = entity::Model;

/// Parks `event` (delivered as `envelope`) for `consumer`, to be re-driven at `retry_at`. Parking
/// an event already parked (a redelivery raced the first park) keeps the
/// first row.
pub(crate) async fn park<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    event: &super::Event,
    envelope: &[u8],
    reason: &str,
    now: DateTime<Utc>,
    retry_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    let row = entity::ActiveModel {
        consumer: sea_orm::Set(consumer.to_owned()),
        event_id: sea_orm::Set(event.id().to_owned()),
        event_type: sea_orm::Set(event.event_type().to_owned()),
        envelope: sea_orm::Set(envelope.to_vec()),
        reason: sea_orm::Set(reason.to_owned()),
        attempts: sea_orm::Set(0),
        parked_at: sea_orm::Set(now),
        retry_at: sea_orm::Set(retry_at),
    };
    entity::Entity::insert(row)
        .on_conflict_do_nothing_on([entity::Column::Consumer, entity::Column::EventId])
        .exec(db)
        .await?;
    Ok(())
}

/// Claims up to `limit` of `consumer`'s rows due at `now`, oldest due first.
/// Re-driving calls out (a handler's prepare step), so on SQLite the claim
/// is a plain read (the consumer is the database's single re-driver).
pub(crate) async fn claim_due(
    db: &Db,
    consumer: &str,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Claim<Parked>, DbErr> {
    let query = entity::Entity::find()
        .filter(entity::Column::Consumer.eq(consumer))
        .filter(entity::Column::RetryAt.lte(now))
        .order_by_asc(entity::Column::RetryAt)
        .limit(limit);
    claim::claim(db, query, OnSqlite::Read).await
}

/// The earliest time one of `consumer`'s rows is due, if it has any.
pub(crate) async fn next_due<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
) -> Result<Option<DateTime<Utc>>, DbErr> {
    Ok(entity::Entity::find()
        .filter(entity::Column::Consumer.eq(consumer))
        .order_by_asc(entity::Column::RetryAt)
        .one(db)
        .await?
        .map(|row| row.retry_at))
}

/// Records a failed re-drive: the reason, one more attempt, the next time.
pub(crate) async fn postpone<C: ConnectionTrait>(
    db: &C,
    row: &Parked,
    reason: &str,
    retry_at: DateTime<Utc>,
) -> Result<(), DbErr> {
    use sea_orm::sea_query::{Expr, ExprTrait as _};
    entity::Entity::update_many()
        .col_expr(entity::Column::Reason, Expr::value(reason))
        .col_expr(
            entity::Column::Attempts,
            Expr::col(entity::Column::Attempts).add(1),
        )
        .col_expr(entity::Column::RetryAt, Expr::value(retry_at))
        .filter(entity::Column::Consumer.eq(row.consumer.as_str()))
        .filter(entity::Column::EventId.eq(row.event_id.as_str()))
        .exec(db)
        .await?;
    Ok(())
}

/// Removes a row: its event was applied (or dead-lettered).
pub(crate) async fn remove<C: ConnectionTrait>(db: &C, row: &Parked) -> Result<(), DbErr> {
    entity::Entity::delete_by_id((row.consumer.clone(), row.event_id.clone()))
        .exec(db)
        .await?;
    Ok(())
}

/// How many events `consumer` holds parked.
pub async fn count<C: ConnectionTrait>(db: &C, consumer: &str) -> Result<u64, DbErr> {
    entity::Entity::find()
        .filter(entity::Column::Consumer.eq(consumer))
        .count(db)
        .await
}

/// `consumer`'s parked events, oldest first (at most `limit`), for
/// operators and tests.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    limit: u64,
) -> Result<Vec<Parked>, DbErr> {
    entity::Entity::find()
        .filter(entity::Column::Consumer.eq(consumer))
        .order_by_asc(entity::Column::ParkedAt)
        .limit(limit)
        .all(db)
        .await
}
