//! The help desk: its migrator and its API — HelpDeskService with the help
//! topics served and the ticket RPCs answering UNIMPLEMENTED until they land —
//! with callers validated by Auth. Its worker keeps the directory.

use std::sync::Arc;

use anyhow::Context as _;
use map_hdts::topics::Topics;
use map_kit::{
    System,
    authn::{Authenticator, CacheConfig},
    clock::Clock,
};

use super::Module;

pub(super) static MODULE: Module = Module {
    system: System::Hdts,
    migrate: |url| Box::pin(map_kit::db::migrate::<map_migrations::hdts::Migrator>(url)),
    api: |api| {
        let config = api.config;
        let auth_url = config
            .auth_url
            .as_ref()
            .context("hdts needs MAP_AUTH_URL")?;
        let topics = Topics::new(api.db.clone(), Clock::system(), config.pager()?);
        let validator = Arc::new(Authenticator::connect_lazy(
            auth_url,
            CacheConfig::default(),
        ));
        Ok(map_hdts::grpc_server(topics, validator))
    },
    consumers: |db, bus| super::directory_consumer(System::Hdts, db, bus).map(|c| vec![c]),
    timers: |worker, _, _| worker,
};
