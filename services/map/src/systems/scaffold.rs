//! The systems whose issue has not landed yet: their migrations (the
//! shared tables) run, their services are listed by reflection and health
//! and answer UNIMPLEMENTED naming the system; their workers keep the
//! directory of Auth's users and departments, and their other queues
//! buffer events until their consumers exist. Landing a system replaces its entry
//! here with a file of its own.

use map_kit::{System, server::GrpcServer};

use super::Module;

macro_rules! scaffold {
    ($name:ident, $system:expr, $migrator:ty) => {
        pub(super) static $name: Module = Module {
            system: $system,
            migrate: |url| Box::pin(map_kit::db::migrate::<$migrator>(url)),
            api: |api| Ok(GrpcServer::new(api.config.system.name()).scaffold(api.config.system)),
            consumers: |w| super::directory_consumer($system, w.db, w.bus).map(|c| vec![c]),
            timers: |worker, _| worker,
            holds_files: false,
        };
    };
}

scaffold!(BMS, System::Bms, map_migrations::bms::Migrator);
