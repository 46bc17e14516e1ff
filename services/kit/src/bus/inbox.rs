//! The inbox: which events each consumer has applied. The consumer framework
//! records (consumer, event id) in the same transaction as the handler's
//! writes, so an event redelivered after a crash between commit and ack is
//! recognised and acknowledged without being applied again.

use chrono::Utc;
use sea_orm::{ActiveValue::Set, ConnectionTrait, DbErr, EntityTrait, TryInsertResult};

/// The `inbox` table, created by every system's first migration.
pub mod entity {
    use sea_orm::entity::prelude::*;

    /// One applied event.
    #[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
    #[sea_orm(table_name = "inbox")]
    pub struct Model {
        /// The consumer (its queue's logical name, e.g. `tts.ticket-tasks`).
        #[sea_orm(primary_key, auto_increment = false)]
        pub consumer: String,
        /// The event id.
        #[sea_orm(primary_key, auto_increment = false)]
        pub event_id: String,
        /// When the consumer applied it.
        pub handled_at: ChronoDateTimeUtc,
    }

    /// No relations.
    #[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
    pub enum Relation {}

    impl ActiveModelBehavior for ActiveModel {}
}

/// Records that `consumer` applies `event_id` in the transaction `txn`.
/// Returns `false` when it already did (the caller must not apply it again).
/// On PostgreSQL a concurrent transaction recording the same pair waits for
/// the first to finish, then sees it.
pub async fn record<C: ConnectionTrait>(
    txn: &C,
    consumer: &str,
    event_id: &str,
) -> Result<bool, DbErr> {
    let row = entity::ActiveModel {
        consumer: Set(consumer.to_owned()),
        event_id: Set(event_id.to_owned()),
        handled_at: Set(Utc::now()),
    };
    let inserted = entity::Entity::insert(row)
        .on_conflict_do_nothing()
        .exec_without_returning(txn)
        .await?;
    Ok(match inserted {
        TryInsertResult::Inserted(rows) => rows > 0,
        TryInsertResult::Conflicted | TryInsertResult::Empty => false,
    })
}

/// Whether `consumer` has applied `event_id`.
pub async fn contains<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    event_id: &str,
) -> Result<bool, DbErr> {
    Ok(
        entity::Entity::find_by_id((consumer.to_owned(), event_id.to_owned()))
            .one(db)
            .await?
            .is_some(),
    )
}
