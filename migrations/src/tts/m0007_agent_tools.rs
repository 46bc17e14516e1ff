//! Agents' tools: tags on tickets, the assets a ticket is about, and the
//! teams' canned responses.
//!
//! A ticket shows its tags and asset tags from two columns of `tickets`
//! (the words separated by spaces, which neither may contain), so reading a
//! ticket costs no join; ListTickets filters through `ticket_tags` and
//! `ticket_asset_tags`, written in the same transaction, indexed by the tag
//! first. An asset tag is kept as given on the ticket and upper-cased in
//! `ticket_asset_tags`, so the filter ignores case.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    Tags,
    AssetTags,
}

#[derive(Clone, Copy, DeriveIden)]
enum TicketTags {
    Table,
    TicketId,
    Tag,
}

#[derive(Clone, Copy, DeriveIden)]
enum TicketAssetTags {
    Table,
    TicketId,
    AssetTag,
}

#[derive(DeriveIden)]
enum CannedResponses {
    Table,
    Id,
    Team,
    Title,
    Body,
    AuthorUserId,
    Version,
    CreatedAt,
    UpdatedAt,
    ArchivedAt,
}

fn text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

/// A table of (ticket, word) pairs: one row per pair, found by the word.
async fn pairs(
    manager: &SchemaManager<'_>,
    table: impl IntoIden + Copy + 'static,
    ticket: impl IntoIden + Copy + 'static,
    word: impl IntoIden + Copy + 'static,
    len: u32,
    index: &str,
) -> Result<(), DbErr> {
    manager
        .create_table(
            Table::create()
                .table(table)
                .if_not_exists()
                .col(text(ticket, 36))
                .col(text(word, len))
                .primary_key(Index::create().col(ticket).col(word))
                .foreign_key(
                    ForeignKey::create()
                        .from(table, ticket)
                        .to(Tickets::Table, Tickets::Id),
                )
                .to_owned(),
        )
        .await?;
    manager
        .create_index(
            Index::create()
                .name(index)
                .table(table)
                .col(word)
                .col(ticket)
                .if_not_exists()
                .to_owned(),
        )
        .await
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [Tickets::Tags, Tickets::AssetTags] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .add_column(
                            ColumnDef::new(column)
                                .text()
                                .not_null()
                                .default("")
                                .to_owned(),
                        )
                        .to_owned(),
                )
                .await?;
        }
        pairs(
            manager,
            TicketTags::Table,
            TicketTags::TicketId,
            TicketTags::Tag,
            32,
            "ticket_tags_by_tag",
        )
        .await?;
        pairs(
            manager,
            TicketAssetTags::Table,
            TicketAssetTags::TicketId,
            TicketAssetTags::AssetTag,
            64,
            "ticket_asset_tags_by_asset_tag",
        )
        .await?;
        manager
            .create_table(
                Table::create()
                    .table(CannedResponses::Table)
                    .if_not_exists()
                    .col(text(CannedResponses::Id, 36).primary_key())
                    .col(text(CannedResponses::Team, 100))
                    .col(text(CannedResponses::Title, 100))
                    .col(ColumnDef::new(CannedResponses::Body).text().not_null())
                    .col(text(CannedResponses::AuthorUserId, 36))
                    .col(
                        ColumnDef::new(CannedResponses::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(time(CannedResponses::CreatedAt))
                    .col(time(CannedResponses::UpdatedAt))
                    .col(
                        ColumnDef::new(CannedResponses::ArchivedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("canned_responses_by_team_title")
                    .table(CannedResponses::Table)
                    .col(CannedResponses::Team)
                    .col(CannedResponses::Title)
                    .col(CannedResponses::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(CannedResponses::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TicketAssetTags::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(TicketTags::Table).to_owned())
            .await?;
        for column in [Tickets::Tags, Tickets::AssetTags] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
