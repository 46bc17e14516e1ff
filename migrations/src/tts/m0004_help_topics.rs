//! TTS's copy of HDTS's help-topic catalogue (from `hdts.topic.*`, newer
//! versions only), and on each ticket the topic it was submitted under and
//! the HDTS version of the last requester instruction applied (withdraw,
//! confirm, reopen), so an older instruction delivered late changes nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum HelpTopics {
    Table,
    Id,
    Name,
    DepartmentCode,
    Category,
    SubCategory,
    Active,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    HelpTopicId,
    RequesterVersion,
}

fn text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(HelpTopics::Table)
                    .if_not_exists()
                    .col(text(HelpTopics::Id, 36).primary_key())
                    .col(text(HelpTopics::Name, 200))
                    .col(text(HelpTopics::DepartmentCode, 32))
                    .col(text(HelpTopics::Category, 100))
                    .col(text(HelpTopics::SubCategory, 100))
                    .col(ColumnDef::new(HelpTopics::Active).boolean().not_null())
                    .col(ColumnDef::new(HelpTopics::Version).big_integer().not_null())
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
                    .name("help_topics_by_category")
                    .table(HelpTopics::Table)
                    .col(HelpTopics::Category)
                    .col(HelpTopics::SubCategory)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        // One column per statement: SQLite adds one at a time.
        for column in [
            ColumnDef::new(Tickets::HelpTopicId)
                .string_len(36)
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(Tickets::RequesterVersion)
                .big_integer()
                .not_null()
                .default(0)
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name("tickets_by_help_topic")
                    .table(Tickets::Table)
                    .col(Tickets::HelpTopicId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("tickets_by_help_topic")
                    .table(Tickets::Table)
                    .to_owned(),
            )
            .await?;
        for column in [Tickets::HelpTopicId, Tickets::RequesterVersion] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .drop_table(Table::drop().table(HelpTopics::Table).to_owned())
            .await
    }
}
