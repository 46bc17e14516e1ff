//! A partial index of the outbox rows still waiting for the relay.
//!
//! The relay claims `WHERE published_at IS NULL ORDER BY seq LIMIT n`. On
//! the `(published_at, seq)` index PostgreSQL planned a bitmap scan, which
//! walks every dead entry left by rows marked published (a bitmap scan never
//! marks them dead in the index), so claims slowed as the outbox churned.
//! This index holds only pending rows, in claim order: an ordered index scan
//! that stops after `n`. The old index stays for pruning by `published_at`.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Same statement on PostgreSQL and SQLite (both have partial indexes).
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS outbox_pending ON outbox (seq) WHERE published_at IS NULL",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS outbox_pending")
            .await?;
        Ok(())
    }
}
