//! `map serve` and `map migrate`: one system per process, as registered in
//! [`crate::systems`].

use anyhow::Context as _;
use map_kit::{
    System,
    bus::live::Feed,
    config::{LogArgs, ServiceArgs, ServiceConfig},
    db::Db,
    server::{GrpcServer, Readiness, shutdown_signal},
    telemetry,
};

use crate::systems::{self, Api};
use tokio::net::TcpListener;

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
    // Live streams read the database until a bus is connected (none yet
    // here: they poll).
    let server = build_server(&config, &db, auth, Feed::default())?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let result = server.serve(listener, shutdown_signal()).await;
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(result?)
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
