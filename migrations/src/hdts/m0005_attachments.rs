//! Attachments of help-desk tickets (at submission) and replies: the files'
//! metadata and references (`map.events.v1.Attachment`s, encoded by
//! `map_kit::uploads::attachments`), kept with the row they belong to —
//! HDTS's own uploads and a mirrored TTS comment's references alike. NULL
//! for none.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum HdtsTickets {
    Table,
    Attachments,
}

#[derive(DeriveIden)]
enum HdtsReplies {
    Table,
    Attachments,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        manager
            .alter_table(
                Table::alter()
                    .table(HdtsTickets::Table)
                    .add_column(ColumnDef::new(HdtsTickets::Attachments).blob().null())
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(HdtsReplies::Table)
                    .add_column(ColumnDef::new(HdtsReplies::Attachments).blob().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(HdtsTickets::Table)
                    .drop_column(HdtsTickets::Attachments)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(HdtsReplies::Table)
                    .drop_column(HdtsReplies::Attachments)
                    .to_owned(),
            )
            .await
    }
}
