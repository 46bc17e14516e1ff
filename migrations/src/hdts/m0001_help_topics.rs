//! Help topics: the employees' catalogue, each naming the department,
//! category and sub-category its submissions are routed by; names unique
//! ignoring case (a stored normalised column).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum HelpTopics {
    Table,
    Id,
    Name,
    NameNormalized,
    Description,
    DepartmentCode,
    Category,
    SubCategory,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HelpTopics::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(HelpTopics::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(HelpTopics::Name).string_len(200).not_null())
                    .col(
                        ColumnDef::new(HelpTopics::NameNormalized)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(HelpTopics::Description).text().not_null())
                    .col(
                        ColumnDef::new(HelpTopics::DepartmentCode)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HelpTopics::Category)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HelpTopics::SubCategory)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(HelpTopics::Active).boolean().not_null())
                    .col(ColumnDef::new(HelpTopics::Version).big_integer().not_null())
                    .col(
                        ColumnDef::new(HelpTopics::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HelpTopics::UpdatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("help_topics_name_normalized")
                    .table(HelpTopics::Table)
                    .col(HelpTopics::NameNormalized)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HelpTopics::Table).to_owned())
            .await
    }
}
