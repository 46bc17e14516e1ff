//! Fiscal years: named periods of whole days, immutable once created and
//! never overlapping, so a date belongs to at most one (the worker books an
//! AMS expense in the fiscal year of its date).

use chrono::NaiveDate;
use map_contracts::{bms::v1 as pb, google::r#type::Date};
use map_kit::{
    Violations,
    clock::Clock,
    db::Db,
    idempotency::Idempotent,
    paging::{Direction, PageSize, Pager, Sort},
    wire::{
        date::{date, from_date, required_date},
        time::timestamp,
    },
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _, QuerySelect as _, Value,
};
use serde::{Deserialize, Serialize};

use crate::{BmsError, entity::fiscal_years};

/// Longest name.
pub const MAX_NAME: usize = 100;

/// A fiscal year as stored.
pub type FiscalYear = fiscal_years::Model;

/// The fiscal year on the wire.
pub fn to_proto(y: &FiscalYear) -> pb::FiscalYear {
    pb::FiscalYear {
        id: y.id.clone(),
        name: y.name.clone(),
        start_date: Some(date(y.start_date)),
        end_date: Some(date(y.end_date)),
        create_time: Some(timestamp(y.created_at)),
    }
}

/// The fiscal year containing `day`, if any.
pub async fn containing<C: ConnectionTrait>(
    conn: &C,
    day: NaiveDate,
) -> Result<Option<FiscalYear>, BmsError> {
    Ok(fiscal_years::Entity::find()
        .filter(fiscal_years::Column::StartDate.lte(day))
        .filter(fiscal_years::Column::EndDate.gte(day))
        .one(conn)
        .await?)
}

/// The fiscal year `id`.
pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<FiscalYear, BmsError> {
    fiscal_years::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(BmsError::NotFound("fiscal year"))
}

/// The orders of ListFiscalYears.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Order {
    NewestFirst,
    Oldest,
    Name,
}

/// The filters a page token is bound to.
#[derive(Debug, Serialize)]
struct Filters {
    order: Order,
    contains: Option<NaiveDate>,
}

/// Where a page ended.
#[derive(Debug, Serialize, Deserialize)]
struct After(Option<NaiveDate>, String);

/// The fiscal years' domain.
#[derive(Debug, Clone)]
pub struct FiscalYears {
    db: Db,
    clock: Clock,
    pager: Pager,
}

