//! The changes of an asset that are not moves of its status:
//! UpdateAsset's descriptive fields, CorrectAssetCost and
//! AddMaintenanceRecord. The last two are ledger entries with events BMS
//! books; UpdateAsset is not (the contract gives it no event yet).

use std::collections::BTreeSet;

use map_contracts::{ams::v1 as pb, common::v1::Money, events::v1 as ev};
use map_kit::{
    System, Violations,
    authn::Principal,
    idempotency::Idempotent,
    outbox::NewEvent,
    wire::{
        date::{date, from_date},
        etag::check_etag,
        time::{from_timestamp, timestamp},
    },
};
use sea_orm::{ActiveValue::Set, ColumnTrait as _, EntityTrait as _, QueryFilter as _};

use super::{
    Asset, Assets, Kind, MAX_NOTES, MAX_TEXT, Status, actor_ref, find,
    ledger::{self, Planned},
    register, snapshot,
};
use crate::{
    AmsError, categories,
    entity::{assets, maintenance_records},
};

/// The update_mask paths of UpdateAsset.
pub const UPDATE_PATHS: [&str; 9] = [
    "name",
    "serial",
    "model",
    "category_code",
    "notes",
    "expected_return_time",
    "supplier",
    "purchase_reference",
    "warranty_end_date",
];

/// The stored text of a maintenance kind; `None` for UNSPECIFIED.
pub fn stored_kind(k: pb::MaintenanceKind) -> Option<&'static str> {
    Some(match k {
        pb::MaintenanceKind::Repair => "repair",
        pb::MaintenanceKind::Service => "service",
        pb::MaintenanceKind::Upgrade => "upgrade",
        pb::MaintenanceKind::Calibration => "calibration",
        pb::MaintenanceKind::Software => "software",
        pb::MaintenanceKind::Unspecified => return None,
    })
}

/// The maintenance record on the wire.
pub fn record_to_proto(
    r: &maintenance_records::Model,
    asset_number: &str,
) -> pb::MaintenanceRecord {
    let kind = [
        pb::MaintenanceKind::Repair,
        pb::MaintenanceKind::Service,
        pb::MaintenanceKind::Upgrade,
        pb::MaintenanceKind::Calibration,
        pb::MaintenanceKind::Software,
    ]
    .into_iter()
    .find(|k| stored_kind(*k) == Some(r.kind.as_str()))
    .unwrap_or(pb::MaintenanceKind::Unspecified);
    pb::MaintenanceRecord {
        id: r.id.clone(),
        asset_id: r.asset_id.clone(),
        asset_number: asset_number.to_owned(),
        kind: kind.into(),
        title: r.title.clone(),
        supplier: r.supplier.clone(),
        cost: Some(Money {
            amount_minor: r.cost_minor,
            currency_code: r.currency.clone(),
        }),
        start_date: Some(date(r.start_date)),
        completion_date: r.completion_date.map(date),
        notes: r.notes.clone(),
        actor_user_id: r.actor_user_id.clone(),
        transaction_id: r.transaction_id.clone(),
        create_time: Some(timestamp(r.created_at)),
    }
}

