//! `map gateway`: the platform's entry point for browsers and gRPC clients.

use anyhow::Context as _;
use map_gateway::GatewayArgs;
use map_kit::{config::LogArgs, server::shutdown_signal, telemetry};
use tokio::net::TcpListener;

pub async fn run(
    args: &GatewayArgs,
    check: crate::cli::CheckConfig,
    log: &LogArgs,
) -> anyhow::Result<()> {
    // Everything is checked (and TLS files read) before the port is bound.
    let config = args.validate()?;
    if check.done("gateway") {
        return Ok(());
    }
    let guard = telemetry::init("map-gateway", log.log_format, &log.log)?;
    for system in map_kit::System::ALL {
        if !config.clusters.contains_key(&system) {
            tracing::warn!(%system, "no upstream configured: its calls answer UNAVAILABLE");
        }
    }
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let result = map_gateway::run(config, listener, shutdown_signal()).await;
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(result?)
}