impl FiscalYears {
    /// Over `db`.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> FiscalYears {
        FiscalYears { db, clock, pager }
    }

    /// CreateFiscalYear.
    pub async fn create(
        &self,
        key: &Idempotent,
        r: &pb::CreateFiscalYearRequest,
    ) -> Result<pb::CreateFiscalYearResponse, BmsError> {
        let mut v = Violations::default();
        v.text("name", &r.name, MAX_NAME);
        let mut violations = v.into_violations();
        let start = field(&mut violations, "start_date", r.start_date.as_ref());
        let end = field(&mut violations, "end_date", r.end_date.as_ref());
        if let (Some(s), Some(e)) = (start, end)
            && e <= s
        {
            violations.push(map_kit::FieldViolation {
                field: "end_date".into(),
                description: "must be after start_date".into(),
            });
        }
        let (Some(start), Some(end), true) = (start, end, violations.is_empty()) else {
            return Err(BmsError::InvalidArgument(violations));
        };
        let name = r.name.trim().to_owned();
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        if fiscal_years::Entity::find()
            .filter(fiscal_years::Column::Name.eq(name.clone()))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(BmsError::AlreadyExists {
                reason: "DUPLICATE_NAME",
                message: format!("a fiscal year named {name:?} exists"),
            });
        }
        if let Some(other) = fiscal_years::Entity::find()
            .filter(fiscal_years::Column::StartDate.lte(end))
            .filter(fiscal_years::Column::EndDate.gte(start))
            .one(&txn)
            .await?
        {
            return Err(BmsError::precondition(
                "FISCAL_YEAR_OVERLAP",
                format!(
                    "it overlaps {} ({} to {})",
                    other.name, other.start_date, other.end_date
                ),
            ));
        }
        let now = self.clock.now();
        let year = fiscal_years::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            name: Set(name),
            start_date: Set(start),
            end_date: Set(end),
            created_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| {
            if map_kit::db::is_unique_violation(&e) {
                BmsError::AlreadyExists {
                    reason: "DUPLICATE_NAME",
                    message: "a fiscal year with that name exists".into(),
                }
            } else {
                BmsError::Db(e)
            }
        })?;
        let response = pb::CreateFiscalYearResponse {
            fiscal_year: Some(to_proto(&year)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(fiscal_year = %year.name, "fiscal year created");
        Ok(response)
    }

    /// GetFiscalYear, by id or name.
    pub async fn get(
        &self,
        lookup: Option<&pb::get_fiscal_year_request::Lookup>,
    ) -> Result<FiscalYear, BmsError> {
        use pb::get_fiscal_year_request::Lookup;
        match lookup {
            Some(Lookup::Id(id)) => {
                let mut v = Violations::default();
                v.uuid("id", id);
                v.finish()?;
                find(self.db.conn(), id).await
            }
            Some(Lookup::Name(name)) => fiscal_years::Entity::find()
                .filter(fiscal_years::Column::Name.eq(name.as_str()))
                .one(self.db.conn())
                .await?
                .ok_or(BmsError::NotFound("fiscal year")),
            None => Err(BmsError::invalid("lookup", "set one of id and name")),
        }
    }

    /// ListFiscalYears.
    pub async fn list(
        &self,
        r: &pb::ListFiscalYearsRequest,
    ) -> Result<(Vec<FiscalYear>, String), BmsError> {
        let size = PageSize::parse(r.page_size)?;
        let words: Vec<&str> = r.order_by.split_whitespace().collect();
        let order = match words.as_slice() {
            [] | ["start_date", "desc"] => Order::NewestFirst,
            ["start_date"] | ["start_date", "asc"] => Order::Oldest,
            ["name"] | ["name", "asc"] => Order::Name,
            _ => {
                return Err(BmsError::invalid(
                    "order_by",
                    "supported: \"start_date desc\" (the default), \"start_date\", \"name\"",
                ));
            }
        };
        let contains = match r.contains_date.as_ref() {
            Some(d) => Some(from_date("contains_date", d)?),
            None => None,
        };
        use fiscal_years::Column as C;
        let sort = match order {
            Order::NewestFirst => {
                Sort::default().key(C::StartDate.into_expr(), Direction::Descending)
            }
            Order::Oldest => Sort::default().key(C::StartDate.into_expr(), Direction::Ascending),
            Order::Name => Sort::default().key(C::Name.into_expr(), Direction::Ascending),
        };
        let filters = Filters { order, contains };
        let cursor: Option<After> = self.pager.open("fiscal_years", &filters, &r.page_token)?;
        let mut q = sort.order(fiscal_years::Entity::find());
        if let Some(day) = contains {
            q = q.filter(C::StartDate.lte(day)).filter(C::EndDate.gte(day));
        }
        if let Some(After(start, name)) = cursor {
            let values: Vec<Value> = match order {
                Order::Name => vec![name.into()],
                _ => vec![start.into()],
            };
            q = q.filter(sort.after(values));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self
            .pager
            .page("fiscal_years", &filters, rows, size, |y| match order {
                Order::Name => After(None, y.name.clone()),
                _ => After(Some(y.start_date), String::new()),
            }))
    }
}

/// The required date `name` of a request, its violation added otherwise.
fn field(
    violations: &mut Vec<map_kit::FieldViolation>,
    name: &str,
    d: Option<&Date>,
) -> Option<NaiveDate> {
    match required_date(name, d) {
        Ok(d) => Some(d),
        Err(map_kit::ApiError::InvalidArgument(v)) => {
            violations.extend(v);
            None
        }
        Err(_) => None,
    }
}
