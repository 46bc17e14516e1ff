//! Files uploaded to a system in chunks (`map_kit::uploads`): one row per
//! upload — its name, declared type and size, how much arrived, its SHA-256
//! once complete, what it is attached to — and its content as the chunks
//! it arrived in, in order of their byte offset. `expires_at` is when the
//! pruner deletes it: a day after it started while open, a day after it
//! completed while unattached, never once attached. Chunks go with their
//! upload (ON DELETE CASCADE).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Uploads {
    Table,
    Id,
    UploaderUserId,
    FileName,
    ContentType,
    SizeBytes,
    ReceivedBytes,
    State,
    Sha256,
    AttachedTo,
    CreatedAt,
    CompletedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum UploadChunks {
    Table,
    UploadId,
    ByteOffset,
    Data,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text = |c: Uploads, len: u32| ColumnDef::new(c).string_len(len).not_null().to_owned();
        let time = |c: Uploads| {
            ColumnDef::new(c)
                .timestamp_with_time_zone()
                .not_null()
                .to_owned()
        };
        let optional_time = |c: Uploads| {
            ColumnDef::new(c)
                .timestamp_with_time_zone()
                .null()
                .to_owned()
        };
        manager
            .create_table(
                Table::create()
                    .table(Uploads::Table)
                    .if_not_exists()
                    .col(text(Uploads::Id, 36).primary_key())
                    .col(text(Uploads::UploaderUserId, 64))
                    .col(text(Uploads::FileName, 255))
                    .col(text(Uploads::ContentType, 255))
                    .col(ColumnDef::new(Uploads::SizeBytes).big_integer().not_null())
                    .col(
                        ColumnDef::new(Uploads::ReceivedBytes)
                            .big_integer()
                            .not_null(),
                    )
                    .col(text(Uploads::State, 16))
                    .col(ColumnDef::new(Uploads::Sha256).string_len(64).null())
                    .col(ColumnDef::new(Uploads::AttachedTo).string_len(120).null())
                    .col(time(Uploads::CreatedAt))
                    .col(optional_time(Uploads::CompletedAt))
                    .col(optional_time(Uploads::ExpiresAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uploads_expires_at")
                    .table(Uploads::Table)
                    .col(Uploads::ExpiresAt)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UploadChunks::Table)
                    .if_not_exists()
                    .col(
                        ColumnDef::new(UploadChunks::UploadId)
                            .string_len(36)
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(UploadChunks::ByteOffset)
                            .big_integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(UploadChunks::Data).blob().not_null())
                    .primary_key(
                        Index::create()
                            .col(UploadChunks::UploadId)
                            .col(UploadChunks::ByteOffset),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UploadChunks::Table, UploadChunks::UploadId)
                            .to(Uploads::Table, Uploads::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(UploadChunks::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Uploads::Table).to_owned())
            .await
    }
}
