//! Registering assets: CreateAsset, and the batches of ImportAssets. One
//! path writes both: the assets, their PURCHASE (or OPENING_BALANCE) ledger
//! entries, a CHECKOUT entry for a row with a holder, and their events, in
//! a few multi-row statements per batch, numbered from one block of the
//! counter.

use std::collections::{HashMap, HashSet};

use chrono::NaiveDate;
use map_contracts::{ams::v1 as pb, events::v1 as ev};
use map_kit::{
    FieldViolation, Violations,
    authn::Principal,
    counters::{Number, next_numbers},
    idempotency::Idempotent,
    outbox::NewEvent,
    wire::{date::from_date, money::Money},
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseTransaction, EntityTrait as _,
    QueryFilter as _, QuerySelect as _,
};

use super::{
    Asset, Assets, Kind, MAX_NOTES, MAX_TEXT, NUMBER_PREFIX, Status, actor_ref, snapshot, to_proto,
};
use crate::{
    AmsError, categories,
    entity::{asset_transactions, assets},
    error::is_unique_violation,
};

/// Rows written per multi-row statement (SQLite binds at most 32,766
/// values; an asset row binds 27).
pub const BATCH: usize = 500;

/// An asset to register, its fields checked by [`violations`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAsset {
    /// Display name.
    pub name: String,
    /// Manufacturer serial; may be empty.
    pub serial: String,
    /// Model; may be empty.
    pub model: String,
    /// Category code (upper case).
    pub category_code: String,
    /// Auth's department code (upper case).
    pub department_code: String,
    /// Location; may be empty.
    pub location: String,
    /// Purchase cost.
    pub cost: Money,
    /// Purchase date.
    pub purchase_date: NaiveDate,
    /// Last day of the warranty.
    pub warranty_end_date: Option<NaiveDate>,
    /// Supplier.
    pub supplier: String,
    /// Invoice or order reference.
    pub purchase_reference: String,
    /// Free notes.
    pub notes: String,
    /// A user (an active one, checked by the caller) to check it out to.
    pub holder: Option<ev::UserRef>,
}

/// The violations of `a`'s own fields (not the database's), each named
/// under `prefix` (`""` or `rows[3].`); `today` bounds the dates.
pub fn violations(prefix: &str, a: &NewAsset, today: NaiveDate) -> Vec<FieldViolation> {
    let at = |field: &str| format!("{prefix}{field}");
    let mut v = Violations::default();
    v.text(&at("name"), &a.name, MAX_TEXT);
    for (field, value) in [
        ("serial", &a.serial),
        ("model", &a.model),
        ("location", &a.location),
        ("supplier", &a.supplier),
        ("purchase_reference", &a.purchase_reference),
    ] {
        v.optional_text(&at(field), value, MAX_TEXT);
    }
    v.optional_text(&at("notes"), &a.notes, MAX_NOTES);
    if !categories::is_code(&a.category_code) {
        v.add(at("category_code"), "must be a category code, e.g. LAPTOP");
    }
    if a.department_code.is_empty() {
        v.add(at("department_code"), "is required");
    }
    if a.purchase_date > today {
        v.add(at("purchase_date"), "must not be in the future");
    }
    if a.warranty_end_date.is_some_and(|w| w < a.purchase_date) {
        v.add(at("warranty_end_date"), "must not be before purchase_date");
    }
    v.into_violations()
}

