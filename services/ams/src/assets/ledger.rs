//! The moves of the status machine: check-out (to a user or a location),
//! check-in, transfer, repair, retirement, loss and disposal.
//!
//! Each move reads the asset, checks the move against its status (and the
//! etag, when the caller sent one), and writes the moved asset with one
//! conditional update on the version it read, then its ledger entry, its
//! event and its overdue timer, all in one transaction. Two racing moves
//! cannot both match the version: the loser reads the asset again — on
//! PostgreSQL its next statement sees the winner's commit; SQLite's write
//! transactions take turns — and is refused if its move is no longer legal.

use chrono::{DateTime, Utc};
use map_contracts::{ams::v1 as pb, events::v1 as ev};
use map_kit::{
    System, Violations,
    authn::Principal,
    idempotency::Idempotent,
    outbox::NewEvent,
    wire::{
        date::date,
        etag::check_etag,
        time::{from_timestamp, timestamp},
    },
};
use sea_orm::{ColumnTrait as _, DatabaseTransaction, EntityTrait as _, QueryFilter as _};

use super::{
    Asset, Assets, Kind, MAX_TEXT, Status, Transaction, actor_ref, find, register, snapshot,
    stored_disposal, to_proto, transaction_to_proto, user_ref,
};
use crate::{
    AmsError, categories,
    depreciation::{Basis, book_value_at},
    entity::{asset_transactions, assets},
    overdue,
};

/// Longest ledger note.
pub const MAX_NOTE: usize = 2000;
/// Times a move reads the asset again after losing a race to a move that
/// left it legal (two transfers, say) before giving up with ABORTED.
const ATTEMPTS: usize = 3;

/// What a move writes, planned from the asset as read.
pub(crate) struct Planned {
    /// The asset after the move (version and update time advanced).
    pub next: Asset,
    /// Its ledger entry.
    pub entry: asset_transactions::ActiveModel,
    /// Its event, if it has one.
    pub event: Option<NewEvent>,
    /// What happens to its overdue timer.
    pub timer: Timer,
    /// The maintenance record it writes (AddMaintenanceRecord).
    pub maintenance: Option<crate::entity::maintenance_records::ActiveModel>,
}

/// What a move does to the asset's overdue timer.
pub(crate) enum Timer {
    /// Nothing.
    Keep,
    /// Due at the time, for the checkout entry.
    Schedule(DateTime<Utc>, String),
    /// Cancelled: the checkout ended.
    Cancel,
}

/// FAILED_PRECONDITION INVALID_STATUS: `asset` cannot `verb`.
pub fn invalid_status(asset: &Asset, verb: &str) -> AmsError {
    AmsError::precondition(
        "INVALID_STATUS",
        format!(
            "asset {} is {} and cannot be {verb}",
            asset.number,
            asset.status.replace('_', " ")
        ),
    )
}

/// FAILED_PRECONDITION INVALID_STATUS unless `asset` may move to `to`.
fn require_move(asset: &Asset, to: Status, verb: &str) -> Result<(), AmsError> {
    if Status::parse(&asset.status).moves_to(to) {
        Ok(())
    } else {
        Err(invalid_status(asset, verb))
    }
}

/// `asset` one version on, at `now`.
pub(crate) fn advanced(asset: &Asset, now: DateTime<Utc>) -> Asset {
    let mut next = asset.clone();
    next.version += 1;
    next.updated_at = now;
    next
}

fn check_ids(asset_id: &str, note: &str, v: &mut Violations) {
    v.uuid("asset_id", asset_id);
    v.optional_text("note", note, MAX_NOTE);
}

/// The time a request's `field` names, if set and well-formed (a violation
/// otherwise). Whether it is still in the future is judged by
/// [`require_future`] after the request's replay: a retry answers as the
/// first time even once that time has passed.
fn time(
    field: &str,
    t: Option<&prost_types::Timestamp>,
    v: &mut Violations,
) -> Option<DateTime<Utc>> {
    from_timestamp(field, t?)
        .map_err(|_| v.add(field, "is not a valid time"))
        .ok()
}

