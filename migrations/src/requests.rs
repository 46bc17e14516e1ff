//! The requests a system has answered, by their client-generated
//! `request_id` (`map_kit::idempotency`): a retry gets the first answer and
//! changes nothing; the same id with a different request is refused. A row
//! is written in the transaction of the change it answers.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum IdempotentRequests {
    Table,
    RequestId,
    Method,
    Fingerprint,
    Response,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotentRequests::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(IdempotentRequests::RequestId)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(IdempotentRequests::Method)
                            .string_len(120)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotentRequests::Fingerprint)
                            .string_len(64)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotentRequests::Response)
                            .blob()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(IdempotentRequests::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idempotent_requests_created_at")
                    .table(IdempotentRequests::Table)
                    .col(IdempotentRequests::CreatedAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotentRequests::Table).to_owned())
            .await
    }
}
