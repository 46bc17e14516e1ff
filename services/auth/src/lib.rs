//! Auth, the identity backbone: users, roles per system, tokens, API keys,
//! round-robin assignees.
//!
//! - [`Auth`] is the domain service (no tonic in it); its operations live in
//!   one module per concern: [`users`], [`departments`], [`sessions`], [`validation`],
//!   [`api_keys`], [`roles`], [`round_robin`], [`bootstrap`];
//! - [`grpc`] adapts it to `map.auth.v1.AuthService` and `AdminService`
//!   and builds the server ([`grpc_server`]);
//! - [`config`] holds Auth's own flags (`MAP_AUTH_SIGNING_KEY`, token
//!   lifetimes, lockout, rate limit, cache TTL);
//! - [`keys`] signs and verifies access tokens (EdDSA JWTs), [`secrets`]
//!   makes API keys and refresh tokens, [`password`] hashes with argon2id.
#![forbid(unsafe_code)]

pub mod api_keys;
pub mod bootstrap;
pub mod config;
pub mod departments;
pub mod entity;
mod error;
pub mod grpc;
pub mod keys;
mod lockout;
pub mod password;
pub mod rate_limit;
pub mod roles;
pub mod round_robin;
pub mod secrets;
mod service;
pub mod sessions;
pub mod users;
pub mod validation;

pub use config::{AuthArgs, AuthSettings};
pub use error::AuthError;
pub use grpc::grpc_server;
pub use keys::Keyset;
pub use service::Auth;
