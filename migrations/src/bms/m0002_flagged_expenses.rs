//! The recorded expenses with a flag, by line: what a budget report counts
//! per line (`flagged_expense_count`), read from a small partial index
//! instead of every expense of the fiscal year. The report's query repeats
//! the predicate as a literal, so PostgreSQL's cached plans can use it.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE INDEX IF NOT EXISTS expenses_flagged ON expenses (budget_line_id) \
                 WHERE status = 'recorded' AND flags <> ''",
            )
            .await?;
        Ok(())
    }
}
