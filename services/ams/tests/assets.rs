//! AMS's register through a real gRPC server on port 0, on both databases:
//! categories (upper-cased immutable codes, case-insensitive unique names,
//! etags, three orders paged, retries by request_id); an asset's whole life
//! through the status machine, every move one ledger entry, one version and
//! a new etag, and the `ams.asset.*` events the contract owes (decoded from
//! the outbox); illegal and malformed moves refused with their reason or
//! field and nothing written; one winner among a hundred concurrent
//! check-outs, and a ledger that replays to the asset after a race of
//! check-outs and check-ins; retries by request_id; cost corrections;
//! maintenance; every ListAssets filter and order paged page by page as in
//! one page; "my assets"; depreciation schedules; and the policy matrix of
//! the three services. Time moves with the fixture's ManualClock.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chrono::{DateTime, Datelike as _, Utc};
use map_ams::entity::{asset_transactions, assets, maintenance_records};
use map_contracts::{
    ams::v1::{self as pb, asset_service_client::AssetServiceClient},
    common::v1::Money,
    events::v1 as ev,
    google::r#type::Date,
};
use map_kit::{
    directory::{Reaction as _, UserChange, entity as directory},
    outbox::entity as outbox,
    testing::{Caller, check_policy_matrix},
};
use sea_orm::{ActiveModelTrait as _, ActiveValue::Set, EntityTrait as _, PaginatorTrait as _};
use support::{Fixture, fields, id_of, reason, usd};
use tonic::{Code, Status};

// ---------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------

/// A fresh request id.
fn rid() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

fn eur(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "EUR".into(),
    }
}

fn ts(t: DateTime<Utc>) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// `status` is `code` with the ErrorInfo reason `why`.
#[track_caller]
fn refused(status: &Status, code: Code, why: &str) {
    assert_eq!(
        (status.code(), reason(status).as_str()),
        (code, why),
        "{status:?}"
    );
}

/// `status` is INVALID_ARGUMENT naming `field`.
#[track_caller]
fn invalid(status: &Status, field: &str) {
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    let named = fields(status);
    assert!(
        named.iter().any(|f| f == field),
        "{field} missing from {named:?}: {status:?}"
    );
}

/// `after` is `before` moved once: next version, new etag.
#[track_caller]
fn follows(before: &pb::Asset, after: &pb::Asset) {
    assert_eq!(after.id, before.id);
    assert_eq!(after.version, before.version + 1, "{after:?}");
    assert_ne!(after.etag, before.etag);
    assert!(!after.etag.is_empty());
}

/// Rows in AMS's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Counts {
    assets: u64,
    ledger: u64,
    outbox: u64,
    maintenance: u64,
}

async fn counts(fx: &Fixture) -> Counts {
    let conn = fx.db.db.conn();
    Counts {
        assets: assets::Entity::find().count(conn).await.unwrap(),
        ledger: asset_transactions::Entity::find()
            .count(conn)
            .await
            .unwrap(),
        outbox: outbox::Entity::find().count(conn).await.unwrap(),
        maintenance: maintenance_records::Entity::find()
            .count(conn)
            .await
            .unwrap(),
    }
}

async fn get(fx: &Fixture, id: &str) -> pb::Asset {
    fx.assets_client()
        .await
        .get_asset(fx.viewer.request(pb::GetAssetRequest {
            lookup: Some(pb::get_asset_request::Lookup::Id(id.into())),
        }))
        .await
        .unwrap()
        .into_inner()
        .asset
        .unwrap()
}

/// The assets `ids` as read and the rows of every table: what a refused
/// request must leave as it was.
async fn frozen(fx: &Fixture, ids: &[&str]) -> (Vec<pb::Asset>, Counts) {
    let mut read = Vec::new();
    for id in ids {
        read.push(get(fx, id).await);
    }
    (read, counts(fx).await)
}

/// The ledger of `asset_id`, oldest first ("time"), every page.
async fn ledger(fx: &Fixture, asset_id: &str) -> Vec<pb::AssetTransaction> {
    let mut c = fx.assets_client().await;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = c
            .list_asset_transactions(fx.viewer.request(pb::ListAssetTransactionsRequest {
                asset_id: asset_id.into(),
                order_by: "time".into(),
                page_size: 500,
                page_token,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        all.extend(page.transactions);
        if page.next_page_token.is_empty() {
            return all;
        }
        page_token = page.next_page_token;
    }
}

/// The outbox's events of `event_type`, oldest first, decoded as `T`, with
/// their subject versions.
async fn events_of<T: prost::Name + Default>(fx: &Fixture, event_type: &str) -> Vec<(i64, T)> {
    fx.events()
        .await
        .into_iter()
        .filter(|(t, _, _)| t == event_type)
        .map(|(_, version, any)| (version, any.to_msg::<T>().unwrap()))
        .collect()
}

async fn check_out_req(
    fx: &Fixture,
    r: pb::CheckOutAssetRequest,
) -> Result<pb::CheckOutAssetResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .check_out_asset(fx.manager.request(r))
        .await?
        .into_inner())
}

async fn check_out_to(
    fx: &Fixture,
    asset_id: &str,
    holder_user_id: &str,
) -> Result<pb::CheckOutAssetResponse, Status> {
    check_out_req(
        fx,
        pb::CheckOutAssetRequest {
            asset_id: asset_id.into(),
            holder_user_id: holder_user_id.into(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
}

async fn check_in_req(
    fx: &Fixture,
    r: pb::CheckInAssetRequest,
) -> Result<pb::CheckInAssetResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .check_in_asset(fx.manager.request(r))
        .await?
        .into_inner())
}

async fn check_in(
    fx: &Fixture,
    asset_id: &str,
    note: &str,
) -> Result<pb::CheckInAssetResponse, Status> {
    check_in_req(
        fx,
        pb::CheckInAssetRequest {
            asset_id: asset_id.into(),
            note: note.into(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
}

async fn transfer(
    fx: &Fixture,
    asset_id: &str,
    department: &str,
    location: &str,
) -> Result<pb::TransferAssetResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .transfer_asset(fx.manager.request(pb::TransferAssetRequest {
            asset_id: asset_id.into(),
            to_department_code: department.into(),
            to_location: location.into(),
            note: "Moved with the team".into(),
            request_id: rid(),
            ..Default::default()
        }))
        .await?
        .into_inner())
}

async fn repair(fx: &Fixture, asset_id: &str) -> Result<pb::SendToRepairResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .send_to_repair(fx.manager.request(pb::SendToRepairRequest {
            asset_id: asset_id.into(),
            note: "Screen flickers; Dell depot".into(),
            request_id: rid(),
            ..Default::default()
        }))
        .await?
        .into_inner())
}

async fn retire(fx: &Fixture, asset_id: &str) -> Result<pb::RetireAssetResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .retire_asset(fx.manager.request(pb::RetireAssetRequest {
            asset_id: asset_id.into(),
            note: "End of life".into(),
            request_id: rid(),
            ..Default::default()
        }))
        .await?
        .into_inner())
}

async fn lose(fx: &Fixture, asset_id: &str) -> Result<pb::ReportAssetLostResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .report_asset_lost(fx.manager.request(pb::ReportAssetLostRequest {
            asset_id: asset_id.into(),
            note: "Left on the train".into(),
            request_id: rid(),
            ..Default::default()
        }))
        .await?
        .into_inner())
}

async fn dispose_req(
    fx: &Fixture,
    r: pb::DisposeAssetRequest,
) -> Result<pb::DisposeAssetResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .dispose_asset(fx.manager.request(r))
        .await?
        .into_inner())
}

/// Sold for `proceeds`.
async fn dispose(
    fx: &Fixture,
    asset_id: &str,
    proceeds: Option<Money>,
) -> Result<pb::DisposeAssetResponse, Status> {
    dispose_req(
        fx,
        pb::DisposeAssetRequest {
            asset_id: asset_id.into(),
            method: pb::DisposalMethod::Sold.into(),
            reason: "Sold to staff".into(),
            proceeds,
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
}

async fn correct(
    fx: &Fixture,
    asset_id: &str,
    cost: Option<Money>,
    why: &str,
) -> Result<pb::CorrectAssetCostResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .correct_asset_cost(fx.manager.request(pb::CorrectAssetCostRequest {
            asset_id: asset_id.into(),
            purchase_cost: cost,
            reason: why.into(),
            request_id: rid(),
            ..Default::default()
        }))
        .await?
        .into_inner())
}

fn maintenance(
    asset_id: &str,
    kind: pb::MaintenanceKind,
    title: &str,
    cost: Option<Money>,
    start: Date,
    completion: Option<Date>,
) -> pb::AddMaintenanceRecordRequest {
    pb::AddMaintenanceRecordRequest {
        asset_id: asset_id.into(),
        kind: kind.into(),
        title: title.into(),
        supplier: "Dell depot".into(),
        cost,
        start_date: Some(start),
        completion_date: completion,
        notes: String::new(),
        request_id: rid(),
    }
}

async fn maintain(
    fx: &Fixture,
    r: pb::AddMaintenanceRecordRequest,
) -> Result<pb::AddMaintenanceRecordResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .add_maintenance_record(fx.manager.request(r))
        .await?
        .into_inner())
}

async fn update_asset(fx: &Fixture, asset: pb::Asset, paths: &[&str]) -> Result<pb::Asset, Status> {
    Ok(fx
        .assets_client()
        .await
        .update_asset(fx.manager.request(pb::UpdateAssetRequest {
            asset: Some(asset),
            update_mask: mask(paths),
        }))
        .await?
        .into_inner()
        .asset
        .unwrap())
}

/// Every asset ListAssets gives `who` for `r`, walking its pages.
async fn list_all(
    fx: &Fixture,
    who: &Caller,
    mut r: pb::ListAssetsRequest,
) -> Result<Vec<pb::Asset>, Status> {
    let mut c = fx.assets_client().await;
    let mut all = Vec::new();
    loop {
        let page = c.list_assets(who.request(r.clone())).await?.into_inner();
        all.extend(page.assets);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        r.page_token = page.next_page_token;
    }
}

/// The numbers of `assets`, in order.
fn numbers(assets: &[pb::Asset]) -> Vec<String> {
    assets.iter().map(|a| a.number.clone()).collect()
}

/// The numbers ListAssets gives the viewer for `r`, in one big page.
async fn listed(fx: &Fixture, r: pb::ListAssetsRequest) -> Vec<String> {
    numbers(
        &list_all(
            fx,
            &fx.viewer,
            pb::ListAssetsRequest {
                page_size: 500,
                ..r
            },
        )
        .await
        .unwrap(),
    )
}

fn nums(of: &[&pb::Asset]) -> Vec<String> {
    of.iter().map(|a| a.number.clone()).collect()
}

async fn my_assets(fx: &Fixture, who: &Caller, page_size: i32) -> Result<Vec<pb::Asset>, Status> {
    let mut c = fx.assets_client().await;
    let mut all = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = c
            .list_my_assets(who.request(pb::ListMyAssetsRequest {
                page_size,
                page_token,
            }))
            .await?
            .into_inner();
        all.extend(page.assets);
        if page.next_page_token.is_empty() {
            return Ok(all);
        }
        page_token = page.next_page_token;
    }
}

fn category_request(code: &str, name: &str) -> pb::CreateCategoryRequest {
    pb::CreateCategoryRequest {
        code: code.into(),
        name: name.into(),
        description: String::new(),
        depreciation_method: pb::DepreciationMethod::StraightLine.into(),
        useful_life_months: 36,
        salvage_percent: 10,
        request_id: rid(),
    }
}

async fn create_category(
    fx: &Fixture,
    r: pb::CreateCategoryRequest,
) -> Result<pb::Category, Status> {
    Ok(fx
        .categories_client()
        .await
        .create_category(fx.manager.request(r))
        .await?
        .into_inner()
        .category
        .unwrap())
}

/// Every category in `order_by`, walking pages of `page_size`.
async fn categories_in(fx: &Fixture, order_by: &str, page_size: i32) -> Vec<String> {
    let mut c = fx.categories_client().await;
    let mut codes = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = c
            .list_categories(fx.viewer.request(pb::ListCategoriesRequest {
                page_size,
                page_token,
                order_by: order_by.into(),
            }))
            .await
            .unwrap()
            .into_inner();
        if page_size > 0 {
            assert!(page.categories.len() <= usize::try_from(page_size).unwrap());
        }
        codes.extend(page.categories.into_iter().map(|c| c.code));
        if page.next_page_token.is_empty() {
            return codes;
        }
        page_token = page.next_page_token;
    }
}