impl Assets {
    /// UpdateAsset: the named descriptive fields, if `asset.etag` is current.
    pub async fn update(
        &self,
        r: &pb::Asset,
        paths: &BTreeSet<&'static str>,
    ) -> Result<Asset, AmsError> {
        let mut v = Violations::default();
        v.uuid("asset.id", &r.id);
        if r.etag.is_empty() {
            v.add("asset.etag", "is required (the etag you read)");
        }
        v.finish()?;
        let now = self.clock.now();
        let txn = self.db.begin_write().await?;
        let current = find(&txn, &r.id).await?;
        check_etag(System::Ams, "asset.etag", &r.etag, current.version)?;
        if Status::parse(&current.status) == Status::Disposed {
            return Err(ledger::disposed(&current));
        }
        let mut next = ledger::advanced(&current, now);
        let mut v = Violations::default();
        for path in paths {
            match *path {
                "name" => {
                    next.name = r.name.trim().to_owned();
                    v.text("asset.name", &next.name, MAX_TEXT);
                }
                "serial" => {
                    next.serial = r.serial.trim().to_owned();
                    v.optional_text("asset.serial", &next.serial, MAX_TEXT);
                }
                "model" => {
                    next.model = r.model.trim().to_owned();
                    v.optional_text("asset.model", &next.model, MAX_TEXT);
                }
                "category_code" => next.category_code = r.category_code.trim().to_uppercase(),
                "notes" => {
                    next.notes = r.notes.clone();
                    v.optional_text("asset.notes", &next.notes, MAX_NOTES);
                }
                "supplier" => {
                    next.supplier = r.supplier.trim().to_owned();
                    v.optional_text("asset.supplier", &next.supplier, MAX_TEXT);
                }
                "purchase_reference" => {
                    next.purchase_reference = r.purchase_reference.trim().to_owned();
                    v.optional_text(
                        "asset.purchase_reference",
                        &next.purchase_reference,
                        MAX_TEXT,
                    );
                }
                "warranty_end_date" => {
                    next.warranty_end_date = match r.warranty_end_date.as_ref() {
                        None => None,
                        Some(d) => match from_date("asset.warranty_end_date", d) {
                            Ok(d) => Some(d),
                            Err(_) => {
                                v.add("asset.warranty_end_date", "is not a full calendar date");
                                None
                            }
                        },
                    };
                    if next
                        .warranty_end_date
                        .is_some_and(|w| w < next.purchase_date)
                    {
                        v.add(
                            "asset.warranty_end_date",
                            "must not be before purchase_date",
                        );
                    }
                }
                "expected_return_time" => {
                    next.expected_return_at = match r.expected_return_time.as_ref() {
                        None => None,
                        Some(t) => from_timestamp("asset.expected_return_time", t).ok(),
                    };
                    let held = matches!(
                        Status::parse(&current.status),
                        Status::CheckedOut | Status::InRepair
                    );
                    if !held && next.expected_return_at.is_some() {
                        v.add(
                            "asset.expected_return_time",
                            "only a checked-out or in-repair asset is expected back",
                        );
                    }
                }
                _ => {}
            }
        }
        v.finish()?;
        if next.category_code != current.category_code {
            categories::by_code(&txn, &next.category_code).await?;
        }
        if next.serial != current.serial
            && !next.serial.is_empty()
            && !register::taken_serials(&txn, std::slice::from_ref(&next.serial))
                .await?
                .is_empty()
        {
            return Err(register::serial_taken(&next.serial));
        }
        let updated = assets::Entity::update_many()
            .set(register::active(&next))
            .filter(assets::Column::Id.eq(current.id.clone()))
            .filter(assets::Column::Version.eq(current.version))
            .exec(&txn)
            .await?;
        if updated.rows_affected != 1 {
            return Err(AmsError::EtagMismatch);
        }
        // A checkout's new due time moves its overdue timer.
        if next.expected_return_at != current.expected_return_at
            && let Some(checkout) = &current.checkout_transaction_id
        {
            match next.expected_return_at {
                Some(due) => {
                    self.timers
                        .schedule(
                            &txn,
                            crate::overdue::KIND,
                            &current.id,
                            due,
                            checkout.clone().into_bytes(),
                        )
                        .await?;
                }
                None => {
                    self.timers
                        .cancel(&txn, crate::overdue::KIND, &current.id)
                        .await?;
                }
            }
        }
        txn.commit().await?;
        Ok(next)
    }

