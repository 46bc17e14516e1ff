//! Budget management: fiscal years, budgets (one per department and fiscal
//! year) and their lines, transfers between lines, and expenses.
//!
//! A line keeps its amounts as maintained totals in minor units — base
//! allocation, approved increases, transfers in and out, spent, committed
//! and pending — so a budget's figures and its reports are read, never
//! summed from the ledger per call. An expense moves `spent_minor` in one
//! conditional update (`… WHERE id = ? AND (control_mode <> 'stop' OR
//! spent + committed + amount <= allocated)`), so two racing expenses never
//! together overspend a STOP line. `over_threshold` and `overspent` are the
//! line's last announced states: a change from false to true is announced
//! once (`bms.budget.threshold_crossed`).
//!
//! A budget's unallocated line has the empty category code, so
//! `(budget_id, category_code)` is unique for every line; account codes
//! are unique within a budget when given. An expense is unique by
//! `(source, source_ref)` when it has a reference: a redelivered AMS event
//! books nothing twice.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum FiscalYears {
    Table,
    Id,
    Name,
    StartDate,
    EndDate,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Budgets {
    Table,
    Id,
    FiscalYearId,
    DepartmentCode,
    Currency,
    Description,
    UnallocatedLineId,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum BudgetLines {
    Table,
    Id,
    BudgetId,
    CategoryCode,
    Unallocated,
    AccountCode,
    Description,
    ControlMode,
    WarningThresholdPercent,
    BaseAllocatedMinor,
    IncreasedMinor,
    TransferredInMinor,
    TransferredOutMinor,
    SpentMinor,
    CommittedMinor,
    PendingMinor,
    PendingIncreaseMinor,
    OverThreshold,
    Overspent,
    CreatedAt,
}

#[derive(DeriveIden)]
enum BudgetTransfers {
    Table,
    Id,
    BudgetId,
    FromLineId,
    ToLineId,
    AmountMinor,
    Currency,
    Reason,
    ApprovedByUserId,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Expenses {
    Table,
    Id,
    Status,
    BudgetId,
    BudgetLineId,
    DepartmentCode,
    FiscalYearId,
    AmountMinor,
    Currency,
    SourceAmountMinor,
    SourceCurrency,
    ExpenseDate,
    Description,
    SourceSystem,
    Source,
    SourceRef,
    ProposalId,
    ReleasedCommitmentMinor,
    AssetId,
    AssetNumber,
    AssetCategoryCode,
    Flags,
    FlagDetail,
    DivertedFromBudgetLineId,
    AdjustedExpenseId,
    RecordedByUserId,
    RecordedAt,
    VoidedByUserId,
    VoidedAt,
    VoidReason,
    AssignedByUserId,
    AssignedAt,
    AssignNote,
    Version,
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn empty_text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().default("").to_owned()
}

fn time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .not_null()
        .to_owned()
}

fn optional_time(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .timestamp_with_time_zone()
        .null()
        .to_owned()
}

fn minor(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .big_integer()
        .not_null()
        .default(0)
        .to_owned()
}

fn flag(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col)
        .boolean()
        .not_null()
        .default(false)
        .to_owned()
}

fn date(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).date().not_null().to_owned()
}

