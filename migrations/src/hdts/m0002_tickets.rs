//! Help-desk tickets (numbered `HD-…` from the counters): what the employee
//! submitted, and the mirror of the TTS ticket working it — its id, number,
//! assignee and status as of the newest TTS snapshot applied
//! (`tts_version`), so an older or repeated event changes nothing.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum HdtsTickets {
    Table,
    Id,
    Number,
    RequesterUserId,
    RequesterDisplayName,
    Subject,
    Description,
    DepartmentCode,
    Category,
    SubCategory,
    Priority,
    Status,
    Source,
    HelpTopicId,
    TtsTicketId,
    TtsTicketNumber,
    AssigneeDisplayName,
    TtsVersion,
    Version,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
    ClosedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text =
            |c: HdtsTickets, len: u32| ColumnDef::new(c).string_len(len).not_null().to_owned();
        let time = |c: HdtsTickets| {
            ColumnDef::new(c)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(HdtsTickets::Table)
                    .if_not_exists()
                    .col(text(HdtsTickets::Id, 36).primary_key())
                    .col(text(HdtsTickets::Number, 20))
                    .col(text(HdtsTickets::RequesterUserId, 36))
                    .col(text(HdtsTickets::RequesterDisplayName, 200))
                    .col(text(HdtsTickets::Subject, 200))
                    .col(ColumnDef::new(HdtsTickets::Description).text().not_null())
                    .col(text(HdtsTickets::DepartmentCode, 32))
                    .col(text(HdtsTickets::Category, 100))
                    .col(text(HdtsTickets::SubCategory, 100))
                    .col(text(HdtsTickets::Priority, 16))
                    .col(text(HdtsTickets::Status, 24))
                    .col(text(HdtsTickets::Source, 16))
                    .col(text(HdtsTickets::HelpTopicId, 36))
                    .col(text(HdtsTickets::TtsTicketId, 36))
                    .col(text(HdtsTickets::TtsTicketNumber, 20))
                    .col(text(HdtsTickets::AssigneeDisplayName, 200))
                    .col(
                        ColumnDef::new(HdtsTickets::TtsVersion)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(HdtsTickets::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(time(HdtsTickets::CreatedAt))
                    .col(time(HdtsTickets::UpdatedAt))
                    .col(
                        ColumnDef::new(HdtsTickets::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(HdtsTickets::ClosedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("hdts_tickets_number", vec![HdtsTickets::Number], true),
            (
                "hdts_tickets_requester",
                vec![HdtsTickets::RequesterUserId, HdtsTickets::CreatedAt],
                false,
            ),
            (
                "hdts_tickets_created",
                vec![HdtsTickets::CreatedAt, HdtsTickets::Id],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(HdtsTickets::Table).if_not_exists();
            for c in cols {
                index.col(c);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HdtsTickets::Table).to_owned())
            .await
    }
}
