//! Timers: persisted due work (an SLA breach at 14:00, a reminder
//! tomorrow), present in every database. A row is one timer, unique by
//! (kind, subject); workers claim the pending rows whose `run_at` has come.
//!
//! - `due_at`: when the timer is due, as scheduled or re-armed;
//! - `run_at`: when it may be claimed next (`due_at`, later after a failed
//!   attempt: retries back off);
//! - `state`: `pending` until its handler's writes commit with `done`;
//! - `attempts`, `last_error`: failed attempts of its handler, for operators.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Timers {
    Table,
    Id,
    Kind,
    Subject,
    DueAt,
    RunAt,
    Payload,
    State,
    Attempts,
    LastError,
    ScheduledAt,
    FiredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Timers::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Timers::Id)
                            .big_integer()
                            .not_null()
                            .auto_increment()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Timers::Kind).string_len(64).not_null())
                    .col(ColumnDef::new(Timers::Subject).string_len(128).not_null())
                    .col(
                        ColumnDef::new(Timers::DueAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Timers::RunAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Timers::Payload).blob().not_null())
                    .col(
                        ColumnDef::new(Timers::State)
                            .string_len(16)
                            .not_null()
                            .default("pending"),
                    )
                    .col(
                        ColumnDef::new(Timers::Attempts)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .col(ColumnDef::new(Timers::LastError).text().null())
                    .col(
                        ColumnDef::new(Timers::ScheduledAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Timers::FiredAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("timers_kind_subject")
                    .table(Timers::Table)
                    .col(Timers::Kind)
                    .col(Timers::Subject)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // The pending timers in claim order (both backends have partial
        // indexes); done timers stay out of it until pruned.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS timers_pending ON timers (run_at) \
                 WHERE state = 'pending'",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Timers::Table).to_owned())
            .await
    }
}
