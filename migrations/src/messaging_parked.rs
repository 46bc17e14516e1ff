//! Parked events: deliveries a consumer could not apply yet (what they
//! depend on has not arrived, or a service they call is down), kept in the
//! consumer's own database instead of being dead-lettered. The broker
//! message is acknowledged once the row is written; the consumer re-drives
//! the row later.
//!
//! - `(consumer, event_id)`: one row per event and consumer;
//! - `envelope`: the encoded `map.events.v1.Envelope`, as delivered;
//! - `attempts`, `reason`: failed re-drives so far and the last reason, for
//!   operators;
//! - `parked_at`: when it was first parked (a row parked for longer than
//!   the consumer's limit is dead-lettered);
//! - `retry_at`: when it may be re-driven next (doubling delays).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum ParkedEvents {
    Table,
    Consumer,
    EventId,
    EventType,
    Envelope,
    Reason,
    Attempts,
    ParkedAt,
    RetryAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ParkedEvents::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(ParkedEvents::Consumer)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ParkedEvents::EventId)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ParkedEvents::EventType)
                            .string_len(128)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ParkedEvents::Envelope).blob().not_null())
                    .col(ColumnDef::new(ParkedEvents::Reason).text().not_null())
                    .col(
                        ColumnDef::new(ParkedEvents::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(
                        ColumnDef::new(ParkedEvents::ParkedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(ParkedEvents::RetryAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(ParkedEvents::Consumer)
                            .col(ParkedEvents::EventId),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("parked_events_due")
                    .table(ParkedEvents::Table)
                    .col(ParkedEvents::Consumer)
                    .col(ParkedEvents::RetryAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ParkedEvents::Table).to_owned())
            .await
    }
}
