//! [`Auth`]: the identity backbone's domain service. One value per process,
//! shared by the gRPC adapter, the in-process validator and the command line
//! (`map admin`). Its operations live in one module per concern (`users`,
//! `sessions`, `validation`, `api_keys`, `roles`, `round_robin`,
//! `bootstrap`); this module holds the state they share.

use std::sync::Arc;

use map_kit::{System, db::Db, outbox::Outbox, paging::Pager};

use crate::{
    config::AuthSettings, password::Passwords, rate_limit::RateLimiter, validation::ValidationCache,
};

/// The Auth domain service.
#[derive(Debug)]
pub struct Auth {
    pub(crate) db: Db,
    pub(crate) settings: AuthSettings,
    pub(crate) outbox: Outbox,
    pub(crate) passwords: Passwords,
    pub(crate) limiter: RateLimiter,
    pub(crate) cache: ValidationCache,
}

impl Auth {
    /// The service over a migrated auth database.
    pub fn new(db: Db, settings: AuthSettings) -> Arc<Auth> {
        Arc::new(Auth {
            limiter: RateLimiter::new(settings.login_rate),
            cache: ValidationCache::new(settings.validation_cache_ttl, settings.clock.clone()),
            outbox: Outbox::new(System::Auth).with_clock(settings.clock.clone()),
            passwords: Passwords::default(),
            db,
            settings,
        })
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// The settings.
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// The current time on the settings' clock.
    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.settings.clock.now()
    }

    /// Mints and opens the List RPCs' page tokens (`MAP_PAGE_TOKEN_KEY`).
    pub(crate) fn pager(&self) -> &Pager {
        &self.settings.pager
    }

    /// Prepares what the first requests would otherwise pay for (the dummy
    /// password hash that keeps unknown-email logins as slow as wrong
    /// passwords).
    pub async fn warm_up(&self) {
        self.passwords.warm_up().await;
    }
}
