//! Proposals against a budget — budget increases and spending requests —
//! with their lines, comments and history, and the approval policy of each
//! proposal kind.
//!
//! A proposal's approval chain of its current submission is a small value
//! of the proposal (`approval_steps`, JSON, at most five steps) changed in
//! the same conditional update as its version; `pending_role` is the role
//! of its current pending step (empty unless SUBMITTED), so an approver's
//! inbox is an index lookup. A proposal line keeps what it committed,
//! spent and released as maintained amounts, moved by the same
//! transactions that move its budget line's. An approval policy's row
//! exists once it was first changed; until then the default applies.

use sea_orm_migration::prelude::*;

use crate::columns::{big, empty_text, int, minor, optional_time, text, time};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Proposals {
    Table,
    Id,
    Number,
    Kind,
    BudgetId,
    DepartmentCode,
    FiscalYearId,
    RequesterUserId,
    Title,
    Justification,
    Status,
    Currency,
    RequestedTotalMinor,
    CommittedTotalMinor,
    SpentTotalMinor,
    ReleasedTotalMinor,
    ApprovalPolicyVersion,
    ApprovalSteps,
    PendingRole,
    ReturnCount,
    Version,
    CreatedAt,
    UpdatedAt,
    SubmittedAt,
    DecidedAt,
    WithdrawnAt,
    ClosedAt,
}

#[derive(DeriveIden)]
enum ProposalLines {
    Table,
    ProposalId,
    Position,
    BudgetLineId,
    Description,
    AmountMinor,
    CommittedMinor,
    SpentMinor,
    ReleasedMinor,
}

#[derive(DeriveIden)]
enum ProposalComments {
    Table,
    Id,
    ProposalId,
    AuthorUserId,
    Body,
    CreatedAt,
}

#[derive(DeriveIden)]
enum ProposalEvents {
    Table,
    Id,
    ProposalId,
    EventType,
    ActorUserId,
    At,
    ProposalVersion,
    FromStatus,
    ToStatus,
    Level,
    ApproverRole,
    Comment,
    CommentId,
    AmountMinor,
    Currency,
    UpdatedFields,
}

#[derive(DeriveIden)]
enum ApprovalPolicies {
    Table,
    Kind,
    Levels,
    Version,
    UpdatedByUserId,
    UpdatedAt,
}

/// The indexes: the same text on PostgreSQL and SQLite.
const INDEXES: [&str; 6] = [
    "CREATE INDEX IF NOT EXISTS proposals_by_create_time ON proposals (created_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS proposals_by_budget ON proposals (budget_id, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS proposals_by_requester \
     ON proposals (requester_user_id, created_at DESC)",
    "CREATE INDEX IF NOT EXISTS proposals_pending \
     ON proposals (pending_role, department_code) WHERE status = 'submitted'",
    "CREATE INDEX IF NOT EXISTS proposal_comments_by_proposal \
     ON proposal_comments (proposal_id, created_at, id)",
    "CREATE INDEX IF NOT EXISTS proposal_events_by_proposal \
     ON proposal_events (proposal_id, at, id)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Proposals::Table)
                    .if_not_exists()
                    .col(text(Proposals::Id).primary_key())
                    .col(text(Proposals::Number).unique_key())
                    .col(text(Proposals::Kind))
                    .col(text(Proposals::BudgetId))
                    .col(text(Proposals::DepartmentCode))
                    .col(text(Proposals::FiscalYearId))
                    .col(text(Proposals::RequesterUserId))
                    .col(text(Proposals::Title))
                    .col(empty_text(Proposals::Justification))
                    .col(text(Proposals::Status))
                    .col(text(Proposals::Currency))
                    .col(minor(Proposals::RequestedTotalMinor))
                    .col(minor(Proposals::CommittedTotalMinor))
                    .col(minor(Proposals::SpentTotalMinor))
                    .col(minor(Proposals::ReleasedTotalMinor))
                    .col(minor(Proposals::ApprovalPolicyVersion))
                    .col(empty_text(Proposals::ApprovalSteps))
                    .col(empty_text(Proposals::PendingRole))
                    .col(int(Proposals::ReturnCount))
                    .col(big(Proposals::Version))
                    .col(time(Proposals::CreatedAt))
                    .col(time(Proposals::UpdatedAt))
                    .col(optional_time(Proposals::SubmittedAt))
                    .col(optional_time(Proposals::DecidedAt))
                    .col(optional_time(Proposals::WithdrawnAt))
                    .col(optional_time(Proposals::ClosedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProposalLines::Table)
                    .if_not_exists()
                    .col(text(ProposalLines::ProposalId))
                    .col(int(ProposalLines::Position))
                    .col(text(ProposalLines::BudgetLineId))
                    .col(empty_text(ProposalLines::Description))
                    .col(minor(ProposalLines::AmountMinor))
                    .col(minor(ProposalLines::CommittedMinor))
                    .col(minor(ProposalLines::SpentMinor))
                    .col(minor(ProposalLines::ReleasedMinor))
                    .primary_key(
                        Index::create()
                            .col(ProposalLines::ProposalId)
                            .col(ProposalLines::Position),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ProposalLines::Table, ProposalLines::ProposalId)
                            .to(Proposals::Table, Proposals::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name("proposal_lines_by_budget_line")
                    .table(ProposalLines::Table)
                    .col(ProposalLines::ProposalId)
                    .col(ProposalLines::BudgetLineId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProposalComments::Table)
                    .if_not_exists()
                    .col(text(ProposalComments::Id).primary_key())
                    .col(text(ProposalComments::ProposalId))
                    .col(text(ProposalComments::AuthorUserId))
                    .col(text(ProposalComments::Body))
                    .col(time(ProposalComments::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ProposalEvents::Table)
                    .if_not_exists()
                    .col(text(ProposalEvents::Id).primary_key())
                    .col(text(ProposalEvents::ProposalId))
                    .col(text(ProposalEvents::EventType))
                    .col(text(ProposalEvents::ActorUserId))
                    .col(time(ProposalEvents::At))
                    .col(big(ProposalEvents::ProposalVersion))
                    .col(empty_text(ProposalEvents::FromStatus))
                    .col(empty_text(ProposalEvents::ToStatus))
                    .col(int(ProposalEvents::Level))
                    .col(empty_text(ProposalEvents::ApproverRole))
                    .col(empty_text(ProposalEvents::Comment))
                    .col(empty_text(ProposalEvents::CommentId))
                    .col(
                        ColumnDef::new(ProposalEvents::AmountMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(empty_text(ProposalEvents::Currency))
                    .col(empty_text(ProposalEvents::UpdatedFields))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApprovalPolicies::Table)
                    .if_not_exists()
                    .col(text(ApprovalPolicies::Kind).primary_key())
                    .col(text(ApprovalPolicies::Levels))
                    .col(big(ApprovalPolicies::Version))
                    .col(empty_text(ApprovalPolicies::UpdatedByUserId))
                    .col(optional_time(ApprovalPolicies::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        let conn = manager.get_connection();
        for index in INDEXES {
            conn.execute_unprepared(index).await?;
        }
        Ok(())
    }
}
