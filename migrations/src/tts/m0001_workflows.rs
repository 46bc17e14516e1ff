//! Workflows (one row each: its name, version for the etag, latest and
//! published revision, and the selector it is published for — unique, so
//! two workflows can never be published for the same department, category
//! and sub-category) and their immutable revisions (selector, steps and
//! transitions as one JSON document, state and its times).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Workflows {
    Table,
    Id,
    Name,
    NameNormalized,
    Version,
    LatestRevision,
    PublishedRevision,
    PublishedSelector,
    Archived,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WorkflowRevisions {
    Table,
    WorkflowId,
    Revision,
    State,
    Name,
    Description,
    DepartmentCode,
    Category,
    SubCategory,
    Graph,
    CreatedAt,
    PublishedAt,
    ArchivedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Workflows::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Workflows::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Workflows::Name).string_len(200).not_null())
                    .col(
                        ColumnDef::new(Workflows::NameNormalized)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Workflows::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(Workflows::LatestRevision)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Workflows::PublishedRevision)
                            .integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Workflows::PublishedSelector)
                            .string_len(310)
                            .null(),
                    )
                    .col(ColumnDef::new(Workflows::Archived).boolean().not_null())
                    .col(
                        ColumnDef::new(Workflows::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Workflows::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, col) in [
            ("workflows_name_normalized", Workflows::NameNormalized),
            ("workflows_published_selector", Workflows::PublishedSelector),
        ] {
            manager
                .create_index(
                    Index::create()
                        .name(name)
                        .table(Workflows::Table)
                        .col(col)
                        .unique()
                        .if_not_exists()
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(WorkflowRevisions::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(WorkflowRevisions::WorkflowId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::Revision)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::State)
                            .string_len(16)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::Description)
                            .text()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::DepartmentCode)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::Category)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::SubCategory)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(WorkflowRevisions::Graph).text().not_null())
                    .col(
                        ColumnDef::new(WorkflowRevisions::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::PublishedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(WorkflowRevisions::ArchivedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(WorkflowRevisions::WorkflowId)
                            .col(WorkflowRevisions::Revision),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(WorkflowRevisions::Table, WorkflowRevisions::WorkflowId)
                            .to(Workflows::Table, Workflows::Id),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WorkflowRevisions::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Workflows::Table).to_owned())
            .await
    }
}
