//! Asset management: categories (an immutable code, a renamable name and
//! depreciation defaults), assets, their immutable transaction ledger and
//! their maintenance records.
//!
//! An asset's status, holder and version change together in one
//! conditional update (`… WHERE id = ? AND status IN (…)`), so of two
//! racing moves exactly one matches. Money is an amount in minor units and
//! a currency code. Dates without a time (purchase, warranty, maintenance)
//! are `DATE` columns.
//!
//! ListAssets pages in the order of people-facing numbers (their length,
//! then their text, as map-kit's `Sort::number`); each filter it offers by
//! equality (status, category, department with status, location, a
//! checkout's location ignoring case) leads an index in that order, so a
//! filtered page reads its page of index entries whatever the register's
//! size; so do the last-changed and newest-first orders. A holder's assets
//! are few: their index is by holder alone.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Categories {
    Table,
    Id,
    Code,
    Name,
    NameNormalized,
    Description,
    DepreciationMethod,
    UsefulLifeMonths,
    SalvagePercent,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Assets {
    Table,
    Id,
    Number,
    Name,
    Serial,
    Model,
    CategoryCode,
    DepartmentCode,
    Location,
    LocationNormalized,
    Status,
    HolderUserId,
    HolderLocation,
    HolderDeactivated,
    CheckoutTransactionId,
    ExpectedReturnAt,
    CostMinor,
    Currency,
    PurchaseDate,
    WarrantyEndDate,
    Supplier,
    PurchaseReference,
    Notes,
    OpeningBalance,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum AssetTransactions {
    Table,
    Id,
    AssetId,
    AssetNumber,
    Kind,
    ActorUserId,
    At,
    FromStatus,
    ToStatus,
    HolderUserId,
    HolderLocation,
    FromDepartmentCode,
    ToDepartmentCode,
    FromLocation,
    ToLocation,
    AmountMinor,
    PreviousAmountMinor,
    Currency,
    ExpectedReturnAt,
    Note,
    DisposalMethod,
    CheckoutTransactionId,
    MaintenanceRecordId,
}

#[derive(DeriveIden)]
enum MaintenanceRecords {
    Table,
    Id,
    AssetId,
    Kind,
    Title,
    Supplier,
    CostMinor,
    Currency,
    StartDate,
    CompletionDate,
    Notes,
    ActorUserId,
    TransactionId,
    CreatedAt,
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

/// The indexes over expressions (a number's length), per backend: the
/// character count is `char_length` on PostgreSQL and `length` on SQLite.
fn number_indexes(length: &str) -> Vec<String> {
    let by_number = format!("{length}(number), number");
    let newest_first = format!("{length}(number) DESC, number DESC");
    [
        ("assets_by_number", "", &by_number),
        ("assets_by_status", "status, ", &by_number),
        ("assets_by_category", "category_code, ", &by_number),
        (
            "assets_by_department",
            "department_code, status, ",
            &by_number,
        ),
        ("assets_by_location", "location_normalized, ", &by_number),
        (
            "assets_by_holder_location",
            "lower(holder_location), ",
            &by_number,
        ),
        ("assets_by_update", "updated_at DESC, ", &newest_first),
        ("assets_by_creation", "created_at DESC, ", &newest_first),
    ]
    .into_iter()
    .map(|(name, lead, order)| {
        format!("CREATE INDEX IF NOT EXISTS {name} ON assets ({lead}{order})")
    })
    .collect()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Categories::Table)
                    .if_not_exists()
                    .col(text(Categories::Id).primary_key())
                    .col(text(Categories::Code).unique_key())
                    .col(text(Categories::Name))
                    .col(text(Categories::NameNormalized).unique_key())
                    .col(empty_text(Categories::Description))
                    .col(text(Categories::DepreciationMethod))
                    .col(
                        ColumnDef::new(Categories::UsefulLifeMonths)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Categories::SalvagePercent)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Categories::Version).big_integer().not_null())
                    .col(time(Categories::CreatedAt))
                    .col(time(Categories::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Assets::Table)
                    .if_not_exists()
                    .col(text(Assets::Id).primary_key())
                    .col(text(Assets::Number).unique_key())
                    .col(text(Assets::Name))
                    .col(empty_text(Assets::Serial))
                    .col(empty_text(Assets::Model))
                    .col(text(Assets::CategoryCode))
                    .col(text(Assets::DepartmentCode))
                    .col(empty_text(Assets::Location))
                    .col(empty_text(Assets::LocationNormalized))
                    .col(text(Assets::Status))
                    .col(ColumnDef::new(Assets::HolderUserId).text().null())
                    .col(ColumnDef::new(Assets::HolderLocation).text().null())
                    .col(
                        ColumnDef::new(Assets::HolderDeactivated)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Assets::CheckoutTransactionId).text().null())
                    .col(
                        ColumnDef::new(Assets::ExpectedReturnAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(ColumnDef::new(Assets::CostMinor).big_integer().not_null())
                    .col(text(Assets::Currency))
                    .col(ColumnDef::new(Assets::PurchaseDate).date().not_null())
                    .col(ColumnDef::new(Assets::WarrantyEndDate).date().null())
                    .col(empty_text(Assets::Supplier))
                    .col(empty_text(Assets::PurchaseReference))
                    .col(empty_text(Assets::Notes))
                    .col(
                        ColumnDef::new(Assets::OpeningBalance)
                            .boolean()
                            .not_null()
                            .default(false),
                    )
                    .col(ColumnDef::new(Assets::Version).big_integer().not_null())
                    .col(time(Assets::CreatedAt))
                    .col(time(Assets::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Assets::Table, Assets::CategoryCode)
                            .to(Categories::Table, Categories::Code),
                    )
                    .to_owned(),
            )
            .await?;
        // A serial is unique when given.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX IF NOT EXISTS assets_serial ON assets (serial) \
                 WHERE serial <> ''",
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("assets_by_holder")
                    .table(Assets::Table)
                    .col(Assets::HolderUserId)
                    .to_owned(),
            )
            .await?;
        let length = match manager.get_database_backend() {
            DatabaseBackend::Postgres => "char_length",
            _ => "length",
        };
        for sql in number_indexes(length) {
            manager.get_connection().execute_unprepared(&sql).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(AssetTransactions::Table)
                    .if_not_exists()
                    .col(text(AssetTransactions::Id).primary_key())
                    .col(text(AssetTransactions::AssetId))
                    .col(text(AssetTransactions::AssetNumber))
                    .col(text(AssetTransactions::Kind))
                    .col(empty_text(AssetTransactions::ActorUserId))
                    .col(time(AssetTransactions::At))
                    .col(empty_text(AssetTransactions::FromStatus))
                    .col(text(AssetTransactions::ToStatus))
                    .col(empty_text(AssetTransactions::HolderUserId))
                    .col(empty_text(AssetTransactions::HolderLocation))
                    .col(empty_text(AssetTransactions::FromDepartmentCode))
                    .col(empty_text(AssetTransactions::ToDepartmentCode))
                    .col(empty_text(AssetTransactions::FromLocation))
                    .col(empty_text(AssetTransactions::ToLocation))
                    .col(
                        ColumnDef::new(AssetTransactions::AmountMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(
                        ColumnDef::new(AssetTransactions::PreviousAmountMinor)
                            .big_integer()
                            .null(),
                    )
                    .col(empty_text(AssetTransactions::Currency))
                    .col(
                        ColumnDef::new(AssetTransactions::ExpectedReturnAt)
                            .timestamp_with_time_zone()
                            .null(),
                    )
                    .col(empty_text(AssetTransactions::Note))
                    .col(empty_text(AssetTransactions::DisposalMethod))
                    .col(empty_text(AssetTransactions::CheckoutTransactionId))
                    .col(empty_text(AssetTransactions::MaintenanceRecordId))
                    .to_owned(),
            )
            .await?;
        for (name, lead) in [
            (
                "asset_transactions_by_asset",
                Some(AssetTransactions::AssetId),
            ),
            (
                "asset_transactions_by_actor",
                Some(AssetTransactions::ActorUserId),
            ),
            ("asset_transactions_by_time", None),
        ] {
            let mut index = Index::create()
                .if_not_exists()
                .name(name)
                .table(AssetTransactions::Table)
                .to_owned();
            if let Some(lead) = lead {
                index.col(lead);
            }
            manager
                .create_index(
                    index
                        .col(AssetTransactions::At)
                        .col(AssetTransactions::Id)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MaintenanceRecords::Table)
                    .if_not_exists()
                    .col(text(MaintenanceRecords::Id).primary_key())
                    .col(text(MaintenanceRecords::AssetId))
                    .col(text(MaintenanceRecords::Kind))
                    .col(text(MaintenanceRecords::Title))
                    .col(empty_text(MaintenanceRecords::Supplier))
                    .col(
                        ColumnDef::new(MaintenanceRecords::CostMinor)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(MaintenanceRecords::Currency))
                    .col(
                        ColumnDef::new(MaintenanceRecords::StartDate)
                            .date()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(MaintenanceRecords::CompletionDate)
                            .date()
                            .null(),
                    )
                    .col(empty_text(MaintenanceRecords::Notes))
                    .col(empty_text(MaintenanceRecords::ActorUserId))
                    .col(text(MaintenanceRecords::TransactionId))
                    .col(time(MaintenanceRecords::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MaintenanceRecords::Table, MaintenanceRecords::AssetId)
                            .to(Assets::Table, Assets::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .if_not_exists()
                    .name("maintenance_records_by_asset")
                    .table(MaintenanceRecords::Table)
                    .col(MaintenanceRecords::AssetId)
                    .col(MaintenanceRecords::StartDate)
                    .col(MaintenanceRecords::Id)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MaintenanceRecords::Table.into_iden(),
            AssetTransactions::Table.into_iden(),
            Assets::Table.into_iden(),
            Categories::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
