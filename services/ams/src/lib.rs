//! Asset management (AMS).
//!
//! - [`categories`]: kinds of asset, each with an immutable code (what
//!   budget lines and events name) and depreciation defaults;
//! - [`assets`]: the register and its ledger — registration, the status
//!   machine's moves (check-out to a user or a location, check-in,
//!   transfer, repair, retirement, loss, disposal) each written as an
//!   immutable transaction in the same conditional update that moves the
//!   asset, maintenance, cost corrections, listings and depreciation
//!   schedules; `ams.asset.*` events carry the whole asset and its version;
//! - [`depreciation`]: exact schedules in minor units (pure);
//! - [`import`]: CSV files of assets read chunk by chunk from an upload,
//!   every bad row reported in the response;
//! - [`overdue`]: `ams.asset.overdue` once per overdue checkout, through
//!   map-kit's timers;
//! - [`budget_bookings`]: what BMS booked for each asset (the line that
//!   paid), kept from `bms.expense.*`, shown by GetAsset;
//! - [`custodians`]: assets held by a user Auth deactivates are flagged for
//!   recovery, by the directory's reaction;
//! - [`entity`]: the sea-orm entities of AMS's tables;
//! - [`grpc`]: the tonic adapter and its access policy;
//! - [`AmsError`]: the domain's errors.
#![forbid(unsafe_code)]

pub mod assets;
#[cfg(feature = "bench")]
pub mod bench;
pub mod budget_bookings;
pub mod categories;
pub mod custodians;
pub mod depreciation;
pub mod entity;
pub mod error;
pub mod grpc;
pub mod import;
pub mod overdue;

pub use error::AmsError;
pub use grpc::grpc_server;