async fn schedule(
    fx: &Fixture,
    asset_id: &str,
    period: pb::DepreciationPeriod,
) -> Result<pb::GetDepreciationScheduleResponse, Status> {
    Ok(fx
        .assets_client()
        .await
        .get_depreciation_schedule(fx.viewer.request(pb::GetDepreciationScheduleRequest {
            asset_id: asset_id.into(),
            period: period.into(),
        }))
        .await?
        .into_inner())
}

fn amount(m: Option<&Money>) -> i64 {
    m.unwrap().amount_minor
}

/// The book value, in cents, of the fixture's laptop (1,200.00 bought in
/// January 2025, straight line over 36 months to a 10% salvage) at the end
/// of the month of `today`: 30.00 a month off.
fn laptop_book_value(today: chrono::NaiveDate) -> i64 {
    let months = i64::from(today.year() - 2025) * 12 + i64::from(today.month());
    (120_000 - 3_000 * months).max(12_000)
}

/// `who` deactivated in Auth, as the directory sync applies it: the
/// directory row and AMS's reaction in one transaction.
async fn deactivate(fx: &Fixture, who: &Caller) {
    let conn = fx.db.db.conn();
    let before = map_kit::directory::read::user(conn, &id_of(who))
        .await
        .unwrap()
        .unwrap();
    let mut after = before.clone();
    after.active = false;
    after.version += 1;
    let txn = fx.db.db.begin_write().await.unwrap();
    let mut row: directory::users::ActiveModel = directory::users::Entity::find_by_id(id_of(who))
        .one(&txn)
        .await
        .unwrap()
        .unwrap()
        .into();
    row.active = Set(false);
    row.version = Set(after.version);
    row.update(&txn).await.unwrap();
    map_ams::custodians::FlagDeactivatedHolders
        .user_changed(
            &map_kit::bus::Event::new(ev::Envelope::default()),
            &UserChange {
                before: Some(before),
                after,
            },
            &txn,
        )
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

fn tx_types(
    entries: &[pb::AssetTransaction],
) -> Vec<(pb::AssetTransactionType, pb::AssetStatus, pb::AssetStatus)> {
    entries
        .iter()
        .map(|t| (t.r#type(), t.from_status(), t.to_status()))
        .collect()
}

// ---------------------------------------------------------------------------
// Categories
// ---------------------------------------------------------------------------

map_kit::db_tests! {
#[tokio::test]
async fn categories_are_created_read_listed_and_updated_with_etags() {
    let fx = Fixture::start().await;
    let step = Duration::from_secs(60);
    fx.clock.advance(step);
    let mut req = category_request("  desk ", "Desks");
    req.description = "Standing and fixed desks".into();
    req.depreciation_method = pb::DepreciationMethod::DecliningBalance.into();
    req.useful_life_months = 120;
    req.salvage_percent = 0;
    let desk = create_category(&fx, req).await.unwrap();
    assert_eq!(desk.code, "DESK");
    assert_eq!(desk.name, "Desks");
    assert_eq!(desk.description, "Standing and fixed desks");
    assert_eq!(
        desk.depreciation_method(),
        pb::DepreciationMethod::DecliningBalance
    );
    assert_eq!((desk.useful_life_months, desk.salvage_percent), (120, 0));
    assert_eq!(desk.version, 1);
    assert!(!desk.etag.is_empty());
    assert_eq!(desk.create_time, Some(ts(fx.clock.now())));
    fx.clock.advance(step);
    create_category(&fx, category_request("MONITOR", "displays"))
        .await
        .unwrap();
    fx.clock.advance(step);
    create_category(&fx, category_request("CHAIR", "Seating"))
        .await
        .unwrap();

    // By id and by code (compared upper case).
    let mut c = fx.categories_client().await;
    for lookup in [
        pb::get_category_request::Lookup::Id(desk.id.clone()),
        pb::get_category_request::Lookup::Code("Desk".into()),
    ] {
        let got = c
            .get_category(fx.viewer.request(pb::GetCategoryRequest {
                lookup: Some(lookup),
            }))
            .await
            .unwrap()
            .into_inner()
            .category
            .unwrap();
        assert_eq!(got, desk);
    }
    let missing = c
        .get_category(fx.viewer.request(pb::GetCategoryRequest {
            lookup: Some(pb::get_category_request::Lookup::Code("PHONE".into())),
        }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    let none = c
        .get_category(fx.viewer.request(pb::GetCategoryRequest { lookup: None }))
        .await
        .unwrap_err();
    assert_eq!(none.code(), Code::InvalidArgument, "{none:?}");
    let malformed = c
        .get_category(fx.viewer.request(pb::GetCategoryRequest {
            lookup: Some(pb::get_category_request::Lookup::Id("desk".into())),
        }))
        .await
        .unwrap_err();
    invalid(&malformed, "id");

    // Three orders, the same with one category a page as in one page; names
    // sort ignoring case (desks, displays, Laptops, Seating).
    for (order_by, expected) in [
        ("", ["DESK", "MONITOR", "LAPTOP", "CHAIR"]),
        ("name", ["DESK", "MONITOR", "LAPTOP", "CHAIR"]),
        ("code", ["CHAIR", "DESK", "LAPTOP", "MONITOR"]),
        ("create_time desc", ["CHAIR", "MONITOR", "DESK", "LAPTOP"]),
    ] {
        assert_eq!(
            categories_in(&fx, order_by, 0).await,
            expected,
            "{order_by}"
        );
        assert_eq!(
            categories_in(&fx, order_by, 1).await,
            expected,
            "{order_by} by one"
        );
    }
    let bad_order = c
        .list_categories(fx.viewer.request(pb::ListCategoriesRequest {
            order_by: "name desc".into(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    invalid(&bad_order, "order_by");
    let first = c
        .list_categories(fx.viewer.request(pb::ListCategoriesRequest {
            page_size: 1,
            order_by: "code".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let other_order = c
        .list_categories(fx.viewer.request(pb::ListCategoriesRequest {
            page_size: 1,
            order_by: "name".into(),
            page_token: first.next_page_token,
        }))
        .await
        .unwrap_err();
    invalid(&other_order, "page_token");

    // Updated with the etag read: the name and the depreciation fields.
    fx.clock.advance(step);
    let mut change = desk.clone();
    change.name = "Office desks".into();
    change.useful_life_months = 60;
    change.code = "IGNORED".into();
    let updated = c
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(change.clone()),
            update_mask: mask(&["name", "useful_life_months"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    assert_eq!(
        (updated.name.as_str(), updated.useful_life_months),
        ("Office desks", 60)
    );
    assert_eq!(updated.code, "DESK");
    assert_eq!(updated.salvage_percent, 0);
    assert_eq!(updated.version, 2);
    assert_ne!(updated.etag, desk.etag);
    assert_eq!(updated.create_time, desk.create_time);
    assert_eq!(updated.update_time, Some(ts(fx.clock.now())));

    // The etag read before is stale; the code never changes; a taken name
    // (ignoring case) is refused; nothing moves.
    let stale = c
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(change.clone()),
            update_mask: mask(&["name"]),
        }))
        .await
        .unwrap_err();
    refused(&stale, Code::Aborted, "ETAG_MISMATCH");
    let mut current = updated.clone();
    let code = c
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(current.clone()),
            update_mask: mask(&["code"]),
        }))
        .await
        .unwrap_err();
    invalid(&code, "update_mask");
    current.name = "LAPTOPS".into();
    let taken = c
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(current.clone()),
            update_mask: mask(&["name"]),
        }))
        .await
        .unwrap_err();
    refused(&taken, Code::AlreadyExists, "DUPLICATE_NAME");
    current.name = "Office desks".into();
    current.salvage_percent = 101;
    let bad = c
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(current.clone()),
            update_mask: mask(&["salvage_percent"]),
        }))
        .await
        .unwrap_err();
    invalid(&bad, "category.salvage_percent");
    let no_etag = c
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(pb::Category {
                etag: String::new(),
                ..updated.clone()
            }),
            update_mask: mask(&["name"]),
        }))
        .await
        .unwrap_err();
    invalid(&no_etag, "category.etag");
    let now = c
        .get_category(fx.viewer.request(pb::GetCategoryRequest {
            lookup: Some(pb::get_category_request::Lookup::Id(desk.id.clone())),
        }))
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    assert_eq!(now, updated);
}

#[tokio::test]
async fn bad_or_duplicate_categories_are_refused_and_retries_create_nothing() {
    let fx = Fixture::start().await;
    let listed = || async { categories_in(&fx, "code", 0).await };
    assert_eq!(listed().await, ["LAPTOP"]);

    let code = create_category(&fx, category_request("laptop", "Notebooks"))
        .await
        .unwrap_err();
    refused(&code, Code::AlreadyExists, "DUPLICATE_CODE");
    let name = create_category(&fx, category_request("NOTEBOOK", "  LAPTOPS "))
        .await
        .unwrap_err();
    refused(&name, Code::AlreadyExists, "DUPLICATE_NAME");

    let mut bad = category_request("lap top", "Laptops 2");
    bad.useful_life_months = 0;
    bad.salvage_percent = 101;
    bad.depreciation_method = pb::DepreciationMethod::Unspecified.into();
    let e = create_category(&fx, bad).await.unwrap_err();
    for field in [
        "code",
        "useful_life_months",
        "salvage_percent",
        "depreciation_method",
    ] {
        invalid(&e, field);
    }
    for (life, salvage, field) in [(601, 50, "useful_life_months"), (12, -1, "salvage_percent")]
    {
        let mut r = category_request("TABLET", "Tablets");
        r.useful_life_months = life;
        r.salvage_percent = salvage;
        invalid(&create_category(&fx, r).await.unwrap_err(), field);
    }
    let long = "x".repeat(201);
    for (code, name, field) in [
        ("", "Tablets", "code"),
        ("ABCDEFGHIJKLMNOPQRSTU", "Tablets", "code"),
        ("TABLET", "", "name"),
        ("TABLET", long.as_str(), "name"),
    ] {
        invalid(
            &create_category(&fx, category_request(code, name))
                .await
                .unwrap_err(),
            field,
        );
    }
    let mut no_id = category_request("TABLET", "Tablets");
    no_id.request_id = "tablet-1".into();
    invalid(
        &create_category(&fx, no_id).await.unwrap_err(),
        "request_id",
    );
    assert_eq!(listed().await, ["LAPTOP"]);

    // A retry answers the first category and creates nothing; the same id
    // for another category is refused.
    let first = category_request("TABLET", "Tablets");
    let made = create_category(&fx, first.clone()).await.unwrap();
    let again = create_category(&fx, first.clone()).await.unwrap();
    assert_eq!(again, made);
    let mut other = first.clone();
    other.code = "PHONE".into();
    other.name = "Phones".into();
    invalid(
        &create_category(&fx, other).await.unwrap_err(),
        "request_id",
    );
    assert_eq!(listed().await, ["LAPTOP", "TABLET"]);
}
}

// ---------------------------------------------------------------------------
// The life of an asset
// ---------------------------------------------------------------------------

