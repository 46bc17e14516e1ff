//! Text search over tickets (subject and description) and their comments,
//! and the indexes that keep the queues' pages cheap at millions of
//! tickets: an assignee's tickets by last change, a requester's by
//! creation.
//!
//! PostgreSQL searches with full-text expressions over GIN indexes: the
//! text with every run of other characters made a space, then the `simple`
//! configuration (no stemming, no stop words), so its parser sees the same
//! words as FTS5's `unicode61` tokenizer (left alone, it reads `ticket-42`
//! as `ticket` and `-42`). SQLite (`map dev`) keeps FTS5 tables of its own, filled by
//! triggers and from the rows already there; they store their text and the
//! row's id, so nothing depends on SQLite's rowids.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Tickets {
    Table,
    Id,
    AssigneeUserId,
    RequesterUserId,
    CreatedAt,
    UpdatedAt,
}

const POSTGRES_UP: &[&str] = &[
    "CREATE INDEX IF NOT EXISTS tickets_search ON tickets USING gin (to_tsvector('simple', \
     regexp_replace(subject || ' ' || description, '[^[:alnum:]]+', ' ', 'g')))",
    "CREATE INDEX IF NOT EXISTS comments_search ON comments USING gin (to_tsvector('simple', \
     regexp_replace(body, '[^[:alnum:]]+', ' ', 'g')))",
];

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE IF NOT EXISTS tickets_fts USING fts5(\
     ticket_id UNINDEXED, subject, description, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS comments_fts USING fts5(\
     ticket_id UNINDEXED, comment_id UNINDEXED, body, tokenize = 'unicode61 remove_diacritics 0')",
    "CREATE TRIGGER IF NOT EXISTS tickets_fts_insert AFTER INSERT ON tickets BEGIN \
     INSERT INTO tickets_fts (ticket_id, subject, description) \
     VALUES (new.id, new.subject, new.description); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_fts_update AFTER UPDATE OF subject, description \
     ON tickets BEGIN DELETE FROM tickets_fts WHERE ticket_id = old.id; \
     INSERT INTO tickets_fts (ticket_id, subject, description) \
     VALUES (new.id, new.subject, new.description); END",
    "CREATE TRIGGER IF NOT EXISTS tickets_fts_delete AFTER DELETE ON tickets BEGIN \
     DELETE FROM tickets_fts WHERE ticket_id = old.id; END",
    "CREATE TRIGGER IF NOT EXISTS comments_fts_insert AFTER INSERT ON comments BEGIN \
     INSERT INTO comments_fts (ticket_id, comment_id, body) \
     VALUES (new.ticket_id, new.id, new.body); END",
    "CREATE TRIGGER IF NOT EXISTS comments_fts_delete AFTER DELETE ON comments BEGIN \
     DELETE FROM comments_fts WHERE comment_id = old.id; END",
    "INSERT INTO tickets_fts (ticket_id, subject, description) \
     SELECT id, subject, description FROM tickets",
    "INSERT INTO comments_fts (ticket_id, comment_id, body) \
     SELECT ticket_id, id, body FROM comments",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS tickets_fts_insert",
    "DROP TRIGGER IF EXISTS tickets_fts_update",
    "DROP TRIGGER IF EXISTS tickets_fts_delete",
    "DROP TRIGGER IF EXISTS comments_fts_insert",
    "DROP TRIGGER IF EXISTS comments_fts_delete",
    "DROP TABLE IF EXISTS tickets_fts",
    "DROP TABLE IF EXISTS comments_fts",
];

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS tickets_search",
    "DROP INDEX IF EXISTS comments_search",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, cols) in [
            (
                "tickets_assignee_updated",
                [Tickets::AssigneeUserId, Tickets::UpdatedAt, Tickets::Id],
            ),
            (
                "tickets_requester_created",
                [Tickets::RequesterUserId, Tickets::CreatedAt, Tickets::Id],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Tickets::Table).if_not_exists();
            for c in cols {
                index.col(c);
            }
            manager.create_index(index.to_owned()).await?;
        }
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => SQLITE_DOWN,
        };
        for sql in statements {
            manager.get_connection().execute_unprepared(sql).await?;
        }
        for name in ["tickets_assignee_updated", "tickets_requester_created"] {
            manager
                .drop_index(Index::drop().name(name).table(Tickets::Table).to_owned())
                .await?;
        }
        Ok(())
    }
}
