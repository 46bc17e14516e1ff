//! Replies on help-desk tickets: the requester's and agents' messages, and
//! the public TTS comments mirrored here (unique by the comment they mirror,
//! so a redelivered comment is one reply).

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum HdtsReplies {
    Table,
    Id,
    TicketId,
    AuthorUserId,
    AuthorDisplayName,
    Body,
    Visibility,
    Source,
    TtsCommentId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let text =
            |c: HdtsReplies, len: u32| ColumnDef::new(c).string_len(len).not_null().to_owned();
        manager
            .create_table(
                Table::create()
                    .table(HdtsReplies::Table)
                    .if_not_exists()
                    .col(text(HdtsReplies::Id, 36).primary_key())
                    .col(text(HdtsReplies::TicketId, 36))
                    .col(text(HdtsReplies::AuthorUserId, 36))
                    .col(text(HdtsReplies::AuthorDisplayName, 200))
                    .col(ColumnDef::new(HdtsReplies::Body).text().not_null())
                    .col(text(HdtsReplies::Visibility, 16))
                    .col(text(HdtsReplies::Source, 16))
                    .col(
                        ColumnDef::new(HdtsReplies::TtsCommentId)
                            .string_len(36)
                            .null(),
                    )
                    .col(
                        ColumnDef::new(HdtsReplies::CreatedAt)
                            .timestamp_with_time_zone()
                            .not_null(),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("hdts_replies_ticket")
                    .table(HdtsReplies::Table)
                    .col(HdtsReplies::TicketId)
                    .col(HdtsReplies::CreatedAt)
                    .col(HdtsReplies::Id)
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("hdts_replies_tts_comment_id")
                    .table(HdtsReplies::Table)
                    .col(HdtsReplies::TtsCommentId)
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(HdtsReplies::Table).to_owned())
            .await
    }
}
