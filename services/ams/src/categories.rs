//! Categories: what kind of thing an asset is and how it depreciates. The
//! code is immutable — assets, BMS budget lines and every event name it —
//! while the name may change. Every creation and change enqueues its
//! `ams.category.*` event (the whole category and its version) in the same
//! transaction: BMS keeps the codes it may book on from them.

use std::collections::BTreeSet;

use map_contracts::{ams::v1 as pb, events::v1 as ev};
use map_kit::{
    FieldViolation, System, Violations,
    clock::Clock,
    db::Db,
    idempotency::Idempotent,
    outbox::{NewEvent, Outbox},
    paging::{Direction, PageSize, Pager, Sort},
    wire::{
        etag::{check_etag, etag},
        time::timestamp,
    },
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait,
    DatabaseTransaction, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
};
use serde::{Deserialize, Serialize};

use crate::{
    AmsError,
    depreciation::{MAX_LIFE_MONTHS, Method},
    entity::categories,
    error::is_unique_violation,
};

/// Longest code.
pub const MAX_CODE: usize = 20;
/// Longest name.
pub const MAX_NAME: usize = 200;
/// Longest description.
pub const MAX_DESCRIPTION: usize = 2000;

/// A category as stored.
pub type Category = categories::Model;

/// The update_mask paths of UpdateCategory.
pub const UPDATE_PATHS: [&str; 5] = [
    "name",
    "description",
    "depreciation_method",
    "useful_life_months",
    "salvage_percent",
];

/// What a category says besides its code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CategoryFields {
    /// Display name.
    pub name: String,
    /// What belongs in it.
    pub description: String,
    /// How its assets depreciate.
    pub method: pb::DepreciationMethod,
    /// Useful life in months.
    pub useful_life_months: i32,
    /// Salvage value percentage.
    pub salvage_percent: i32,
}

/// The stored name of a depreciation method.
pub fn stored_method(m: pb::DepreciationMethod) -> Option<&'static str> {
    match m {
        pb::DepreciationMethod::StraightLine => Some("straight_line"),
        pb::DepreciationMethod::DecliningBalance => Some("declining_balance"),
        pb::DepreciationMethod::Unspecified => None,
    }
}

/// The depreciation method of a stored category.
pub fn method(c: &Category) -> Method {
    if c.depreciation_method == "declining_balance" {
        Method::DecliningBalance
    } else {
        Method::StraightLine
    }
}

/// The category on the wire.
pub fn to_proto(c: &Category) -> pb::Category {
    pb::Category {
        id: c.id.clone(),
        code: c.code.clone(),
        name: c.name.clone(),
        description: c.description.clone(),
        depreciation_method: match method(c) {
            Method::StraightLine => pb::DepreciationMethod::StraightLine,
            Method::DecliningBalance => pb::DepreciationMethod::DecliningBalance,
        }
        .into(),
        useful_life_months: c.useful_life_months,
        salvage_percent: c.salvage_percent,
        etag: etag(c.version),
        version: c.version,
        create_time: Some(timestamp(c.created_at)),
        update_time: Some(timestamp(c.updated_at)),
    }
}

/// The events' snapshot of `c`.
pub fn snapshot(c: &Category) -> ev::CategorySnapshot {
    ev::CategorySnapshot {
        id: c.id.clone(),
        code: c.code.clone(),
        name: c.name.clone(),
        depreciation_method: c.depreciation_method.clone(),
        useful_life_months: c.useful_life_months,
        salvage_percent: c.salvage_percent,
        version: c.version,
        update_time: Some(timestamp(c.updated_at)),
    }
}

/// Whether `code` is a category code: 1 to 20 of `A-Z`, `0-9` and `-`.
pub fn is_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= MAX_CODE
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

fn violations(prefix: &str, f: &CategoryFields) -> Vec<FieldViolation> {
    let at = |field: &str| format!("{prefix}{field}");
    let mut v = Violations::default();
    v.text(&at("name"), &f.name, MAX_NAME);
    v.optional_text(&at("description"), &f.description, MAX_DESCRIPTION);
    if stored_method(f.method).is_none() {
        v.add(at("depreciation_method"), "is required");
    }
    if !(1..=MAX_LIFE_MONTHS).contains(&f.useful_life_months) {
        v.add(
            at("useful_life_months"),
            format!("must be 1 to {MAX_LIFE_MONTHS}"),
        );
    }
    if !(0..=100).contains(&f.salvage_percent) {
        v.add(at("salvage_percent"), "must be 0 to 100");
    }
    v.into_violations()
}

