//! The organisation's departments, owned by Auth (DepartmentService), and a
//! backfill: every department code users already carry becomes a
//! department (its name the code itself until an administrator renames it),
//! so no user is left pointing at an unknown department.
//!
//! Backfilled codes keep whatever spelling users had (the column is as wide
//! as `users.department`); new departments follow the stricter rule of
//! CreateDepartment. Other systems learn of backfilled departments through
//! ListDepartments when their directory first fills, not through events.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Departments {
    Table,
    Code,
    Name,
    Active,
    Version,
    CreatedAt,
    UpdatedAt,
}

/// The columns of `users` the backfill reads (m0001 made them).
#[derive(DeriveIden)]
enum Users {
    Table,
    Department,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let time = |col: Departments| {
            ColumnDef::new(col)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Departments::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Departments::Code)
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(Departments::Name).string_len(200).not_null())
                    .col(ColumnDef::new(Departments::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(Departments::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(time(Departments::CreatedAt))
                    .col(time(Departments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        // One department per code in use, first seen when its first user
        // was created (the timestamps are copied, so their stored form is
        // the one each database already reads back).
        let in_use = Query::select()
            .expr(Expr::col(Users::Department))
            .expr(Expr::col(Users::Department))
            .expr(Expr::val(true))
            .expr(Expr::val(1i64))
            .expr(Expr::col(Users::CreatedAt).min())
            .expr(Expr::col(Users::CreatedAt).min())
            .from(Users::Table)
            .and_where(Expr::col(Users::Department).ne(""))
            .group_by_col(Users::Department)
            .to_owned();
        let backfill = Query::insert()
            .into_table(Departments::Table)
            .columns([
                Departments::Code,
                Departments::Name,
                Departments::Active,
                Departments::Version,
                Departments::CreatedAt,
                Departments::UpdatedAt,
            ])
            .select_from(in_use)
            .map_err(|e| DbErr::Migration(e.to_string()))?
            .on_conflict(
                OnConflict::column(Departments::Code)
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        manager.exec_stmt(backfill).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(Departments::Table).to_owned())
            .await
    }
}
