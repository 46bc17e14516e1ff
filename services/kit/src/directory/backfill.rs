//! Filling and repairing the directory from Auth's listings: one full pass
//! through `ListDepartments` (inactive ones too) and `ListUsers`, page by
//! page, each page written in a short transaction of its own (no network
//! call inside a transaction).
//!
//! A pass writes what the directory lacks, holds older, or holds at the
//! same version but different (drift: a row edited by hand, a restored
//! backup); it never replaces a newer copy that an event brought meanwhile.
//! Users and departments are never deleted in Auth, so one that Auth no
//! longer lists is a sign of drift too: the pass marks it inactive (its
//! version unchanged, so Auth's next description repairs it) and keeps the
//! row, which records may still name. Only rows last changed before the
//! pass began (less [`CLOCK_SKEW_MARGIN`]) are marked, so a user created
//! while the pass ran is never mistaken for a missing one.

use std::{collections::HashSet, future::Future, time::Duration};

use chrono::Utc;
use map_contracts::auth::v1 as pb;
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _};

use super::{
    Directory, DirectoryError,
    entity::{departments, users},
    model::{self, Department, DirectoryUser},
    read,
    store::{self, Replace},
};
use crate::bus::backoff::Backoff;

/// How far Auth's clock may be ahead of this one, for the sweep of rows
/// Auth no longer lists.
pub const CLOCK_SKEW_MARGIN: Duration = Duration::from_secs(300);

/// What one pass did to one kind of row.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Rows Auth listed.
    pub listed: u64,
    /// Rows written: new, newer, or repaired at the same version.
    pub written: u64,
    /// Active rows Auth no longer lists, now marked inactive.
    pub missing: u64,
}

/// What one pass through Auth's listings did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    /// Users.
    pub users: Tally,
    /// Departments.
    pub departments: Tally,
}

fn auth_error(rpc: &'static str) -> impl FnOnce(tonic::Status) -> DirectoryError {
    move |status| DirectoryError::Auth {
        rpc,
        code: status.code(),
        message: status.message().to_owned(),
    }
}

impl Directory {
    /// One full pass; records the full-sync milestone when it completes.
    pub(super) async fn full_pass(&self) -> Result<SyncReport, DirectoryError> {
        let started = Utc::now();
        let cutoff = started
            - chrono::Duration::from_std(CLOCK_SKEW_MARGIN).unwrap_or(chrono::Duration::zero());
        let departments = self.sync_departments(cutoff).await?;
        let users = self.sync_users(cutoff).await?;
        store::record_full_sync(self.db.conn(), Utc::now()).await?;
        let report = SyncReport { users, departments };
        tracing::info!(?report, "directory matches auth");
        Ok(report)
    }