/// The indexes that need a `WHERE` (partial) or an expression: the same
/// text on PostgreSQL and SQLite.
const INDEXES: [&str; 8] = [
    "CREATE UNIQUE INDEX IF NOT EXISTS budget_lines_account_code \
     ON budget_lines (budget_id, account_code) WHERE account_code <> ''",
    "CREATE UNIQUE INDEX IF NOT EXISTS expenses_by_source \
     ON expenses (source, source_ref) WHERE source_ref <> ''",
    "CREATE INDEX IF NOT EXISTS expenses_by_record_time ON expenses (recorded_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS expenses_by_line \
     ON expenses (budget_line_id, recorded_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS expenses_by_budget \
     ON expenses (budget_id, recorded_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS expenses_by_asset ON expenses (asset_id) WHERE asset_id <> ''",
    "CREATE INDEX IF NOT EXISTS expenses_by_status \
     ON expenses (status, recorded_at DESC, id DESC)",
    "CREATE INDEX IF NOT EXISTS budget_transfers_by_budget \
     ON budget_transfers (budget_id, created_at DESC, id DESC)",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(FiscalYears::Table)
                    .if_not_exists()
                    .col(text(FiscalYears::Id).primary_key())
                    .col(text(FiscalYears::Name).unique_key())
                    .col(date(FiscalYears::StartDate))
                    .col(date(FiscalYears::EndDate))
                    .col(time(FiscalYears::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("fiscal_years_by_start")
                    .table(FiscalYears::Table)
                    .col(FiscalYears::StartDate)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Budgets::Table)
                    .if_not_exists()
                    .col(text(Budgets::Id).primary_key())
                    .col(text(Budgets::FiscalYearId))
                    .col(text(Budgets::DepartmentCode))
                    .col(text(Budgets::Currency))
                    .col(empty_text(Budgets::Description))
                    .col(text(Budgets::UnallocatedLineId))
                    .col(ColumnDef::new(Budgets::Version).big_integer().not_null())
                    .col(time(Budgets::CreatedAt))
                    .col(time(Budgets::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Budgets::Table, Budgets::FiscalYearId)
                            .to(FiscalYears::Table, FiscalYears::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name("budgets_by_year_and_department")
                    .table(Budgets::Table)
                    .col(Budgets::FiscalYearId)
                    .col(Budgets::DepartmentCode)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("budgets_by_department")
                    .table(Budgets::Table)
                    .col(Budgets::DepartmentCode)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BudgetLines::Table)
                    .if_not_exists()
                    .col(text(BudgetLines::Id).primary_key())
                    .col(text(BudgetLines::BudgetId))
                    .col(empty_text(BudgetLines::CategoryCode))
                    .col(flag(BudgetLines::Unallocated))
                    .col(empty_text(BudgetLines::AccountCode))
                    .col(empty_text(BudgetLines::Description))
                    .col(text(BudgetLines::ControlMode))
                    .col(
                        ColumnDef::new(BudgetLines::WarningThresholdPercent)
                            .integer()
                            .not_null(),
                    )
                    .col(minor(BudgetLines::BaseAllocatedMinor))
                    .col(minor(BudgetLines::IncreasedMinor))
                    .col(minor(BudgetLines::TransferredInMinor))
                    .col(minor(BudgetLines::TransferredOutMinor))
                    .col(minor(BudgetLines::SpentMinor))
                    .col(minor(BudgetLines::CommittedMinor))
                    .col(minor(BudgetLines::PendingMinor))
                    .col(minor(BudgetLines::PendingIncreaseMinor))
                    .col(flag(BudgetLines::OverThreshold))
                    .col(flag(BudgetLines::Overspent))
                    .col(time(BudgetLines::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(BudgetLines::Table, BudgetLines::BudgetId)
                            .to(Budgets::Table, Budgets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .unique()
                    .name("budget_lines_by_category")
                    .table(BudgetLines::Table)
                    .col(BudgetLines::BudgetId)
                    .col(BudgetLines::CategoryCode)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(BudgetTransfers::Table)
                    .if_not_exists()
                    .col(text(BudgetTransfers::Id).primary_key())
                    .col(text(BudgetTransfers::BudgetId))
                    .col(text(BudgetTransfers::FromLineId))
                    .col(text(BudgetTransfers::ToLineId))
                    .col(
                        ColumnDef::new(BudgetTransfers::AmountMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(BudgetTransfers::Currency))
                    .col(text(BudgetTransfers::Reason))
                    .col(text(BudgetTransfers::ApprovedByUserId))
                    .col(time(BudgetTransfers::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Expenses::Table)
                    .if_not_exists()
                    .col(text(Expenses::Id).primary_key())
                    .col(text(Expenses::Status))
                    .col(empty_text(Expenses::BudgetId))
                    .col(empty_text(Expenses::BudgetLineId))
                    .col(empty_text(Expenses::DepartmentCode))
                    .col(empty_text(Expenses::FiscalYearId))
                    .col(minor(Expenses::AmountMinor))
                    .col(text(Expenses::Currency))
                    .col(minor(Expenses::SourceAmountMinor))
                    .col(text(Expenses::SourceCurrency))
                    .col(date(Expenses::ExpenseDate))
                    .col(empty_text(Expenses::Description))
                    .col(text(Expenses::SourceSystem))
                    .col(text(Expenses::Source))
                    .col(empty_text(Expenses::SourceRef))
                    .col(empty_text(Expenses::ProposalId))
                    .col(minor(Expenses::ReleasedCommitmentMinor))
                    .col(empty_text(Expenses::AssetId))
                    .col(empty_text(Expenses::AssetNumber))
                    .col(empty_text(Expenses::AssetCategoryCode))
                    .col(empty_text(Expenses::Flags))
                    .col(empty_text(Expenses::FlagDetail))
                    .col(empty_text(Expenses::DivertedFromBudgetLineId))
                    .col(empty_text(Expenses::AdjustedExpenseId))
                    .col(empty_text(Expenses::RecordedByUserId))
                    .col(time(Expenses::RecordedAt))
                    .col(empty_text(Expenses::VoidedByUserId))
                    .col(optional_time(Expenses::VoidedAt))
                    .col(empty_text(Expenses::VoidReason))
                    .col(empty_text(Expenses::AssignedByUserId))
                    .col(optional_time(Expenses::AssignedAt))
                    .col(empty_text(Expenses::AssignNote))
                    .col(ColumnDef::new(Expenses::Version).big_integer().not_null())
                    .to_owned(),
            )
            .await?;
        for sql in INDEXES {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }
}
