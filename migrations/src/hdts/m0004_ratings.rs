//! The requester's rating of a help-desk ticket (1 to 5, a comment, when),
//! as columns of `hdts_tickets`: 0 and no time for an unrated ticket.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum HdtsTickets {
    Table,
    RatingScore,
    RatingComment,
    RatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one at a time.
        for column in [
            ColumnDef::new(HdtsTickets::RatingScore)
                .integer()
                .not_null()
                .default(0)
                .to_owned(),
            ColumnDef::new(HdtsTickets::RatingComment)
                .text()
                .not_null()
                .default("")
                .to_owned(),
            ColumnDef::new(HdtsTickets::RatedAt)
                .timestamp_with_time_zone()
                .null()
                .to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(HdtsTickets::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in [
            HdtsTickets::RatingScore,
            HdtsTickets::RatingComment,
            HdtsTickets::RatedAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(HdtsTickets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
