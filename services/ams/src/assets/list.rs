//! The listings: ListAssets (filtered, in six orders, ties by number),
//! ListMyAssets, ListAssetTransactions and ListMaintenanceRecords, each
//! keyset-paged with tokens that bind the filters and the order.
//!
//! Every ListAssets filter that narrows by equality (status, category,
//! department, location) leads an index in number order (migration ams
//! m0001), so a page in the default order reads one page of index entries
//! whatever the register's size.

use chrono::{DateTime, NaiveDate, TimeZone as _, Utc};
use map_contracts::ams::v1 as pb;
use map_kit::{
    FieldViolation, Violations,
    paging::{Direction, PageSize, Sort, number_values},
    wire::time::from_timestamp,
};
use sea_orm::{
    ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
    sea_query::{Expr, ExprTrait as _, Func},
};
use serde::{Deserialize, Serialize};

use super::{Asset, Assets, Kind, Status, Transaction, find, register::normalize_location};
use crate::{
    AmsError,
    entity::{asset_transactions, assets, maintenance_records},
};

/// The orders of ListAssets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum Order {
    Number,
    Name,
    Newest,
    RecentlyUpdated,
    RecentlyBought,
    DueFirst,
}

impl Order {
    fn parse(order_by: &str) -> Result<Order, FieldViolation> {
        let words: Vec<&str> = order_by.split_whitespace().collect();
        Ok(match words.as_slice() {
            [] | ["number"] | ["number", "asc"] => Order::Number,
            ["name"] | ["name", "asc"] => Order::Name,
            ["create_time", "desc"] => Order::Newest,
            ["update_time", "desc"] => Order::RecentlyUpdated,
            ["purchase_date", "desc"] => Order::RecentlyBought,
            ["expected_return_time"] | ["expected_return_time", "asc"] => Order::DueFirst,
            _ => {
                return Err(FieldViolation {
                    field: "order_by".into(),
                    description: "supported: \"number\" (the default), \"name\", \
                                  \"create_time desc\", \"update_time desc\", \
                                  \"purchase_date desc\", \"expected_return_time\""
                        .into(),
                });
            }
        })
    }

    fn sort(self) -> Sort {
        use Direction::{Ascending, Descending};
        use assets::Column as C;
        let base = Sort::default();
        match self {
            Order::Number => base,
            Order::Name => base.key(C::Name.into_expr(), Ascending),
            Order::Newest => base.key(C::CreatedAt.into_expr(), Descending),
            Order::RecentlyUpdated => base.key(C::UpdatedAt.into_expr(), Descending),
            Order::RecentlyBought => base.key(C::PurchaseDate.into_expr(), Descending),
            Order::DueFirst => base.key(due_key(), Ascending),
        }
        .number(C::Number, self.number_direction())
    }

    fn number_direction(self) -> Direction {
        match self {
            Order::Newest | Order::RecentlyUpdated | Order::RecentlyBought => Direction::Descending,
            _ => Direction::Ascending,
        }
    }

    fn key(self, a: &Asset) -> After {
        let number = a.number.clone();
        match self {
            Order::Number => After::Number(number),
            Order::Name => After::Text(a.name.clone(), number),
            Order::Newest => After::Time(a.created_at, number),
            Order::RecentlyUpdated => After::Time(a.updated_at, number),
            Order::RecentlyBought => After::Date(a.purchase_date, number),
            Order::DueFirst => After::Time(a.expected_return_at.unwrap_or_else(never), number),
        }
    }

    fn values(self, after: After) -> Result<Vec<Value>, AmsError> {
        let (first, number) = match (self, after) {
            (Order::Number, After::Number(n)) => (None, n),
            (Order::Name, After::Text(t, n)) => (Some(Value::from(t)), n),
            (Order::Newest | Order::RecentlyUpdated | Order::DueFirst, After::Time(t, n)) => {
                (Some(Value::from(t)), n)
            }
            (Order::RecentlyBought, After::Date(d, n)) => (Some(Value::from(d)), n),
            _ => {
                return Err(AmsError::invalid(
                    "page_token",
                    "is not a token issued for this listing",
                ));
            }
        };
        Ok(first.into_iter().chain(number_values(&number)).collect())
    }
}

/// Where a page ended: the sort key of its last asset.
#[derive(Debug, Serialize, Deserialize)]
enum After {
    Number(String),
    Text(String, String),
    Time(DateTime<Utc>, String),
    Date(NaiveDate, String),
}

/// The due time of an asset not expected back: after every real one.
fn never() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(9999, 12, 31, 0, 0, 0)
        .single()
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

