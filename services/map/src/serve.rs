//! `map serve` and `map migrate`: one system per process.

use anyhow::Context as _;
use map_kit::{
    System,
    config::{LogArgs, ServiceArgs, ServiceConfig},
    db,
    server::{GrpcServer, shutdown_signal},
    telemetry,
};
use tokio::net::TcpListener;

/// Applies the system's migrations.
pub async fn migrate_system(system: System, url: &secrecy::SecretString) -> anyhow::Result<()> {
    use map_migrations as m;
    let result = match system {
        System::Auth => db::migrate::<m::auth::Migrator>(url).await,
        System::Ams => db::migrate::<m::ams::Migrator>(url).await,
        System::Bms => db::migrate::<m::bms::Migrator>(url).await,
        System::Tts => db::migrate::<m::tts::Migrator>(url).await,
        System::Hdts => db::migrate::<m::hdts::Migrator>(url).await,
    };
    result.with_context(|| format!("migrating {system}"))
}

/// The gRPC server of one system, wired to its dependencies. `auth` is
/// Auth's domain service, required when `config.system` is Auth.
pub async fn build_server(
    config: &ServiceConfig,
    auth: Option<std::sync::Arc<map_auth::Auth>>,
) -> anyhow::Result<GrpcServer> {
    let server = match config.system {
        System::Auth => {
            map_auth::grpc_server(auth.context("auth is served with its domain service")?)
        }
        // Systems whose issue has not landed answer UNIMPLEMENTED, naming themselves.
        other => GrpcServer::new(other.name()).scaffold(other),
    };
    Ok(server.tls(config.tls.clone()).grace(config.shutdown_grace))
}

pub async fn serve(
    system: System,
    args: &ServiceArgs,
    auth_args: &map_auth::AuthArgs,
    log: &LogArgs,
) -> anyhow::Result<()> {
    let config = args.validate(system, true)?;
    // A serving process mints page tokens every replica must accept.
    let pager = config.pager()?;
    // Auth's keys and settings are validated before anything is bound too.
    let auth_settings = match system {
        System::Auth => Some(auth_args.validate(config.trusted_proxies.clone(), pager)?),
        _ => None,
    };
    let guard = telemetry::init(&format!("map-{system}"), log.log_format, &log.log)?;
    let auth = match auth_settings {
        Some(settings) => Some(crate::auth::open(&config.database_url, settings).await?),
        None => None,
    };
    let server = build_server(&config, auth).await?;
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let result = server.serve(listener, shutdown_signal()).await;
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(result?)
}

pub async fn migrate(system: System, args: &ServiceArgs, log: &LogArgs) -> anyhow::Result<()> {
    let config = args.validate(system, true)?;
    let guard = telemetry::init(&format!("map-migrate-{system}"), log.log_format, &log.log)?;
    let result = migrate_system(system, &config.database_url).await;
    if result.is_ok() {
        tracing::info!(%system, "migrations applied");
    }
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    result
}
