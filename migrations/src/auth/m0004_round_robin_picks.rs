//! Round-robin picks remembered by request key, so a retried NextAssignee
//! (a consumer redelivered, a call timed out after the pick) returns the
//! same assignee instead of taking another turn. Kept 24 hours at least,
//! then pruned.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum RoundRobinPicks {
    Table,
    RequestKey,
    System,
    Role,
    UserId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RoundRobinPicks::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RoundRobinPicks::RequestKey)
                            .string_len(200)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(RoundRobinPicks::System)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoundRobinPicks::Role)
                            .string_len(63)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoundRobinPicks::UserId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoundRobinPicks::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("round_robin_picks_created_at")
                    .table(RoundRobinPicks::Table)
                    .col(RoundRobinPicks::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RoundRobinPicks::Table).to_owned())
            .await
    }
}