    /// CorrectAssetCost: a COST_CORRECTION entry and
    /// `ams.asset.cost_corrected`.
    pub async fn correct_cost(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::CorrectAssetCostRequest,
    ) -> Result<pb::CorrectAssetCostResponse, AmsError> {
        let now = self.clock.now();
        let mut v = Violations::default();
        v.uuid("asset_id", &r.asset_id);
        v.text("reason", &r.reason, ledger::MAX_NOTE);
        let cost =
            map_kit::wire::currency::required_amount("purchase_cost", r.purchase_cost.as_ref())
                .map_err(|bad| v.add(bad.field, bad.description))
                .ok();
        v.finish()?;
        let Some(cost) = cost else {
            return Err(AmsError::invalid("purchase_cost", "is required"));
        };
        moving!(
            self,
            key,
            (&r.asset_id, &r.etag),
            |asset, transaction| pb::CorrectAssetCostResponse {
                asset: Some(asset),
                transaction: Some(transaction),
            },
            |current, txn| {
                if Status::parse(&current.status) == Status::Disposed {
                    return Err(ledger::disposed(current));
                }
                if cost.currency.as_str() != current.currency {
                    return Err(AmsError::invalid(
                        "purchase_cost.currency_code",
                        format!("must be the purchase cost's currency, {}", current.currency),
                    ));
                }
                if cost.amount_minor == current.cost_minor {
                    return Err(AmsError::precondition(
                        "COST_UNCHANGED",
                        "the purchase cost is already this amount",
                    ));
                }
                let id = uuid::Uuid::now_v7().to_string();
                let mut next = ledger::advanced(current, now);
                next.cost_minor = cost.amount_minor;
                let entry = register::entry(&next, Kind::CostCorrection, &id, actor, now, |t| {
                    t.from_status = Set(current.status.clone());
                    t.amount_minor = Set(Some(cost.amount_minor));
                    t.previous_amount_minor = Set(Some(current.cost_minor));
                    t.currency = Set(current.currency.clone());
                    t.note = Set(r.reason.clone());
                });
                let money = |amount_minor| Money {
                    amount_minor,
                    currency_code: current.currency.clone(),
                };
                let category = ledger::category_name(txn, &next).await?;
                let holder = match &next.holder_user_id {
                    Some(h) => Some(super::user_ref(txn, h).await?),
                    None => None,
                };
                let event = NewEvent::new(
                    "ams.asset.cost_corrected",
                    next.id.clone(),
                    next.version,
                    &ev::AmsAssetCostCorrected {
                        asset: Some(snapshot(&next, &category, holder)),
                        transaction_id: id.clone(),
                        previous_cost: Some(money(current.cost_minor)),
                        delta: Some(money(cost.amount_minor - current.cost_minor)),
                        reason: r.reason.clone(),
                        actor: Some(actor_ref(actor)),
                    },
                );
                Ok::<_, AmsError>(Planned {
                    next,
                    entry,
                    event: Some(event),
                    timer: ledger::Timer::Keep,
                    maintenance: None,
                })
            }
        )
    }

