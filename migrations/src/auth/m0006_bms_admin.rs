//! The role `bms:admin`: sets the approval policies of budget proposals
//! (the budgets issue). A built-in role like those of the seed; an existing
//! role of that name is kept as it is.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

#[derive(DeriveIden)]
enum Roles {
    Table,
    System,
    Role,
    Description,
    Builtin,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let insert = Query::insert()
            .into_table(Roles::Table)
            .columns([
                Roles::System,
                Roles::Role,
                Roles::Description,
                Roles::Builtin,
                Roles::CreatedAt,
            ])
            .values_panic([
                "bms".into(),
                "admin".into(),
                "Sets the approval chains of budget proposals.".into(),
                true.into(),
                Expr::current_timestamp(),
            ])
            .on_conflict(
                OnConflict::columns([Roles::System, Roles::Role])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        manager.exec_stmt(insert).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Roles::Table)
                    .and_where(Expr::col(Roles::System).eq("bms"))
                    .and_where(Expr::col(Roles::Role).eq("admin"))
                    .to_owned(),
            )
            .await
    }
}