/// A CreateAssetRequest (or an import row) as a [`NewAsset`], or the
/// violations of its wire fields.
pub fn from_request(
    prefix: &str,
    r: &pb::CreateAssetRequest,
) -> Result<NewAsset, Vec<FieldViolation>> {
    let at = |field: &str| format!("{prefix}{field}");
    let mut wrong = Vec::new();
    let cost =
        map_kit::wire::currency::required_amount(&at("purchase_cost"), r.purchase_cost.as_ref())
            .map_err(|v| wrong.push(v))
            .ok();
    let purchase_date = match r.purchase_date.as_ref() {
        None => {
            wrong.push(FieldViolation {
                field: at("purchase_date"),
                description: "is required".into(),
            });
            None
        }
        Some(d) => from_date(&at("purchase_date"), d)
            .map_err(|_| wrong.push(not_a_date(at("purchase_date"))))
            .ok(),
    };
    let warranty_end_date = r.warranty_end_date.as_ref().and_then(|d| {
        from_date(&at("warranty_end_date"), d)
            .map_err(|_| wrong.push(not_a_date(at("warranty_end_date"))))
            .ok()
    });
    match (cost, purchase_date) {
        (Some(cost), Some(purchase_date)) if wrong.is_empty() => Ok(NewAsset {
            name: r.name.trim().to_owned(),
            serial: r.serial.trim().to_owned(),
            model: r.model.trim().to_owned(),
            category_code: r.category_code.trim().to_uppercase(),
            department_code: r.department_code.trim().to_uppercase(),
            location: r.location.trim().to_owned(),
            cost,
            purchase_date,
            warranty_end_date,
            supplier: r.supplier.trim().to_owned(),
            purchase_reference: r.purchase_reference.trim().to_owned(),
            notes: r.notes.clone(),
            holder: None,
        }),
        _ => Err(wrong),
    }
}

fn not_a_date(field: String) -> FieldViolation {
    FieldViolation {
        field,
        description: "is not a full calendar date (year, month and day)".into(),
    }
}

/// The serials among `serials` that assets already have.
pub async fn taken_serials<C: ConnectionTrait>(
    conn: &C,
    serials: &[String],
) -> Result<HashSet<String>, AmsError> {
    let mut taken = HashSet::new();
    for chunk in serials.chunks(BATCH) {
        let found: Vec<String> = assets::Entity::find()
            .select_only()
            .column(assets::Column::Serial)
            .filter(assets::Column::Serial.is_in(chunk.iter().cloned()))
            // The index's predicate, as a literal: PostgreSQL's cached
            // (generic) plan cannot prove it from bound values, and without
            // the index each batch of 500 compared every asset's serial with
            // every value of the list (an import quadratic in its size).
            .filter(sea_orm::sea_query::Expr::cust("serial <> ''"))
            .into_tuple()
            .all(conn)
            .await?;
        taken.extend(found);
    }
    Ok(taken)
}

impl Assets {
    /// CreateAsset: an IN_STOCK asset with the next number, its PURCHASE
    /// entry and `ams.asset.purchased`.
    pub async fn create(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::CreateAssetRequest,
    ) -> Result<pb::CreateAssetResponse, AmsError> {
        let new = from_request("", r).map_err(AmsError::InvalidArgument)?;
        let v = violations("", &new, self.clock.now().date_naive());
        if !v.is_empty() {
            return Err(AmsError::InvalidArgument(v));
        }
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let category = categories::by_code(&txn, &new.category_code).await?;
        if !map_kit::directory::read::department_is_active(&txn, &new.department_code).await? {
            return Err(AmsError::NotFound("department"));
        }
        if !new.serial.is_empty()
            && !taken_serials(&txn, std::slice::from_ref(&new.serial))
                .await?
                .is_empty()
        {
            return Err(serial_taken(&new.serial));
        }
        let names = HashMap::from([(category.code.clone(), category.name.clone())]);
        let mut created = self.register(&txn, actor, vec![new], &names, false).await?;
        let asset = created.pop().ok_or(AmsError::NotFound("asset"))?;
        let response = pb::CreateAssetResponse {
            asset: Some(to_proto(&asset)),
        };
        key.record(&txn, &response, self.clock.now()).await?;
        txn.commit().await?;
        tracing::info!(asset = %asset.number, "asset registered");
        Ok(response)
    }

    /// Writes `rows` (checked: their categories are `category_names`' keys,
    /// their departments active, their serials free, their holders active)
    /// in `txn`: assets numbered consecutively in row order, their ledger
    /// entries and events. `opening_balance` registers an existing fleet:
    /// OPENING_BALANCE entries and no `ams.asset.purchased`.
    pub async fn register(
        &self,
        txn: &DatabaseTransaction,
        actor: &Principal,
        rows: Vec<NewAsset>,
        category_names: &HashMap<String, String>,
        opening_balance: bool,
    ) -> Result<Vec<Asset>, AmsError> {
        let mut created = Vec::with_capacity(rows.len());
        for batch in rows.chunks(BATCH) {
            let count = i64::try_from(batch.len()).unwrap_or(i64::MAX);
            let first = next_numbers(txn, NUMBER_PREFIX, count).await?;
            created.extend(
                self.register_batch(txn, actor, batch, first, category_names, opening_balance)
                    .await?,
            );
        }
        Ok(created)
    }

