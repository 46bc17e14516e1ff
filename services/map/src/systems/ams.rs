//! Asset management: its migrator and its API — CategoryService,
//! AssetService and UploadService (the CSV files ImportAssets reads) — with
//! callers validated by Auth. Its worker keeps the directory (flagging the
//! assets of users Auth deactivates), keeps what BMS booked for each asset
//! (`ams.budget-bookings`), fires the overdue timers (`ams.asset.overdue`)
//! and prunes stale uploads.

use std::sync::Arc;

use anyhow::Context as _;
use map_ams::{
    assets::Assets,
    budget_bookings::{self, BudgetBookings},
    categories::Categories,
    custodians::FlagDeactivatedHolders,
    overdue,
};
use map_kit::{
    System,
    authn::{Authenticator, CacheConfig},
    bus::{Consumer, ConsumerConfig},
    clock::Clock,
    directory,
    uploads::{UploadLimits, Uploads},
};

use super::Module;

/// The smallest upload limit AMS works with: a 100,000-row CSV file of
/// assets is about 15 MiB, more than the platform's default attachment
/// limit.
const MIN_IMPORT_BYTES: u64 = 64 << 20;

pub(super) static MODULE: Module = Module {
    system: System::Ams,
    migrate: |url| Box::pin(map_kit::db::migrate::<map_migrations::ams::Migrator>(url)),
    api: |api| {
        let config = api.config;
        let auth_url = config.auth.as_ref().context("ams needs MAP_AUTH_URL")?;
        let pager = config.pager()?;
        let limits = UploadLimits {
            max_file_bytes: config.uploads.max_file_bytes.max(MIN_IMPORT_BYTES),
        };
        let uploads = Uploads::new(System::Ams, api.db.clone(), Clock::system(), limits);
        let categories = Categories::new(api.db.clone(), Clock::system(), pager.clone());
        let assets = Assets::new(api.db.clone(), Clock::system(), pager, uploads);
        let validator = Arc::new(Authenticator::connect_lazy(
            auth_url,
            CacheConfig::default(),
        ));
        Ok(map_ams::grpc_server(categories, assets, validator))
    },
    consumers: |w| {
        let queue = directory::sync_queue(System::Ams).context("ams has no user-sync queue")?;
        Ok(vec![
            Consumer::new(
                queue,
                w.db.clone(),
                w.bus.clone(),
                directory::SyncHandler::new().with_reaction(FlagDeactivatedHolders),
                ConsumerConfig::default(),
            )?,
            Consumer::new(
                budget_bookings::QUEUE,
                w.db.clone(),
                w.bus.clone(),
                BudgetBookings,
                ConsumerConfig::default(),
            )?,
        ])
    },
    timers: |worker, _| worker.handle(overdue::KIND, overdue::Overdue::new(Clock::system())),
    holds_files: true,
};
