//! map-kit: the one place for what every MAP system shares.
//!
//! - [`authn`]: validating callers through Auth, roles per system;
//! - [`authz`]: who may call each RPC, one policy table per service, checked
//!   against the contracts before a server starts;
//! - [`bus`]: the event backbone (relay, consumers, AMQP, in-process);
//! - [`client_addr`]: the client address behind trusted proxies (CIDR ranges);
//! - [`clock`]: the time of day, injectable (system clock, or a manual one
//!   that tests set and advance);
//! - [`config`]: typed configuration from `MAP_*` variables and flags, validated
//!   before any port is bound;
//! - [`telemetry`]: tracing (pretty or JSON) and OTLP export;
//! - [`db`]: PostgreSQL or SQLite connections, migrations under a lock,
//!   IMMEDIATE write transactions on SQLite;
//! - [`server`]: the gRPC bootstrap (h2c or TLS, health, reflection, graceful
//!   shutdown with a bounded drain);
//! - [`error`]: the small set of API error kinds and their `google.rpc` details;
//!   [`Violations`] collects a request's bad fields (required, length,
//!   email, UUID checks);
//! - [`outbox`]: events written in the same transaction as the state change;
//! - [`paging`]: page sizes and authenticated page tokens with typed keyset
//!   cursors, for every List RPC;
//! - [`system`]: the five systems, their ports and services;
//! - [`wire`]: timestamp, duration, date, money and field-mask conversions
//!   between the contracts and the domain, errors naming the field;
//! - `testing` (feature): a fresh database and a port-0 server per test.
#![forbid(unsafe_code)]

pub mod authn;
pub mod authz;
pub mod bus;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod db;
pub mod error;
pub mod outbox;
pub mod paging;
pub mod server;
pub mod system;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
mod violations;
pub mod wire;

pub use error::{ApiError, FieldViolation, Reason};
pub use system::System;
pub use violations::Violations;

/// Installs ring as the process-wide rustls crypto provider. Every TLS user
/// (the servers, the gateway, lapin, sqlx, the OTLP exporter) shares it.
/// Calling it more than once is harmless.
pub fn install_crypto_provider() {
    // Err means a provider is already installed, which is what we want.
    let _ = rustls::crypto::ring::default_provider().install_default();
}
