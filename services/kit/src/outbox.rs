//! The write side of the transactional outbox: an event is stored in the same
//! database transaction as the state change it announces, so it exists if and
//! only if the change committed. The relay (event backbone) publishes it later.
//!
//! A row the broker keeps refusing (returned as unroutable, or nacked) is
//! set aside by the relay after [`RelayConfig::set_aside_after`] refusals, so
//! it stops taking a place in every batch. Set-aside rows are visible
//! (`set_aside_at`, `refusals`, `attempts`, `last_error`), counted by
//! [`count_set_aside`] and put back in line by [`retry_set_aside`] (`map
//! admin outbox retry`).
//!
//! [`RelayConfig::set_aside_after`]: crate::bus::RelayConfig::set_aside_after

use map_contracts::events::v1::{Envelope, TraceContext};
use prost::Message as _;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait as _, DatabaseTransaction, DbErr,
    EntityTrait as _, PaginatorTrait as _, QueryFilter as _, sea_query::Expr,
};
use uuid::Uuid;

use crate::{System, clock::Clock, db::Db, telemetry};

/// The `outbox` table, created by every system's first migration.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One event waiting for (or done with) the relay.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "outbox")]
    pub struct Model {
        /// Claim order.
        #[sea_orm(primary_key)]
        pub seq: i64,
        /// The event id (UUIDv7), also the AMQP message id.
        #[sea_orm(unique)]
        pub id: String,
        /// Routing key.
        pub event_type: String,
        /// The aggregate the event is about.
        pub subject: String,
        /// The aggregate's version after the change.
        pub subject_version: i64,
        /// Encoded `map.events.v1.Envelope`.
        pub envelope: Vec<u8>,
        /// When it was enqueued.
        pub created_at: ChronoDateTimeUtc,
        /// When the broker confirmed it; `None` while pending.
        pub published_at: Option<ChronoDateTimeUtc>,
        /// Failed publish attempts, whatever the reason.
        pub attempts: i32,
        /// The last publish failure, for operators.
        pub last_error: Option<String>,
        /// How often the broker refused this row itself (unroutable,
        /// nacked) since it was last put back in line; an unreachable
        /// broker does not count here.
        pub refusals: i32,
        /// A refused row is not claimed again before this time.
        pub retry_at: Option<ChronoDateTimeUtc>,
        /// When the relay set the row aside after repeated refusals; no
        /// relay claims it until [`retry_set_aside`](super::retry_set_aside).
        pub set_aside_at: Option<ChronoDateTimeUtc>,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// An event to enqueue: its routing key, subject and payload.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// Routing key `<system>.<aggregate>.<verb>`; the system must be the producer.
    pub event_type: &'static str,
    /// ID of the aggregate.
    pub subject: String,
    /// The aggregate's version after the change.
    pub subject_version: i64,
    /// The payload message, packed.
    pub payload: prost_types::Any,
}

impl NewEvent {
    /// Packs `payload` (a `map.events.v1` message) into an event.
    pub fn new<M: prost::Name>(
        event_type: &'static str,
        subject: impl Into<String>,
        subject_version: i64,
        payload: &M,
    ) -> Self {
        let payload = prost_types::Any {
            type_url: M::type_url(),
            value: payload.encode_to_vec(),
        };
        NewEvent {
            event_type,
            subject: subject.into(),
            subject_version,
            payload,
        }
    }
}

/// Enqueues events of one producing system.
#[derive(Debug, Clone)]
pub struct Outbox {
    source: System,
    clock: Clock,
}

/// An event that cannot be enqueued (a programming error of the producer).
#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    /// The routing key is malformed or names another system.
    #[error("event type '{event_type}' is not '{producer}.<aggregate>.<verb>'")]
    BadType {
        /// The offending type.
        event_type: String,
        /// The producer.
        producer: System,
    },
    /// The database refused the row.
    #[error(transparent)]
    Db(#[from] DbErr),
}

impl From<OutboxError> for crate::ApiError {
    fn from(e: OutboxError) -> Self {
        crate::ApiError::internal(e)
    }
}

impl Outbox {
    /// An outbox for events produced by `source`.
    pub fn new(source: System) -> Self {
        Outbox {
            source,
            clock: Clock::system(),
        }
    }

    /// The same outbox, stamping events with `clock`'s time.
    pub fn with_clock(self, clock: Clock) -> Self {
        Outbox { clock, ..self }
    }