/// The due-time key: the expected return time, or [`never`].
fn due_key() -> Expr {
    Func::coalesce([
        assets::Column::ExpectedReturnAt.into_expr(),
        Expr::val(never()),
    ])
    .into()
}

/// ListAssets' filters as the page token binds them.
#[derive(Debug, Serialize)]
struct Filters {
    order: Order,
    statuses: Vec<&'static str>,
    category: String,
    department: String,
    holder: String,
    query: String,
    location: String,
    overdue_only: bool,
    deactivated_only: bool,
}

impl Assets {
    /// ListAssets.
    pub async fn list(&self, r: &pb::ListAssetsRequest) -> Result<(Vec<Asset>, String), AmsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut v = Violations::default();
        let order = Order::parse(&r.order_by)
            .map_err(|bad| {
                v.add(bad.field, bad.description);
            })
            .unwrap_or(Order::Number);
        let mut statuses = Vec::new();
        for (i, s) in r.statuses.iter().enumerate() {
            match Status::from_proto(*s) {
                Some(s) if !statuses.contains(&s.as_str()) => statuses.push(s.as_str()),
                Some(_) => {}
                None => {
                    v.add(format!("statuses[{i}]"), "is not a status");
                }
            }
        }
        if !r.holder_user_id.is_empty() {
            v.uuid("holder_user_id", &r.holder_user_id);
        }
        v.optional_text("query", &r.query, 200);
        v.finish()?;
        let filters = Filters {
            order,
            statuses,
            category: r.category_code.trim().to_uppercase(),
            department: r.department_code.trim().to_uppercase(),
            holder: r.holder_user_id.clone(),
            query: r.query.trim().to_lowercase(),
            location: normalize_location(&r.location),
            overdue_only: r.overdue_only,
            deactivated_only: r.holder_deactivated_only,
        };
        use assets::Column as C;
        let mut c = Condition::all();
        if !filters.statuses.is_empty() {
            c = c.add(C::Status.is_in(filters.statuses.iter().copied()));
        }
        if !filters.category.is_empty() {
            c = c.add(C::CategoryCode.eq(filters.category.clone()));
        }
        if !filters.department.is_empty() {
            c = c.add(C::DepartmentCode.eq(filters.department.clone()));
        }
        if !filters.holder.is_empty() {
            c = c.add(C::HolderUserId.eq(filters.holder.clone()));
        }
        if !filters.location.is_empty() {
            c = c.add(
                Condition::any()
                    .add(C::LocationNormalized.eq(filters.location.clone()))
                    .add(Func::lower(C::HolderLocation.into_expr()).eq(filters.location.clone())),
            );
        }
        if !filters.query.is_empty() {
            let pattern = format!("%{}%", escape_like(&filters.query));
            c = c.add(
                Condition::any()
                    .add(Func::lower(C::Name.into_expr()).like(pattern.clone()))
                    .add(Func::lower(C::Number.into_expr()).like(pattern.clone()))
                    .add(Func::lower(C::Serial.into_expr()).like(pattern)),
            );
        }
        if filters.overdue_only {
            c = c
                .add(C::Status.eq(Status::CheckedOut.as_str()))
                .add(C::ExpectedReturnAt.lt(self.clock.now()));
        }
        if filters.deactivated_only {
            c = c.add(C::HolderDeactivated.eq(true));
        }
        self.page_of_assets(c, order, &filters, size, &r.page_token)
            .await
    }

    /// ListMyAssets: the assets checked out to `user_id`, by number.
    pub async fn list_mine(
        &self,
        user_id: &str,
        page_size: i32,
        page_token: &str,
    ) -> Result<(Vec<Asset>, String), AmsError> {
        let size = PageSize::parse(page_size)?;
        let filters = Filters {
            order: Order::Number,
            statuses: vec![Status::CheckedOut.as_str()],
            category: String::new(),
            department: String::new(),
            holder: user_id.to_owned(),
            query: String::new(),
            location: String::new(),
            overdue_only: false,
            deactivated_only: false,
        };
        let c = Condition::all().add(assets::Column::HolderUserId.eq(user_id));
        self.page_of_assets(c, Order::Number, &filters, size, page_token)
            .await
    }

    async fn page_of_assets(
        &self,
        c: Condition,
        order: Order,
        filters: &Filters,
        size: PageSize,
        page_token: &str,
    ) -> Result<(Vec<Asset>, String), AmsError> {
        let sort = order.sort();
        let mut q = sort.order(assets::Entity::find().filter(c));
        if let Some(after) = self.pager.open::<After>("assets", filters, page_token)? {
            q = q.filter(sort.after(order.values(after)?));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self
            .pager
            .page("assets", filters, rows, size, |a| order.key(a)))
    }

    /// ListAssetTransactions.
    pub async fn transactions(
        &self,
        r: &pb::ListAssetTransactionsRequest,
    ) -> Result<(Vec<Transaction>, String), AmsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut v = Violations::default();
        let direction = Direction::of_one_field(&r.order_by, "time")
            .map_err(|bad| {
                v.add(bad.field, bad.description);
            })
            .ok()
            .map(|d| {
                if r.order_by.trim().is_empty() {
                    Direction::Descending
                } else {
                    d
                }
            })
            .unwrap_or(Direction::Descending);
        if !r.asset_id.is_empty() {
            v.uuid("asset_id", &r.asset_id);
        }
        if !r.actor_user_id.is_empty() {
            v.uuid("actor_user_id", &r.actor_user_id);
        }
        let mut kinds = Vec::new();
        for (i, t) in r.types.iter().enumerate() {
            match Kind::from_proto(*t) {
                Some(k) => kinds.push(k.as_str()),
                None => {
                    v.add(format!("types[{i}]"), "is not a transaction type");
                }
            }
        }
        let start = r.start_time.as_ref().and_then(|t| {
            from_timestamp("start_time", t)
                .map_err(|_| v.add("start_time", "is not a valid time"))
                .ok()
        });
        let end = r.end_time.as_ref().and_then(|t| {
            from_timestamp("end_time", t)
                .map_err(|_| v.add("end_time", "is not a valid time"))
                .ok()
        });
        v.finish()?;
        if !r.asset_id.is_empty() {
            find(self.db.conn(), &r.asset_id).await?;
        }
        use asset_transactions::Column as C;
        let mut c = Condition::all();
        if !r.asset_id.is_empty() {
            c = c.add(C::AssetId.eq(r.asset_id.clone()));
        }
        if !r.actor_user_id.is_empty() {
            c = c.add(C::ActorUserId.eq(r.actor_user_id.clone()));
        }
        if !kinds.is_empty() {
            c = c.add(C::Kind.is_in(kinds.clone()));
        }
        if let Some(s) = start {
            c = c.add(C::At.gte(s));
        }
        if let Some(e) = end {
            c = c.add(C::At.lt(e));
        }
        let bound = (
            direction == Direction::Ascending,
            &r.asset_id,
            &r.actor_user_id,
            &kinds,
            start,
            end,
        );
        let sort = Sort::default()
            .key(C::At.into_expr(), direction)
            .key(C::Id.into_expr(), direction);
        let mut q = sort.order(asset_transactions::Entity::find().filter(c));
        if let Some((at, id)) = self.pager.open::<(DateTime<Utc>, String)>(
            "asset_transactions",
            &bound,
            &r.page_token,
        )? {
            q = q.filter(sort.after(vec![at.into(), id.into()]));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        Ok(self
            .pager
            .page("asset_transactions", &bound, rows, size, |t| {
                (t.at, t.id.clone())
            }))
    }

    /// ListMaintenanceRecords: newest start date first.
    pub async fn maintenance(
        &self,
        r: &pb::ListMaintenanceRecordsRequest,
    ) -> Result<(Vec<pb::MaintenanceRecord>, String), AmsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut v = Violations::default();
        v.uuid("asset_id", &r.asset_id);
        v.finish()?;
        let asset = find(self.db.conn(), &r.asset_id).await?;
        use maintenance_records::Column as C;
        let sort = Sort::default()
            .key(C::StartDate.into_expr(), Direction::Descending)
            .key(C::Id.into_expr(), Direction::Descending);
        let mut q =
            sort.order(maintenance_records::Entity::find().filter(C::AssetId.eq(asset.id.clone())));
        if let Some((start, id)) = self.pager.open::<(NaiveDate, String)>(
            "maintenance_records",
            &asset.id,
            &r.page_token,
        )? {
            q = q.filter(sort.after(vec![start.into(), id.into()]));
        }
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        let (rows, next) = self
            .pager
            .page("maintenance_records", &asset.id, rows, size, |m| {
                (m.start_date, m.id.clone())
            });
        Ok((
            rows.iter()
                .map(|m| super::changes::record_to_proto(m, &asset.number))
                .collect(),
            next,
        ))
    }
}

/// `s` without LIKE's wildcards: a search for "50%" finds "50" (neither
/// backend escapes LIKE by default, and a name rarely holds either).
fn escape_like(s: &str) -> String {
    s.replace(['%', '_'], "")
}
