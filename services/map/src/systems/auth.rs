//! Auth, the identity backbone: its migrator and its three services. Its
//! worker runs the relay only (Auth consumes no queue).

use anyhow::Context as _;
use map_kit::System;

use super::Module;

pub(super) static MODULE: Module = Module {
    system: System::Auth,
    migrate: |url| Box::pin(map_kit::db::migrate::<map_migrations::auth::Migrator>(url)),
    api: |api| {
        let auth = api
            .auth
            .clone()
            .context("auth is served with its domain service")?;
        Ok(map_auth::grpc_server(auth))
    },
    consumers: |_| Ok(Vec::new()),
    timers: |worker, _| worker,
    holds_files: false,
};
