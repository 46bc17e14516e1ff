//! The inbox: which events each consumer has applied. The consumer framework
//! records (consumer, event id) in the same transaction as the handler's
//! writes, so an event redelivered after a crash between commit and ack is
//! recognised and acknowledged without being applied again.

use std::collections::HashSet;

use chrono::Utc;
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait,
    sea_query::{OnConflict, Query},
};

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

/// Records that `consumer` applies each of `event_ids` in `txn`, in one
/// statement. Returns the ids that were new (the others were applied
/// before); an id listed twice is returned once. On PostgreSQL a concurrent
/// transaction recording the same pair waits for the first to finish, then
/// sees it.
pub async fn record_many<C: ConnectionTrait>(
    txn: &C,
    consumer: &str,
    event_ids: &[&str],
) -> Result<HashSet<String>, DbErr> {
    if event_ids.is_empty() {
        return Ok(HashSet::new());
    }
    let now = Utc::now();
    let mut insert = Query::insert();
    insert
        .into_table(entity::Entity)
        .columns([
            entity::Column::Consumer,
            entity::Column::EventId,
            entity::Column::HandledAt,
        ])
        .on_conflict(OnConflict::new().do_nothing().to_owned())
        .returning_col(entity::Column::EventId);
    for id in event_ids {
        insert.values_panic([consumer.into(), (*id).into(), now.into()]);
    }
    let rows = txn.query_all(&insert).await?;
    rows.iter()
        .map(|row| row.try_get::<String>("", "event_id"))
        .collect()
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

/// Deletes `consumer`'s inbox rows handled before `cutoff`; returns how
/// many. An event redelivered after its row is gone would be applied again,
/// so the retention must exceed any redelivery delay (the broker's are
/// seconds to hours; the default is a week).
pub async fn prune<C: ConnectionTrait>(
    db: &C,
    consumer: &str,
    cutoff: chrono::DateTime<Utc>,
) -> Result<u64, DbErr> {
    use sea_orm::{ColumnTrait as _, QueryFilter as _};
    let result = entity::Entity::delete_many()
        .filter(entity::Column::Consumer.eq(consumer))
        .filter(entity::Column::HandledAt.lt(cutoff))
        .exec(db)
        .await?;
    Ok(result.rows_affected)
}