/// The orders of ListCategories.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Order {
    Name,
    Code,
    Newest,
}

/// Where a page of categories ended.
#[derive(Debug, Serialize, Deserialize)]
struct After(String, Option<chrono::DateTime<chrono::Utc>>, String);

/// The categories' domain.
#[derive(Debug, Clone)]
pub struct Categories {
    db: Db,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
}

impl Categories {
    /// Over `db`.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> Categories {
        Categories {
            db,
            outbox: Outbox::new(System::Ams).with_clock(clock.clone()),
            clock,
            pager,
        }
    }

    async fn enqueue(
        &self,
        txn: &DatabaseTransaction,
        event_type: &'static str,
        category: &Category,
        payload: &impl prost::Name,
    ) -> Result<(), AmsError> {
        self.outbox
            .enqueue(
                txn,
                NewEvent::new(event_type, category.id.clone(), category.version, payload),
            )
            .await
            .map_err(|e| AmsError::from(map_kit::ApiError::from(e)))?;
        Ok(())
    }

    /// CreateCategory.
    pub async fn create(
        &self,
        key: &Idempotent,
        code: &str,
        fields: CategoryFields,
    ) -> Result<pb::CreateCategoryResponse, AmsError> {
        let code = code.trim().to_uppercase();
        let mut v = violations("", &fields);
        if !is_code(&code) {
            v.insert(
                0,
                FieldViolation {
                    field: "code".into(),
                    description: "must be 1 to 20 upper-case letters, digits and hyphens".into(),
                },
            );
        }
        if !v.is_empty() {
            return Err(AmsError::InvalidArgument(v));
        }
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        if categories::Entity::find()
            .filter(categories::Column::Code.eq(code.clone()))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(AmsError::AlreadyExists {
                reason: "DUPLICATE_CODE",
                message: format!("a category with code {code} exists"),
            });
        }
        let now = self.clock.now();
        let category = categories::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            code: Set(code),
            name: Set(fields.name.trim().to_owned()),
            name_normalized: Set(normalize(&fields.name)),
            description: Set(fields.description),
            depreciation_method: Set(stored_method(fields.method).unwrap_or_default().to_owned()),
            useful_life_months: Set(fields.useful_life_months),
            salvage_percent: Set(fields.salvage_percent),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| name_taken_or(e, &fields.name))?;
        let payload = ev::AmsCategoryCreated {
            category: Some(snapshot(&category)),
        };
        self.enqueue(&txn, "ams.category.created", &category, &payload)
            .await?;
        let response = pb::CreateCategoryResponse {
            category: Some(to_proto(&category)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(category = %category.code, "category created");
        Ok(response)
    }

    /// GetCategory, by id or code.
    pub async fn get(&self, id: &str, code: &str) -> Result<Category, AmsError> {
        let q = categories::Entity::find();
        let q = match (id.is_empty(), code.is_empty()) {
            (false, true) => {
                let mut v = Violations::default();
                v.uuid("id", id);
                v.finish()?;
                q.filter(categories::Column::Id.eq(id))
            }
            (true, false) => q.filter(categories::Column::Code.eq(code.trim().to_uppercase())),
            _ => {
                return Err(AmsError::invalid(
                    "lookup",
                    "set exactly one of id and code",
                ));
            }
        };
        q.one(self.db.conn())
            .await?
            .ok_or(AmsError::NotFound("category"))
    }

    /// ListCategories.
    pub async fn list(
        &self,
        order_by: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Category>, String), AmsError> {
        let size = PageSize::parse(page_size)?;
        let words: Vec<&str> = order_by.split_whitespace().collect();
        let order = match words.as_slice() {
            [] | ["name"] | ["name", "asc"] => Order::Name,
            ["code"] | ["code", "asc"] => Order::Code,
            ["create_time", "desc"] => Order::Newest,
            _ => {
                return Err(AmsError::invalid(
                    "order_by",
                    "supported: \"name\" (the default), \"code\", \"create_time desc\"",
                ));
            }
        };
        use categories::Column as C;
        let sort = match order {
            Order::Name => Sort::default()
                .key(C::NameNormalized.into_expr(), Direction::Ascending)
                .key(C::Id.into_expr(), Direction::Ascending),
            Order::Code => Sort::default().key(C::Code.into_expr(), Direction::Ascending),
            Order::Newest => Sort::default()
                .key(C::CreatedAt.into_expr(), Direction::Descending)
                .key(C::Id.into_expr(), Direction::Descending),
        };
        let cursor: Option<After> = self.pager.open("categories", &order, page_token)?;
        let mut q = sort.order(categories::Entity::find());
        if let Some(After(text, at, id)) = cursor {
            let values: Vec<Value> = match order {
                Order::Name => vec![text.into(), id.into()],
                Order::Code => vec![text.into()],
                Order::Newest => vec![at.into(), id.into()],
            };
            q = q.filter(sort.after(values));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self
            .pager
            .page("categories", &order, rows, size, |c| match order {
                Order::Name => After(c.name_normalized.clone(), None, c.id.clone()),
                Order::Code => After(c.code.clone(), None, String::new()),
                Order::Newest => After(String::new(), Some(c.created_at), c.id.clone()),
            }))
    }

    /// UpdateCategory: the `paths` of `fields` replaced if `etag` is current.
    pub async fn update(
        &self,
        id: &str,
        sent_etag: &str,
        paths: &BTreeSet<&'static str>,
        fields: CategoryFields,
    ) -> Result<Category, AmsError> {
        let mut v = Violations::default();
        v.uuid("category.id", id);
        if sent_etag.is_empty() {
            v.add("category.etag", "is required (the etag you read)");
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        let row = find(&txn, id).await?;
        check_etag(System::Ams, "category.etag", sent_etag, row.version)?;
        let current = CategoryFields {
            name: row.name.clone(),
            description: row.description.clone(),
            method: to_proto(&row).depreciation_method(),
            useful_life_months: row.useful_life_months,
            salvage_percent: row.salvage_percent,
        };
        let mut next = current.clone();
        if paths.contains("name") {
            next.name = fields.name;
        }
        if paths.contains("description") {
            next.description = fields.description;
        }
        if paths.contains("depreciation_method") {
            next.method = fields.method;
        }
        if paths.contains("useful_life_months") {
            next.useful_life_months = fields.useful_life_months;
        }
        if paths.contains("salvage_percent") {
            next.salvage_percent = fields.salvage_percent;
        }
        let v = violations("category.", &next);
        if !v.is_empty() {
            return Err(AmsError::InvalidArgument(v));
        }
        if next == current {
            return Ok(row);
        }
        let updated = categories::Entity::update_many()
            .set(categories::ActiveModel {
                name: Set(next.name.trim().to_owned()),
                name_normalized: Set(normalize(&next.name)),
                description: Set(next.description.clone()),
                depreciation_method: Set(stored_method(next.method).unwrap_or_default().to_owned()),
                useful_life_months: Set(next.useful_life_months),
                salvage_percent: Set(next.salvage_percent),
                version: Set(row.version + 1),
                updated_at: Set(self.clock.now()),
                ..Default::default()
            })
            .filter(categories::Column::Id.eq(row.id.clone()))
            .filter(categories::Column::Version.eq(row.version))
            .exec(&txn)
            .await
            .map_err(|e| name_taken_or(e, &next.name))?;
        if updated.rows_affected != 1 {
            return Err(AmsError::EtagMismatch);
        }
        let category = find(&txn, id).await?;
        let changed: Vec<String> = UPDATE_PATHS
            .iter()
            .filter(|p| match **p {
                "name" => next.name != current.name,
                "description" => next.description != current.description,
                "depreciation_method" => next.method != current.method,
                "useful_life_months" => next.useful_life_months != current.useful_life_months,
                _ => next.salvage_percent != current.salvage_percent,
            })
            .map(|p| (*p).to_owned())
            .collect();
        let payload = ev::AmsCategoryUpdated {
            category: Some(snapshot(&category)),
            changed_fields: changed,
        };
        self.enqueue(&txn, "ams.category.updated", &category, &payload)
            .await?;
        txn.commit().await?;
        tracing::info!(category = %category.code, "category updated");
        Ok(category)
    }
}

fn normalize(name: &str) -> String {
    name.trim().to_lowercase()
}

fn name_taken_or(e: sea_orm::DbErr, name: &str) -> AmsError {
    if is_unique_violation(&e) {
        AmsError::AlreadyExists {
            reason: "DUPLICATE_NAME",
            message: format!("a category named {:?} exists", name.trim()),
        }
    } else {
        AmsError::Db(e)
    }
}

async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Category, AmsError> {
    categories::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(AmsError::NotFound("category"))
}

/// The category of `code`, NOT_FOUND naming `field` otherwise.
pub async fn by_code<C: ConnectionTrait>(conn: &C, code: &str) -> Result<Category, AmsError> {
    categories::Entity::find()
        .filter(categories::Column::Code.eq(code))
        .one(conn)
        .await?
        .ok_or(AmsError::NotFound("category"))
}