    async fn register_batch(
        &self,
        txn: &DatabaseTransaction,
        actor: &Principal,
        batch: &[NewAsset],
        first: Number,
        category_names: &HashMap<String, String>,
        opening_balance: bool,
    ) -> Result<Vec<Asset>, AmsError> {
        let now = self.clock.now();
        let mut assets_rows = Vec::with_capacity(batch.len());
        let mut ledger = Vec::with_capacity(batch.len());
        let mut events = Vec::with_capacity(batch.len());
        let mut models = Vec::with_capacity(batch.len());
        for (i, new) in batch.iter().enumerate() {
            let number = Number {
                prefix: first.prefix.clone(),
                value: first.value + i64::try_from(i).unwrap_or(0),
            };
            let id = uuid::Uuid::now_v7().to_string();
            let purchase_id = uuid::Uuid::now_v7().to_string();
            let checkout_id = new
                .holder
                .as_ref()
                .map(|_| uuid::Uuid::now_v7().to_string());
            let status = if new.holder.is_some() {
                Status::CheckedOut
            } else {
                Status::InStock
            };
            // Version 1 is the registration; a checkout on import is version 2.
            let version = if new.holder.is_some() { 2 } else { 1 };
            let asset = Asset {
                id: id.clone(),
                number: number.to_string(),
                name: new.name.clone(),
                serial: new.serial.clone(),
                model: new.model.clone(),
                category_code: new.category_code.clone(),
                department_code: new.department_code.clone(),
                location: new.location.clone(),
                location_normalized: normalize_location(&new.location),
                status: status.as_str().to_owned(),
                holder_user_id: new.holder.as_ref().map(|h| h.user_id.clone()),
                holder_location: None,
                holder_deactivated: false,
                checkout_transaction_id: checkout_id.clone(),
                expected_return_at: None,
                cost_minor: new.cost.amount_minor,
                currency: new.cost.currency.as_str().to_owned(),
                purchase_date: new.purchase_date,
                warranty_end_date: new.warranty_end_date,
                supplier: new.supplier.clone(),
                purchase_reference: new.purchase_reference.clone(),
                notes: new.notes.clone(),
                opening_balance,
                version,
                created_at: now,
                updated_at: now,
            };
            let kind = if opening_balance {
                Kind::OpeningBalance
            } else {
                Kind::Purchase
            };
            ledger.push(entry(&asset, kind, &purchase_id, actor, now, |t| {
                t.to_status = Set(Status::InStock.as_str().to_owned());
                t.to_department_code = Set(asset.department_code.clone());
                t.to_location = Set(asset.location.clone());
                t.amount_minor = Set(Some(asset.cost_minor));
                t.currency = Set(asset.currency.clone());
            }));
            let category_name = category_names
                .get(&asset.category_code)
                .cloned()
                .unwrap_or_default();
            if !opening_balance {
                // The purchase as it was: in stock, version 1.
                let mut bought = asset.clone();
                bought.version = 1;
                bought.status = Status::InStock.as_str().to_owned();
                bought.holder_user_id = None;
                bought.checkout_transaction_id = None;
                events.push(NewEvent::new(
                    "ams.asset.purchased",
                    id.clone(),
                    1,
                    &ev::AmsAssetPurchased {
                        asset: Some(snapshot(&bought, &category_name, None)),
                        transaction_id: purchase_id.clone(),
                        actor: Some(actor_ref(actor)),
                    },
                ));
            }
            if let (Some(holder), Some(checkout_id)) = (&new.holder, &checkout_id) {
                ledger.push(entry(
                    &asset,
                    Kind::Checkout,
                    checkout_id,
                    actor,
                    now,
                    |t| {
                        t.from_status = Set(Status::InStock.as_str().to_owned());
                        t.to_status = Set(Status::CheckedOut.as_str().to_owned());
                        t.holder_user_id = Set(holder.user_id.clone());
                    },
                ));
                events.push(NewEvent::new(
                    "ams.asset.checked_out",
                    id.clone(),
                    asset.version,
                    &ev::AmsAssetCheckedOut {
                        asset: Some(snapshot(&asset, &category_name, Some(holder.clone()))),
                        transaction_id: checkout_id.clone(),
                        actor: Some(actor_ref(actor)),
                        checkout_time: Some(map_kit::wire::time::timestamp(now)),
                    },
                ));
            }
            assets_rows.push(active(&asset));
            models.push(asset);
        }
        assets::Entity::insert_many(assets_rows)
            .exec_without_returning(txn)
            .await
            .map_err(|e| {
                if is_unique_violation(&e) {
                    AmsError::AlreadyExists {
                        reason: "DUPLICATE_SERIAL",
                        message: "a serial is already used by another asset".into(),
                    }
                } else {
                    AmsError::Db(e)
                }
            })?;
        asset_transactions::Entity::insert_many(ledger)
            .exec_without_returning(txn)
            .await?;
        self.outbox
            .enqueue_many(txn, events)
            .await
            .map_err(|e| AmsError::from(map_kit::ApiError::from(e)))?;
        Ok(models)
    }
}

