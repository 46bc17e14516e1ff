//! One sea-orm [`MigratorTrait`](sea_orm_migration::MigratorTrait) per MAP database.
//!
//! Rules that keep every migration portable between PostgreSQL and SQLite
//! (ARCHITECTURE.md, "Embedded default"): migrations only create tables and
//! indexes and add columns; case-insensitive uniqueness uses a stored
//! normalised column; people-facing numbers come from a counter table.
//! Every database starts with the event outbox and inbox, and has the
//! timers table (map-kit's `timers`) and the parked events (map-kit's
//! `bus::parked`); every database but Auth's then holds
//! the local directory of Auth's users and departments and the answered
//! requests by `request_id` (map-kit's `idempotency`); a system that holds
//! files (AMS, HDTS, TTS) has the uploads and their chunks (map-kit's `uploads`).
#![forbid(unsafe_code)]

// The auth migrations live in auth/; the module `auth` is the Migrator.
#[path = "ams/mod.rs"]
mod ams_schema;
#[path = "auth/mod.rs"]
mod auth_schema;
#[path = "bms/mod.rs"]
mod bms_schema;
mod columns;
mod counters;
mod directory;
#[path = "hdts/mod.rs"]
mod hdts_schema;
mod messaging;
mod messaging_parked;
mod messaging_pending;
mod messaging_set_aside;
mod requests;
mod timers;
#[path = "tts/mod.rs"]
mod tts_schema;
mod uploads;

/// Declares a system's migrator: the shared ones first (outbox, inbox,
/// timers), then its own. The shared ones touch only their own tables, so a
/// database that has a system's migrations takes a new shared one as well.
macro_rules! migrator {
    ($(#[$doc:meta])* $module:ident $(, $migration:path)* $(,)?) => {
        $(#[$doc])*
        pub mod $module {
            use sea_orm_migration::prelude::*;

            /// Applies this database's migrations in order.
            #[derive(Debug)]
            pub struct Migrator;

            #[async_trait::async_trait]
            impl MigratorTrait for Migrator {
                fn migrations() -> Vec<Box<dyn MigrationTrait>> {
                    vec![
                        Box::new(crate::messaging::Migration),
                        Box::new(crate::messaging_pending::Migration),
                        Box::new(crate::messaging_set_aside::Migration),
                        Box::new(crate::timers::Migration),
                        Box::new(crate::messaging_parked::Migration),
                        $(Box::new($migration),)*
                    ]
                }
            }
        }
    };
}

migrator!(
    /// The identity backbone's database.
    auth,
    crate::auth_schema::Identity,
    crate::auth_schema::Seed,
    crate::auth_schema::Departments,
    crate::auth_schema::RoundRobinPicks,
    crate::auth_schema::HdtsAdmin,
    crate::auth_schema::BmsAdmin,
);
migrator!(
    /// Asset management's database.
    ams,
    crate::counters::Migration,
    crate::directory::Migration,
    crate::requests::Migration,
    crate::uploads::Migration,
    crate::ams_schema::Assets,
    crate::ams_schema::BudgetBookings,
);
migrator!(
    /// Budget management's database.
    bms,
    crate::counters::Migration,
    crate::directory::Migration,
    crate::requests::Migration,
    crate::bms_schema::Budgets,
    crate::bms_schema::FlaggedExpenses,
    crate::bms_schema::Proposals,
    crate::bms_schema::FlaggedByBudget,
);
migrator!(
    /// Ticket tracking's database.
    tts,
    crate::counters::Migration,
    crate::directory::Migration,
    crate::requests::Migration,
    crate::tts_schema::Workflows,
    crate::tts_schema::Tickets,
    crate::tts_schema::TicketRatings,
    crate::tts_schema::HelpTopics,
    crate::tts_schema::TicketSearch,
    crate::uploads::Migration,
    crate::tts_schema::Attachments,
    crate::tts_schema::AgentTools,
    crate::tts_schema::OpenQueue,
    crate::tts_schema::Sla,
);
migrator!(
    /// The help desk's database.
    hdts,
    crate::counters::Migration,
    crate::directory::Migration,
    crate::requests::Migration,
    crate::hdts_schema::HelpTopics,
    crate::hdts_schema::Tickets,
    crate::hdts_schema::Replies,
    crate::hdts_schema::Ratings,
    crate::uploads::Migration,
    crate::hdts_schema::Attachments,
    crate::hdts_schema::AssetTags,
);