map_kit::db_tests! {
#[tokio::test]
async fn an_asset_lives_its_whole_life_on_the_ledger() {
    let fx = Fixture::start().await;
    let step = Duration::from_secs(60);
    let employee = id_of(&fx.employee);
    let manager = id_of(&fx.manager);

    // Registered: in stock, the first number, version 1, its purchase
    // published with what BMS books.
    let mut req = fx.laptop("Dell Latitude 5440");
    req.serial = "SN-LIFE-1".into();
    let bought = fx.create(req).await.unwrap();
    assert_eq!(bought.status(), pb::AssetStatus::InStock);
    assert_eq!((bought.number.as_str(), bought.version), ("AST-000001", 1));
    assert!(!bought.etag.is_empty());
    assert_eq!(bought.holder_user_id, "");
    assert_eq!(bought.purchase_cost, Some(usd(120_000)));
    assert_eq!(
        (
            bought.category_code.as_str(),
            bought.department_code.as_str()
        ),
        ("LAPTOP", "IT")
    );
    assert_eq!(bought.purchase_date, Some(date(2025, 1, 15)));
    let by_number = fx
        .assets_client()
        .await
        .get_asset(fx.viewer.request(pb::GetAssetRequest {
            lookup: Some(pb::get_asset_request::Lookup::Number("ast-000001".into())),
        }))
        .await
        .unwrap()
        .into_inner()
        .asset
        .unwrap();
    assert_eq!(by_number, bought);
    let purchased = events_of::<ev::AmsAssetPurchased>(&fx, "ams.asset.purchased").await;
    assert_eq!(purchased.len(), 1);
    let (version, purchase) = &purchased[0];
    assert_eq!(*version, 1);
    let snap = purchase.asset.clone().unwrap();
    assert_eq!(
        (snap.id.as_str(), snap.number.as_str()),
        (bought.id.as_str(), "AST-000001")
    );
    assert_eq!(
        (snap.category_code.as_str(), snap.category_name.as_str()),
        ("LAPTOP", "Laptops")
    );
    assert_eq!(snap.purchase_cost, Some(usd(120_000)));
    assert_eq!(snap.department_code, "IT");
    assert_eq!(snap.purchase_date, Some(date(2025, 1, 15)));
    assert_eq!((snap.version, snap.status()), (1, ev::AssetStatus::InStock));
    assert_eq!(purchase.actor.as_ref().unwrap().user_id, manager);
    let entries = ledger(&fx, &bought.id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].id, purchase.transaction_id);
    assert_eq!(entries[0].amount, Some(usd(120_000)));
    assert_eq!(entries[0].to_department_code, "IT");

    // Checked out to the employee.
    fx.clock.advance(step);
    let out = check_out_to(&fx, &bought.id, &employee).await.unwrap();
    let a = out.asset.unwrap();
    follows(&bought, &a);
    assert_eq!(
        (a.status(), a.holder_user_id.as_str()),
        (pb::AssetStatus::CheckedOut, employee.as_str())
    );
    let checkout = out.transaction.unwrap();
    assert_eq!(checkout.r#type(), pb::AssetTransactionType::Checkout);
    assert_eq!(
        (
            checkout.holder_user_id.as_str(),
            checkout.actor_user_id.as_str()
        ),
        (employee.as_str(), manager.as_str())
    );
    assert_eq!(checkout.time, Some(ts(fx.clock.now())));
    let outs = events_of::<ev::AmsAssetCheckedOut>(&fx, "ams.asset.checked_out").await;
    assert_eq!(outs.len(), 1);
    let (version, event) = &outs[0];
    assert_eq!(*version, 2);
    assert_eq!(event.transaction_id, checkout.id);
    assert_eq!(event.checkout_time, checkout.time);
    let snap = event.asset.clone().unwrap();
    assert_eq!(
        (snap.version, snap.status()),
        (2, ev::AssetStatus::CheckedOut)
    );
    assert_eq!(snap.holder.unwrap().user_id, employee);

    // Checked in: the entry closes the checkout; not overdue.
    fx.clock.advance(step);
    let back = check_in(&fx, &a.id, "Scratched lid").await.unwrap();
    let b = back.asset.unwrap();
    follows(&a, &b);
    assert_eq!(
        (b.status(), b.holder_user_id.as_str()),
        (pb::AssetStatus::InStock, "")
    );
    let checkin = back.transaction.unwrap();
    assert_eq!(checkin.r#type(), pb::AssetTransactionType::Checkin);
    assert_eq!(checkin.checkout_transaction_id, checkout.id);
    assert_eq!(
        (checkin.holder_user_id.as_str(), checkin.note.as_str()),
        (employee.as_str(), "Scratched lid")
    );
    let ins = events_of::<ev::AmsAssetCheckedIn>(&fx, "ams.asset.checked_in").await;
    assert_eq!(ins.len(), 1);
    let (version, event) = &ins[0];
    assert_eq!(*version, 3);
    assert!(!event.was_overdue);
    assert_eq!(
        (
            event.transaction_id.as_str(),
            event.checkout_transaction_id.as_str()
        ),
        (checkin.id.as_str(), checkout.id.as_str())
    );
    assert_eq!(event.holder.as_ref().unwrap().user_id, employee);
    assert_eq!(event.condition_notes, "Scratched lid");
    let snap = event.asset.clone().unwrap();
    assert_eq!(
        (snap.status(), snap.holder.is_none()),
        (ev::AssetStatus::InStock, true)
    );

    // Transferred to FIN and another location: no event.
    let published = fx.events().await.len();
    fx.clock.advance(step);
    let moved = transfer(&fx, &b.id, "fin", "Finance 2F").await.unwrap();
    let c = moved.asset.unwrap();
    follows(&b, &c);
    assert_eq!(
        (c.department_code.as_str(), c.location.as_str()),
        ("FIN", "Finance 2F")
    );
    assert_eq!(c.status(), pb::AssetStatus::InStock);
    let t = moved.transaction.unwrap();
    assert_eq!(t.r#type(), pb::AssetTransactionType::Transfer);
    assert_eq!(
        (
            t.from_department_code.as_str(),
            t.to_department_code.as_str()
        ),
        ("IT", "FIN")
    );
    assert_eq!(
        (t.from_location.as_str(), t.to_location.as_str()),
        ("HQ 3F storage", "Finance 2F")
    );
    assert_eq!(fx.events().await.len(), published);

    // To repair and back: no checked_in event.
    fx.clock.advance(step);
    let sent = repair(&fx, &c.id).await.unwrap();
    let d = sent.asset.unwrap();
    follows(&c, &d);
    assert_eq!(d.status(), pb::AssetStatus::InRepair);
    assert_eq!(
        sent.transaction.unwrap().note,
        "Screen flickers; Dell depot"
    );
    fx.clock.advance(step);
    let repaired = check_in(&fx, &d.id, "Panel replaced").await.unwrap();
    let e = repaired.asset.unwrap();
    follows(&d, &e);
    assert_eq!(e.status(), pb::AssetStatus::InStock);
    assert_eq!(repaired.transaction.unwrap().checkout_transaction_id, "");

    // Retired, then back in service.
    fx.clock.advance(step);
    let f = retire(&fx, &e.id).await.unwrap().asset.unwrap();
    follows(&e, &f);
    assert_eq!(f.status(), pb::AssetStatus::Retired);
    fx.clock.advance(step);
    let g = check_in(&fx, &f.id, "").await.unwrap().asset.unwrap();
    follows(&f, &g);
    assert_eq!(g.status(), pb::AssetStatus::InStock);
    assert_eq!(
        fx.events().await.len(),
        published,
        "repairs and retirements publish nothing"
    );

    // Lost while checked out: the holder is cleared, the entry names them;
    // found by a check-in.
    fx.clock.advance(step);
    let h = check_out_to(&fx, &g.id, &employee)
        .await
        .unwrap()
        .asset
        .unwrap();
    follows(&g, &h);
    let published = fx.events().await.len();
    fx.clock.advance(step);
    let lost = lose(&fx, &h.id).await.unwrap();
    let i = lost.asset.unwrap();
    follows(&h, &i);
    assert_eq!(
        (i.status(), i.holder_user_id.as_str()),
        (pb::AssetStatus::Lost, "")
    );
    let t = lost.transaction.unwrap();
    assert_eq!(
        (t.r#type(), t.holder_user_id.as_str()),
        (pb::AssetTransactionType::Lost, employee.as_str())
    );
    fx.clock.advance(step);
    let found = check_in(&fx, &i.id, "Found at the lost and found")
        .await
        .unwrap();
    let j = found.asset.unwrap();
    follows(&i, &j);
    assert_eq!(j.status(), pb::AssetStatus::InStock);
    assert_eq!(
        fx.events().await.len(),
        published,
        "neither the loss nor the find publishes"
    );

    // Disposed of: final, with its book value and proceeds.
    fx.clock.advance(step);
    let sold = dispose(&fx, &j.id, Some(usd(30_000))).await.unwrap();
    let k = sold.asset.unwrap();
    follows(&j, &k);
    assert_eq!((k.status(), k.version), (pb::AssetStatus::Disposed, 12));
    let t = sold.transaction.unwrap();
    assert_eq!(
        (t.r#type(), t.disposal_method()),
        (pb::AssetTransactionType::Dispose, pb::DisposalMethod::Sold)
    );
    assert_eq!(t.amount, Some(usd(30_000)));
    let disposals = events_of::<ev::AmsAssetDisposed>(&fx, "ams.asset.disposed").await;
    assert_eq!(disposals.len(), 1);
    let (version, event) = &disposals[0];
    assert_eq!(*version, 12);
    let today = fx.clock.now().date_naive();
    assert_eq!(event.book_value, Some(usd(laptop_book_value(today))));
    assert_eq!(event.proceeds, Some(usd(30_000)));
    assert_eq!(
        (event.method(), event.reason.as_str()),
        (ev::DisposalMethod::Sold, "Sold to staff")
    );
    assert_eq!(event.transaction_id, t.id);
    assert_eq!(
        event.disposal_date,
        Some(date(
            today.year(),
            i32::try_from(today.month()).unwrap(),
            i32::try_from(today.day()).unwrap()
        ))
    );
    assert_eq!(
        event.asset.as_ref().unwrap().status(),
        ev::AssetStatus::Disposed
    );

    // Nothing moves a disposed asset.
    let before = frozen(&fx, &[&k.id]).await;
    let status_moves = [
        (
            "check out",
            check_out_to(&fx, &k.id, &employee).await.map(drop),
        ),
        ("check in", check_in(&fx, &k.id, "").await.map(drop)),
        ("repair", repair(&fx, &k.id).await.map(drop)),
        ("retire", retire(&fx, &k.id).await.map(drop)),
        ("lose", lose(&fx, &k.id).await.map(drop)),
        ("dispose", dispose(&fx, &k.id, None).await.map(drop)),
    ];
    for (what, got) in status_moves {
        let e = got.expect_err(what);
        refused(&e, Code::FailedPrecondition, "INVALID_STATUS");
    }
    let other_changes = [
        ("transfer", transfer(&fx, &k.id, "IT", "").await.map(drop)),
        (
            "correct the cost",
            correct(&fx, &k.id, Some(usd(1)), "typo").await.map(drop),
        ),
        (
            "maintain",
            maintain(
                &fx,
                maintenance(
                    &k.id,
                    pb::MaintenanceKind::Repair,
                    "Fix",
                    None,
                    date(2025, 2, 1),
                    None,
                ),
            )
            .await
            .map(drop),
        ),
        (
            "update",
            update_asset(
                &fx,
                pb::Asset {
                    name: "Renamed".into(),
                    ..k.clone()
                },
                &["name"],
            )
            .await
            .map(drop),
        ),
    ];
    for (what, got) in other_changes {
        let e = got.expect_err(what);
        refused(&e, Code::FailedPrecondition, "ASSET_DISPOSED");
    }
    assert_eq!(frozen(&fx, &[&k.id]).await, before);

    // The ledger, oldest first, tells the whole story, one entry a version.
    use pb::{AssetStatus as S, AssetTransactionType as T};
    let entries = ledger(&fx, &k.id).await;
    assert_eq!(
        tx_types(&entries),
        [
            (T::Purchase, S::Unspecified, S::InStock),
            (T::Checkout, S::InStock, S::CheckedOut),
            (T::Checkin, S::CheckedOut, S::InStock),
            (T::Transfer, S::InStock, S::InStock),
            (T::Repair, S::InStock, S::InRepair),
            (T::Checkin, S::InRepair, S::InStock),
            (T::Retire, S::InStock, S::Retired),
            (T::Checkin, S::Retired, S::InStock),
            (T::Checkout, S::InStock, S::CheckedOut),
            (T::Lost, S::CheckedOut, S::Lost),
            (T::Checkin, S::Lost, S::InStock),
            (T::Dispose, S::InStock, S::Disposed),
        ]
    );
    assert_eq!(i64::try_from(entries.len()).unwrap(), k.version);
    for w in entries.windows(2) {
        assert!(
            w[0].time.as_ref().unwrap().seconds < w[1].time.as_ref().unwrap().seconds,
            "{w:?}"
        );
    }
    assert!(
        entries
            .iter()
            .all(|t| t.asset_id == k.id && t.asset_number == "AST-000001")
    );
    // The default order is newest first.
    let newest_first = fx
        .assets_client()
        .await
        .list_asset_transactions(fx.viewer.request(pb::ListAssetTransactionsRequest {
            asset_id: k.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .transactions;
    let mut reversed = entries.clone();
    reversed.reverse();
    assert_eq!(newest_first, reversed);

    // Five events in all, each at the version its change made.
    let published: Vec<(String, i64)> = fx
        .events()
        .await
        .into_iter()
        .map(|(t, v, _)| (t, v))
        .collect();
    assert_eq!(
        published,
        [
            ("ams.asset.purchased".to_owned(), 1),
            ("ams.asset.checked_out".to_owned(), 2),
            ("ams.asset.checked_in".to_owned(), 3),
            ("ams.asset.checked_out".to_owned(), 9),
            ("ams.asset.disposed".to_owned(), 12),
        ]
    );
}

#[tokio::test]
async fn illegal_moves_are_refused_and_change_nothing() {
    let fx = Fixture::start().await;
    let stock = fx.create(fx.laptop("In stock")).await.unwrap();
    let held = fx.create(fx.laptop("Held")).await.unwrap();
    fx.check_out(&held, &fx.employee).await.unwrap();
    let retired = fx.create(fx.laptop("Retired")).await.unwrap();
    retire(&fx, &retired.id).await.unwrap();
    let viewer = id_of(&fx.viewer);
    let before = frozen(&fx, &[&stock.id, &held.id, &retired.id]).await;

    let attempts = [
        (
            "check in an in-stock asset",
            check_in(&fx, &stock.id, "").await.map(drop),
        ),
        (
            "check out a checked-out asset",
            check_out_to(&fx, &held.id, &viewer).await.map(drop),
        ),
        (
            "send a checked-out asset to repair",
            repair(&fx, &held.id).await.map(drop),
        ),
        (
            "dispose of a checked-out asset",
            dispose(&fx, &held.id, None).await.map(drop),
        ),
        (
            "retire a checked-out asset",
            retire(&fx, &held.id).await.map(drop),
        ),
        (
            "check out a retired asset",
            check_out_to(&fx, &retired.id, &viewer).await.map(drop),
        ),
        (
            "send a retired asset to repair",
            repair(&fx, &retired.id).await.map(drop),
        ),
        (
            "report a retired asset lost",
            lose(&fx, &retired.id).await.map(drop),
        ),
        (
            "retire a retired asset",
            retire(&fx, &retired.id).await.map(drop),
        ),
    ];
    for (what, got) in attempts {
        let e = got.expect_err(what);
        refused(&e, Code::FailedPrecondition, "INVALID_STATUS");
    }

    // A stale etag is ABORTED, a malformed one INVALID_ARGUMENT.
    let stale = check_in_req(
        &fx,
        pb::CheckInAssetRequest {
            asset_id: held.id.clone(),
            etag: held.etag.clone(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    refused(&stale, Code::Aborted, "ETAG_MISMATCH");
    let malformed = check_out_req(
        &fx,
        pb::CheckOutAssetRequest {
            asset_id: stock.id.clone(),
            holder_user_id: viewer.clone(),
            etag: "v1".into(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    invalid(&malformed, "etag");

    // Unknown and malformed assets, bad transfers.
    let unknown = check_in(&fx, &rid(), "").await.unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    invalid(
        &check_in(&fx, "AST-000001", "").await.unwrap_err(),
        "asset_id",
    );
    invalid(&repair(&fx, "").await.unwrap_err(), "asset_id");
    let nowhere = transfer(&fx, &stock.id, "", "  ").await.unwrap_err();
    invalid(&nowhere, "to_department_code");
    let no_department = transfer(&fx, &stock.id, "OPS", "").await.unwrap_err();
    assert_eq!(no_department.code(), Code::NotFound, "{no_department:?}");
    let no_note = fx
        .assets_client()
        .await
        .send_to_repair(fx.manager.request(pb::SendToRepairRequest {
            asset_id: stock.id.clone(),
            request_id: rid(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    invalid(&no_note, "note");

    assert_eq!(
        frozen(&fx, &[&stock.id, &held.id, &retired.id]).await,
        before
    );

    // The etag of the current version is accepted.
    let current = get(&fx, &held.id).await;
    let back = check_in_req(
        &fx,
        pb::CheckInAssetRequest {
            asset_id: held.id.clone(),
            etag: current.etag.clone(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    follows(&current, &back.asset.unwrap());
}

#[tokio::test]
async fn check_outs_go_to_an_active_user_or_to_a_location() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Loaner")).await.unwrap();

    // Auth deactivated one user; another was never added.
    let leaver = fx.person(&[]).await;
    let conn = fx.db.db.conn();
    let mut row: directory::users::ActiveModel =
        directory::users::Entity::find_by_id(id_of(&leaver))
            .one(conn)
            .await
            .unwrap()
            .unwrap()
            .into();
    row.active = Set(false);
    row.version = Set(2);
    row.update(conn).await.unwrap();
    let before = frozen(&fx, &[&asset.id]).await;
    for holder in [id_of(&leaver), rid()] {
        let e = check_out_to(&fx, &asset.id, &holder).await.unwrap_err();
        refused(&e, Code::FailedPrecondition, "HOLDER_NOT_ACTIVE");
    }

    // Exactly one of a user and a location; a due time in the future.
    let base = pb::CheckOutAssetRequest {
        asset_id: asset.id.clone(),
        holder_user_id: id_of(&fx.employee),
        request_id: rid(),
        ..Default::default()
    };
    let both = pb::CheckOutAssetRequest {
        holder_location: "Meeting room 3B".into(),
        ..base.clone()
    };
    invalid(
        &check_out_req(&fx, both).await.unwrap_err(),
        "holder_user_id",
    );
    let neither = pb::CheckOutAssetRequest {
        holder_user_id: String::new(),
        holder_location: "  ".into(),
        ..base.clone()
    };
    invalid(
        &check_out_req(&fx, neither).await.unwrap_err(),
        "holder_user_id",
    );
    let bad_user = pb::CheckOutAssetRequest {
        holder_user_id: "bob".into(),
        ..base.clone()
    };
    invalid(
        &check_out_req(&fx, bad_user).await.unwrap_err(),
        "holder_user_id",
    );
    let long_room = pb::CheckOutAssetRequest {
        holder_user_id: String::new(),
        holder_location: "r".repeat(201),
        ..base.clone()
    };
    invalid(
        &check_out_req(&fx, long_room).await.unwrap_err(),
        "holder_location",
    );
    let now = fx.clock.now();
    for due in [now - chrono::Duration::hours(1), now] {
        let past = pb::CheckOutAssetRequest {
            expected_return_time: Some(ts(due)),
            ..base.clone()
        };
        invalid(
            &check_out_req(&fx, past).await.unwrap_err(),
            "expected_return_time",
        );
    }
    assert_eq!(frozen(&fx, &[&asset.id]).await, before);

    // To a meeting room, due back in two hours.
    let due = now + chrono::Duration::hours(2);
    let out = check_out_req(
        &fx,
        pb::CheckOutAssetRequest {
            asset_id: asset.id.clone(),
            holder_location: " Meeting room 3B ".into(),
            expected_return_time: Some(ts(due)),
            note: "Board meeting".into(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let a = out.asset.unwrap();
    follows(&asset, &a);
    assert_eq!(a.status(), pb::AssetStatus::CheckedOut);
    assert_eq!(
        (a.holder_location.as_str(), a.holder_user_id.as_str()),
        ("Meeting room 3B", "")
    );
    assert_eq!(a.expected_return_time, Some(ts(due)));
    let t = out.transaction.unwrap();
    assert_eq!(
        (t.holder_location.as_str(), t.holder_user_id.as_str()),
        ("Meeting room 3B", "")
    );
    assert_eq!(t.expected_return_time, Some(ts(due)));
    let outs = events_of::<ev::AmsAssetCheckedOut>(&fx, "ams.asset.checked_out").await;
    let snap = outs.last().unwrap().1.asset.clone().unwrap();
    assert!(snap.holder.is_none());
    assert_eq!(snap.holder_location, "Meeting room 3B");
    assert_eq!(snap.expected_return_time, Some(ts(due)));

    // Back from the room before its due time.
    fx.clock.advance(Duration::from_secs(3600));
    let back = check_in(&fx, &a.id, "").await.unwrap();
    let b = back.asset.unwrap();
    assert_eq!(
        (b.holder_location.as_str(), b.expected_return_time),
        ("", None)
    );
    assert_eq!(back.transaction.unwrap().holder_location, "Meeting room 3B");
    let ins = events_of::<ev::AmsAssetCheckedIn>(&fx, "ams.asset.checked_in").await;
    let event = &ins.last().unwrap().1;
    assert!(event.holder.is_none());
    assert_eq!(event.holder_location, "Meeting room 3B");
    assert!(!event.was_overdue);

    // To the employee, back after its due time: overdue.
    let due = fx.clock.now() + chrono::Duration::hours(1);
    let out = check_out_req(
        &fx,
        pb::CheckOutAssetRequest {
            asset_id: asset.id.clone(),
            holder_user_id: id_of(&fx.employee),
            expected_return_time: Some(ts(due)),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(out.asset.unwrap().holder_user_id, id_of(&fx.employee));
    fx.clock.advance(Duration::from_secs(2 * 3600));
    check_in(&fx, &asset.id, "").await.unwrap();
    let ins = events_of::<ev::AmsAssetCheckedIn>(&fx, "ams.asset.checked_in").await;
    let event = &ins.last().unwrap().1;
    assert!(event.was_overdue);
    assert_eq!(event.holder.as_ref().unwrap().user_id, id_of(&fx.employee));
}
}

// ---------------------------------------------------------------------------
// Races and retries
// ---------------------------------------------------------------------------

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn of_a_hundred_concurrent_check_outs_exactly_one_wins() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Contested")).await.unwrap();
    let holders = [
        fx.employee.clone(),
        fx.viewer.clone(),
        fx.person(&[]).await,
        fx.person(&[]).await,
    ];
    let channel = fx.server.channel().await;
    let mut tasks = Vec::new();
    for i in 0..100 {
        let mut client = AssetServiceClient::new(channel.clone());
        let request = fx.manager.request(pb::CheckOutAssetRequest {
            asset_id: asset.id.clone(),
            holder_user_id: id_of(&holders[i % holders.len()]),
            request_id: rid(),
            ..Default::default()
        });
        tasks.push(tokio::spawn(async move {
            client
                .check_out_asset(request)
                .await
                .map(tonic::Response::into_inner)
        }));
    }
    let (mut won, mut lost) = (Vec::new(), Vec::new());
    for task in tasks {
        match task.await.unwrap() {
            Ok(r) => won.push(r),
            Err(e) => lost.push(e),
        }
    }
    assert_eq!(won.len(), 1, "{lost:?}");
    assert_eq!(lost.len(), 99);
    for e in &lost {
        refused(e, Code::FailedPrecondition, "INVALID_STATUS");
    }
    let winner = &won[0];
    let now = get(&fx, &asset.id).await;
    assert_eq!(
        (now.status(), now.version),
        (pb::AssetStatus::CheckedOut, 2)
    );
    assert_eq!(Some(&now), winner.asset.as_ref());
    let entries = ledger(&fx, &asset.id).await;
    let checkouts: Vec<_> = entries
        .iter()
        .filter(|t| t.r#type() == pb::AssetTransactionType::Checkout)
        .collect();
    assert_eq!(checkouts.len(), 1, "{entries:?}");
    assert_eq!(Some(checkouts[0]), winner.transaction.as_ref());
    assert_eq!(checkouts[0].holder_user_id, now.holder_user_id);
    let outs = events_of::<ev::AmsAssetCheckedOut>(&fx, "ams.asset.checked_out").await;
    assert_eq!(outs.len(), 1);
    assert_eq!(outs[0].0, 2);
    assert_eq!(outs[0].1.transaction_id, checkouts[0].id);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn racing_check_outs_and_check_ins_leave_a_ledger_that_replays_to_the_asset() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Busy")).await.unwrap();
    let holder = id_of(&fx.employee);
    let channel = fx.server.channel().await;
    let mut tasks = Vec::new();
    for _ in 0..20 {
        let mut out = AssetServiceClient::new(channel.clone());
        let r = fx.manager.request(pb::CheckOutAssetRequest {
            asset_id: asset.id.clone(),
            holder_user_id: holder.clone(),
            request_id: rid(),
            ..Default::default()
        });
        tasks.push(tokio::spawn(async move {
            out.check_out_asset(r).await.map(drop)
        }));
        let mut back = AssetServiceClient::new(channel.clone());
        let r = fx.manager.request(pb::CheckInAssetRequest {
            asset_id: asset.id.clone(),
            request_id: rid(),
            ..Default::default()
        });
        tasks.push(tokio::spawn(async move {
            back.check_in_asset(r).await.map(drop)
        }));
    }
    let mut moves = 0_i64;
    for task in tasks {
        match task.await.unwrap() {
            Ok(()) => moves += 1,
            Err(e) => refused(&e, Code::FailedPrecondition, "INVALID_STATUS"),
        }
    }
    assert!(moves >= 1);

    let now = get(&fx, &asset.id).await;
    let entries = ledger(&fx, &asset.id).await;
    assert_eq!(entries[0].r#type(), pb::AssetTransactionType::Purchase);
    assert_eq!(
        i64::try_from(entries.len()).unwrap(),
        1 + moves,
        "{entries:?}"
    );
    for (i, pair) in entries.windows(2).enumerate() {
        let expected = if i % 2 == 0 {
            pb::AssetTransactionType::Checkout
        } else {
            pb::AssetTransactionType::Checkin
        };
        assert_eq!(pair[1].r#type(), expected, "entry {}: {entries:?}", i + 1);
        assert_eq!(
            pair[1].from_status,
            pair[0].to_status,
            "entry {}: {entries:?}",
            i + 1
        );
        if expected == pb::AssetTransactionType::Checkin {
            assert_eq!(pair[1].checkout_transaction_id, pair[0].id);
        }
    }
    assert_eq!(entries.last().unwrap().to_status, now.status);
    assert_eq!(now.version, 1 + moves);
    let outs = events_of::<ev::AmsAssetCheckedOut>(&fx, "ams.asset.checked_out").await;
    let ins = events_of::<ev::AmsAssetCheckedIn>(&fx, "ams.asset.checked_in").await;
    assert_eq!(i64::try_from(outs.len() + ins.len()).unwrap(), moves);
    assert_eq!(
        outs.len(),
        entries
            .iter()
            .filter(|t| t.r#type() == pb::AssetTransactionType::Checkout)
            .count()
    );
}

#[tokio::test]
async fn a_retried_request_id_answers_the_first_result_and_moves_once() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Retried")).await.unwrap();
    let req = pb::CheckOutAssetRequest {
        asset_id: asset.id.clone(),
        holder_user_id: id_of(&fx.employee),
        note: "For the audit".into(),
        expected_return_time: Some(ts(fx.clock.now() + chrono::Duration::minutes(10))),
        request_id: rid(),
        ..Default::default()
    };
    let first = check_out_req(&fx, req.clone()).await.unwrap();
    let before = frozen(&fx, &[&asset.id]).await;
    let again = check_out_req(&fx, req.clone()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(frozen(&fx, &[&asset.id]).await, before);

    // The same id with another request, or for another method, is refused.
    let other_note = pb::CheckOutAssetRequest {
        note: "Another".into(),
        ..req.clone()
    };
    invalid(
        &check_out_req(&fx, other_note).await.unwrap_err(),
        "request_id",
    );
    let other_holder = pb::CheckOutAssetRequest {
        holder_user_id: id_of(&fx.viewer),
        ..req.clone()
    };
    invalid(
        &check_out_req(&fx, other_holder).await.unwrap_err(),
        "request_id",
    );
    let other_method = check_in_req(
        &fx,
        pb::CheckInAssetRequest {
            asset_id: asset.id.clone(),
            request_id: req.request_id.clone(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    invalid(&other_method, "request_id");
    for bad in ["", "retry-1"] {
        let r = pb::CheckOutAssetRequest {
            request_id: bad.into(),
            ..req.clone()
        };
        invalid(&check_out_req(&fx, r).await.unwrap_err(), "request_id");
    }
    assert_eq!(frozen(&fx, &[&asset.id]).await, before);

    // A retry after the asset moved on still answers the first result.
    let checkin = pb::CheckInAssetRequest {
        asset_id: asset.id.clone(),
        note: "Returned".into(),
        request_id: rid(),
        ..Default::default()
    };
    let back = check_in_req(&fx, checkin.clone()).await.unwrap();
    check_out_to(&fx, &asset.id, &id_of(&fx.viewer))
        .await
        .unwrap();
    let moved_on = frozen(&fx, &[&asset.id]).await;
    assert_eq!(check_in_req(&fx, checkin).await.unwrap(), back);
    assert_eq!(frozen(&fx, &[&asset.id]).await, moved_on);

    // A CreateAsset retry answers the same asset and registers nothing.
    let create = fx.laptop("Created twice");
    let made = fx.create(create.clone()).await.unwrap();
    let registered = counts(&fx).await;
    assert_eq!(fx.create(create.clone()).await.unwrap(), made);
    assert_eq!(counts(&fx).await, registered);
    let next = fx.create(fx.laptop("Next")).await.unwrap();
    assert_eq!(
        (made.number.as_str(), next.number.as_str()),
        ("AST-000002", "AST-000003")
    );

    // A retry within the remembered 24 hours answers the first result even
    // when its due time has passed meanwhile.
    fx.clock.advance(Duration::from_secs(15 * 60));
    let late = check_out_req(&fx, req.clone()).await;
    assert_eq!(late.unwrap(), first);
}
}

// ---------------------------------------------------------------------------
// Bad input, cost corrections, maintenance
// ---------------------------------------------------------------------------

map_kit::db_tests! {
#[tokio::test]
async fn bad_assets_are_refused_with_their_field_and_write_nothing() {
    let fx = Fixture::start().await;
    // An inactive department: known to the directory, deactivated in Auth.
    map_kit::testing::directory::add_department(&fx.db.db, "OLD").await;
    let mut old: directory::departments::ActiveModel =
        directory::departments::Entity::find_by_id("OLD".to_owned())
            .one(fx.db.db.conn())
            .await
            .unwrap()
            .unwrap()
            .into();
    old.active = Set(false);
    old.update(fx.db.db.conn()).await.unwrap();
    let empty = counts(&fx).await;
    assert_eq!(empty.assets, 0);

    let today = fx.clock.now().date_naive();
    let tomorrow = today.succ_opt().unwrap();
    let base = fx.laptop("Refused");
    let with = |f: &dyn Fn(&mut pb::CreateAssetRequest)| {
        let mut r = base.clone();
        r.request_id = rid();
        f(&mut r);
        r
    };
    let cases: Vec<(&str, pb::CreateAssetRequest, Code, &str)> = vec![
        (
            "negative cost",
            with(&|r| r.purchase_cost = Some(usd(-1))),
            Code::InvalidArgument,
            "purchase_cost.amount_minor",
        ),
        (
            "lower-case currency",
            with(&|r| {
                r.purchase_cost = Some(Money {
                    amount_minor: 100,
                    currency_code: "usd".into(),
                })
            }),
            Code::InvalidArgument,
            "purchase_cost.currency_code",
        ),
        (
            "unknown currency",
            with(&|r| {
                r.purchase_cost = Some(Money {
                    amount_minor: 100,
                    currency_code: "ZZZ".into(),
                })
            }),
            Code::InvalidArgument,
            "purchase_cost.currency_code",
        ),
        (
            "no cost",
            with(&|r| r.purchase_cost = None),
            Code::InvalidArgument,
            "purchase_cost",
        ),
        (
            "bought tomorrow",
            with(&|r| {
                r.purchase_date = Some(date(
                    tomorrow.year(),
                    i32::try_from(tomorrow.month()).unwrap(),
                    i32::try_from(tomorrow.day()).unwrap(),
                ));
            }),
            Code::InvalidArgument,
            "purchase_date",
        ),
        (
            "no purchase date",
            with(&|r| r.purchase_date = None),
            Code::InvalidArgument,
            "purchase_date",
        ),
        (
            "not a date",
            with(&|r| r.purchase_date = Some(date(2025, 13, 1))),
            Code::InvalidArgument,
            "purchase_date",
        ),
        (
            "warranty ends before the purchase",
            with(&|r| r.warranty_end_date = Some(date(2025, 1, 14))),
            Code::InvalidArgument,
            "warranty_end_date",
        ),
        (
            "name too long",
            with(&|r| r.name = "n".repeat(201)),
            Code::InvalidArgument,
            "name",
        ),
        (
            "no name",
            with(&|r| r.name = "   ".into()),
            Code::InvalidArgument,
            "name",
        ),
        (
            "model too long",
            with(&|r| r.model = "m".repeat(201)),
            Code::InvalidArgument,
            "model",
        ),
        (
            "malformed category",
            with(&|r| r.category_code = "lap top".into()),
            Code::InvalidArgument,
            "category_code",
        ),
        (
            "no department",
            with(&|r| r.department_code = String::new()),
            Code::InvalidArgument,
            "department_code",
        ),
        (
            "malformed request id",
            with(&|r| r.request_id = "first".into()),
            Code::InvalidArgument,
            "request_id",
        ),
        (
            "unknown category",
            with(&|r| r.category_code = "PHONE".into()),
            Code::NotFound,
            "",
        ),
        (
            "unknown department",
            with(&|r| r.department_code = "OPS".into()),
            Code::NotFound,
            "",
        ),
        (
            "inactive department",
            with(&|r| r.department_code = "old".into()),
            Code::NotFound,
            "",
        ),
    ];
    for (what, request, code, field) in cases {
        let e = fx.create(request).await.expect_err(what);
        assert_eq!(e.code(), code, "{what}: {e:?}");
        if !field.is_empty() {
            invalid(&e, field);
        }
        assert_eq!(counts(&fx).await, empty, "{what} wrote something");
    }

    // A good one takes the first number: the refused ones consumed none.
    let mut serial = fx.laptop("Has a serial");
    serial.serial = "SN-0001".into();
    let first = fx.create(serial.clone()).await.unwrap();
    assert_eq!(first.number, "AST-000001");
    let one = counts(&fx).await;
    let mut twin = fx.laptop("Same serial");
    twin.serial = " SN-0001 ".into();
    let e = fx.create(twin).await.unwrap_err();
    refused(&e, Code::AlreadyExists, "DUPLICATE_SERIAL");
    assert_eq!(counts(&fx).await, one);
    assert_eq!(
        fx.create(fx.laptop("Next")).await.unwrap().number,
        "AST-000002"
    );

    // Disposal proceeds in the asset's currency, not negative; a method.
    let before = frozen(&fx, &[&first.id]).await;
    invalid(
        &dispose(&fx, &first.id, Some(eur(10_000)))
            .await
            .unwrap_err(),
        "proceeds.currency_code",
    );
    invalid(
        &dispose(&fx, &first.id, Some(usd(-1))).await.unwrap_err(),
        "proceeds.amount_minor",
    );
    let no_method = dispose_req(
        &fx,
        pb::DisposeAssetRequest {
            asset_id: first.id.clone(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap_err();
    invalid(&no_method, "method");
    assert_eq!(frozen(&fx, &[&first.id]).await, before);

    // Disposed without proceeds: zero.
    let scrapped = dispose_req(
        &fx,
        pb::DisposeAssetRequest {
            asset_id: first.id.clone(),
            method: pb::DisposalMethod::Scrapped.into(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(scrapped.transaction.unwrap().amount, Some(usd(0)));
    let disposed = events_of::<ev::AmsAssetDisposed>(&fx, "ams.asset.disposed").await;
    assert_eq!(disposed.len(), 1);
    assert_eq!(disposed[0].1.proceeds, Some(usd(0)));
    assert_eq!(disposed[0].1.method(), ev::DisposalMethod::Scrapped);
}

#[tokio::test]
async fn cost_corrections_are_ledgered_and_published_with_their_delta() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Mispriced")).await.unwrap();
    fx.check_out(&asset, &fx.employee).await.unwrap();
    let asset = get(&fx, &asset.id).await;

    let down = correct(
        &fx,
        &asset.id,
        Some(usd(100_000)),
        "Invoice INV-42 credited",
    )
    .await
    .unwrap();
    let a = down.asset.unwrap();
    follows(&asset, &a);
    assert_eq!(a.purchase_cost, Some(usd(100_000)));
    assert_eq!(
        (a.status(), a.holder_user_id.as_str()),
        (pb::AssetStatus::CheckedOut, id_of(&fx.employee).as_str())
    );
    let t = down.transaction.unwrap();
    assert_eq!(t.r#type(), pb::AssetTransactionType::CostCorrection);
    assert_eq!(
        (t.amount.clone(), t.previous_amount.clone()),
        (Some(usd(100_000)), Some(usd(120_000)))
    );
    assert_eq!(t.note, "Invoice INV-42 credited");
    assert_eq!(
        (t.from_status(), t.to_status()),
        (pb::AssetStatus::CheckedOut, pb::AssetStatus::CheckedOut)
    );
    let corrected =
        events_of::<ev::AmsAssetCostCorrected>(&fx, "ams.asset.cost_corrected").await;
    assert_eq!(corrected.len(), 1);
    let (version, event) = &corrected[0];
    assert_eq!(*version, a.version);
    assert_eq!(event.delta, Some(usd(-20_000)));
    assert_eq!(event.previous_cost, Some(usd(120_000)));
    assert_eq!(
        (event.reason.as_str(), event.transaction_id.as_str()),
        ("Invoice INV-42 credited", t.id.as_str())
    );
    let snap = event.asset.clone().unwrap();
    assert_eq!(
        (snap.purchase_cost, snap.version),
        (Some(usd(100_000)), a.version)
    );
    assert_eq!(snap.holder.unwrap().user_id, id_of(&fx.employee));

    let up = correct(&fx, &a.id, Some(usd(110_000)), "Shipping was missed")
        .await
        .unwrap();
    let b = up.asset.unwrap();
    follows(&a, &b);
    let corrected =
        events_of::<ev::AmsAssetCostCorrected>(&fx, "ams.asset.cost_corrected").await;
    assert_eq!(corrected.len(), 2);
    assert_eq!(corrected[1].1.delta, Some(usd(10_000)));
    assert_eq!(corrected[1].1.previous_cost, Some(usd(100_000)));

    // Refused: the same cost, another currency, no reason, negative, none.
    let before = frozen(&fx, &[&b.id]).await;
    let same = correct(&fx, &b.id, Some(usd(110_000)), "Again")
        .await
        .unwrap_err();
    refused(&same, Code::FailedPrecondition, "COST_UNCHANGED");
    invalid(
        &correct(&fx, &b.id, Some(eur(90_000)), "Euro invoice")
            .await
            .unwrap_err(),
        "purchase_cost.currency_code",
    );
    invalid(
        &correct(&fx, &b.id, Some(usd(90_000)), "")
            .await
            .unwrap_err(),
        "reason",
    );
    invalid(
        &correct(&fx, &b.id, Some(usd(-1)), "Negative")
            .await
            .unwrap_err(),
        "purchase_cost.amount_minor",
    );
    invalid(
        &correct(&fx, &b.id, None, "No cost").await.unwrap_err(),
        "purchase_cost",
    );
    invalid(
        &correct(&fx, &b.id, Some(usd(1)), &"r".repeat(2001))
            .await
            .unwrap_err(),
        "reason",
    );
    let unknown = correct(&fx, &rid(), Some(usd(1)), "Who?")
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert_eq!(frozen(&fx, &[&b.id]).await, before);

    // The ledger has both corrections; the schedule uses the new cost.
    let kinds: Vec<_> = ledger(&fx, &b.id)
        .await
        .iter()
        .map(pb::AssetTransaction::r#type)
        .collect();
    assert_eq!(
        kinds,
        [
            pb::AssetTransactionType::Purchase,
            pb::AssetTransactionType::Checkout,
            pb::AssetTransactionType::CostCorrection,
            pb::AssetTransactionType::CostCorrection,
        ]
    );
    let s = schedule(&fx, &b.id, pb::DepreciationPeriod::Month)
        .await
        .unwrap();
    assert_eq!(s.purchase_cost, Some(usd(110_000)));
    assert_eq!(s.salvage_value, Some(usd(11_000)));
}

#[tokio::test]
async fn maintenance_is_recorded_on_the_ledger_and_listed_newest_first() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Serviced")).await.unwrap();
    use pb::MaintenanceKind as K;

    let paid = maintain(
        &fx,
        maintenance(
            &asset.id,
            K::Repair,
            "Battery replaced",
            Some(usd(15_000)),
            date(2025, 3, 1),
            Some(date(2025, 3, 3)),
        ),
    )
    .await
    .unwrap();
    let a = paid.asset.unwrap();
    follows(&asset, &a);
    assert_eq!(a.status(), pb::AssetStatus::InStock);
    let record = paid.record.unwrap();
    assert_eq!(
        (record.asset_id.as_str(), record.asset_number.as_str()),
        (asset.id.as_str(), asset.number.as_str())
    );
    assert_eq!(
        (
            record.kind(),
            record.title.as_str(),
            record.supplier.as_str()
        ),
        (K::Repair, "Battery replaced", "Dell depot")
    );
    assert_eq!(record.cost, Some(usd(15_000)));
    assert_eq!(
        (record.start_date, record.completion_date),
        (Some(date(2025, 3, 1)), Some(date(2025, 3, 3)))
    );
    assert_eq!(record.actor_user_id, id_of(&fx.manager));
    let entry = ledger(&fx, &asset.id).await.pop().unwrap();
    assert_eq!(entry.r#type(), pb::AssetTransactionType::Maintenance);
    assert_eq!(
        (entry.maintenance_record_id.as_str(), entry.id.as_str()),
        (record.id.as_str(), record.transaction_id.as_str())
    );
    assert_eq!(entry.amount, Some(usd(15_000)));
    let maintained = events_of::<ev::AmsAssetMaintained>(&fx, "ams.asset.maintained").await;
    assert_eq!(maintained.len(), 1);
    let (version, event) = &maintained[0];
    assert_eq!(*version, 2);
    assert_eq!(event.cost, Some(usd(15_000)));
    assert_eq!(event.asset.as_ref().unwrap().category_code, "LAPTOP");
    assert_eq!(event.asset.as_ref().unwrap().department_code, "IT");
    assert_eq!(
        (event.kind.as_str(), event.title.as_str()),
        ("repair", "Battery replaced")
    );
    assert_eq!(
        (
            event.transaction_id.as_str(),
            event.maintenance_record_id.as_str()
        ),
        (record.transaction_id.as_str(), record.id.as_str())
    );
    assert_eq!(event.start_date, Some(date(2025, 3, 1)));

    // Without a cost (or a zero one): on the ledger, not published.
    let published = fx.events().await.len();
    let free = maintain(
        &fx,
        maintenance(
            &asset.id,
            K::Service,
            "Annual check",
            None,
            date(2025, 6, 1),
            None,
        ),
    )
    .await
    .unwrap();
    follows(&a, free.asset.as_ref().unwrap());
    assert_eq!(
        free.record
            .as_ref()
            .unwrap()
            .cost
            .as_ref()
            .unwrap()
            .amount_minor,
        0
    );
    assert_eq!(free.record.as_ref().unwrap().completion_date, None);
    maintain(
        &fx,
        maintenance(
            &asset.id,
            K::Software,
            "BIOS update",
            Some(usd(0)),
            date(2025, 7, 1),
            None,
        ),
    )
    .await
    .unwrap();
    assert_eq!(fx.events().await.len(), published);

    // Refused: completion before start, no kind, another currency, a
    // negative cost, a start in the future, no title, an unknown asset.
    let before = frozen(&fx, &[&asset.id]).await;
    let tomorrow = fx.clock.now().date_naive().succ_opt().unwrap();
    let tomorrow = date(
        tomorrow.year(),
        i32::try_from(tomorrow.month()).unwrap(),
        i32::try_from(tomorrow.day()).unwrap(),
    );
    let cases = [
        (
            maintenance(
                &asset.id,
                K::Repair,
                "Backwards",
                None,
                date(2025, 3, 3),
                Some(date(2025, 3, 1)),
            ),
            "completion_date",
        ),
        (
            maintenance(
                &asset.id,
                K::Unspecified,
                "No kind",
                None,
                date(2025, 3, 3),
                None,
            ),
            "kind",
        ),
        (
            maintenance(
                &asset.id,
                K::Repair,
                "In euros",
                Some(eur(100)),
                date(2025, 3, 3),
                None,
            ),
            "cost.currency_code",
        ),
        (
            maintenance(
                &asset.id,
                K::Repair,
                "Negative",
                Some(usd(-100)),
                date(2025, 3, 3),
                None,
            ),
            "cost.amount_minor",
        ),
        (
            maintenance(&asset.id, K::Repair, "Tomorrow", None, tomorrow, None),
            "start_date",
        ),
        (
            maintenance(&asset.id, K::Repair, "", None, date(2025, 3, 3), None),
            "title",
        ),
        (
            pb::AddMaintenanceRecordRequest {
                start_date: None,
                ..maintenance(
                    &asset.id,
                    K::Repair,
                    "No start",
                    None,
                    date(2025, 3, 3),
                    None,
                )
            },
            "start_date",
        ),
    ];
    for (r, field) in cases {
        invalid(&maintain(&fx, r).await.unwrap_err(), field);
    }
    let unknown = maintain(
        &fx,
        maintenance(&rid(), K::Repair, "Ghost", None, date(2025, 3, 3), None),
    )
    .await
    .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    assert_eq!(frozen(&fx, &[&asset.id]).await, before);

    // Three more, then listed newest start first, by pages of two as in one.
    for (kind, title, start) in [
        (K::Upgrade, "RAM to 32 GB", date(2025, 2, 1)),
        (K::Calibration, "Display calibrated", date(2025, 9, 15)),
        (K::Repair, "Hinge", date(2025, 4, 20)),
    ] {
        maintain(
            &fx,
            maintenance(&asset.id, kind, title, Some(usd(2_500)), start, None),
        )
        .await
        .unwrap();
    }
    let mut c = fx.assets_client().await;
    let mut pages = Vec::new();
    let mut page_token = String::new();
    loop {
        let page = c
            .list_maintenance_records(fx.viewer.request(pb::ListMaintenanceRecordsRequest {
                asset_id: asset.id.clone(),
                page_size: 2,
                page_token,
            }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.records.len() <= 2);
        pages.extend(page.records);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    let one = c
        .list_maintenance_records(fx.viewer.request(pb::ListMaintenanceRecordsRequest {
            asset_id: asset.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(pages, one.records);
    let titles: Vec<&str> = one.records.iter().map(|r| r.title.as_str()).collect();
    assert_eq!(
        titles,
        [
            "Display calibrated",
            "BIOS update",
            "Annual check",
            "Hinge",
            "Battery replaced",
            "RAM to 32 GB"
        ]
    );
    let missing = c
        .list_maintenance_records(fx.viewer.request(pb::ListMaintenanceRecordsRequest {
            asset_id: rid(),
            ..Default::default()
        }))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound, "{missing:?}");
    // Six records, six MAINTENANCE entries, four paid ones published.
    let entries = ledger(&fx, &asset.id).await;
    assert_eq!(
        entries
            .iter()
            .filter(|t| t.r#type() == pb::AssetTransactionType::Maintenance)
            .count(),
        6
    );
    assert_eq!(counts(&fx).await.maintenance, 6);
    assert_eq!(
        events_of::<ev::AmsAssetMaintained>(&fx, "ams.asset.maintained")
            .await
            .len(),
        4
    );
}
}

// ---------------------------------------------------------------------------
// Listings
// ---------------------------------------------------------------------------

map_kit::db_tests! {
#[tokio::test]
async fn every_list_assets_filter_narrows_to_its_assets() {
    let fx = Fixture::start().await;
    fx.category("MONITOR", "Monitors").await;
    let leaver = fx.person(&[]).await;
    let employee = id_of(&fx.employee);

    let mut r = fx.laptop("Dell Latitude 5440");
    r.serial = "SN-A1".into();
    let a1 = fx.create(r).await.unwrap();
    let mut r = fx.laptop("ThinkPad T14");
    r.serial = "SN-B2".into();
    r.department_code = "FIN".into();
    r.location = "Finance 2F".into();
    let a2 = fx.create(r).await.unwrap();
    let mut r = fx.laptop("Dell U2723 monitor");
    r.category_code = "MONITOR".into();
    let a3 = fx.create(r).await.unwrap();
    let a4 = fx.create(fx.laptop("HP EliteBook")).await.unwrap();
    let mut r = fx.laptop("Spare laptop");
    r.location = "Meeting Room 3B".into();
    let a5 = fx.create(r).await.unwrap();
    let a6 = fx.create(fx.laptop("Leaver's laptop")).await.unwrap();

    let due = fx.clock.now() + chrono::Duration::hours(1);
    check_out_req(
        &fx,
        pb::CheckOutAssetRequest {
            asset_id: a1.id.clone(),
            holder_user_id: employee.clone(),
            expected_return_time: Some(ts(due)),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    check_out_req(
        &fx,
        pb::CheckOutAssetRequest {
            asset_id: a3.id.clone(),
            holder_location: "Meeting room 3B".into(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    repair(&fx, &a4.id).await.unwrap();
    check_out_to(&fx, &a6.id, &id_of(&leaver)).await.unwrap();
    deactivate(&fx, &leaver).await;
    let flagged = get(&fx, &a6.id).await;
    assert!(flagged.holder_deactivated);
    assert_eq!(flagged.version, 3, "the flag is a change of the asset");

    let all = nums(&[&a1, &a2, &a3, &a4, &a5, &a6]);
    assert_eq!(listed(&fx, pb::ListAssetsRequest::default()).await, all);
    use pb::AssetStatus as S;
    let cases: Vec<(&str, pb::ListAssetsRequest, Vec<String>)> = vec![
        (
            "checked out",
            pb::ListAssetsRequest {
                statuses: vec![S::CheckedOut.into()],
                ..Default::default()
            },
            nums(&[&a1, &a3, &a6]),
        ),
        (
            "in repair or in stock",
            pb::ListAssetsRequest {
                statuses: vec![S::InRepair.into(), S::InStock.into()],
                ..Default::default()
            },
            nums(&[&a2, &a4, &a5]),
        ),
        (
            "disposed",
            pb::ListAssetsRequest {
                statuses: vec![S::Disposed.into()],
                ..Default::default()
            },
            vec![],
        ),
        (
            "monitors",
            pb::ListAssetsRequest {
                category_code: "MONITOR".into(),
                ..Default::default()
            },
            nums(&[&a3]),
        ),
        (
            "laptops, in any case",
            pb::ListAssetsRequest {
                category_code: "laptop".into(),
                ..Default::default()
            },
            nums(&[&a1, &a2, &a4, &a5, &a6]),
        ),
        (
            "FIN",
            pb::ListAssetsRequest {
                department_code: "fin".into(),
                ..Default::default()
            },
            nums(&[&a2]),
        ),
        (
            "the employee's",
            pb::ListAssetsRequest {
                holder_user_id: employee.clone(),
                ..Default::default()
            },
            nums(&[&a1]),
        ),
        (
            "in or checked out to the meeting room",
            pb::ListAssetsRequest {
                location: " MEETING ROOM 3B ".into(),
                ..Default::default()
            },
            nums(&[&a3, &a5]),
        ),
        (
            "in finance",
            pb::ListAssetsRequest {
                location: "finance 2f".into(),
                ..Default::default()
            },
            nums(&[&a2]),
        ),
        (
            "named dell",
            pb::ListAssetsRequest {
                query: "DELL".into(),
                ..Default::default()
            },
            nums(&[&a1, &a3]),
        ),
        (
            "by serial",
            pb::ListAssetsRequest {
                query: "sn-b".into(),
                ..Default::default()
            },
            nums(&[&a2]),
        ),
        (
            "by number",
            pb::ListAssetsRequest {
                query: "ast-000004".into(),
                ..Default::default()
            },
            nums(&[&a4]),
        ),
        (
            "no match",
            pb::ListAssetsRequest {
                query: "macbook".into(),
                ..Default::default()
            },
            vec![],
        ),
        (
            "overdue, before the due time",
            pb::ListAssetsRequest {
                overdue_only: true,
                ..Default::default()
            },
            vec![],
        ),
        (
            "held by a deactivated user",
            pb::ListAssetsRequest {
                holder_deactivated_only: true,
                ..Default::default()
            },
            nums(&[&a6]),
        ),
        (
            "checked-out laptops of IT",
            pb::ListAssetsRequest {
                statuses: vec![S::CheckedOut.into()],
                category_code: "LAPTOP".into(),
                department_code: "IT".into(),
                ..Default::default()
            },
            nums(&[&a1, &a6]),
        ),
        (
            "dell monitors checked out",
            pb::ListAssetsRequest {
                statuses: vec![S::CheckedOut.into()],
                query: "dell".into(),
                category_code: "MONITOR".into(),
                ..Default::default()
            },
            nums(&[&a3]),
        ),
    ];
    for (what, r, expected) in cases {
        assert_eq!(listed(&fx, r.clone()).await, expected, "{what}");
        let by_one = list_all(&fx, &fx.viewer, pb::ListAssetsRequest { page_size: 1, ..r })
            .await
            .unwrap();
        assert_eq!(numbers(&by_one), expected, "{what}, a page of one");
    }

    // Past the due time the employee's laptop is overdue.
    fx.clock.advance(Duration::from_secs(2 * 3600));
    let overdue = pb::ListAssetsRequest {
        overdue_only: true,
        ..Default::default()
    };
    assert_eq!(listed(&fx, overdue).await, nums(&[&a1]));

    // Refused: an unspecified status, a malformed holder, a negative page
    // size, a token of other filters, an unsupported order.
    let mut c = fx.assets_client().await;
    let bad = [
        (
            pb::ListAssetsRequest {
                statuses: vec![S::Unspecified.into()],
                ..Default::default()
            },
            "statuses[0]",
        ),
        (
            pb::ListAssetsRequest {
                holder_user_id: "bob".into(),
                ..Default::default()
            },
            "holder_user_id",
        ),
        (
            pb::ListAssetsRequest {
                page_size: -1,
                ..Default::default()
            },
            "page_size",
        ),
        (
            pb::ListAssetsRequest {
                order_by: "price".into(),
                ..Default::default()
            },
            "order_by",
        ),
        (
            pb::ListAssetsRequest {
                order_by: "name desc".into(),
                ..Default::default()
            },
            "order_by",
        ),
        (
            pb::ListAssetsRequest {
                page_token: "nonsense".into(),
                ..Default::default()
            },
            "page_token",
        ),
    ];
    for (r, field) in bad {
        invalid(
            &c.list_assets(fx.viewer.request(r)).await.unwrap_err(),
            field,
        );
    }
    let first = c
        .list_assets(fx.viewer.request(pb::ListAssetsRequest {
            page_size: 1,
            category_code: "LAPTOP".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(!first.next_page_token.is_empty());
    for other in [
        pb::ListAssetsRequest {
            category_code: "MONITOR".into(),
            ..Default::default()
        },
        pb::ListAssetsRequest {
            category_code: "LAPTOP".into(),
            department_code: "IT".into(),
            ..Default::default()
        },
        pb::ListAssetsRequest {
            category_code: "LAPTOP".into(),
            order_by: "name".into(),
            ..Default::default()
        },
        pb::ListAssetsRequest::default(),
    ] {
        let e = c
            .list_assets(fx.viewer.request(pb::ListAssetsRequest {
                page_size: 1,
                page_token: first.next_page_token.clone(),
                ..other
            }))
            .await
            .unwrap_err();
        invalid(&e, "page_token");
    }
    let same = c
        .list_assets(fx.viewer.request(pb::ListAssetsRequest {
            page_size: 1,
            category_code: "laptop".into(),
            page_token: first.next_page_token.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(numbers(&same.assets), nums(&[&a2]));
}

#[tokio::test]
async fn every_order_pages_the_same_as_one_big_page() {
    let fx = Fixture::start().await;
    let step = Duration::from_secs(60);
    // Names, purchase dates, creation and update times and due times with
    // ties, broken by number.
    let specs = [
        ("Delta laptop", date(2025, 3, 10)),
        ("Alpha laptop", date(2025, 1, 15)),
        ("Charlie laptop", date(2025, 3, 10)),
        ("Alpha laptop", date(2024, 11, 30)),
        ("Echo laptop", date(2025, 6, 1)),
        ("Bravo laptop", date(2025, 1, 15)),
        ("Foxtrot laptop", date(2024, 5, 5)),
    ];
    let mut made = Vec::new();
    for (i, (name, bought)) in specs.iter().enumerate() {
        if i != 5 {
            fx.clock.advance(step); // the 5th and 6th are created together
        }
        let mut r = fx.laptop(name);
        r.purchase_date = Some(*bought);
        made.push(fx.create(r).await.unwrap());
    }
    fx.clock.advance(step);
    let now = fx.clock.now();
    let due = |hours| Some(ts(now + chrono::Duration::hours(hours)));
    for (i, expected_return_time) in [(2, due(3)), (0, due(1)), (5, due(3)), (1, None)] {
        check_out_req(
            &fx,
            pb::CheckOutAssetRequest {
                asset_id: made[i].id.clone(),
                holder_user_id: id_of(&fx.employee),
                expected_return_time,
                request_id: rid(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
    fx.clock.advance(step);
    transfer(&fx, &made[6].id, "FIN", "").await.unwrap();
    transfer(&fx, &made[3].id, "", "Annex").await.unwrap();

    let all = list_all(
        &fx,
        &fx.viewer,
        pb::ListAssetsRequest {
            page_size: 500,
            ..Default::default()
        },
    )
    .await
    .unwrap();
    assert_eq!(all.len(), 7);
    let key = |t: &Option<prost_types::Timestamp>| t.as_ref().map(|t| (t.seconds, t.nanos));
    let date_key = |d: &Option<Date>| d.as_ref().map(|d| (d.year, d.month, d.day));
    let sorted = |cmp: &dyn Fn(&pb::Asset, &pb::Asset) -> std::cmp::Ordering| {
        let mut v = all.clone();
        v.sort_by(|a, b| cmp(a, b));
        numbers(&v)
    };
    let orders: Vec<(&str, Vec<String>)> = vec![
        ("number", sorted(&|a, b| a.number.cmp(&b.number))),
        (
            "name",
            sorted(&|a, b| (&a.name, &a.number).cmp(&(&b.name, &b.number))),
        ),
        (
            "create_time desc",
            sorted(&|a, b| {
                (key(&b.create_time), &b.number).cmp(&(key(&a.create_time), &a.number))
            }),
        ),
        (
            "update_time desc",
            sorted(&|a, b| {
                (key(&b.update_time), &b.number).cmp(&(key(&a.update_time), &a.number))
            }),
        ),
        (
            "purchase_date desc",
            sorted(&|a, b| {
                (date_key(&b.purchase_date), &b.number)
                    .cmp(&(date_key(&a.purchase_date), &a.number))
            }),
        ),
        (
            "expected_return_time",
            sorted(&|a, b| {
                let due = |x: &pb::Asset| {
                    (
                        key(&x.expected_return_time).is_none(),
                        key(&x.expected_return_time),
                    )
                };
                (due(a), &a.number).cmp(&(due(b), &b.number))
            }),
        ),
    ];
    // The ties this data makes, so each order is tested on them.
    assert_eq!(orders[1].1[..2], nums(&[&made[1], &made[3]]), "names tie");
    assert_eq!(
        orders[5].1[..3],
        nums(&[&made[0], &made[2], &made[5]]),
        "due times tie"
    );
    assert_eq!(
        orders[2].1[..3],
        nums(&[&made[6], &made[5], &made[4]]),
        "creation times tie"
    );
    assert_eq!(
        orders[3].1[..2],
        nums(&[&made[6], &made[3]]),
        "update times tie"
    );
    for (order_by, expected) in &orders {
        let one = list_all(
            &fx,
            &fx.viewer,
            pb::ListAssetsRequest {
                page_size: 500,
                order_by: (*order_by).into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(&numbers(&one), expected, "{order_by}");
        let mut c = fx.assets_client().await;
        let mut walked = Vec::new();
        let mut page_token = String::new();
        let mut pages = 0;
        loop {
            let page = c
                .list_assets(fx.viewer.request(pb::ListAssetsRequest {
                    page_size: 2,
                    order_by: (*order_by).into(),
                    page_token,
                    ..Default::default()
                }))
                .await
                .unwrap()
                .into_inner();
            assert!(page.assets.len() <= 2);
            pages += 1;
            walked.extend(page.assets);
            if page.next_page_token.is_empty() {
                break;
            }
            page_token = page.next_page_token;
        }
        assert_eq!(pages, 4, "{order_by}");
        assert_eq!(walked, one, "{order_by}, by pages of two");
    }

    // A token of one order is refused in another.
    let mut c = fx.assets_client().await;
    let first = c
        .list_assets(fx.viewer.request(pb::ListAssetsRequest {
            page_size: 2,
            order_by: "name".into(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let e = c
        .list_assets(fx.viewer.request(pb::ListAssetsRequest {
            page_size: 2,
            order_by: "number".into(),
            page_token: first.next_page_token,
            ..Default::default()
        }))
        .await
        .unwrap_err();
    invalid(&e, "page_token");
}

#[tokio::test]
async fn my_assets_are_exactly_those_checked_out_to_me() {
    let fx = Fixture::start().await;
    let employee = id_of(&fx.employee);
    let mut made = Vec::new();
    for i in 1..=6 {
        made.push(fx.create(fx.laptop(&format!("Laptop {i}"))).await.unwrap());
    }
    for i in [0, 2, 4, 5] {
        check_out_to(&fx, &made[i].id, &employee).await.unwrap();
    }
    check_out_to(&fx, &made[1].id, &id_of(&fx.viewer))
        .await
        .unwrap();
    check_in(&fx, &made[5].id, "").await.unwrap();
    check_out_req(
        &fx,
        pb::CheckOutAssetRequest {
            asset_id: made[3].id.clone(),
            holder_location: "Meeting room 3B".into(),
            request_id: rid(),
            ..Default::default()
        },
    )
    .await
    .unwrap();

    let mine = nums(&[&made[0], &made[2], &made[4]]);
    assert_eq!(
        numbers(&my_assets(&fx, &fx.employee, 0).await.unwrap()),
        mine
    );
    assert_eq!(
        numbers(&my_assets(&fx, &fx.employee, 2).await.unwrap()),
        mine,
        "by pages of two"
    );
    assert!(
        my_assets(&fx, &fx.employee, 0)
            .await
            .unwrap()
            .iter()
            .all(|a| a.holder_user_id == employee)
    );
    assert_eq!(
        numbers(&my_assets(&fx, &fx.viewer, 0).await.unwrap()),
        nums(&[&made[1]])
    );
    assert!(my_assets(&fx, &fx.manager, 0).await.unwrap().is_empty());
    let stranger = fx.auth.person(&[]);
    assert!(my_assets(&fx, &stranger, 0).await.unwrap().is_empty());

    // Checked in: no longer theirs.
    check_in(&fx, &made[2].id, "").await.unwrap();
    assert_eq!(
        numbers(&my_assets(&fx, &fx.employee, 0).await.unwrap()),
        nums(&[&made[0], &made[4]])
    );

    let mut c = fx.assets_client().await;
    invalid(
        &my_assets(&fx, &fx.employee, -1).await.unwrap_err(),
        "page_size",
    );
    let forged = c
        .list_my_assets(fx.employee.request(pb::ListMyAssetsRequest {
            page_size: 1,
            page_token: "forged".into(),
        }))
        .await
        .unwrap_err();
    invalid(&forged, "page_token");
    // The employee's token is not the viewer's (the holder is bound).
    let employee_page = c
        .list_my_assets(fx.employee.request(pb::ListMyAssetsRequest {
            page_size: 1,
            page_token: String::new(),
        }))
        .await
        .unwrap()
        .into_inner();
    let foreign = c
        .list_my_assets(fx.viewer.request(pb::ListMyAssetsRequest {
            page_size: 1,
            page_token: employee_page.next_page_token,
        }))
        .await
        .unwrap_err();
    invalid(&foreign, "page_token");

    // An employee without an AMS role may not list the register; an API key
    // holds no assets, whatever its roles.
    let e = c
        .list_assets(fx.employee.request(pb::ListAssetsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
    let key = fx.auth.api_key(&[("ams", "manager")]);
    let e = c
        .list_my_assets(key.request(pb::ListMyAssetsRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "{e:?}");
}
}

// ---------------------------------------------------------------------------
// Depreciation and authorization
// ---------------------------------------------------------------------------

map_kit::db_tests! {
#[tokio::test]
async fn depreciation_schedules_cover_the_useful_life() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Depreciating")).await.unwrap();

    let monthly = schedule(&fx, &asset.id, pb::DepreciationPeriod::Unspecified)
        .await
        .unwrap();
    assert_eq!(
        monthly,
        schedule(&fx, &asset.id, pb::DepreciationPeriod::Month)
            .await
            .unwrap()
    );
    assert_eq!(monthly.asset_id, asset.id);
    assert_eq!(monthly.method(), pb::DepreciationMethod::StraightLine);
    assert_eq!(monthly.useful_life_months, 36);
    assert_eq!(monthly.purchase_cost, Some(usd(120_000)));
    assert_eq!(monthly.salvage_value, Some(usd(12_000)));
    assert_eq!(
        monthly.current_book_value,
        Some(usd(laptop_book_value(fx.clock.now().date_naive())))
    );
    let p = &monthly.periods;
    assert_eq!(p.len(), 36);
    assert_eq!(
        (p[0].start_date, p[0].end_date),
        (Some(date(2025, 1, 1)), Some(date(2025, 1, 31)))
    );
    assert_eq!(
        (p[1].start_date, p[1].end_date),
        (Some(date(2025, 2, 1)), Some(date(2025, 2, 28)))
    );
    assert_eq!(
        (p[35].start_date, p[35].end_date),
        (Some(date(2027, 12, 1)), Some(date(2027, 12, 31)))
    );
    assert_eq!(amount(p[0].opening_value.as_ref()), 120_000);
    assert_eq!(
        amount(p[35].closing_value.as_ref()),
        12_000,
        "the last closing is the salvage value"
    );
    let total: i64 = p.iter().map(|r| amount(r.depreciation.as_ref())).sum();
    assert_eq!(total, 120_000 - 12_000);
    let mut accumulated = 0;
    for (i, r) in p.iter().enumerate() {
        let (open, dep, close) = (
            amount(r.opening_value.as_ref()),
            amount(r.depreciation.as_ref()),
            amount(r.closing_value.as_ref()),
        );
        assert_eq!(dep, 3_000, "month {i}");
        assert_eq!(open - dep, close, "month {i}");
        accumulated += dep;
        assert_eq!(
            amount(r.accumulated_depreciation.as_ref()),
            accumulated,
            "month {i}"
        );
        if i > 0 {
            assert_eq!(open, amount(p[i - 1].closing_value.as_ref()), "month {i}");
        }
    }

    // By calendar year: 2025, 2026 and 2027, twelve months each.
    let yearly = schedule(&fx, &asset.id, pb::DepreciationPeriod::Year)
        .await
        .unwrap();
    let y = &yearly.periods;
    assert_eq!(y.len(), 3);
    for (i, year) in [2025, 2026, 2027].into_iter().enumerate() {
        assert_eq!(
            (y[i].start_date, y[i].end_date),
            (Some(date(year, 1, 1)), Some(date(year, 12, 31)))
        );
        assert_eq!(amount(y[i].depreciation.as_ref()), 36_000);
        assert_eq!(y[i].closing_value, p[12 * i + 11].closing_value);
    }

    // Bought mid-year, declining balance to nothing over five years: the
    // first and last calendar years are partial.
    let mut server = category_request("SERVER", "Servers");
    server.depreciation_method = pb::DepreciationMethod::DecliningBalance.into();
    server.useful_life_months = 60;
    server.salvage_percent = 0;
    create_category(&fx, server).await.unwrap();
    let mut r = fx.laptop("Rack server");
    r.category_code = "SERVER".into();
    r.purchase_date = Some(date(2024, 7, 10));
    r.purchase_cost = Some(usd(1_000_000));
    let rack = fx.create(r).await.unwrap();
    let db = schedule(&fx, &rack.id, pb::DepreciationPeriod::Month)
        .await
        .unwrap();
    assert_eq!(db.method(), pb::DepreciationMethod::DecliningBalance);
    assert_eq!(db.periods.len(), 60);
    assert_eq!(db.periods[0].start_date, Some(date(2024, 7, 1)));
    assert_eq!(
        amount(db.periods[0].depreciation.as_ref()),
        33_333,
        "1,000,000 × 2 / 60"
    );
    assert_eq!(amount(db.periods[59].closing_value.as_ref()), 0);
    let total: i64 = db
        .periods
        .iter()
        .map(|r| amount(r.depreciation.as_ref()))
        .sum();
    assert_eq!(total, 1_000_000);
    let years = schedule(&fx, &rack.id, pb::DepreciationPeriod::Year)
        .await
        .unwrap()
        .periods;
    let spans: Vec<_> = years
        .iter()
        .map(|y| (y.start_date.unwrap(), y.end_date.unwrap()))
        .collect();
    assert_eq!(
        spans,
        [
            (date(2024, 7, 1), date(2024, 12, 31)),
            (date(2025, 1, 1), date(2025, 12, 31)),
            (date(2026, 1, 1), date(2026, 12, 31)),
            (date(2027, 1, 1), date(2027, 12, 31)),
            (date(2028, 1, 1), date(2028, 12, 31)),
            (date(2029, 1, 1), date(2029, 6, 30)),
        ]
    );
    assert_eq!(
        years
            .iter()
            .map(|y| amount(y.depreciation.as_ref()))
            .sum::<i64>(),
        1_000_000
    );

    // A change of the category's life changes its assets' schedules.
    let laptop = fx
        .categories_client()
        .await
        .get_category(fx.viewer.request(pb::GetCategoryRequest {
            lookup: Some(pb::get_category_request::Lookup::Code("LAPTOP".into())),
        }))
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    fx.categories_client()
        .await
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(pb::Category {
                useful_life_months: 24,
                ..laptop
            }),
            update_mask: mask(&["useful_life_months"]),
        }))
        .await
        .unwrap();
    let shorter = schedule(&fx, &asset.id, pb::DepreciationPeriod::Month)
        .await
        .unwrap();
    assert_eq!(
        (shorter.useful_life_months, shorter.periods.len()),
        (24, 24)
    );
    assert_eq!(amount(shorter.periods[0].depreciation.as_ref()), 4_500);

    // Unknown and malformed assets.
    let unknown = schedule(&fx, &rid(), pb::DepreciationPeriod::Month)
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::NotFound, "{unknown:?}");
    invalid(
        &schedule(&fx, "AST-000001", pb::DepreciationPeriod::Month)
            .await
            .unwrap_err(),
        "asset_id",
    );
    let odd_period = fx
        .assets_client()
        .await
        .get_depreciation_schedule(fx.viewer.request(pb::GetDepreciationScheduleRequest {
            asset_id: asset.id.clone(),
            period: 7,
        }))
        .await
        .unwrap_err();
    invalid(&odd_period, "period");
}

#[tokio::test]
async fn every_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = [
        Caller::anonymous(),
        Caller::invalid("stranger", "authorization", "Bearer nobody"),
        fx.employee.clone(),
        fx.viewer.clone(),
        fx.manager.clone(),
        fx.auth.person(&[("hdts", "agent")]),
        fx.auth.person(&[("ams", "viewer"), ("ams", "manager")]),
        fx.auth.api_key(&[("ams", "manager")]),
        fx.auth.api_key(&[("ams", "viewer")]),
        fx.auth.api_key(&[]),
    ];
    for policy in [
        &map_ams::grpc::policy::ASSET_SERVICE,
        &map_ams::grpc::policy::CATEGORY_SERVICE,
        &map_ams::grpc::policy::UPLOAD_SERVICE,
    ] {
        check_policy_matrix(fx.server.channel().await, policy, &callers).await;
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn categories_publish_their_whole_state_at_each_version() {
    use prost::Message as _;
    let fx = Fixture::start().await;
    // The fixture's LAPTOP, created: version 1, the whole category.
    let events = fx.category_events().await;
    assert_eq!(events.len(), 1);
    let (kind, version, payload) = &events[0];
    assert_eq!((kind.as_str(), *version), ("ams.category.created", 1));
    let created = ev::AmsCategoryCreated::decode(payload.value.as_slice()).unwrap();
    let snapshot = created.category.unwrap();
    assert_eq!(
        (snapshot.code.as_str(), snapshot.name.as_str(), snapshot.useful_life_months, snapshot.salvage_percent),
        ("LAPTOP", "Laptops", 36, 10)
    );
    assert_eq!(snapshot.depreciation_method, "straight_line");

    // A rename and a longer life: one event naming both, version 2.
    let mut categories = fx.categories_client().await;
    let current = categories
        .get_category(fx.viewer.request(pb::GetCategoryRequest {
            lookup: Some(pb::get_category_request::Lookup::Code("laptop".into())),
        }))
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    let mut change = current.clone();
    change.name = "Notebooks".into();
    change.useful_life_months = 48;
    let updated = categories
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(change.clone()),
            update_mask: mask(&["name", "useful_life_months", "salvage_percent"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    assert_eq!((updated.version, updated.code.as_str()), (2, "LAPTOP"));
    let events = fx.category_events().await;
    assert_eq!(events.len(), 2);
    let (kind, version, payload) = &events[1];
    assert_eq!((kind.as_str(), *version), ("ams.category.updated", 2));
    let changed = ev::AmsCategoryUpdated::decode(payload.value.as_slice()).unwrap();
    assert_eq!(changed.changed_fields, ["name", "useful_life_months"]);
    let snapshot = changed.category.unwrap();
    assert_eq!((snapshot.name.as_str(), snapshot.useful_life_months, snapshot.version), ("Notebooks", 48, 2));

    // Nothing changed: no new version, no event.
    let mut same = updated.clone();
    same.name = "Notebooks".into();
    let unchanged = categories
        .update_category(fx.manager.request(pb::UpdateCategoryRequest {
            category: Some(same),
            update_mask: mask(&["name"]),
        }))
        .await
        .unwrap()
        .into_inner()
        .category
        .unwrap();
    assert_eq!(unchanged.version, 2);
    assert_eq!(fx.category_events().await.len(), 2);
}
}