    /// AddMaintenanceRecord: the record, a MAINTENANCE entry and, for a
    /// cost, `ams.asset.maintained`.
    pub async fn add_maintenance(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::AddMaintenanceRecordRequest,
    ) -> Result<pb::AddMaintenanceRecordResponse, AmsError> {
        let now = self.clock.now();
        let today = now.date_naive();
        let mut v = Violations::default();
        v.uuid("asset_id", &r.asset_id);
        v.text("title", &r.title, MAX_TEXT);
        v.optional_text("supplier", &r.supplier, MAX_TEXT);
        v.optional_text("notes", &r.notes, MAX_NOTES);
        let kind = pb::MaintenanceKind::try_from(r.kind)
            .ok()
            .and_then(stored_kind);
        if kind.is_none() {
            v.add("kind", "is required");
        }
        let cost = match r.cost.as_ref() {
            Some(c) => map_kit::wire::currency::amount("cost", c)
                .map_err(|bad| v.add(bad.field, bad.description))
                .ok(),
            None => None,
        };
        let start = match r.start_date.as_ref() {
            None => {
                v.add("start_date", "is required");
                None
            }
            Some(d) => from_date("start_date", d)
                .map_err(|_| v.add("start_date", "is not a full calendar date"))
                .ok(),
        };
        if start.is_some_and(|s| s > today) {
            v.add("start_date", "must not be in the future");
        }
        let completion = r.completion_date.as_ref().and_then(|d| {
            from_date("completion_date", d)
                .map_err(|_| v.add("completion_date", "is not a full calendar date"))
                .ok()
        });
        if let (Some(s), Some(c)) = (start, completion)
            && c < s
        {
            v.add("completion_date", "must not be before start_date");
        }
        v.finish()?;
        let (Some(kind), Some(start)) = (kind, start) else {
            return Err(AmsError::invalid("kind", "is required"));
        };
        // Fixed before the move so a retried plan writes the same record.
        let record_id = uuid::Uuid::now_v7().to_string();
        let transaction_id = uuid::Uuid::now_v7().to_string();
        let record = std::sync::Mutex::new(None);
        moving!(
            self,
            key,
            (&r.asset_id, ""),
            |asset, _transaction| pb::AddMaintenanceRecordResponse {
                record: record.lock().ok().and_then(|mut g| g.take()),
                asset: Some(asset),
            },
            |current, txn| {
                if Status::parse(&current.status) == Status::Disposed {
                    return Err(ledger::disposed(current));
                }
                if cost.is_some_and(|c| c.currency.as_str() != current.currency) {
                    return Err(AmsError::invalid(
                        "cost.currency_code",
                        format!("must be the purchase cost's currency, {}", current.currency),
                    ));
                }
                let cost_minor = cost.map_or(0, |c| c.amount_minor);
                let next = ledger::advanced(current, now);
                let entry =
                    register::entry(&next, Kind::Maintenance, &transaction_id, actor, now, |t| {
                        t.from_status = Set(current.status.clone());
                        t.amount_minor = Set(Some(cost_minor));
                        t.currency = Set(current.currency.clone());
                        t.note = Set(r.title.trim().to_owned());
                        t.maintenance_record_id = Set(record_id.clone());
                    });
                let model = maintenance_records::Model {
                    id: record_id.clone(),
                    asset_id: current.id.clone(),
                    kind: kind.to_owned(),
                    title: r.title.trim().to_owned(),
                    supplier: r.supplier.trim().to_owned(),
                    cost_minor,
                    currency: current.currency.clone(),
                    start_date: start,
                    completion_date: completion,
                    notes: r.notes.clone(),
                    actor_user_id: actor.id.clone(),
                    transaction_id: transaction_id.clone(),
                    created_at: now,
                };
                let event = if cost_minor > 0 {
                    let category = ledger::category_name(txn, &next).await?;
                    let holder = match &next.holder_user_id {
                        Some(h) => Some(super::user_ref(txn, h).await?),
                        None => None,
                    };
                    Some(NewEvent::new(
                        "ams.asset.maintained",
                        next.id.clone(),
                        next.version,
                        &ev::AmsAssetMaintained {
                            asset: Some(snapshot(&next, &category, holder)),
                            transaction_id: transaction_id.clone(),
                            maintenance_record_id: record_id.clone(),
                            kind: kind.to_owned(),
                            title: model.title.clone(),
                            supplier: model.supplier.clone(),
                            cost: Some(Money {
                                amount_minor: cost_minor,
                                currency_code: current.currency.clone(),
                            }),
                            start_date: Some(date(start)),
                            actor: Some(actor_ref(actor)),
                        },
                    ))
                } else {
                    None
                };
                if let Ok(mut slot) = record.lock() {
                    *slot = Some(record_to_proto(&model, &current.number));
                }
                Ok::<_, AmsError>(Planned {
                    next,
                    entry,
                    event,
                    timer: ledger::Timer::Keep,
                    maintenance: Some(maintenance_records::ActiveModel::from(model)),
                })
            }
        )
    }
}