/// ALREADY_EXISTS for a serial another asset has.
pub fn serial_taken(serial: &str) -> AmsError {
    AmsError::AlreadyExists {
        reason: "DUPLICATE_SERIAL",
        message: format!("serial {serial:?} is already used by another asset"),
    }
}

/// A location as the location filter compares it.
pub fn normalize_location(location: &str) -> String {
    location.trim().to_lowercase()
}

/// The insertable row of `a`.
pub(crate) fn active(a: &Asset) -> assets::ActiveModel {
    let a = a.clone();
    assets::ActiveModel {
        id: Set(a.id),
        number: Set(a.number),
        name: Set(a.name),
        serial: Set(a.serial),
        model: Set(a.model),
        category_code: Set(a.category_code),
        department_code: Set(a.department_code),
        location: Set(a.location),
        location_normalized: Set(a.location_normalized),
        status: Set(a.status),
        holder_user_id: Set(a.holder_user_id),
        holder_location: Set(a.holder_location),
        holder_deactivated: Set(a.holder_deactivated),
        checkout_transaction_id: Set(a.checkout_transaction_id),
        expected_return_at: Set(a.expected_return_at),
        cost_minor: Set(a.cost_minor),
        currency: Set(a.currency),
        purchase_date: Set(a.purchase_date),
        warranty_end_date: Set(a.warranty_end_date),
        supplier: Set(a.supplier),
        purchase_reference: Set(a.purchase_reference),
        notes: Set(a.notes),
        opening_balance: Set(a.opening_balance),
        version: Set(a.version),
        created_at: Set(a.created_at),
        updated_at: Set(a.updated_at),
    }
}

/// A ledger entry of `kind` about `asset` by `actor` at `at`, its other
/// fields empty until `fill` sets them.
pub(crate) fn entry(
    asset: &Asset,
    kind: Kind,
    id: &str,
    actor: &Principal,
    at: chrono::DateTime<chrono::Utc>,
    fill: impl FnOnce(&mut asset_transactions::ActiveModel),
) -> asset_transactions::ActiveModel {
    let mut t = asset_transactions::ActiveModel {
        id: Set(id.to_owned()),
        asset_id: Set(asset.id.clone()),
        asset_number: Set(asset.number.clone()),
        kind: Set(kind.as_str().to_owned()),
        actor_user_id: Set(actor.id.clone()),
        at: Set(at),
        from_status: Set(String::new()),
        to_status: Set(asset.status.clone()),
        holder_user_id: Set(String::new()),
        holder_location: Set(String::new()),
        from_department_code: Set(String::new()),
        to_department_code: Set(String::new()),
        from_location: Set(String::new()),
        to_location: Set(String::new()),
        amount_minor: Set(None),
        previous_amount_minor: Set(None),
        currency: Set(String::new()),
        expected_return_at: Set(None),
        note: Set(String::new()),
        disposal_method: Set(String::new()),
        checkout_transaction_id: Set(String::new()),
        maintenance_record_id: Set(String::new()),
    };
    fill(&mut t);
    t
}
