//! SLAs: business-hours calendars, policies, and the clocks each ticket
//! runs.
//!
//! A calendar keeps its weekly hours and holidays as JSON text (read and
//! validated whole by TTS, never queried by parts). A policy's scope is its
//! priority and at most one of help topic, workflow and department (empty
//! text when unset); a unique index over the scope of active policies makes
//! two equally specific active policies impossible, also under races.
//!
//! `ticket_sla_clocks` holds one row per clock of a ticket — first
//! response, resolution, and one per workflow step it entered — keyed by
//! ticket and clock name. A clock keeps the business time counted up to
//! `counted_at` (`elapsed_ms`), whether it counts now, and the instants it
//! projects from them (`warn_at`, `due_at`), which the timers follow. The
//! ticket carries its resolution due time and whether any clock breached,
//! for ListTickets' order and filter.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum SlaCalendars {
    Table,
    Id,
    Name,
    TimeZone,
    BusinessHours,
    Holidays,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum SlaPolicies {
    Table,
    Id,
    Name,
    Priority,
    FirstResponseMs,
    ResolutionMs,
    WarningPercent,
    CalendarId,
    Active,
    PauseStatuses,
    HelpTopicId,
    WorkflowId,
    DepartmentCode,
    EscalationLevels,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum TicketSlaClocks {
    Table,
    TicketId,
    Clock,
    StepId,
    PolicyId,
    TargetMs,
    WarnMs,
    ElapsedMs,
    Counting,
    CountedAt,
    PausedSince,
    WarnAt,
    DueAt,
    WarnedAt,
    BreachedAt,
    StoppedAt,
    LevelsDone,
}

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    SlaPolicyId,
    SlaDueAt,
    SlaBreached,
    FirstResponseAt,
}

fn text(col: impl IntoIden, len: u32) -> ColumnDef {
    ColumnDef::new(col).string_len(len).not_null().to_owned()
}

fn long_text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn big(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).big_integer().not_null().to_owned()
}

fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn maybe_time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(SlaCalendars::Table)
                    .if_not_exists()
                    .col(text(SlaCalendars::Id, 36).primary_key())
                    .col(text(SlaCalendars::Name, 200))
                    .col(text(SlaCalendars::TimeZone, 64))
                    .col(long_text(SlaCalendars::BusinessHours))
                    .col(long_text(SlaCalendars::Holidays))
                    .col(big(SlaCalendars::Version))
                    .col(time(SlaCalendars::CreatedAt))
                    .col(time(SlaCalendars::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sla_calendars_name")
                    .table(SlaCalendars::Table)
                    .col(SlaCalendars::Name)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SlaPolicies::Table)
                    .if_not_exists()
                    .col(text(SlaPolicies::Id, 36).primary_key())
                    .col(text(SlaPolicies::Name, 200))
                    .col(text(SlaPolicies::Priority, 16))
                    .col(big(SlaPolicies::FirstResponseMs))
                    .col(big(SlaPolicies::ResolutionMs))
                    .col(
                        ColumnDef::new(SlaPolicies::WarningPercent)
                            .integer()
                            .not_null(),
                    )
                    .col(text(SlaPolicies::CalendarId, 36))
                    .col(ColumnDef::new(SlaPolicies::Active).boolean().not_null())
                    .col(text(SlaPolicies::PauseStatuses, 200))
                    .col(text(SlaPolicies::HelpTopicId, 36))
                    .col(text(SlaPolicies::WorkflowId, 36))
                    .col(text(SlaPolicies::DepartmentCode, 32))
                    .col(long_text(SlaPolicies::EscalationLevels))
                    .col(big(SlaPolicies::Version))
                    .col(time(SlaPolicies::CreatedAt))
                    .col(time(SlaPolicies::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // Partial: only active policies compete for a scope. The same text
        // on PostgreSQL and SQLite.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS sla_policies_active_scope ON sla_policies \
                 (priority, help_topic_id, workflow_id, department_code) WHERE active",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sla_policies_calendar")
                    .table(SlaPolicies::Table)
                    .col(SlaPolicies::CalendarId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(TicketSlaClocks::Table)
                    .if_not_exists()
                    .col(text(TicketSlaClocks::TicketId, 36))
                    .col(text(TicketSlaClocks::Clock, 64))
                    .col(text(TicketSlaClocks::StepId, 64))
                    .col(text(TicketSlaClocks::PolicyId, 36))
                    .col(big(TicketSlaClocks::TargetMs))
                    .col(big(TicketSlaClocks::WarnMs))
                    .col(big(TicketSlaClocks::ElapsedMs))
                    .col(
                        ColumnDef::new(TicketSlaClocks::Counting)
                            .boolean()
                            .not_null(),
                    )
                    .col(time(TicketSlaClocks::CountedAt))
                    .col(maybe_time(TicketSlaClocks::PausedSince))
                    .col(maybe_time(TicketSlaClocks::WarnAt))
                    .col(maybe_time(TicketSlaClocks::DueAt))
                    .col(maybe_time(TicketSlaClocks::WarnedAt))
                    .col(maybe_time(TicketSlaClocks::BreachedAt))
                    .col(maybe_time(TicketSlaClocks::StoppedAt))
                    .col(text(TicketSlaClocks::LevelsDone, 200))
                    .primary_key(
                        Index::create()
                            .col(TicketSlaClocks::TicketId)
                            .col(TicketSlaClocks::Clock),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ticket_sla_clocks_policy")
                    .table(TicketSlaClocks::Table)
                    .col(TicketSlaClocks::PolicyId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        for column in [
            ColumnDef::new(Tickets::SlaPolicyId)
                .string_len(36)
                .not_null()
                .default("")
                .to_owned(),
            maybe_time(Tickets::SlaDueAt),
            ColumnDef::new(Tickets::SlaBreached)
                .boolean()
                .not_null()
                .default(false)
                .to_owned(),
            maybe_time(Tickets::FirstResponseAt),
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
        // ListTickets' "sla.resolution_due_time" order.
        manager
            .create_index(
                Index::create()
                    .name("tickets_sla_due")
                    .table(Tickets::Table)
                    .col(Tickets::SlaDueAt)
                    .col(Tickets::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_index(
                Index::drop()
                    .name("tickets_sla_due")
                    .table(Tickets::Table)
                    .to_owned(),
            )
            .await?;
        for column in [
            Tickets::SlaPolicyId,
            Tickets::SlaDueAt,
            Tickets::SlaBreached,
            Tickets::FirstResponseAt,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Tickets::Table)
                        .drop_column(column)
                        .to_owned(),
                )
                .await?;
        }
        for table in [
            TicketSlaClocks::Table.into_iden(),
            SlaPolicies::Table.into_iden(),
            SlaCalendars::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
