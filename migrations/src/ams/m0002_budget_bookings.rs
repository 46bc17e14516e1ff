//! AMS's copy of what BMS booked for its assets (`bms.expense.*` with an
//! asset): which budget line paid for each purchase, maintenance and cost
//! correction. One row per BMS expense, replaced only by a newer version.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum BudgetBookings {
    Table,
    ExpenseId,
    AssetId,
    Status,
    Source,
    TransactionId,
    AmountMinor,
    Currency,
    BudgetId,
    BudgetLineId,
    AccountCode,
    LineCategoryCode,
    Unallocated,
    DepartmentCode,
    FiscalYearName,
    Flags,
    Version,
    RecordedAt,
}

fn text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().to_owned()
}

fn empty_text(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).text().not_null().default("").to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(BudgetBookings::Table)
                    .if_not_exists()
                    .col(text(BudgetBookings::ExpenseId).primary_key())
                    .col(text(BudgetBookings::AssetId))
                    .col(text(BudgetBookings::Status))
                    .col(text(BudgetBookings::Source))
                    .col(empty_text(BudgetBookings::TransactionId))
                    .col(
                        ColumnDef::new(BudgetBookings::AmountMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(BudgetBookings::Currency))
                    .col(empty_text(BudgetBookings::BudgetId))
                    .col(empty_text(BudgetBookings::BudgetLineId))
                    .col(empty_text(BudgetBookings::AccountCode))
                    .col(empty_text(BudgetBookings::LineCategoryCode))
                    .col(
                        ColumnDef::new(BudgetBookings::Unallocated)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(empty_text(BudgetBookings::DepartmentCode))
                    .col(empty_text(BudgetBookings::FiscalYearName))
                    .col(empty_text(BudgetBookings::Flags))
                    .col(
                        ColumnDef::new(BudgetBookings::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(BudgetBookings::RecordedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("budget_bookings_by_asset")
                    .table(BudgetBookings::Table)
                    .col(BudgetBookings::AssetId)
                    .col(BudgetBookings::RecordedAt)
                    .col(BudgetBookings::ExpenseId)
                    .to_owned(),
            )
            .await
    }
}
