//! The seeded systems and their builtin roles (proto/map/auth/v1/types.proto).
//! Inserts are idempotent: a row already present is left alone.

use sea_orm_migration::prelude::*;

use super::m0001_identity::{Roles, Systems};

#[derive(DeriveMigrationName)]
pub(crate) struct Migration;

const SYSTEMS: [(&str, &str); 5] = [
    ("ams", "Asset Management"),
    ("auth", "Identity"),
    ("bms", "Budget Management"),
    ("hdts", "Help Desk"),
    ("tts", "Ticket Tracking"),
];

const ROLES: [(&str, &str, &str); 13] = [
    ("auth", "admin", "Administers users, roles and API keys."),
    (
        "auth",
        "service",
        "A platform service: reads the user directory and asks for assignees.",
    ),
    ("hdts", "employee", "Submits and follows help-desk tickets."),
    ("hdts", "agent", "Answers help-desk tickets."),
    ("tts", "agent", "Works tickets through their workflow."),
    (
        "tts",
        "manager",
        "Oversees ticket queues, SLAs and assignments.",
    ),
    ("tts", "admin", "Configures workflows and SLA policies."),
    ("ams", "viewer", "Sees assets and their history."),
    (
        "ams",
        "manager",
        "Registers, assigns and disposes of assets.",
    ),
    ("bms", "viewer", "Sees budgets and reports."),
    ("bms", "requester", "Submits budget proposals and expenses."),
    ("bms", "approver", "Approves budget proposals."),
    (
        "bms",
        "finance_head",
        "Approves large proposals and owns fiscal years.",
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut systems = Query::insert()
            .into_table(Systems::Table)
            .columns([Systems::Name, Systems::DisplayName])
            .on_conflict(OnConflict::column(Systems::Name).do_nothing().to_owned())
            .to_owned();
        for (name, display) in SYSTEMS {
            systems.values_panic([name.into(), display.into()]);
        }
        manager.exec_stmt(systems).await?;
        let mut roles = Query::insert()
            .into_table(Roles::Table)
            .columns([
                Roles::System,
                Roles::Role,
                Roles::Description,
                Roles::Builtin,
                Roles::CreatedAt,
            ])
            .on_conflict(
                OnConflict::columns([Roles::System, Roles::Role])
                    .do_nothing()
                    .to_owned(),
            )
            .to_owned();
        for (system, role, description) in ROLES {
            roles.values_panic([
                system.into(),
                role.into(),
                description.into(),
                true.into(),
                Expr::current_timestamp(),
            ]);
        }
        manager.exec_stmt(roles).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .exec_stmt(
                Query::delete()
                    .from_table(Roles::Table)
                    .and_where(Expr::col(Roles::Builtin).eq(true))
                    .to_owned(),
            )
            .await?;
        manager
            .exec_stmt(Query::delete().from_table(Systems::Table).to_owned())
            .await
    }
}
