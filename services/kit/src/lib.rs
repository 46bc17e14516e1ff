//! map-kit: the one place for what every MAP system shares.
//!
//! - [`asset_tags`]: AMS asset tags named by other systems' tickets, checked
//!   alike everywhere and matched ignoring case;
//! - [`authn`]: validating callers through Auth, roles per system, and
//!   Auth's `GetUserInfo` / `BatchGetUserInfo` behind a short cache
//!   ([`authn::UserLookup`]);
//! - [`authz`]: who may call each RPC, one policy table per service, checked
//!   against the contracts before a server starts;
//! - [`bus`]: the event backbone (relay, consumers, AMQP, in-process) and
//!   live watches for streams across replicas ([`bus::Bus::watch`]);
//! - [`client_addr`]: the client address behind trusted proxies (CIDR ranges);
//! - [`clock`]: the time of day, injectable (system clock, or a manual one
//!   that tests set and advance);
//! - [`counters`]: people-facing numbers (`TT-000123`) without gaps or
//!   duplicates, taken in the creating transaction;
//! - [`config`]: typed configuration from `MAP_*` variables and flags, validated
//!   before any port is bound;
//! - [`telemetry`]: tracing (pretty or JSON) and OTLP export;
//! - [`domain_error!`]: the error type of every system's domain, its
//!   kinds turned into gRPC statuses alike;
//! - [`db`]: PostgreSQL or SQLite connections, migrations under a lock,
//!   IMMEDIATE write transactions on SQLite;
//! - [`directory`]: the local copy of Auth's users and departments kept by
//!   every other system: the `<system>.user-sync` handler, the backfill and
//!   reconcile through `ListUsers` / `ListDepartments`, and the reads;
//! - [`server`]: the gRPC bootstrap (h2c or TLS, health with readiness and
//!   liveness, reflection, graceful shutdown with a bounded drain that ends
//!   streams at once);
//! - [`error`]: the small set of API error kinds and their `google.rpc` details;
//!   [`Violations`] collects a request's bad fields (required, length,
//!   email, UUID checks);
//! - [`idempotency`]: a request's `request_id` remembered with its answer, so a
//!   retry changes nothing and gets the first answer;
//! - [`outbox`]: events written in the same transaction as the state change;
//!   rows the broker keeps refusing are set aside and re-driven by an operator;
//! - [`paging`]: page sizes and authenticated page tokens with typed keyset
//!   cursors, for every List RPC;
//! - [`system`]: the five systems, their ports and services;
//! - [`timers`]: persisted due work, fired exactly once with its handler's
//!   writes, shared by concurrent workers on PostgreSQL;
//! - [`uploads`]: files uploaded in chunks through unary calls (browsers
//!   over grpc-web), checked (SHA-256, content type against the bytes),
//!   stored in the system's database, attached by `FileRef`, streamed back,
//!   and pruned when never finished or never used;
//! - [`wire`]: timestamp, duration, date, money and field-mask conversions
//!   between the contracts and the domain, errors naming the field;
//! - `testing` (feature): a fresh database and a port-0 server per test.
//!
//! # Time
//!
//! Code that stores a time or compares one with a stored time takes a
//! [`clock::Clock`] (`Clock::system()` in production) instead of calling
//! `Utc::now()`; tests hand it a [`clock::ManualClock`] and move time instead
//! of waiting. The relay ([`bus::Relay::with_clock`]), the outbox
//! ([`outbox::Outbox::with_clock`]), the [`authn::Authenticator`]'s cache,
//! the timers and Auth (`AuthSettings::clock`) all do.
//!
//! ```
//! # use std::time::Duration;
//! use map_kit::clock::ManualClock;
//! let manual = ManualClock::at_system_time();
//! let (clock, t0) = (manual.clock(), manual.now());
//! manual.advance(Duration::from_secs(90));
//! assert_eq!(clock.now() - t0, chrono::Duration::seconds(90));
//! ```
//!
//! # Claiming work
//!
//! The relay and the timer workers claim their rows through one helper
//! (`claim`): `SELECT … FOR UPDATE SKIP LOCKED` in a transaction on
//! PostgreSQL, so any number of workers share the rows without taking one
//! twice; on SQLite, which has no row locks, a single claimer per database.
//! The relay claims with a plain read there and marks its rows in a new
//! short write transaction after the broker confirmed (a slow broker never
//! holds SQLite's write lock); the timers claim inside the write transaction
//! their handlers write in.
//!
//! # Timers
//!
//! [`timers::Timers`] schedules, re-arms and cancels a timer by (kind,
//! subject) in the caller's transaction; a [`timers::TimerWorker`] fires the
//! due ones, each handler's writes committing with the timer's completion,
//! and retries a failing handler with backoff (attempts counted on the row).
//!
//! ```no_run
//! # use std::time::Duration;
//! # use map_kit::{clock::Clock, db::Db, timers::*};
//! # struct Breach;
//! # #[async_trait::async_trait]
//! # impl TimerHandler for Breach {
//! #     async fn fire(&self, _: &Timer, _: &sea_orm::DatabaseTransaction) -> Result<(), FireError> { Ok(()) }
//! # }
//! # async fn example(db: Db, shutdown: impl std::future::Future<Output = ()>) -> Result<(), sea_orm::DbErr> {
//! let clock = Clock::system();
//! let txn = db.begin_write().await?;
//! let due = clock.now() + Duration::from_secs(3600);
//! Timers::new(clock.clone())
//!     .schedule(&txn, "tts.sla.breach", "ticket-1", due, Vec::new())
//!     .await?;
//! txn.commit().await?;
//! TimerWorker::new(db, clock, TimerWorkerConfig::default())
//!     .handle("tts.sla.breach", Breach)
//!     .run(shutdown)
//!     .await;
//! # Ok(()) }
//! ```
//!
//! # A relay that one bad row cannot slow
//!
//! A row the broker refuses (returned as unroutable, or nacked) waits for
//! its own retry time instead of taking a place in every batch, and after
//! [`bus::RelayConfig::set_aside_after`] refusals it is set aside
//! (`set_aside_at`, counted by [`outbox::count_set_aside`]) until an
//! operator re-drives it. An unreachable broker never sets a row aside; the
//! relay backs off only when nothing of a batch was published.
//!
//! ```no_run
//! # async fn example(db: map_kit::db::Db) -> Result<(), sea_orm::DbErr> {
//! // `map admin outbox retry`
//! let put_back: u64 = map_kit::outbox::retry_set_aside(&db).await?;
//! assert_eq!(map_kit::outbox::count_set_aside(&db).await?, 0);
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]

pub mod asset_tags;
pub mod authn;
pub mod authz;
pub mod bus;
mod claim;
pub mod client_addr;
pub mod clock;
pub mod config;
pub mod counters;
pub mod db;
pub mod directory;
pub mod domain_error;
pub mod error;
pub mod idempotency;
pub mod outbox;
pub mod paging;
pub mod server;
pub mod system;
pub mod telemetry;
#[cfg(feature = "testing")]
pub mod testing;
pub mod timers;
pub mod uploads;
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
