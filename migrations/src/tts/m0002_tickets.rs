//! Tickets (numbered `TT-…` from the counters; the workflow revision, step
//! and assignee they are at; a triage reason when no workflow matched or
//! nobody holds the step's role), their append-only history, and their
//! comments (unique by the HDTS reply they mirror, so a redelivered reply is
//! one comment).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    Number,
    HdtsTicketId,
    Subject,
    Description,
    RequesterUserId,
    DepartmentCode,
    Category,
    SubCategory,
    Priority,
    Status,
    StepId,
    AssigneeUserId,
    WorkflowId,
    WorkflowRevision,
    WorkflowMatch,
    TriageReason,
    Version,
    CreatedAt,
    UpdatedAt,
    ResolvedAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum TicketEvents {
    Table,
    Id,
    TicketId,
    Kind,
    ActorUserId,
    OccurredAt,
    TicketVersion,
    Event,
}

#[derive(DeriveIden)]
enum Comments {
    Table,
    Id,
    TicketId,
    AuthorUserId,
    Body,
    Visibility,
    HdtsReplyId,
    CreatedAt,
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tickets::Table)
                    .if_not_exists()
                    .col(text(Tickets::Id, 36).primary_key())
                    .col(text(Tickets::Number, 20))
                    .col(ColumnDef::new(Tickets::HdtsTicketId).string_len(36).null())
                    .col(text(Tickets::Subject, 200))
                    .col(ColumnDef::new(Tickets::Description).text().not_null())
                    .col(text(Tickets::RequesterUserId, 36))
                    .col(text(Tickets::DepartmentCode, 32))
                    .col(text(Tickets::Category, 100))
                    .col(text(Tickets::SubCategory, 100))
                    .col(text(Tickets::Priority, 16))
                    .col(text(Tickets::Status, 24))
                    .col(text(Tickets::StepId, 64))
                    .col(text(Tickets::AssigneeUserId, 36))
                    .col(text(Tickets::WorkflowId, 36))
                    .col(
                        ColumnDef::new(Tickets::WorkflowRevision)
                            .integer()
                            .not_null(),
                    )
                    .col(text(Tickets::WorkflowMatch, 32))
                    .col(ColumnDef::new(Tickets::TriageReason).text().not_null())
                    .col(ColumnDef::new(Tickets::Version).big_integer().not_null())
                    .col(time(Tickets::CreatedAt))
                    .col(time(Tickets::UpdatedAt))
                    .col(
                        ColumnDef::new(Tickets::ResolvedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(Tickets::ClosedAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            ("tickets_number", vec![Tickets::Number], true),
            ("tickets_hdts_ticket_id", vec![Tickets::HdtsTicketId], true),
            (
                "tickets_status_created",
                vec![Tickets::Status, Tickets::CreatedAt],
                false,
            ),
            (
                "tickets_assignee_status",
                vec![Tickets::AssigneeUserId, Tickets::Status],
                false,
            ),
            ("tickets_requester", vec![Tickets::RequesterUserId], false),
        ] {
            let mut index = Index::create();
            index.name(name).table(Tickets::Table).if_not_exists();
            for c in cols {
                index.col(c);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(TicketEvents::Table)
                    .if_not_exists()
                    .col(text(TicketEvents::Id, 36).primary_key())
                    .col(text(TicketEvents::TicketId, 36))
                    .col(text(TicketEvents::Kind, 24))
                    .col(text(TicketEvents::ActorUserId, 36))
                    .col(time(TicketEvents::OccurredAt))
                    .col(
                        ColumnDef::new(TicketEvents::TicketVersion)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(TicketEvents::Event).blob().not_null())
                    .foreign_key(
                        ForeignKey::create()
                            .from(TicketEvents::Table, TicketEvents::TicketId)
                            .to(Tickets::Table, Tickets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ticket_events_ticket")
                    .table(TicketEvents::Table)
                    .col(TicketEvents::TicketId)
                    .col(TicketEvents::TicketVersion)
                    .col(TicketEvents::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Comments::Table)
                    .if_not_exists()
                    .col(text(Comments::Id, 36).primary_key())
                    .col(text(Comments::TicketId, 36))
                    .col(text(Comments::AuthorUserId, 36))
                    .col(ColumnDef::new(Comments::Body).text().not_null())
                    .col(text(Comments::Visibility, 16))
                    .col(ColumnDef::new(Comments::HdtsReplyId).string_len(36).null())
                    .col(time(Comments::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Comments::Table, Comments::TicketId)
                            .to(Tickets::Table, Tickets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols, unique) in [
            (
                "comments_ticket",
                vec![Comments::TicketId, Comments::CreatedAt, Comments::Id],
                false,
            ),
            ("comments_hdts_reply_id", vec![Comments::HdtsReplyId], true),
        ] {
            let mut index = Index::create();
            index.name(name).table(Comments::Table).if_not_exists();
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
        for table in [
            Comments::Table.into_iden(),
            TicketEvents::Table.into_iden(),
            Tickets::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