/// INVALID_ARGUMENT naming `expected_return_time` unless `due` (if any) is
/// after `now`.
fn require_future(due: Option<DateTime<Utc>>, now: DateTime<Utc>) -> Result<(), AmsError> {
    if due.is_some_and(|d| d <= now) {
        Err(AmsError::invalid(
            "expected_return_time",
            "must be in the future",
        ))
    } else {
        Ok(())
    }
}

/// A move under way: its write transaction, and the asset as last read.
pub(crate) struct Move<'a> {
    assets: &'a Assets,
    key: &'a Idempotent,
    txn: Option<DatabaseTransaction>,
    asset_id: String,
    etag: String,
    reads: usize,
}

/// How a move starts: with the first answer to its request_id, or with its
/// transaction.
pub(crate) enum Begun<'a, R> {
    /// The request was answered before: this is the answer.
    Replayed(R),
    /// The move goes ahead.
    Moving(Move<'a>),
}

impl Move<'_> {
    /// The transaction the move writes in.
    pub(crate) fn txn(&self) -> Result<&DatabaseTransaction, AmsError> {
        self.txn
            .as_ref()
            .ok_or_else(|| AmsError::Aborted("the move is over".into()))
    }

    /// The asset as it is now (NOT_FOUND; ABORTED for a stale etag or after
    /// losing [`ATTEMPTS`] races).
    pub(crate) async fn current(&mut self) -> Result<Asset, AmsError> {
        if self.reads == ATTEMPTS {
            return Err(AmsError::Aborted(
                "the asset kept changing; read it again and retry".into(),
            ));
        }
        self.reads += 1;
        let current = find(self.txn()?, &self.asset_id).await?;
        if !self.etag.is_empty() {
            check_etag(System::Ams, "etag", &self.etag, current.version)?;
        }
        Ok(current)
    }

    /// Writes `planned` if `current` is still the asset's version: the
    /// asset, its entry, record, event and timer; then records the answer
    /// `respond` makes and commits. `None` when another move won the race
    /// (read [`current`](Self::current) again and judge the move anew).
    pub(crate) async fn write<R: prost::Message + Default>(
        &mut self,
        current: &Asset,
        planned: Planned,
        respond: impl FnOnce(pb::Asset, pb::AssetTransaction) -> R,
    ) -> Result<Option<R>, AmsError> {
        let txn = self.txn()?;
        let moved = assets::Entity::update_many()
            .set(register::active(&planned.next))
            .filter(assets::Column::Id.eq(current.id.clone()))
            .filter(assets::Column::Version.eq(current.version))
            .exec(txn)
            .await?;
        if moved.rows_affected != 1 {
            return Ok(None);
        }
        let entry: Transaction = asset_transactions::Entity::insert(planned.entry)
            .exec_with_returning(txn)
            .await?;
        if let Some(record) = planned.maintenance {
            crate::entity::maintenance_records::Entity::insert(record)
                .exec_without_returning(txn)
                .await?;
        }
        if let Some(event) = planned.event {
            self.assets
                .outbox
                .enqueue(txn, event)
                .await
                .map_err(|e| AmsError::from(map_kit::ApiError::from(e)))?;
        }
        let timers = &self.assets.timers;
        match planned.timer {
            Timer::Keep => {}
            Timer::Schedule(due, checkout_id) => {
                timers
                    .schedule(
                        txn,
                        overdue::KIND,
                        &current.id,
                        due,
                        checkout_id.into_bytes(),
                    )
                    .await?;
            }
            Timer::Cancel => {
                timers.cancel(txn, overdue::KIND, &current.id).await?;
            }
        }
        let response = respond(to_proto(&planned.next), transaction_to_proto(&entry));
        self.key
            .record(txn, &response, self.assets.clock.now())
            .await?;
        if let Some(txn) = self.txn.take() {
            txn.commit().await?;
        }
        tracing::info!(asset = %planned.next.number, kind = %entry.kind, "asset moved");
        Ok(Some(response))
    }
}

