//! The identity tables.
//!
//! Portability (PostgreSQL and SQLite): case-insensitive email uniqueness is a
//! unique index on the stored `email_normalized` column (lower-cased by Auth);
//! the timestamps that SQL itself compares (`login_attempts`) are Unix
//! milliseconds so both databases compare integers.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
pub(crate) enum Systems {
    Table,
    Name,
    DisplayName,
}

#[derive(DeriveIden)]
pub(crate) enum Roles {
    Table,
    System,
    Role,
    Description,
    Builtin,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailNormalized,
    DisplayName,
    Department,
    Active,
    PasswordHash,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    UserId,
    System,
    Role,
    GrantedAt,
}

#[derive(DeriveIden)]
enum ApiKeys {
    Table,
    Id,
    Name,
    SecretHash,
    KeyPrefix,
    CreatorUserId,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum ApiKeyRoles {
    Table,
    ApiKeyId,
    System,
    Role,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    TokenHash,
    SessionId,
    CreatedAt,
    ExpiresAt,
    SpentAt,
}

#[derive(DeriveIden)]
enum LoginAttempts {
    Table,
    EmailNormalized,
    Failures,
    LastFailureMs,
    LockedUntilMs,
}

#[derive(DeriveIden)]
enum RoundRobinCursors {
    Table,
    System,
    Role,
    LastUserId,
    Turns,
}

fn id(col: impl IntoIden) -> ColumnDef {
    ColumnDef::new(col).string_len(36).not_null().to_owned()
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

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Systems::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(Systems::Name)
                            .string_len(32)
                            .not_null()
                            .primary_key(),
                    )
                    .col(
                        ColumnDef::new(Systems::DisplayName)
                            .string_len(100)
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .if_not_exists()
                    .col(ColumnDef::new(Roles::System).string_len(32).not_null())
                    .col(ColumnDef::new(Roles::Role).string_len(63).not_null())
                    .col(ColumnDef::new(Roles::Description).text().not_null())
                    .col(ColumnDef::new(Roles::Builtin).boolean().not_null())
                    .col(time(Roles::CreatedAt))
                    .primary_key(Index::create().col(Roles::System).col(Roles::Role))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Roles::Table, Roles::System)
                            .to(Systems::Table, Systems::Name),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(id(Users::Id).primary_key())
                    .col(ColumnDef::new(Users::Email).string_len(254).not_null())
                    .col(
                        ColumnDef::new(Users::EmailNormalized)
                            .string_len(254)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Users::DisplayName)
                            .string_len(200)
                            .not_null(),
                    )
                    .col(ColumnDef::new(Users::Department).string_len(100).not_null())
                    .col(ColumnDef::new(Users::Active).boolean().not_null())
                    // argon2id PHC string
                    .col(ColumnDef::new(Users::PasswordHash).text().not_null())
                    .col(ColumnDef::new(Users::Version).big_integer().not_null())
                    .col(time(Users::CreatedAt))
                    .col(time(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("users_email_normalized")
                    .table(Users::Table)
                    .col(Users::EmailNormalized)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserRoles::Table)
                    .if_not_exists()
                    .col(id(UserRoles::UserId))
                    .col(ColumnDef::new(UserRoles::System).string_len(32).not_null())
                    .col(ColumnDef::new(UserRoles::Role).string_len(63).not_null())
                    .col(time(UserRoles::GrantedAt))
                    .primary_key(
                        Index::create()
                            .col(UserRoles::UserId)
                            .col(UserRoles::System)
                            .col(UserRoles::Role),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserRoles::Table, UserRoles::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserRoles::Table, (UserRoles::System, UserRoles::Role))
                            .to(Roles::Table, (Roles::System, Roles::Role)),
                    )
                    .to_owned(),
            )
            .await?;
        // Holders of a role in id order: round robin and ListUsers filters.
        manager
            .create_index(
                Index::create()
                    .name("user_roles_by_role")
                    .table(UserRoles::Table)
                    .col(UserRoles::System)
                    .col(UserRoles::Role)
                    .col(UserRoles::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeys::Table)
                    .if_not_exists()
                    .col(id(ApiKeys::Id).primary_key())
                    .col(ColumnDef::new(ApiKeys::Name).string_len(100).not_null())
                    // hex SHA-256 of the secret
                    .col(
                        ColumnDef::new(ApiKeys::SecretHash)
                            .string_len(64)
                            .not_null()
                            .unique_key(),
                    )
                    .col(ColumnDef::new(ApiKeys::KeyPrefix).string_len(12).not_null())
                    .col(ColumnDef::new(ApiKeys::CreatorUserId).string_len(36).null())
                    .col(time(ApiKeys::CreatedAt))
                    .col(optional_time(ApiKeys::LastUsedAt))
                    .col(optional_time(ApiKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApiKeyRoles::Table)
                    .if_not_exists()
                    .col(id(ApiKeyRoles::ApiKeyId))
                    .col(
                        ColumnDef::new(ApiKeyRoles::System)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(ColumnDef::new(ApiKeyRoles::Role).string_len(63).not_null())
                    .primary_key(
                        Index::create()
                            .col(ApiKeyRoles::ApiKeyId)
                            .col(ApiKeyRoles::System)
                            .col(ApiKeyRoles::Role),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeyRoles::Table, ApiKeyRoles::ApiKeyId)
                            .to(ApiKeys::Table, ApiKeys::Id),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(ApiKeyRoles::Table, (ApiKeyRoles::System, ApiKeyRoles::Role))
                            .to(Roles::Table, (Roles::System, Roles::Role)),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(id(Sessions::Id).primary_key())
                    .col(id(Sessions::UserId))
                    .col(time(Sessions::CreatedAt))
                    .col(optional_time(Sessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("sessions_by_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .if_not_exists()
                    // hex SHA-256 of the opaque token
                    .col(
                        ColumnDef::new(RefreshTokens::TokenHash)
                            .string_len(64)
                            .not_null()
                            .primary_key(),
                    )
                    .col(id(RefreshTokens::SessionId))
                    .col(time(RefreshTokens::CreatedAt))
                    .col(time(RefreshTokens::ExpiresAt))
                    .col(optional_time(RefreshTokens::SpentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("refresh_tokens_by_session")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(LoginAttempts::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(LoginAttempts::EmailNormalized)
                            .string_len(254)
                            .not_null()
                            .primary_key(),
                    )
                    .col(ColumnDef::new(LoginAttempts::Failures).integer().not_null())
                    .col(
                        ColumnDef::new(LoginAttempts::LastFailureMs)
                            .big_integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(LoginAttempts::LockedUntilMs)
                            .big_integer()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RoundRobinCursors::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(RoundRobinCursors::System)
                            .string_len(32)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoundRobinCursors::Role)
                            .string_len(63)
                            .not_null(),
                    )
                    // the user picked last; '' sorts before every id
                    .col(
                        ColumnDef::new(RoundRobinCursors::LastUserId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(RoundRobinCursors::Turns)
                            .big_integer()
                            .not_null(),
                    )
                    .primary_key(
                        Index::create()
                            .col(RoundRobinCursors::System)
                            .col(RoundRobinCursors::Role),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            RoundRobinCursors::Table.into_iden(),
            LoginAttempts::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            ApiKeyRoles::Table.into_iden(),
            ApiKeys::Table.into_iden(),
            UserRoles::Table.into_iden(),
            Users::Table.into_iden(),
            Roles::Table.into_iden(),
            Systems::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