    /// Stores `event` in `txn`, the transaction that makes the change (the
    /// type allows nothing else): a rollback removes the event with the
    /// change, a commit publishes both.
    /// The current span's trace context travels with the event.
    /// Returns the event id.
    pub async fn enqueue(
        &self,
        txn: &DatabaseTransaction,
        event: NewEvent,
    ) -> Result<Uuid, OutboxError> {
        let (id, row) = self.row(event)?;
        row.insert(txn).await?;
        crate::bus::relay::notify_enqueued(self.source);
        Ok(id)
    }

    /// Stores `events` in `txn` as [`enqueue`](Self::enqueue) does, in
    /// multi-row inserts of up to 1,000 rows (a bulk import's events cost
    /// one statement per batch, not one per row). Returns the event ids in
    /// order.
    pub async fn enqueue_many(
        &self,
        txn: &DatabaseTransaction,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Uuid>, OutboxError> {
        if events.is_empty() {
            return Ok(Vec::new());
        }
        let (ids, rows): (Vec<Uuid>, Vec<entity::ActiveModel>) = events
            .into_iter()
            .map(|e| self.row(e))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter()
            .unzip();
        // A row binds 12 values: 1,000 rows stay well inside SQLite's and
        // PostgreSQL's limits on bound values per statement.
        let mut rows = rows.into_iter().peekable();
        while rows.peek().is_some() {
            entity::Entity::insert_many(rows.by_ref().take(1000))
                .exec_without_returning(txn)
                .await?;
        }
        crate::bus::relay::notify_enqueued(self.source);
        Ok(ids)
    }

    /// The outbox row of `event`, and its id.
    fn row(&self, event: NewEvent) -> Result<(Uuid, entity::ActiveModel), OutboxError> {
        self.check_type(event.event_type)?;
        let id = Uuid::now_v7();
        let now = self.clock.now();
        let (traceparent, tracestate) = telemetry::current_trace_context();
        let envelope = Envelope {
            id: id.to_string(),
            r#type: event.event_type.to_owned(),
            source: self.source.name().to_owned(),
            occurred_at: Some(crate::wire::time::timestamp(now)),
            subject: event.subject.clone(),
            subject_version: event.subject_version,
            trace: Some(TraceContext {
                traceparent,
                tracestate,
            }),
            payload: Some(event.payload),
        };
        let row = entity::ActiveModel {
            id: Set(id.to_string()),
            event_type: Set(event.event_type.to_owned()),
            subject: Set(event.subject),
            subject_version: Set(event.subject_version),
            envelope: Set(envelope.encode_to_vec()),
            created_at: Set(now),
            published_at: Set(None),
            attempts: Set(0),
            last_error: Set(None),
            refusals: Set(0),
            retry_at: Set(None),
            set_aside_at: Set(None),
            ..Default::default()
        };
        Ok((id, row))
    }

    fn check_type(&self, event_type: &str) -> Result<(), OutboxError> {
        let parts: Vec<&str> = event_type.split('.').collect();
        let well_formed = parts.len() == 3
            && parts[0] == self.source.name()
            && parts[1..]
                .iter()
                .all(|p| !p.is_empty() && p.chars().all(|c| c.is_ascii_lowercase() || c == '_'));
        if well_formed {
            Ok(())
        } else {
            Err(OutboxError::BadType {
                event_type: event_type.to_owned(),
                producer: self.source,
            })
        }
    }
}

/// How many unpublished rows the relay has set aside.
pub async fn count_set_aside(db: &Db) -> Result<u64, DbErr> {
    entity::Entity::find()
        .filter(entity::Column::PublishedAt.is_null())
        .filter(entity::Column::SetAsideAt.is_not_null())
        .count(db.conn())
        .await
}

/// Puts every set-aside row back in line (`map admin outbox retry`): its
/// refusals start again from zero and the relay claims it in its next batch.
/// `attempts` and `last_error` stay as history. Returns how many rows.
pub async fn retry_set_aside(db: &Db) -> Result<u64, DbErr> {
    let none: Option<chrono::DateTime<chrono::Utc>> = None;
    let done = entity::Entity::update_many()
        .col_expr(entity::Column::SetAsideAt, Expr::value(none))
        .col_expr(entity::Column::RetryAt, Expr::value(none))
        .col_expr(entity::Column::Refusals, Expr::value(0))
        .filter(entity::Column::PublishedAt.is_null())
        .filter(entity::Column::SetAsideAt.is_not_null())
        .exec(db.conn())
        .await?;
    if done.rows_affected > 0 {
        tracing::info!(
            rows = done.rows_affected,
            "set-aside outbox rows put back in line"
        );
    }
    Ok(done.rows_affected)
}
