//! The assets a help-desk ticket is about: AMS asset tags as the requester
//! gave them, a column of `hdts_tickets` (the tags separated by spaces,
//! which an asset tag may not contain).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum HdtsTickets {
    Table,
    AssetTags,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(HdtsTickets::Table)
                    .add_column(
                        ColumnDef::new(HdtsTickets::AssetTags)
                            .text()
                            .not_null()
                            .default("")
                            .to_owned(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(HdtsTickets::Table)
                    .drop_column(HdtsTickets::AssetTags)
                    .to_owned(),
            )
            .await
    }
}
