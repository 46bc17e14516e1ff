//! The transactional outbox (events waiting for the relay) and the inbox
//! (events a consumer has already applied), present in every database.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Seq,
    Id,
    EventType,
    Subject,
    SubjectVersion,
    Envelope,
    CreatedAt,
    PublishedAt,
    Attempts,
    LastError,
}

#[derive(DeriveIden)]
enum Inbox {
    Table,
    Consumer,
    EventId,
    HandledAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .if_not_exists()
                    // `seq` orders claims; `id` is the event id the world sees.
                    .col(
                        ColumnDef::new(Outbox::Seq)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Outbox::Id)
                            .string_len(36)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(Outbox::EventType).string_len(128).not_null())
                    .col(ColumnDef::new(Outbox::Subject).string_len(128).not_null())
                    .col(
                        ColumnDef::new(Outbox::SubjectVersion)
                            .big_integer()
                            .not_null(),
                    )
                    // the encoded map.events.v1.Envelope, exactly as published
                    .col(ColumnDef::new(Outbox::Envelope).blob().not_null())
                    .col(
                        ColumnDef::new(Outbox::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Outbox::PublishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Outbox::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Outbox::LastError).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("outbox_unpublished")
                    .table(Outbox::Table)
                    .col(Outbox::PublishedAt)
                    .col(Outbox::Seq)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Inbox::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Inbox::Consumer).string_len(128).not_null())
                    .col(ColumnDef::new(Inbox::EventId).string_len(36).not_null())
                    .col(
                        ColumnDef::new(Inbox::HandledAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .primary_key(Index::create().col(Inbox::Consumer).col(Inbox::EventId))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Inbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Outbox::Table).to_owned())
            .await
    }
}
