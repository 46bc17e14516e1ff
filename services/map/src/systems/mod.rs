//! Every system, registered once: what `map serve`, `map worker`,
//! `map migrate` and `map dev` run for it. Adding a system is one file here
//! and one line in [`of`].

mod ams;
mod auth;
mod bms;
mod hdts;
mod tts;

use std::sync::Arc;

use futures::future::BoxFuture;
use map_kit::{
    System,
    bus::{Bus, Consumer},
    config::ServiceConfig,
    db::Db,
    server::GrpcServer,
    timers::TimerWorker,
};
use sea_orm::DbErr;
use secrecy::SecretString;

/// What one system contributes to each role of the binary.
pub struct Module {
    /// Which system.
    pub system: System,
    /// Applies its database migrations (`map migrate`, and first thing in
    /// `map dev`).
    pub migrate: for<'a> fn(&'a SecretString) -> BoxFuture<'a, Result<(), DbErr>>,
    /// Its gRPC API: every service behind its policy table (`map serve`,
    /// `map dev`).
    pub api: fn(&Api) -> anyhow::Result<GrpcServer>,
    /// The consumers its worker runs, one per queue of the topology it
    /// consumes (`map worker`, `map dev`).
    pub consumers: fn(&Worker<'_>) -> anyhow::Result<Vec<Consumer>>,
    /// Its timer handlers, added to the worker's timer worker by kind
    /// (`map worker`, `map dev`).
    pub timers: fn(TimerWorker, &Worker<'_>) -> TimerWorker,
    /// Whether it holds uploaded files (map-kit's `uploads`): its worker
    /// prunes the stale ones (`map worker`, `map dev`).
    pub holds_files: bool,
}

/// What a system's API is built from: its validated configuration, its
/// database, and for Auth the domain service opened by the caller (it needs
/// Auth's own settings, and `map dev` seeds it).
pub struct Api<'a> {
    /// The process's configuration.
    pub config: &'a ServiceConfig,
    /// The system's database.
    pub db: Db,
    /// Auth's domain service; `Some` when serving Auth.
    pub auth: Option<Arc<map_auth::Auth>>,
    /// The process's bus for live streams, once connected.
    pub live: map_kit::bus::live::Feed,
}

/// What a system's worker is built from: the process's validated
/// configuration, the system's database, the bus, and where Auth is.
pub struct Worker<'a> {
    /// The process's configuration.
    pub config: &'a ServiceConfig,
    /// The system's database.
    pub db: &'a Db,
    /// The event bus.
    pub bus: &'a Bus,
    /// Where its consumers call Auth where they must (every system but
    /// Auth has it).
    pub auth: Option<&'a crate::worker::AuthAccess>,
}

/// The consumer of `system`'s `<system>.user-sync` queue, keeping its
/// directory of Auth's users and departments (every system but Auth).
pub fn directory_consumer(system: System, db: &Db, bus: &Bus) -> anyhow::Result<Consumer> {
    use map_kit::{bus::ConsumerConfig, directory};
    let queue = directory::sync_queue(system)
        .ok_or_else(|| anyhow::anyhow!("{system} has no user-sync queue"))?;
    Ok(Consumer::new(
        queue,
        db.clone(),
        bus.clone(),
        directory::SyncHandler::new(),
        ConsumerConfig::default(),
    )?)
}

/// The registration of `system`.
pub fn of(system: System) -> &'static Module {
    match system {
        System::Auth => &auth::MODULE,
        System::Ams => &ams::MODULE,
        System::Bms => &bms::MODULE,
        System::Tts => &tts::MODULE,
        System::Hdts => &hdts::MODULE,
    }
}

#[cfg(test)]
mod tests {
    use map_kit::testing::TestDb;

    use super::*;

    /// Every system's registration works for every role: migrations apply
    /// to a fresh database, the API builds with policies that match the
    /// contracts, the worker's consumers build.
    #[tokio::test]
    async fn every_system_is_registered_for_every_role() {
        for system in System::ALL {
            let module = of(system);
            assert_eq!(module.system, system);
            let db = TestDb::empty(map_kit::testing::Backend::Sqlite).await;
            (module.migrate)(&db.url)
                .await
                .unwrap_or_else(|e| panic!("{system}: {e}"));
            let config = dev_config(system, &db);
            let auth = (system == System::Auth).then(|| {
                map_auth::Auth::new(
                    db.db.clone(),
                    map_auth::AuthSettings::with_keys(map_auth::Keyset::generate().0),
                )
            });
            let api = (module.api)(&Api {
                config: &config,
                db: db.db.clone(),
                auth,
                live: map_kit::bus::live::Feed::default(),
            })
            .unwrap_or_else(|e| panic!("{system}: {e}"));
            assert_eq!(api.check_policies(), Ok(()), "{system}");
            let bus = Bus::in_process("");
            let auth = crate::worker::AuthAccess {
                target: http::Uri::from_static("http://127.0.0.1:9").into(),
                api_key: secrecy::SecretString::from("mapk_registration_test"),
            };
            let worker = Worker {
                config: &config,
                db: &db.db,
                bus: &bus,
                auth: Some(&auth),
            };
            let consumers = (module.consumers)(&worker).unwrap_or_else(|e| panic!("{system}: {e}"));
            if system != System::Auth {
                assert!(!consumers.is_empty(), "{system} keeps its directory");
            }
            let timers = map_kit::timers::TimerWorker::new(
                db.db.clone(),
                map_kit::clock::Clock::system(),
                map_kit::timers::TimerWorkerConfig::default(),
            );
            let timers = format!("{:?}", (module.timers)(timers, &worker));
            assert_eq!(
                timers.contains(map_hdts::tickets::auto_close::KIND),
                system == System::Hdts,
                "{system}: {timers}"
            );
        }
    }

    fn dev_config(system: System, db: &TestDb) -> ServiceConfig {
        ServiceConfig {
            system,
            database_url: db.url.clone(),
            amqp_url: None,
            amqp_prefix: String::new(),
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            // As `map serve` requires of every system but Auth (nothing listens).
            auth: (system != System::Auth)
                .then(|| http::Uri::from_static("http://127.0.0.1:9").into()),
            auth_api_key: (system != System::Auth)
                .then(|| secrecy::SecretString::from("mapk_registration_test")),
            tls: None,
            shutdown_grace: std::time::Duration::from_secs(1),
            trusted_proxies: map_kit::client_addr::TrustedProxies::default(),
            page_tokens: Some(map_kit::paging::Pager::random()),
            uploads: map_kit::uploads::UploadLimits::default(),
            hdts_auto_close_after: Some(map_hdts::tickets::auto_close::DEFAULT_AFTER),
        }
    }
}
