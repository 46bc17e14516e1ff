//! Budget management: its migrator and its API — BudgetService,
//! ExpenseService, ReportService, ProposalService and
//! ApprovalPolicyService, with callers validated by Auth. Its worker keeps the directory of Auth's users and
//! departments and books AMS's purchases, maintenance and cost corrections
//! (`bms.asset-expenses`).

use std::sync::Arc;

use anyhow::Context as _;
use map_bms::{
    bookings::{self, Bookings},
    grpc::Domain,
};
use map_kit::{
    System,
    authn::{Authenticator, CacheConfig},
    bus::{Consumer, ConsumerConfig},
    clock::Clock,
};

use super::Module;

pub(super) static MODULE: Module = Module {
    system: System::Bms,
    migrate: |url| Box::pin(map_kit::db::migrate::<map_migrations::bms::Migrator>(url)),
    api: |api| {
        let config = api.config;
        let auth_url = config.auth.as_ref().context("bms needs MAP_AUTH_URL")?;
        let pager = config.pager()?;
        let validator = Arc::new(Authenticator::connect_lazy(
            auth_url,
            CacheConfig::default(),
        ));
        Ok(map_bms::grpc_server(
            Domain::new(&api.db, &Clock::system(), &pager),
            validator,
        ))
    },
    consumers: |w| {
        let (db, bus) = (w.db, w.bus);
        Ok(vec![
            super::directory_consumer(System::Bms, db, bus)?,
            Consumer::new(
                bookings::QUEUE,
                db.clone(),
                bus.clone(),
                Bookings::new(Clock::system()),
                ConsumerConfig::default(),
            )?,
        ])
    },
    timers: |worker, _| worker,
    holds_files: false,
};