impl Assets {
    /// Starts a move of asset `asset_id` (see the module docs): the first
    /// answer if `key` was answered before, else the move's transaction.
    pub(crate) async fn begin<'a, R: prost::Message + Default>(
        &'a self,
        key: &'a Idempotent,
        asset_id: &str,
        sent_etag: &str,
    ) -> Result<Begun<'a, R>, AmsError> {
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(Begun::Replayed(first));
        }
        Ok(Begun::Moving(Move {
            assets: self,
            key,
            txn: Some(txn),
            asset_id: asset_id.to_owned(),
            etag: sent_etag.to_owned(),
            reads: 0,
        }))
    }

    /// CheckOutAsset: to an active user or to a location.
    pub async fn check_out(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::CheckOutAssetRequest,
    ) -> Result<pb::CheckOutAssetResponse, AmsError> {
        let now = self.clock.now();
        let mut v = Violations::default();
        check_ids(&r.asset_id, &r.note, &mut v);
        let holder_location = r.holder_location.trim().to_owned();
        match (r.holder_user_id.is_empty(), holder_location.is_empty()) {
            (false, true) => {
                v.uuid("holder_user_id", &r.holder_user_id);
            }
            (true, false) => {
                v.optional_text("holder_location", &holder_location, MAX_TEXT);
            }
            _ => {
                v.add(
                    "holder_user_id",
                    "set exactly one of holder_user_id and holder_location",
                );
            }
        }
        let due = time(
            "expected_return_time",
            r.expected_return_time.as_ref(),
            &mut v,
        );
        v.finish()?;
        let holder_id = r.holder_user_id.clone();
        moving!(
            self,
            key,
            (&r.asset_id, &r.etag),
            |asset, transaction| pb::CheckOutAssetResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
            |current, txn| {
                require_future(due, now)?;
                require_move(current, Status::CheckedOut, "checked out")?;
                let holder = if holder_id.is_empty() {
                    None
                } else {
                    match map_kit::directory::read::user(txn, &holder_id).await? {
                        Some(u) if u.active => Some(ev::UserRef {
                            user_id: u.id,
                            display_name: u.display_name,
                            email: u.email,
                        }),
                        _ => {
                            return Err(AmsError::precondition(
                                "HOLDER_NOT_ACTIVE",
                                "the holder is not an active user",
                            ));
                        }
                    }
                };
                let checkout_id = uuid::Uuid::now_v7().to_string();
                let mut next = advanced(current, now);
                next.status = Status::CheckedOut.as_str().to_owned();
                next.holder_user_id = holder.as_ref().map(|h| h.user_id.clone());
                next.holder_location = holder.is_none().then(|| holder_location.clone());
                next.holder_deactivated = false;
                next.checkout_transaction_id = Some(checkout_id.clone());
                next.expected_return_at = due;
                let entry = register::entry(&next, Kind::Checkout, &checkout_id, actor, now, |t| {
                    t.from_status = sea_orm::Set(current.status.clone());
                    t.holder_user_id = sea_orm::Set(holder_id.clone());
                    t.holder_location =
                        sea_orm::Set(next.holder_location.clone().unwrap_or_default());
                    t.expected_return_at = sea_orm::Set(due);
                    t.note = sea_orm::Set(r.note.clone());
                });
                let category = category_name(txn, &next).await?;
                let event = NewEvent::new(
                    "ams.asset.checked_out",
                    next.id.clone(),
                    next.version,
                    &ev::AmsAssetCheckedOut {
                        asset: Some(snapshot(&next, &category, holder)),
                        transaction_id: checkout_id.clone(),
                        actor: Some(actor_ref(actor)),
                        checkout_time: Some(timestamp(now)),
                    },
                );
                Ok::<_, AmsError>(Planned {
                    maintenance: None,
                    timer: due.map_or(Timer::Cancel, |d| Timer::Schedule(d, checkout_id)),
                    next,
                    entry,
                    event: Some(event),
                })
            }
        )
    }

    /// CheckInAsset: back to stock from a holder, repair, retirement or loss.
    pub async fn check_in(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::CheckInAssetRequest,
    ) -> Result<pb::CheckInAssetResponse, AmsError> {
        let now = self.clock.now();
        let mut v = Violations::default();
        check_ids(&r.asset_id, &r.note, &mut v);
        v.optional_text("location", &r.location, MAX_TEXT);
        v.finish()?;
        moving!(
            self,
            key,
            (&r.asset_id, &r.etag),
            |asset, transaction| pb::CheckInAssetResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
            |current, txn| {
                require_move(current, Status::InStock, "checked in")?;
                let from = Status::parse(&current.status);
                let id = uuid::Uuid::now_v7().to_string();
                let mut next = advanced(current, now);
                next.status = Status::InStock.as_str().to_owned();
                next.holder_user_id = None;
                next.holder_location = None;
                next.holder_deactivated = false;
                next.checkout_transaction_id = None;
                next.expected_return_at = None;
                if !r.location.trim().is_empty() {
                    next.location = r.location.trim().to_owned();
                    next.location_normalized = register::normalize_location(&next.location);
                }
                let checkout_id = current.checkout_transaction_id.clone().unwrap_or_default();
                let entry = register::entry(&next, Kind::Checkin, &id, actor, now, |t| {
                    t.from_status = sea_orm::Set(current.status.clone());
                    t.holder_user_id =
                        sea_orm::Set(current.holder_user_id.clone().unwrap_or_default());
                    t.holder_location =
                        sea_orm::Set(current.holder_location.clone().unwrap_or_default());
                    t.from_location = sea_orm::Set(current.location.clone());
                    t.to_location = sea_orm::Set(next.location.clone());
                    t.note = sea_orm::Set(r.note.clone());
                    t.checkout_transaction_id = sea_orm::Set(checkout_id.clone());
                });
                let event = if from == Status::CheckedOut {
                    let holder = match &current.holder_user_id {
                        Some(h) => Some(user_ref(txn, h).await?),
                        None => None,
                    };
                    let category = category_name(txn, &next).await?;
                    Some(NewEvent::new(
                        "ams.asset.checked_in",
                        next.id.clone(),
                        next.version,
                        &ev::AmsAssetCheckedIn {
                            asset: Some(snapshot(&next, &category, None)),
                            transaction_id: id.clone(),
                            checkout_transaction_id: checkout_id.clone(),
                            holder,
                            actor: Some(actor_ref(actor)),
                            checkin_time: Some(timestamp(now)),
                            was_overdue: current.expected_return_at.is_some_and(|d| d < now),
                            condition_notes: r.note.clone(),
                            holder_location: current.holder_location.clone().unwrap_or_default(),
                        },
                    ))
                } else {
                    None
                };
                Ok::<_, AmsError>(Planned {
                    maintenance: None,
                    next,
                    entry,
                    event,
                    timer: Timer::Cancel,
                })
            }
        )
    }

    /// TransferAsset: another department and/or location.
    pub async fn transfer(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::TransferAssetRequest,
    ) -> Result<pb::TransferAssetResponse, AmsError> {
        let now = self.clock.now();
        let mut v = Violations::default();
        check_ids(&r.asset_id, &r.note, &mut v);
        let department = r.to_department_code.trim().to_uppercase();
        let location = r.to_location.trim().to_owned();
        v.optional_text("to_location", &location, MAX_TEXT);
        if department.is_empty() && location.is_empty() {
            v.add(
                "to_department_code",
                "set to_department_code, to_location or both",
            );
        }
        v.finish()?;
        moving!(
            self,
            key,
            (&r.asset_id, &r.etag),
            |asset, transaction| pb::TransferAssetResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
            |current, txn| {
                if Status::parse(&current.status) == Status::Disposed {
                    return Err(disposed(current));
                }
                if !department.is_empty()
                    && !map_kit::directory::read::department_is_active(txn, &department).await?
                {
                    return Err(AmsError::NotFound("department"));
                }
                let id = uuid::Uuid::now_v7().to_string();
                let mut next = advanced(current, now);
                if !department.is_empty() {
                    next.department_code = department.clone();
                }
                if !location.is_empty() {
                    next.location = location.clone();
                    next.location_normalized = register::normalize_location(&location);
                }
                let entry = register::entry(&next, Kind::Transfer, &id, actor, now, |t| {
                    t.from_status = sea_orm::Set(current.status.clone());
                    t.from_department_code = sea_orm::Set(current.department_code.clone());
                    t.to_department_code = sea_orm::Set(next.department_code.clone());
                    t.from_location = sea_orm::Set(current.location.clone());
                    t.to_location = sea_orm::Set(next.location.clone());
                    t.note = sea_orm::Set(r.note.clone());
                });
                Ok::<_, AmsError>(Planned {
                    maintenance: None,
                    next,
                    entry,
                    event: None,
                    timer: Timer::Keep,
                })
            }
        )
    }

    /// SendToRepair, RetireAsset and ReportAssetLost: a move to `to` with a
    /// note and no event.
    async fn simple_move<R: prost::Message + Default>(
        &self,
        actor: &Principal,
        key: &Idempotent,
        (asset_id, sent_etag, note): (&str, &str, &str),
        (kind, to, verb): (Kind, Status, &str),
        due: Option<DateTime<Utc>>,
        respond: impl Fn(pb::Asset, pb::AssetTransaction) -> R,
    ) -> Result<R, AmsError> {
        let now = self.clock.now();
        moving!(
            self,
            key,
            (asset_id, sent_etag),
            respond,
            |current, _txn| {
                require_future(due, now)?;
                require_move(current, to, verb)?;
                let id = uuid::Uuid::now_v7().to_string();
                let mut next = advanced(current, now);
                next.status = to.as_str().to_owned();
                next.holder_user_id = None;
                next.holder_location = None;
                next.holder_deactivated = false;
                next.checkout_transaction_id = None;
                next.expected_return_at = due;
                let entry = register::entry(&next, kind, &id, actor, now, |t| {
                    t.from_status = sea_orm::Set(current.status.clone());
                    t.holder_user_id =
                        sea_orm::Set(current.holder_user_id.clone().unwrap_or_default());
                    t.holder_location =
                        sea_orm::Set(current.holder_location.clone().unwrap_or_default());
                    t.expected_return_at = sea_orm::Set(due);
                    t.note = sea_orm::Set(note.to_owned());
                });
                Ok::<_, AmsError>(Planned {
                    maintenance: None,
                    next,
                    entry,
                    event: None,
                    timer: Timer::Cancel,
                })
            }
        )
    }

    /// SendToRepair.
    pub async fn send_to_repair(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::SendToRepairRequest,
    ) -> Result<pb::SendToRepairResponse, AmsError> {
        let mut v = Violations::default();
        v.uuid("asset_id", &r.asset_id);
        v.text("note", &r.note, MAX_NOTE);
        let due = time(
            "expected_return_time",
            r.expected_return_time.as_ref(),
            &mut v,
        );
        v.finish()?;
        self.simple_move(
            actor,
            key,
            (&r.asset_id, &r.etag, &r.note),
            (Kind::Repair, Status::InRepair, "sent to repair"),
            due,
            |asset, transaction| pb::SendToRepairResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
        )
        .await
    }

    /// RetireAsset.
    pub async fn retire(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::RetireAssetRequest,
    ) -> Result<pb::RetireAssetResponse, AmsError> {
        let mut v = Violations::default();
        check_ids(&r.asset_id, &r.note, &mut v);
        v.finish()?;
        self.simple_move(
            actor,
            key,
            (&r.asset_id, &r.etag, &r.note),
            (Kind::Retire, Status::Retired, "retired"),
            None,
            |asset, transaction| pb::RetireAssetResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
        )
        .await
    }

    /// ReportAssetLost.
    pub async fn report_lost(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::ReportAssetLostRequest,
    ) -> Result<pb::ReportAssetLostResponse, AmsError> {
        let mut v = Violations::default();
        v.uuid("asset_id", &r.asset_id);
        v.text("note", &r.note, MAX_NOTE);
        v.finish()?;
        self.simple_move(
            actor,
            key,
            (&r.asset_id, &r.etag, &r.note),
            (Kind::Lost, Status::Lost, "reported lost"),
            None,
            |asset, transaction| pb::ReportAssetLostResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
        )
        .await
    }

    /// DisposeAsset: final; `ams.asset.disposed` with the book value.
    pub async fn dispose(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::DisposeAssetRequest,
    ) -> Result<pb::DisposeAssetResponse, AmsError> {
        let now = self.clock.now();
        let mut v = Violations::default();
        v.uuid("asset_id", &r.asset_id);
        v.optional_text("reason", &r.reason, MAX_NOTE);
        let method = pb::DisposalMethod::try_from(r.method)
            .ok()
            .and_then(stored_disposal);
        if method.is_none() {
            v.add("method", "is required");
        }
        let proceeds = match r.proceeds.as_ref() {
            Some(p) => match map_kit::wire::currency::amount("proceeds", p) {
                Ok(m) => Some(m),
                Err(bad) => {
                    v.add(bad.field, bad.description);
                    None
                }
            },
            None => None,
        };
        v.finish()?;
        let method = method.unwrap_or_default();
        moving!(
            self,
            key,
            (&r.asset_id, &r.etag),
            |asset, transaction| pb::DisposeAssetResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
            |current, txn| {
                require_move(current, Status::Disposed, "disposed of")?;
                if let Some(p) = proceeds
                    && p.currency.as_str() != current.currency
                {
                    return Err(AmsError::invalid(
                        "proceeds.currency_code",
                        format!("must be the purchase cost's currency, {}", current.currency),
                    ));
                }
                let proceeds_minor = proceeds.map_or(0, |p| p.amount_minor);
                let category = categories::by_code(txn, &current.category_code).await?;
                let today = now.date_naive();
                let book_value = book_value_at(&basis(current, &category), today).unwrap_or(0);
                let id = uuid::Uuid::now_v7().to_string();
                let mut next = advanced(current, now);
                next.status = Status::Disposed.as_str().to_owned();
                next.holder_user_id = None;
                next.holder_location = None;
                next.checkout_transaction_id = None;
                next.expected_return_at = None;
                let entry = register::entry(&next, Kind::Dispose, &id, actor, now, |t| {
                    t.from_status = sea_orm::Set(current.status.clone());
                    t.amount_minor = sea_orm::Set(Some(proceeds_minor));
                    t.currency = sea_orm::Set(current.currency.clone());
                    t.note = sea_orm::Set(r.reason.clone());
                    t.disposal_method = sea_orm::Set(method.to_owned());
                });
                let money = |amount_minor| map_contracts::common::v1::Money {
                    amount_minor,
                    currency_code: current.currency.clone(),
                };
                let event = NewEvent::new(
                    "ams.asset.disposed",
                    next.id.clone(),
                    next.version,
                    &ev::AmsAssetDisposed {
                        asset: Some(snapshot(&next, &category.name, None)),
                        transaction_id: id.clone(),
                        method: r.method,
                        book_value: Some(money(book_value)),
                        proceeds: Some(money(proceeds_minor)),
                        disposal_date: Some(date(today)),
                        reason: r.reason.clone(),
                        actor: Some(actor_ref(actor)),
                    },
                );
                Ok::<_, AmsError>(Planned {
                    maintenance: None,
                    next,
                    entry,
                    event: Some(event),
                    timer: Timer::Cancel,
                })
            }
        )
    }
}

/// FAILED_PRECONDITION ASSET_DISPOSED.
pub fn disposed(asset: &Asset) -> AmsError {
    AmsError::precondition(
        "ASSET_DISPOSED",
        format!("asset {} is disposed of", asset.number),
    )
}

/// The depreciation basis of `asset` in `category`.
pub fn basis(asset: &Asset, category: &categories::Category) -> Basis {
    Basis {
        cost_minor: asset.cost_minor,
        salvage_percent: category.salvage_percent,
        method: categories::method(category),
        life_months: category.useful_life_months,
        purchase_date: asset.purchase_date,
    }
}

/// The name of `asset`'s category (for its events' snapshot).
pub(crate) async fn category_name(
    txn: &DatabaseTransaction,
    asset: &Asset,
) -> Result<String, AmsError> {
    Ok(categories::by_code(txn, &asset.category_code).await?.name)
}
