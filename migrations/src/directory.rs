//! The local directory of Auth's users and departments, in every database
//! but Auth's (map-kit's `directory` module fills and reads it).
//!
//! A mirror never refuses its owner's data, so the widths are Auth's own
//! (`users`, `user_roles`, `departments`). Roles are a child table rather
//! than a JSON column: "who holds tts:agent" is then one indexed query,
//! written the same on PostgreSQL and SQLite. `directory_state` records
//! when the directory last matched Auth completely (a full backfill or
//! reconcile), so a directory that only ever saw events is still filled.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum DirectoryUsers {
    Table,
    Id,
    Email,
    DisplayName,
    DepartmentCode,
    Active,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DirectoryUserRoles {
    Table,
    UserId,
    System,
    Role,
}

#[derive(DeriveIden)]
enum DirectoryDepartments {
    Table,
    Code,
    Name,
    Active,
    Version,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum DirectoryState {
    Table,
    Name,
    CompletedAt,
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
                    .table(DirectoryUsers::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DirectoryUsers::Id)
                            .string_len(36)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DirectoryUsers::Email)
                            .string_len(254)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DirectoryUsers::DisplayName)
                            .string_len(200)
                            .not_null(),
                    )
                    // empty when the user has no department
                    .col(
                        ColumnDef::new(DirectoryUsers::DepartmentCode)
                            .string_len(100)
                            .not_null(),
                    )
                    .col(ColumnDef::new(DirectoryUsers::Active).boolean().not_null())
                    .col(
                        ColumnDef::new(DirectoryUsers::Version)
                            .big_integer()
                            .not_null(),
                    )
                    // Auth's update_time of this version
                    .col(time(DirectoryUsers::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("directory_users_department")
                    .table(DirectoryUsers::Table)
                    .col(DirectoryUsers::DepartmentCode)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DirectoryUserRoles::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DirectoryUserRoles::UserId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DirectoryUserRoles::System)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DirectoryUserRoles::Role)
                            .string_len(63)
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(DirectoryUserRoles::UserId)
                            .col(DirectoryUserRoles::System)
                            .col(DirectoryUserRoles::Role),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(DirectoryUserRoles::Table, DirectoryUserRoles::UserId)
                            .to(DirectoryUsers::Table, DirectoryUsers::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // Holders of a role: reassigning work, listing agents.
        manager
            .create_index(
                Index::create()
                    .name("directory_user_roles_holders")
                    .table(DirectoryUserRoles::Table)
                    .col(DirectoryUserRoles::System)
                    .col(DirectoryUserRoles::Role)
                    .col(DirectoryUserRoles::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DirectoryDepartments::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DirectoryDepartments::Code)
                            .string_len(100)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(DirectoryDepartments::Name)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DirectoryDepartments::Active)
                            .boolean()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(DirectoryDepartments::Version)
                            .big_integer()
                            .not_null(),
                    )
                    .col(time(DirectoryDepartments::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(DirectoryState::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(DirectoryState::Name)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(time(DirectoryState::CompletedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            DirectoryState::Table.into_iden(),
            DirectoryDepartments::Table.into_iden(),
            DirectoryUserRoles::Table.into_iden(),
            DirectoryUsers::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}
