//! Outbox rows the broker keeps refusing are set aside instead of being
//! retried forever in every batch.
//!
//! - `refusals`: how often the broker refused the row itself (returned it as
//!   unroutable, or nacked it); an unreachable broker or a missing confirm
//!   counts in `attempts` only, never here;
//! - `retry_at`: a refused row is not claimed again before this time;
//! - `set_aside_at`: set once `refusals` reached the relay's limit; the row
//!   waits for an operator (`map admin outbox retry`) and no relay claims it.
//!
//! The partial index holds the rows a relay may claim, in claim order. The
//! old `outbox_pending` index stays (migrations never drop): a relay of the
//! previous release claims through it during a rolling upgrade, and ignores
//! the new columns (it would publish a set-aside row, which is harmless).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Refusals,
    RetryAt,
    SetAsideAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        let columns = [
            ColumnDef::new(Outbox::Refusals)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(Outbox::RetryAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
            ColumnDef::new(Outbox::SetAsideAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ];
        for column in columns {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        // Same statement on PostgreSQL and SQLite (both have partial indexes).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS outbox_claimable ON outbox (seq) \
                 WHERE published_at IS NULL AND set_aside_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS outbox_claimable")
            .await?;
        for column in [Outbox::SetAsideAt, Outbox::RetryAt, Outbox::Refusals] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Outbox::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
