//! An agent's queue at millions of tickets: their open tickets by last
//! change, newest first, ties by number (its length, then its text, as
//! ListTickets orders), in an index that holds only open tickets — so a
//! page reads 50 index entries whatever the number of closed tickets
//! behind them. ListTickets repeats the index's predicate, as a literal, in
//! its query when every status it asks for is open: a query with bound
//! parameters alone cannot prove it implies the predicate.

use sea_orm_migration::{prelude::*, sea_orm::DatabaseBackend};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

/// The index on PostgreSQL.
const POSTGRES_UP: &str = "CREATE INDEX IF NOT EXISTS tickets_open_by_assignee ON tickets \
     (assignee_user_id, updated_at DESC, char_length(number) DESC, number DESC) \
     WHERE status IN ('open', 'in_progress', 'waiting_on_requester', 'on_hold', 'triage')";

/// The index on SQLite, whose character count is `length`.
const SQLITE_UP: &str = "CREATE INDEX IF NOT EXISTS tickets_open_by_assignee ON tickets \
     (assignee_user_id, updated_at DESC, length(number) DESC, number DESC) \
     WHERE status IN ('open', 'in_progress', 'waiting_on_requester', 'on_hold', 'triage')";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let sql = match manager.get_database_backend() {
            DatabaseBackend::Postgres => POSTGRES_UP,
            _ => SQLITE_UP,
        };
        manager.get_connection().execute_unprepared(sql).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared("DROP INDEX IF EXISTS tickets_open_by_assignee")
            .await?;
        Ok(())
    }
}
