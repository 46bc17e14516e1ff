//! `map serve` and `map migrate`: one system per process, as registered in
//! [`crate::systems`]. Given `MAP_AMQP_URL` on PostgreSQL, `map serve` also
//! relays its own commits (see [`own_relay`]).

use std::time::Duration;

use anyhow::Context as _;
use map_kit::{
    System,
    bus::{Bus, Relay, RelayConfig, live::Feed},
    config::{LogArgs, ServiceArgs, ServiceConfig},
    db::Db,
    server::{GrpcServer, Readiness, shutdown_signal},
    telemetry,
};
use sea_orm::DatabaseBackend;
use tokio::{net::TcpListener, sync::watch};

use crate::systems::{self, Api};

/// Applies the system's migrations.
pub async fn migrate_system(system: System, url: &secrecy::SecretString) -> anyhow::Result<()> {
    (systems::of(system).migrate)(url)
        .await
        .with_context(|| format!("migrating {system}"))
}

/// The gRPC server of one system over its database (readiness follows it),
/// with TLS and the drain limit of `config`. `auth` is Auth's domain
/// service, required when `config.system` is Auth; `live` feeds its live
/// streams once the process's bus is connected.
pub fn build_server(
    config: &ServiceConfig,
    db: &Db,
    auth: Option<std::sync::Arc<map_auth::Auth>>,
    live: Feed,
) -> anyhow::Result<GrpcServer> {
    let server = (systems::of(config.system).api)(&Api {
        config,
        db: db.clone(),
        auth,
        live,
    })?;
    Ok(server
        .tls(config.tls.clone())
        .grace(config.shutdown_grace)
        .readiness(Readiness::of(db.clone())))
}

pub async fn serve(
    system: System,
    args: &ServiceArgs,
    auth_args: &map_auth::AuthArgs,
    health_listen: Option<std::net::SocketAddr>,
    check: crate::cli::CheckConfig,
    log: &LogArgs,
) -> anyhow::Result<()> {
    let config = args.validate(system, true)?;
    config.require_auth()?;
    // A serving process mints page tokens every replica must accept.
    let pager = config.pager()?;
    // Auth's keys and settings are validated before anything is bound too.
    let auth_settings = match system {
        System::Auth => Some(auth_args.validate(config.trusted_proxies.clone(), pager)?),
        _ => None,
    };
    if check.done(&format!("serve {system}")) {
        return Ok(());
    }
    let guard = telemetry::init(&format!("map-{system}"), log.log_format, &log.log)?;
    let db = Db::connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to {system}'s database"))?;
    let auth = match auth_settings {
        Some(settings) => Some(crate::auth::open(&db, settings).await),
        None => None,
    };
    // Live streams read the database until the relay's bus is connected
    // (below), then follow it.
    let live = Feed::default();
    let server = build_server(&config, &db, auth, live.clone())?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let (stop_relay, relay_stopped) = watch::channel(false);
    let health = match health_listen {
        Some(addr) => {
            let health_listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("binding {addr} (MAP_HEALTH_LISTEN)"))?;
            let mut stopped = relay_stopped.clone();
            Some(tokio::spawn(crate::health_port::serve(
                health_listener,
                server.health_reporter(),
                async move {
                    let _ = stopped.wait_for(|s| *s).await;
                },
            )))
        }
        None => None,
    };
    let relay = own_relay(&config, &db, relay_stopped, live);
    let result = server.serve(listener, shutdown_signal()).await;
    // The relay outlives the drain, so what in-flight calls committed goes
    // out at once; what it leaves, the worker's relay publishes.
    let _ = stop_relay.send(true);
    if let Some(relay) = relay {
        let _ = tokio::time::timeout(RELAY_STOP, relay).await;
    }
    if let Some(health) = health
        && let Ok(Ok(Err(e))) = tokio::time::timeout(RELAY_STOP, health).await
    {
        tracing::error!(error = %e, "health port failed");
    }
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(result?)
}

/// Longest wait for the API's relay to finish its batch at shutdown.
const RELAY_STOP: Duration = Duration::from_secs(5);
/// Longest pause between attempts to reach RabbitMQ for the API's relay.
const RELAY_CONNECT_MAX: Duration = Duration::from_secs(30);

/// The API relays its own commits when it is given `MAP_AMQP_URL` on
/// PostgreSQL: an enqueue in this process wakes the relay, so an event goes
/// out as soon as its transaction commits instead of at the worker relay's
/// next idle poll (up to `RelayConfig::poll_interval` later). The worker's
/// relay keeps running: several relays share the outbox through `FOR UPDATE
/// SKIP LOCKED` claims, and it publishes whatever this one has not (the API
/// cannot reach the broker, or it stopped). SQLite has no row locks, so its
/// one relay stays in the worker; without the URL nothing changes.
///
/// The broker is reached in the background, retried with backoff: the API
/// serves (and its events wait in the outbox) whether RabbitMQ is up or not.
/// Once connected, the same bus feeds the API's live streams (`live`).
fn own_relay(
    config: &ServiceConfig,
    db: &Db,
    mut stop: watch::Receiver<bool>,
    live: Feed,
) -> Option<tokio::task::JoinHandle<()>> {
    let url = config.amqp_url.clone()?;
    if db.backend() != DatabaseBackend::Postgres {
        tracing::info!("the api relays no events on sqlite: its worker does");
        return None;
    }
    let (system, prefix, db) = (config.system, config.amqp_prefix.clone(), db.clone());
    Some(tokio::spawn(async move {
        let mut pause = Duration::from_millis(500);
        let bus = loop {
            match Bus::connect(Some(&url), &prefix).await {
                Ok(bus) => break bus,
                Err(error) => {
                    tracing::warn!(%error, ?pause, "the api's relay cannot reach rabbitmq yet; the worker's relay publishes meanwhile");
                }
            }
            tokio::select! {
                _ = stop.wait_for(|s| *s) => return,
                () = tokio::time::sleep(pause) => {}
            }
            pause = (pause * 2).min(RELAY_CONNECT_MAX);
        };
        live.set(bus.clone());
        let relay = Relay::new(system, db, bus.clone(), RelayConfig::default());
        relay
            .run(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await;
        bus.close().await;
    }))
}

pub async fn migrate(
    system: System,
    args: &ServiceArgs,
    check: crate::cli::CheckConfig,
    log: &LogArgs,
) -> anyhow::Result<()> {
    let config = args.validate(system, true)?;
    if check.done(&format!("migrate {system}")) {
        return Ok(());
    }
    let guard = telemetry::init(&format!("map-migrate-{system}"), log.log_format, &log.log)?;
    let result = migrate_system(system, &config.database_url).await;
    if result.is_ok() {
        tracing::info!(%system, "migrations applied");
    }
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    result
}