    async fn sync_departments(
        &self,
        cutoff: chrono::DateTime<Utc>,
    ) -> Result<Tally, DirectoryError> {
        let mut tally = Tally::default();
        let mut seen = HashSet::new();
        let mut token = String::new();
        loop {
            let page = self
                .departments
                .clone()
                .list_departments(pb::ListDepartmentsRequest {
                    page_size: self.page_size,
                    page_token: token,
                    order_by: String::new(),
                    show_inactive: true,
                })
                .await
                .map_err(auth_error("ListDepartments"))?
                .into_inner();
            let listed = page
                .departments
                .into_iter()
                .map(model::department_from_auth)
                .collect::<Result<Vec<_>, _>>()
                .map_err(DirectoryError::BadData)?;
            tally.listed += listed.len() as u64;
            seen.extend(listed.iter().map(|d| d.code.clone()));
            tally.written += self.write_departments(&listed).await?;
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let unlisted: Vec<String> = departments::Entity::find()
            .select_only()
            .column(departments::Column::Code)
            .filter(departments::Column::Active.eq(true))
            .filter(departments::Column::UpdatedAt.lt(cutoff))
            .into_tuple::<String>()
            .all(self.db.conn())
            .await?
            .into_iter()
            .filter(|code| !seen.contains(code))
            .collect();
        if !unlisted.is_empty() {
            tally.missing = store::deactivate_departments(self.db.conn(), &unlisted).await?;
            tracing::warn!(
                count = tally.missing,
                "departments unknown to auth marked inactive"
            );
        }
        Ok(tally)
    }

    async fn write_departments(&self, listed: &[Department]) -> Result<u64, DirectoryError> {
        let txn = self.db.begin_write().await?;
        let held: std::collections::HashMap<String, Department> = departments::Entity::find()
            .filter(departments::Column::Code.is_in(listed.iter().map(|d| d.code.clone())))
            .all(&txn)
            .await?
            .into_iter()
            .map(|d| (d.code.clone(), d))
            .collect();
        let mut written = 0;
        for d in listed {
            let needed = match held.get(&d.code) {
                None => true,
                Some(h) => {
                    h.version < d.version
                        || (h.version == d.version && model::department_differs(h, d))
                }
            };
            if needed && store::put_department(&txn, d, Replace::OlderOrSame).await? {
                written += 1;
            }
        }
        txn.commit().await?;
        Ok(written)
    }

    async fn sync_users(&self, cutoff: chrono::DateTime<Utc>) -> Result<Tally, DirectoryError> {
        let mut tally = Tally::default();
        let mut seen = HashSet::new();
        let mut token = String::new();
        loop {
            let page = self
                .users
                .clone()
                .list_users(pb::ListUsersRequest {
                    page_size: self.page_size,
                    page_token: token,
                    ..Default::default()
                })
                .await
                .map_err(auth_error("ListUsers"))?
                .into_inner();
            let listed = page
                .users
                .into_iter()
                .map(DirectoryUser::from_auth)
                .collect::<Result<Vec<_>, _>>()
                .map_err(DirectoryError::BadData)?;
            tally.listed += listed.len() as u64;
            seen.extend(listed.iter().map(|u| u.id.clone()));
            tally.written += self.write_users(&listed).await?;
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let unlisted: Vec<String> = users::Entity::find()
            .select_only()
            .column(users::Column::Id)
            .filter(users::Column::Active.eq(true))
            .filter(users::Column::UpdatedAt.lt(cutoff))
            .into_tuple::<String>()
            .all(self.db.conn())
            .await?
            .into_iter()
            .filter(|id| !seen.contains(id))
            .collect();
        if !unlisted.is_empty() {
            tally.missing = store::deactivate_users(self.db.conn(), &unlisted).await?;
            tracing::warn!(
                count = tally.missing,
                "users unknown to auth marked inactive"
            );
        }
        Ok(tally)
    }

    async fn write_users(&self, listed: &[DirectoryUser]) -> Result<u64, DirectoryError> {
        let txn = self.db.begin_write().await?;
        let ids: Vec<String> = listed.iter().map(|u| u.id.clone()).collect();
        let held: std::collections::HashMap<String, DirectoryUser> = read::users_by_ids(&txn, &ids)
            .await?
            .into_iter()
            .map(|u| (u.id.clone(), u))
            .collect();
        let mut written = 0;
        for u in listed {
            let needed = match held.get(&u.id) {
                None => true,
                Some(h) => h.version < u.version || (h.version == u.version && h.differs_from(u)),
            };
            if needed && store::put_user(&txn, u, Replace::OlderOrSame).await? {
                written += 1;
            }
        }
        txn.commit().await?;
        Ok(written)
    }

    /// Keeps the directory in step with Auth until `shutdown` resolves:
    /// first [`Directory::backfill_if_empty`], retried with backoff (1 s
    /// doubling up to `interval`) while Auth or the database is away, then
    /// a [`Directory::reconcile`] every `interval`. Failures are logged and
    /// retried; a pass cut short by `shutdown` leaves every page it wrote.
    pub async fn run_reconcile(self, interval: Duration, shutdown: impl Future<Output = ()>) {
        tokio::pin!(shutdown);
        let mut backoff = Backoff::new(Duration::from_secs(1).min(interval), interval);
        let mut filled = false;
        loop {
            let pass = async {
                if filled {
                    self.reconcile().await.map(|_| ())
                } else {
                    self.backfill_if_empty().await.map(|_| ())
                }
            };
            let result = tokio::select! {
                () = &mut shutdown => return,
                result = pass => result,
            };
            let wait = match result {
                Ok(()) => {
                    filled = true;
                    backoff.reset();
                    interval
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(%error, ?delay, "directory sync with auth failed; retrying");
                    delay
                }
            };
            tokio::select! {
                () = &mut shutdown => return,
                () = tokio::time::sleep(wait) => {}
            }
        }
    }
}
