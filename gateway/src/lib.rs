//! The gateway: Envoy-compatible grpc-web, gRPC pass-through, routing,
//! balancing, CORS, TLS, static files.
//!
//! - [`config`]: `MAP_*` variables and flags, validated before binding;
//! - [`listener`]: HTTP/1.1 + h2c on one port, or TLS with ALPN; drain;
//! - [`dispatch`]: preflight → gRPC/grpc-web call → static files;
//! - [`route`]: service name or `/system/` prefix → cluster;
//! - [`upstream`]: clusters, power-of-two-choices, health checks, DNS, ejection;
//! - [`grpc_web`], [`web_stream`] and [`web_body`]: Envoy's grpc-web framing,
//!   both directions, request bodies decoded as they stream;
//! - [`connect`]: the Connect protocol (unary JSON and binary, server
//!   streaming), turned into gRPC with the contracts' descriptors;
//! - [`status`]: trailers-only statuses and Envoy's HTTP → gRPC mapping;
//! - [`cors`], [`static_files`], [`local`] (own health + reflection), [`access_log`].
//!
//! The grpc-web translation is our own rather than tonic-web's: a proxy must
//! map non-gRPC upstream replies, keep trailers-only responses as headers,
//! refuse malformed bodies with a 400 (before anything is forwarded when
//! the body has arrived whole; while the upstream has not answered when it
//! streams), and
//! never put its translation in front of static files.
#![forbid(unsafe_code)]

pub mod access_log;
pub mod config;
pub mod connect;
pub mod cors;
pub mod dispatch;
pub mod grpc_web;
pub mod listener;
pub mod local;
pub mod route;
pub mod static_files;
pub mod status;
pub mod upstream;
pub mod web_body;
pub mod web_stream;

use std::future::Future;

pub use config::{GatewayArgs, GatewayConfig, UpstreamSpec};
pub use dispatch::{Gateway, GatewayError};
use tokio::net::TcpListener;

/// Builds the gateway of `config` and serves it on `listener` until
/// `shutdown` resolves (then drains for the configured grace).
pub async fn run(
    config: GatewayConfig,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), RunError> {
    let gateway = Gateway::new(&config).await?;
    listener::serve(
        gateway,
        listener,
        config.tls.clone(),
        config.limits,
        config.shutdown_grace,
        shutdown,
    )
    .await?;
    Ok(())
}

/// Errors running the gateway.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// It could not be built.
    #[error(transparent)]
    Build(#[from] GatewayError),
    /// The listener failed.
    #[error("listener: {0}")]
    Io(#[from] std::io::Error),
}
