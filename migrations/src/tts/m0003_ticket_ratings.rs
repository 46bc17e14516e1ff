//! The requesters' ratings of tickets, recorded from `hdts.ticket.rated`
//! for TTS's reports: one row per ticket, replaced by a newer rating (by the
//! HDTS ticket's version).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum TicketRatings {
    Table,
    TicketId,
    Score,
    Comment,
    RatedAt,
    HdtsVersion,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(TicketRatings::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(TicketRatings::TicketId)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(TicketRatings::Score).integer().not_null())
                    .col(ColumnDef::new(TicketRatings::Comment).text().not_null())
                    .col(
                        ColumnDef::new(TicketRatings::RatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(TicketRatings::HdtsVersion)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(TicketRatings::Table).to_owned())
            .await
    }
}
