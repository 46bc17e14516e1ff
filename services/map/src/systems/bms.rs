//! Budget management: its migrator and its API — BudgetService,
//! ExpenseService and ReportService, with callers validated by Auth
//! (ProposalService and ApprovalPolicyService are listed as scaffolds until
//! they land). Its worker keeps the directory of Auth's users and
//! departments and books AMS's purchases, maintenance and cost corrections
//! (`bms.asset-expenses`).

use std::sync::Arc;

use anyhow::Context as _;
use map_bms::{
    bookings::{self, Bookings},
    budgets::Budgets,
    expenses::Expenses,
    fiscal_years::FiscalYears,
    reports::Reports,
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
        let fiscal_years = FiscalYears::new(api.db.clone(), Clock::system(), pager.clone());
        let budgets = Budgets::new(api.db.clone(), Clock::system(), pager.clone());
        let expenses = Expenses::new(api.db.clone(), Clock::system(), pager);
        let reports = Reports::new(api.db.clone(), Clock::system());
        let validator = Arc::new(Authenticator::connect_lazy(
            auth_url,
            CacheConfig::default(),
        ));
        Ok(map_bms::grpc_server(
            fiscal_years,
            budgets,
            expenses,
            reports,
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
