//! The help desk: its migrator and its API — HelpDeskService (help topics,
//! tickets, replies, the requester's lifecycle, attachments) and
//! UploadService — with callers validated by Auth. Its worker keeps the
//! directory, mirrors the TTS side of each ticket, closes the tickets left
//! resolved (`MAP_HDTS_AUTO_CLOSE_AFTER`) and prunes stale uploads.

use std::sync::Arc;

use anyhow::Context as _;
use map_hdts::{
    tickets::{
        HelpDesk,
        auto_close::{self, AutoClose},
        mirror,
    },
    topics::Topics,
};
use map_kit::{
    System,
    authn::{Authenticator, CacheConfig},
    bus::{Consumer, ConsumerConfig},
    clock::Clock,
};

use super::Module;

pub(super) static MODULE: Module = Module {
    system: System::Hdts,
    migrate: |url| Box::pin(map_kit::db::migrate::<map_migrations::hdts::Migrator>(url)),
    api: |api| {
        let config = api.config;
        let auth_url = config.auth.as_ref().context("hdts needs MAP_AUTH_URL")?;
        let pager = config.pager()?;
        let topics = Topics::new(api.db.clone(), Clock::system(), pager.clone());
        let desk = HelpDesk::new(api.db.clone(), Clock::system(), pager)
            .with_upload_limits(config.uploads)
            .with_auto_close(config.hdts_auto_close_after);
        let validator = Arc::new(Authenticator::connect_lazy(
            auth_url,
            CacheConfig::default(),
        ));
        Ok(map_hdts::grpc_server(topics, desk, validator))
    },
    consumers: |w| {
        let (db, bus) = (w.db, w.bus);
        let auto_close = AutoClose::new(w.config.hdts_auto_close_after, Clock::system());
        Ok(vec![
            super::directory_consumer(System::Hdts, db, bus)?,
            Consumer::new(
                mirror::QUEUE,
                db.clone(),
                bus.clone(),
                mirror::Mirror::new(auto_close),
                ConsumerConfig::default(),
            )?,
        ])
    },
    timers: |worker, w| {
        let auto_close = AutoClose::new(w.config.hdts_auto_close_after, Clock::system());
        match auto_close.closer() {
            Some(closer) => worker.handle(auto_close::KIND, closer),
            None => worker,
        }
    },
    holds_files: true,
};
