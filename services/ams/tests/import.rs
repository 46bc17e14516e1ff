//! ImportAssets through a real gRPC server on port 0, on both databases.
//!
//! From a CSV file uploaded in small chunks (a byte-order mark and records
//! cut across chunks, CRLF line ends, the header in another order and
//! case, quoted fields with commas, doubled quotes and a line break): the
//! good rows are created with consecutive numbers in file order, exactly as
//! written, each with its PURCHASE entry and `ams.asset.purchased` (and a
//! CHECKOUT entry and `ams.asset.checked_out` for a row with a holder,
//! named by user id or email); every bad row is reported in the body with
//! the line where its record starts, its column and a reason.
//! `all_or_nothing` and `validate_only` write nothing (not even a number of
//! the counter) when a row is bad; `opening_balance` writes
//! OPENING_BALANCE entries and no purchase event. A file nothing can be
//! read from is INVALID_ARGUMENT naming upload_id, someone else's or an
//! unknown upload NOT_FOUND, and a retry returns the first answer. From
//! rows: all or nothing, every problem a field violation `rows[i].field`,
//! at most 1000 rows. A file of 3,000 rows crosses the 500-row write
//! batches and keeps its numbers consecutive.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeSet;

use map_ams::entity::{asset_transactions, assets};
use map_contracts::{ams::v1 as pb, common::v1 as common, events::v1 as ev, google::r#type::Date};
use map_kit::{outbox::entity as outbox, testing::Caller};
use prost::Message as _;
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, EntityTrait as _,
    PaginatorTrait as _, QueryFilter as _,
};
use support::{Fixture, fields, id_of, usd};
use tonic::Code;

/// Counts of what an import writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Written {
    assets: u64,
    ledger: u64,
    outbox: u64,
}

async fn written(fx: &Fixture) -> Written {
    let conn = fx.db.db.conn();
    Written {
        assets: assets::Entity::find().count(conn).await.unwrap(),
        ledger: asset_transactions::Entity::find()
            .count(conn)
            .await
            .unwrap(),
        // The asset events: the fixture's category made one of its own.
        outbox: outbox::Entity::find()
            .filter(outbox::Column::EventType.starts_with("ams.asset."))
            .count(conn)
            .await
            .unwrap(),
    }
}

/// `req` sent by the manager.
async fn import(
    fx: &Fixture,
    req: pb::ImportAssetsRequest,
) -> Result<pb::ImportAssetsResponse, tonic::Status> {
    import_as(fx, &fx.manager, req).await
}

async fn import_as(
    fx: &Fixture,
    who: &Caller,
    req: pb::ImportAssetsRequest,
) -> Result<pb::ImportAssetsResponse, tonic::Status> {
    Ok(fx
        .assets_client()
        .await
        .import_assets(who.request(req))
        .await?
        .into_inner())
}

/// An import of the file `upload_id` with a new request id.
fn from_file(upload_id: &str) -> pb::ImportAssetsRequest {
    pb::ImportAssetsRequest {
        upload_id: upload_id.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

/// An import of `rows` with a new request id.
fn from_rows(rows: Vec<pb::ImportAssetRow>) -> pb::ImportAssetsRequest {
    pb::ImportAssetsRequest {
        rows,
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

/// `content` uploaded by `who` in chunks of uneven sizes, the first of 2
/// bytes (so a byte-order mark is cut), then 7, 1, 64, 5 and 13 bytes in
/// turn (so records and quoted fields are cut anywhere); its upload id.
async fn upload_split(fx: &Fixture, who: &Caller, content: &[u8]) -> String {
    let mut u = fx.uploads().await;
    let started = u
        .start_upload(who.request(common::StartUploadRequest {
            file_name: "assets.csv".into(),
            content_type: "text/csv".into(),
            size_bytes: content.len() as i64,
        }))
        .await
        .unwrap()
        .into_inner()
        .upload
        .unwrap();
    let (mut offset, mut turn) = (0, 0);
    while offset < content.len() {
        let n = [2, 7, 1, 64, 5, 13][turn % 6].min(content.len() - offset);
        u.append_upload_chunk(who.request(common::AppendUploadChunkRequest {
            upload_id: started.id.clone(),
            offset: offset as i64,
            data: content[offset..offset + n].to_vec(),
        }))
        .await
        .unwrap();
        (offset, turn) = (offset + n, turn + 1);
    }
    u.complete_upload(who.request(common::CompleteUploadRequest {
        upload_id: started.id.clone(),
        sha256: support::sha256(content),
    }))
    .await
    .unwrap();
    started.id
}

/// A department Auth has deactivated, in AMS's directory.
async fn inactive_department(fx: &Fixture, code: &str) {
    map_kit::directory::entity::departments::ActiveModel {
        code: Set(code.into()),
        name: Set(code.into()),
        active: Set(false),
        version: Set(2),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(fx.db.db.conn())
    .await
    .unwrap();
}

fn email_of(caller: &Caller) -> String {
    caller.principal.as_ref().unwrap().email.clone()
}

fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// The notes of the first good row of [`mixed_file`], as written.
const MIXED_NOTES: &str = "Screen has a \"dead\" pixel\nreplaced once, 2025";

/// The errors of [`mixed_file`], in file order: (line, column, a word of
/// the reason).
const MIXED_ERRORS: [(i64, &str, &str); 9] = [
    (4, "purchase_cost", "decimal"),
    (5, "purchase_date", "date"),
    (7, "category_code", "categor"),
    (8, "department_code", "department"),
    (9, "department_code", "department"),
    (10, "serial", "repeated"),
    (11, "serial", "used"),
    (12, "holder", "user"),
    (13, "", "field"),
];

/// The mixed file: a byte-order mark, CRLF line ends, the header in
/// another order and case (the columns with errors in lower case, so the
/// column reported is the header's spelling either way), 13 records of
/// which 4 are good (lines 2, 6, 14 and 15; the first spans lines 2 and
/// 3) and 9 bad (see [`MIXED_ERRORS`]). It needs an asset with serial
/// EXIST-1 and the inactive department OLD ([`mixed_setup`]); the good row
/// of line 6 is checked out to the employee by user id, that of line 14 to
/// the viewer by email.
fn mixed_file(fx: &Fixture) -> Vec<u8> {
    let header = "purchase_date,NAME,serial,category_code,purchase_cost,Currency,department_code,\
                  Notes,holder,Location,Model,Supplier,Purchase_Reference,Warranty_End_Date";
    let lines = [
        header.to_owned(),
        // 2-3: good, notes across two lines.
        "2025-01-15,\"Dell Latitude 5440, 14\"\"\",SN-001,LAPTOP,1234.50,USD,IT,\
         \"Screen has a \"\"dead\"\" pixel\nreplaced once, 2025\",,HQ 3F storage,\
         Latitude 5440,\"Dell, Inc.\",PO-77,2028-01-15"
            .to_owned(),
        // 4: three decimals for USD.
        "2025-01-16,Bad cost,,LAPTOP,12.345,USD,IT,,,,,,,".to_owned(),
        // 5: not a date.
        "15/01/2025,Bad date,,LAPTOP,10.00,USD,IT,,,,,,,".to_owned(),
        // 6: good, checked out to the employee by id.
        format!(
            "2024-12-01,Monitor 27in,SN-002,LAPTOP,199.99,USD,FIN,,{},Desk 12,U2723QE,Dell,,",
            id_of(&fx.employee)
        ),
        // 7: unknown category.
        "2025-01-16,Printer,,PRINTER,100.00,USD,IT,,,,,,,".to_owned(),
        // 8: inactive department.
        "2025-01-16,Old department,,LAPTOP,100.00,USD,OLD,,,,,,,".to_owned(),
        // 9: unknown department.
        "2025-01-16,No department,,LAPTOP,100.00,USD,NOPE,,,,,,,".to_owned(),
        // 10: the serial of line 2.
        "2025-01-16,Twin,SN-001,LAPTOP,100.00,USD,IT,,,,,,,".to_owned(),
        // 11: the serial of an existing asset.
        "2025-01-16,Taken,EXIST-1,LAPTOP,100.00,USD,IT,,,,,,,".to_owned(),
        // 12: nobody has this email.
        "2025-01-16,Ghost holder,,LAPTOP,100.00,USD,IT,,nobody@example.com,,,,,".to_owned(),
        // 13: three fields.
        "2025-01-16,Short row,LAPTOP".to_owned(),
        // 14: good, checked out to the viewer by email.
        format!(
            "2025-01-17,Dock,SN-003,LAPTOP,89.00,USD,IT,,{},,WD19,,PO-78,",
            email_of(&fx.viewer)
        ),
        // 15: good, the optional fields empty.
        "2025-01-18,\"Mouse \"\"MX\"\"\",,LAPTOP,0,USD,IT,,,,,,,".to_owned(),
    ];
    let mut bytes = b"\xEF\xBB\xBF".to_vec();
    for line in lines {
        bytes.extend_from_slice(line.as_bytes());
        bytes.extend_from_slice(b"\r\n");
    }
    bytes
}

/// What [`mixed_file`] needs: the asset AST-000001 with serial EXIST-1 and
/// the inactive department OLD. The file, uploaded by the manager: its
/// upload id.
async fn mixed_setup(fx: &Fixture) -> String {
    inactive_department(fx, "OLD").await;
    let mut existing = fx.laptop("Existing laptop");
    existing.serial = "EXIST-1".into();
    let existing = fx.create(existing).await.unwrap();
    assert_eq!(existing.number, "AST-000001");
    upload_split(fx, &fx.manager, &mixed_file(fx)).await
}

/// Checks `r` reports exactly the errors of [`mixed_file`] (in file order
/// last, so the other checks are seen first when only the order is wrong).
fn assert_mixed_errors(r: &pb::ImportAssetsResponse) {
    assert_eq!(r.row_count, 13, "{r:?}");
    assert_eq!(r.error_count, 9, "{r:?}");
    let mut got: Vec<(i64, String)> = r
        .errors
        .iter()
        .map(|e| (e.line, e.column.clone()))
        .collect();
    let want: Vec<(i64, String)> = MIXED_ERRORS
        .iter()
        .map(|(l, c, _)| (*l, (*c).to_owned()))
        .collect();
    got.sort();
    assert_eq!(got, want, "{:#?}", r.errors);
    for e in &r.errors {
        let (_, _, word) = MIXED_ERRORS
            .iter()
            .find(|(l, c, _)| *l == e.line && *c == e.column)
            .unwrap();
        assert!(
            e.reason.to_lowercase().contains(word),
            "line {} {}: {:?} should say {word:?}",
            e.line,
            e.column,
            e.reason
        );
    }
    let lines: Vec<i64> = r.errors.iter().map(|e| e.line).collect();
    assert_eq!(
        lines,
        MIXED_ERRORS.iter().map(|e| e.0).collect::<Vec<_>>(),
        "errors must be listed in file order"
    );
}

/// The asset numbered `number`, read by the viewer.
async fn by_number(fx: &Fixture, number: &str) -> pb::Asset {
    fx.assets_client()
        .await
        .get_asset(fx.viewer.request(pb::GetAssetRequest {
            lookup: Some(pb::get_asset_request::Lookup::Number(number.into())),
        }))
        .await
        .unwrap()
        .into_inner()
        .asset
        .unwrap()
}

/// Every asset, by number, read by the viewer page by page.
async fn all_assets(fx: &Fixture) -> Vec<pb::Asset> {
    let mut c = fx.assets_client().await;
    let (mut out, mut token) = (Vec::new(), String::new());
    loop {
        let page = c
            .list_assets(fx.viewer.request(pb::ListAssetsRequest {
                page_size: 500,
                page_token: token,
                order_by: "number".into(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        out.extend(page.assets);
        if page.next_page_token.is_empty() {
            return out;
        }
        token = page.next_page_token;
    }
}

/// The ledger entries of `asset_id`, oldest first.
async fn ledger(fx: &Fixture, asset_id: &str) -> Vec<pb::AssetTransaction> {
    fx.assets_client()
        .await
        .list_asset_transactions(fx.viewer.request(pb::ListAssetTransactionsRequest {
            asset_id: asset_id.into(),
            order_by: "time".into(),
            page_size: 100,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .transactions
}

/// The kinds of `asset_id`'s ledger entries, sorted.
async fn ledger_kinds(fx: &Fixture, asset_id: &str) -> Vec<pb::AssetTransactionType> {
    let mut kinds: Vec<_> = ledger(fx, asset_id)
        .await
        .iter()
        .map(|t| t.r#type())
        .collect();
    kinds.sort();
    kinds
}

/// The `ams.asset.purchased` events of the outbox.
async fn purchased(fx: &Fixture) -> Vec<ev::AmsAssetPurchased> {
    fx.events()
        .await
        .into_iter()
        .filter(|(t, _, _)| t == "ams.asset.purchased")
        .map(|(_, _, any)| ev::AmsAssetPurchased::decode(any.value.as_slice()).unwrap())
        .collect()
}

/// The `ams.asset.checked_out` events of the outbox, with their versions.
async fn checked_out(fx: &Fixture) -> Vec<(i64, ev::AmsAssetCheckedOut)> {
    fx.events()
        .await
        .into_iter()
        .filter(|(t, _, _)| t == "ams.asset.checked_out")
        .map(|(_, v, any)| {
            (
                v,
                ev::AmsAssetCheckedOut::decode(any.value.as_slice()).unwrap(),
            )
        })
        .collect()
}

/// Outbox rows of `event_type`.
async fn outbox_count(fx: &Fixture, event_type: &str) -> u64 {
    outbox::Entity::find()
        .filter(outbox::Column::EventType.eq(event_type))
        .count(fx.db.db.conn())
        .await
        .unwrap()
}

/// Ledger rows of `kind` (as stored, e.g. `purchase`).
async fn ledger_count(fx: &Fixture, kind: &str) -> u64 {
    asset_transactions::Entity::find()
        .filter(asset_transactions::Column::Kind.eq(kind))
        .count(fx.db.db.conn())
        .await
        .unwrap()
}

/// Checks that the asset `a` was registered by the manager's import: a
/// purchase entry (and a checkout to `holder`), `ams.asset.purchased` with
/// its category (and `ams.asset.checked_out` to `holder`).
async fn assert_registered(fx: &Fixture, a: &pb::Asset, holder: Option<&str>) {
    let entries = ledger(fx, &a.id).await;
    let purchase = entries
        .iter()
        .find(|t| t.r#type() == pb::AssetTransactionType::Purchase)
        .unwrap_or_else(|| panic!("{}: no PURCHASE entry in {entries:?}", a.number));
    assert_eq!(purchase.amount, a.purchase_cost, "{}", a.number);
    assert_eq!(purchase.to_department_code, a.department_code);
    assert_eq!(purchase.actor_user_id, id_of(&fx.manager));
    let bought: Vec<_> = purchased(fx)
        .await
        .into_iter()
        .filter(|e| e.asset.as_ref().unwrap().id == a.id)
        .collect();
    assert_eq!(bought.len(), 1, "{}: one ams.asset.purchased", a.number);
    let snap = bought[0].asset.as_ref().unwrap();
    assert_eq!(
        (
            snap.number.as_str(),
            snap.category_code.as_str(),
            snap.category_name.as_str()
        ),
        (a.number.as_str(), "LAPTOP", "Laptops")
    );
    assert_eq!(snap.purchase_cost, a.purchase_cost);
    assert_eq!(bought[0].transaction_id, purchase.id);
    let outs: Vec<_> = checked_out(fx)
        .await
        .into_iter()
        .filter(|(_, e)| e.asset.as_ref().unwrap().id == a.id)
        .collect();
    match holder {
        None => {
            assert_eq!(a.status(), pb::AssetStatus::InStock, "{}", a.number);
            assert_eq!(a.holder_user_id, "");
            assert_eq!(
                entries.iter().map(|t| t.r#type()).collect::<Vec<_>>(),
                [pb::AssetTransactionType::Purchase]
            );
            assert!(outs.is_empty(), "{}: {outs:?}", a.number);
        }
        Some(holder) => {
            assert_eq!(a.status(), pb::AssetStatus::CheckedOut, "{}", a.number);
            assert_eq!(a.holder_user_id, holder);
            let checkout = entries
                .iter()
                .find(|t| t.r#type() == pb::AssetTransactionType::Checkout)
                .unwrap_or_else(|| panic!("{}: no CHECKOUT entry in {entries:?}", a.number));
            assert_eq!(checkout.holder_user_id, holder);
            assert_eq!(checkout.to_status(), pb::AssetStatus::CheckedOut);
            assert_eq!(entries.len(), 2, "{entries:?}");
            assert_eq!(outs.len(), 1, "{}: one ams.asset.checked_out", a.number);
            let (version, out) = &outs[0];
            assert_eq!(*version, a.version);
            assert_eq!(out.transaction_id, checkout.id);
            let snap = out.asset.as_ref().unwrap();
            assert_eq!(snap.holder.as_ref().unwrap().user_id, holder);
            assert_eq!(snap.category_code, "LAPTOP");
            assert_eq!(snap.status(), ev::AssetStatus::CheckedOut);
        }
    }
}

/// A small clean file: the header and one line per (name, serial, holder).
fn clean_file(rows: &[(&str, &str, &str)]) -> Vec<u8> {
    let mut s = String::from(
        "name,category_code,department_code,purchase_cost,currency,purchase_date,serial,holder\n",
    );
    for (name, serial, holder) in rows {
        s.push_str(&format!(
            "{name},LAPTOP,IT,250.00,USD,2025-03-01,{serial},{holder}\n"
        ));
    }
    s.into_bytes()
}

/// A good row: a laptop of IT for 900.00 USD bought 2025-02-01.
fn row(name: &str, serial: &str) -> pb::ImportAssetRow {
    pb::ImportAssetRow {
        name: name.into(),
        serial: serial.into(),
        category_code: "LAPTOP".into(),
        department_code: "IT".into(),
        location: "HQ 2F".into(),
        purchase_cost: Some(usd(90_000)),
        purchase_date: Some(date(2025, 2, 1)),
        notes: "line one\nline \"two\"".into(),
        supplier: "Lenovo".into(),
        purchase_reference: "PO-9".into(),
        warranty_end_date: Some(date(2027, 2, 1)),
        model: "T14".into(),
        holder_user_id: String::new(),
    }
}

/// A tiny deterministic generator (xorshift), for names that look random.
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn pick<'a>(&mut self, from: &[&'a str]) -> &'a str {
        from[(self.next() % from.len() as u64) as usize]
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_mixed_file_creates_its_good_rows_in_order_and_reports_every_bad_one() {
    let fx = Fixture::start().await;
    let upload_id = mixed_setup(&fx).await;
    let before = written(&fx).await;

    let r = import(&fx, from_file(&upload_id)).await.unwrap();
    assert_eq!(r.created_count, 4, "{r:#?}");
    assert!(r.assets.is_empty(), "a file's assets are not listed");
    assert_eq!(
        (r.first_number.as_str(), r.last_number.as_str()),
        ("AST-000002", "AST-000005")
    );
    let after = written(&fx).await;
    assert_eq!(after.assets, before.assets + 4);
    // 4 purchases and 2 checkouts; 4 ams.asset.purchased, 2 checked_out.
    assert_eq!(after.ledger, before.ledger + 6);
    assert_eq!(after.outbox, before.outbox + 6);

    // The good rows, numbered in file order, exactly as written.
    let employee = id_of(&fx.employee);
    let viewer = id_of(&fx.viewer);
    let dell = by_number(&fx, "AST-000002").await;
    assert_eq!(
        dell,
        pb::Asset {
            name: "Dell Latitude 5440, 14\"".into(),
            serial: "SN-001".into(),
            category_code: "LAPTOP".into(),
            department_code: "IT".into(),
            location: "HQ 3F storage".into(),
            status: pb::AssetStatus::InStock.into(),
            purchase_cost: Some(usd(123_450)),
            purchase_date: Some(date(2025, 1, 15)),
            notes: MIXED_NOTES.into(),
            supplier: "Dell, Inc.".into(),
            purchase_reference: "PO-77".into(),
            version: 1,
            warranty_end_date: Some(date(2028, 1, 15)),
            model: "Latitude 5440".into(),
            opening_balance: false,
            number: "AST-000002".into(),
            id: dell.id.clone(),
            etag: dell.etag.clone(),
            create_time: dell.create_time,
            update_time: dell.update_time,
            ..Default::default()
        }
    );
    let monitor = by_number(&fx, "AST-000003").await;
    assert_eq!(
        monitor,
        pb::Asset {
            name: "Monitor 27in".into(),
            serial: "SN-002".into(),
            category_code: "LAPTOP".into(),
            department_code: "FIN".into(),
            location: "Desk 12".into(),
            status: pb::AssetStatus::CheckedOut.into(),
            holder_user_id: employee.clone(),
            purchase_cost: Some(usd(19_999)),
            purchase_date: Some(date(2024, 12, 1)),
            supplier: "Dell".into(),
            version: 2,
            model: "U2723QE".into(),
            number: "AST-000003".into(),
            id: monitor.id.clone(),
            etag: monitor.etag.clone(),
            create_time: monitor.create_time,
            update_time: monitor.update_time,
            ..Default::default()
        }
    );
    let dock = by_number(&fx, "AST-000004").await;
    assert_eq!(
        dock,
        pb::Asset {
            name: "Dock".into(),
            serial: "SN-003".into(),
            category_code: "LAPTOP".into(),
            department_code: "IT".into(),
            status: pb::AssetStatus::CheckedOut.into(),
            holder_user_id: viewer.clone(),
            purchase_cost: Some(usd(8_900)),
            purchase_date: Some(date(2025, 1, 17)),
            purchase_reference: "PO-78".into(),
            version: 2,
            model: "WD19".into(),
            number: "AST-000004".into(),
            id: dock.id.clone(),
            etag: dock.etag.clone(),
            create_time: dock.create_time,
            update_time: dock.update_time,
            ..Default::default()
        }
    );
    let mouse = by_number(&fx, "AST-000005").await;
    assert_eq!(
        (mouse.name.as_str(), mouse.purchase_cost.clone(), mouse.purchase_date, mouse.serial.as_str()),
        ("Mouse \"MX\"", Some(usd(0)), Some(date(2025, 1, 18)), "")
    );
    assert_eq!(all_assets(&fx).await.len(), 5, "nothing else was created");

    // Each registered, with its purchase; the holders' rows checked out.
    assert_registered(&fx, &dell, None).await;
    assert_registered(&fx, &monitor, Some(&employee)).await;
    assert_registered(&fx, &dock, Some(&viewer)).await;
    assert_registered(&fx, &mouse, None).await;
    let mine = fx
        .assets_client()
        .await
        .list_my_assets(fx.employee.request(pb::ListMyAssetsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .assets;
    assert_eq!(mine.iter().map(|a| a.number.as_str()).collect::<Vec<_>>(), ["AST-000003"]);

    assert_mixed_errors(&r);
}

#[tokio::test]
async fn all_or_nothing_writes_nothing_when_a_row_is_bad_and_everything_when_none_is() {
    let fx = Fixture::start().await;
    let upload_id = mixed_setup(&fx).await;
    let before = written(&fx).await;

    let r = import(
        &fx,
        pb::ImportAssetsRequest { all_or_nothing: true, ..from_file(&upload_id) },
    )
    .await
    .unwrap();
    assert_eq!(r.created_count, 0, "{r:#?}");
    assert_eq!((r.first_number.as_str(), r.last_number.as_str()), ("", ""));
    assert_eq!(written(&fx).await, before, "no asset, ledger entry or event");
    assert_mixed_errors(&r);
    // The counter did not move: the next asset follows the existing one.
    let next = fx.create(fx.laptop("After the refused import")).await.unwrap();
    assert_eq!(next.number, "AST-000002");

    // A clean file: every row is created.
    let holder = id_of(&fx.employee);
    let clean = clean_file(&[("A", "C-1", ""), ("B", "C-2", &holder), ("C", "", "")]);
    let clean_id = fx.upload(&fx.manager, &clean, 7).await.unwrap();
    let before = written(&fx).await;
    let r = import(
        &fx,
        pb::ImportAssetsRequest { all_or_nothing: true, ..from_file(&clean_id) },
    )
    .await
    .unwrap();
    assert_eq!(
        (r.row_count, r.created_count, r.error_count, r.errors.len()),
        (3, 3, 0, 0),
        "{r:#?}"
    );
    assert_eq!(
        (r.first_number.as_str(), r.last_number.as_str()),
        ("AST-000003", "AST-000005")
    );
    let after = written(&fx).await;
    assert_eq!(after.assets, before.assets + 3);
    let names: Vec<_> = all_assets(&fx).await.into_iter().map(|a| (a.number, a.name)).collect();
    assert_eq!(
        &names[2..],
        [
            ("AST-000003".to_owned(), "A".to_owned()),
            ("AST-000004".to_owned(), "B".to_owned()),
            ("AST-000005".to_owned(), "C".to_owned()),
        ]
    );
    assert_registered(&fx, &by_number(&fx, "AST-000004").await, Some(&holder)).await;
    assert_registered(&fx, &by_number(&fx, "AST-000005").await, None).await;
}

#[tokio::test]
async fn validate_only_reports_the_bad_rows_and_writes_nothing() {
    let fx = Fixture::start().await;
    let upload_id = mixed_setup(&fx).await;
    let before = written(&fx).await;

    let r = import(
        &fx,
        pb::ImportAssetsRequest { validate_only: true, ..from_file(&upload_id) },
    )
    .await
    .unwrap();
    assert_eq!(r.created_count, 0, "{r:#?}");
    assert_eq!((r.first_number.as_str(), r.last_number.as_str()), ("", ""));
    assert_eq!(written(&fx).await, before);
    assert_mixed_errors(&r);

    // A clean file validated: counted, nothing written, nothing wrong.
    let clean = clean_file(&[
        ("One", "V-1", ""),
        ("Two", "V-2", &email_of(&fx.employee)),
        ("Three", "", ""),
        ("Four", "", ""),
    ]);
    let clean_id = fx.upload(&fx.manager, &clean, 64).await.unwrap();
    let r = import(
        &fx,
        pb::ImportAssetsRequest { validate_only: true, ..from_file(&clean_id) },
    )
    .await
    .unwrap();
    assert_eq!(
        r,
        pb::ImportAssetsResponse { row_count: 4, ..Default::default() },
        "validated: no errors, nothing created"
    );
    assert_eq!(written(&fx).await, before);
    // Validating took nothing: the same file imports afterwards from AST-000002.
    let r = import(&fx, from_file(&clean_id)).await.unwrap();
    assert_eq!((r.created_count, r.error_count), (4, 0), "{r:#?}");
    assert_eq!(
        (r.first_number.as_str(), r.last_number.as_str()),
        ("AST-000002", "AST-000005")
    );
}

#[tokio::test]
async fn an_opening_balance_writes_opening_entries_and_no_purchase_event() {
    let fx = Fixture::start().await;
    let holder = id_of(&fx.employee);
    let file = clean_file(&[("Old laptop", "OB-1", ""), ("Old monitor", "OB-2", &holder)]);
    let upload_id = fx.upload(&fx.manager, &file, 7).await.unwrap();

    let r = import(
        &fx,
        pb::ImportAssetsRequest { opening_balance: true, ..from_file(&upload_id) },
    )
    .await
    .unwrap();
    assert_eq!((r.row_count, r.created_count, r.error_count), (2, 2, 0), "{r:#?}");
    let all = all_assets(&fx).await;
    assert_eq!(all.len(), 2);
    for a in &all {
        assert!(a.opening_balance, "{a:?}");
        let kinds = ledger_kinds(&fx, &a.id).await;
        assert!(kinds.contains(&pb::AssetTransactionType::OpeningBalance), "{kinds:?}");
        assert!(!kinds.contains(&pb::AssetTransactionType::Purchase), "{kinds:?}");
        let entry = ledger(&fx, &a.id)
            .await
            .into_iter()
            .find(|t| t.r#type() == pb::AssetTransactionType::OpeningBalance)
            .unwrap();
        assert_eq!(entry.amount, Some(usd(25_000)));
    }
    assert_eq!(
        ledger_kinds(&fx, &all[1].id).await,
        [pb::AssetTransactionType::Checkout, pb::AssetTransactionType::OpeningBalance]
    );
    assert_eq!(all[1].status(), pb::AssetStatus::CheckedOut);
    assert_eq!(ledger_count(&fx, "opening_balance").await, 2);
    assert_eq!(ledger_count(&fx, "purchase").await, 0);
    // Nothing for BMS to book; the checkout is still announced.
    assert_eq!(fx.event_types().await, ["ams.asset.checked_out"]);
    let (_, out) = &checked_out(&fx).await[0];
    assert!(out.asset.as_ref().unwrap().opening_balance);
    assert_eq!(out.asset.as_ref().unwrap().holder.as_ref().unwrap().user_id, holder);
}

#[tokio::test]
async fn a_file_nothing_can_be_read_from_is_invalid_naming_upload_id() {
    let fx = Fixture::start().await;
    fx.create(fx.laptop("Already there")).await.unwrap();
    let before = written(&fx).await;
    for (what, content) in [
        // An upload is never zero bytes: a mark and blank lines hold no header.
        ("empty", b"\xEF\xBB\xBF\r\n\r\n".to_vec()),
        (
            "no purchase_cost",
            b"name,category_code,department_code,currency,purchase_date\r\n\
              A,LAPTOP,IT,USD,2025-01-01\r\n"
                .to_vec(),
        ),
        (
            "unknown column",
            b"name,category_code,department_code,purchase_cost,currency,purchase_date,colour\r\n\
              A,LAPTOP,IT,1.00,USD,2025-01-01,red\r\n"
                .to_vec(),
        ),
    ] {
        let upload_id = fx.upload(&fx.manager, &content, 7).await.unwrap();
        for req in [
            from_file(&upload_id),
            pb::ImportAssetsRequest { validate_only: true, ..from_file(&upload_id) },
            pb::ImportAssetsRequest { all_or_nothing: true, ..from_file(&upload_id) },
        ] {
            let err = import(&fx, req).await.unwrap_err();
            assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
            assert_eq!(fields(&err), ["upload_id"], "{what}: {err:?}");
        }
        assert_eq!(written(&fx).await, before, "{what}: nothing written");
    }
    let next = fx.create(fx.laptop("Next")).await.unwrap();
    assert_eq!(next.number, "AST-000002", "no number was taken");
}

#[tokio::test]
async fn only_a_complete_upload_of_the_callers_is_found_and_exactly_one_source_is_set() {
    let fx = Fixture::start().await;
    let file = clean_file(&[("A", "", "")]);
    let other_manager = fx.person(&[("ams", "manager")]).await;
    let theirs = fx.upload(&other_manager, &file, 64).await.unwrap();
    let mine = fx.upload(&fx.manager, &file, 64).await.unwrap();
    let open = fx
        .uploads()
        .await
        .start_upload(fx.manager.request(common::StartUploadRequest {
            file_name: "assets.csv".into(),
            content_type: "text/csv".into(),
            size_bytes: file.len() as i64,
        }))
        .await
        .unwrap()
        .into_inner()
        .upload
        .unwrap()
        .id;
    let before = written(&fx).await;
    for (what, id) in [
        ("another manager's upload", theirs.clone()),
        ("an unknown upload", uuid::Uuid::now_v7().to_string()),
        ("an upload not completed", open),
    ] {
        let err = import(&fx, from_file(&id)).await.unwrap_err();
        assert_eq!(err.code(), Code::NotFound, "{what}: {err:?}");
    }
    assert_eq!(written(&fx).await, before);
    // Their own upload is theirs to import.
    let r = import_as(&fx, &other_manager, from_file(&theirs)).await.unwrap();
    assert_eq!(r.created_count, 1);
    let before = written(&fx).await;

    for (what, req) in [
        ("neither", from_rows(Vec::new())),
        (
            "both",
            pb::ImportAssetsRequest { upload_id: mine.clone(), ..from_rows(vec![row("R", "")]) },
        ),
    ] {
        let err = import(&fx, req).await.unwrap_err();
        assert_eq!(err.code(), Code::InvalidArgument, "{what}: {err:?}");
        let named = fields(&err);
        assert!(
            !named.is_empty() && named.iter().all(|f| f == "rows" || f == "upload_id"),
            "{what}: {named:?}"
        );
    }
    assert_eq!(written(&fx).await, before);
}

#[tokio::test]
async fn a_retry_returns_the_first_answer_and_creates_nothing_more() {
    let fx = Fixture::start().await;
    // From a file.
    let file = clean_file(&[("A", "I-1", ""), ("B", "I-2", &id_of(&fx.employee))]);
    let upload_id = fx.upload(&fx.manager, &file, 7).await.unwrap();
    let req = from_file(&upload_id);
    let first = import(&fx, req.clone()).await.unwrap();
    assert_eq!((first.created_count, first.error_count), (2, 0), "{first:#?}");
    let after_first = written(&fx).await;
    let again = import(&fx, req.clone()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(written(&fx).await, after_first, "no second set of assets");
    // The same request id for another request is refused.
    let err = import(&fx, pb::ImportAssetsRequest { validate_only: true, ..req.clone() })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(fields(&err), ["request_id"]);

    // From rows.
    let req = from_rows(vec![row("R1", "I-3"), row("R2", "I-4")]);
    let first = import(&fx, req.clone()).await.unwrap();
    assert_eq!(first.assets.len(), 2);
    let after_first = written(&fx).await;
    let again = import(&fx, req.clone()).await.unwrap();
    assert_eq!(again, first);
    assert_eq!(written(&fx).await, after_first, "no second set of assets");
    assert_eq!(all_assets(&fx).await.len(), 4);
}

#[tokio::test]
async fn rows_are_created_in_row_order_and_listed_in_the_response() {
    let fx = Fixture::start().await;
    let holder = id_of(&fx.employee);
    let mut held = row("Held", "ROW-2");
    held.holder_user_id = holder.clone();
    let mut fin = row("Finance printer-laptop", "");
    fin.department_code = "FIN".into();
    let rows = vec![row("First", "ROW-1"), held, fin];
    let r = import(&fx, from_rows(rows.clone())).await.unwrap();
    assert_eq!(
        (r.row_count, r.created_count, r.error_count, r.errors.len()),
        (3, 3, 0, 0),
        "{r:#?}"
    );
    assert_eq!(
        (r.first_number.as_str(), r.last_number.as_str()),
        ("AST-000001", "AST-000003")
    );
    let numbers: Vec<_> = r.assets.iter().map(|a| a.number.as_str()).collect();
    assert_eq!(numbers, ["AST-000001", "AST-000002", "AST-000003"]);
    for (a, want) in r.assets.iter().zip(&rows) {
        assert_eq!(
            (a.name.as_str(), a.serial.as_str(), a.department_code.as_str()),
            (want.name.as_str(), want.serial.as_str(), want.department_code.as_str())
        );
        assert_eq!(
            (&a.location, &a.notes, &a.supplier, &a.purchase_reference, &a.model),
            (&want.location, &want.notes, &want.supplier, &want.purchase_reference, &want.model)
        );
        assert_eq!(
            (a.purchase_cost.clone(), a.purchase_date, a.warranty_end_date),
            (want.purchase_cost.clone(), want.purchase_date, want.warranty_end_date)
        );
        assert!(!a.opening_balance);
        // The response is what is stored.
        assert_eq!(&by_number(&fx, &a.number).await, a);
    }
    assert_registered(&fx, &r.assets[0], None).await;
    assert_registered(&fx, &r.assets[1], Some(&holder)).await;
    assert_registered(&fx, &r.assets[2], None).await;
    assert_eq!(written(&fx).await, Written { assets: 3, ledger: 4, outbox: 4 });
}

#[tokio::test]
async fn bad_rows_are_field_violations_and_create_nothing() {
    let fx = Fixture::start().await;
    let mut existing = fx.laptop("Existing");
    existing.serial = "TAKEN-1".into();
    fx.create(existing).await.unwrap();
    let before = written(&fx).await;

    let mut negative = row("Negative", "");
    negative.purchase_cost = Some(usd(-1));
    let mut unknown_category = row("Unknown category", "");
    unknown_category.category_code = "PRINTER".into();
    let mut ghost = row("Ghost holder", "");
    ghost.holder_user_id = uuid::Uuid::now_v7().to_string();
    let rows = vec![
        row("Good", "DUP-1"),
        negative,
        unknown_category,
        row("Twin", "DUP-1"),
        row("Taken", "TAKEN-1"),
        ghost,
        row("Also good", ""),
    ];
    let err = import(&fx, from_rows(rows)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    let mut named = fields(&err);
    named.sort();
    assert_eq!(
        named,
        [
            "rows[1].purchase_cost.amount_minor",
            "rows[2].category_code",
            "rows[3].serial",
            "rows[4].serial",
            "rows[5].holder_user_id",
        ],
        "a violation per problem: {err:?}"
    );
    assert_eq!(written(&fx).await, before, "nothing created");

    // At most 1000 rows.
    let many: Vec<_> = (0..1001).map(|i| row(&format!("Row {i}"), "")).collect();
    let err = import(&fx, from_rows(many)).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert_eq!(fields(&err), ["rows"]);
    assert_eq!(written(&fx).await, before, "nothing created");
    let next = fx.create(fx.laptop("Next")).await.unwrap();
    assert_eq!(next.number, "AST-000002", "no number was taken");
}

#[tokio::test]
async fn a_record_with_two_problems_is_one_bad_row_with_an_error_for_each() {
    let fx = Fixture::start().await;
    let file = b"name,category_code,department_code,purchase_cost,currency,purchase_date\n\
                 Good,LAPTOP,IT,1.00,USD,2025-01-01\n\
                 Twice bad,LAPTOP,IT,1.999,USD,2025-02-30\n"
        .to_vec();
    let upload_id = fx.upload(&fx.manager, &file, 7).await.unwrap();
    let r = import(&fx, from_file(&upload_id)).await.unwrap();
    let errors: Vec<_> = r.errors.iter().map(|e| (e.line, e.column.as_str())).collect();
    assert_eq!(errors, [(3, "purchase_cost"), (3, "purchase_date")], "{r:#?}");
    assert_eq!((r.row_count, r.created_count), (2, 1));
    assert_eq!(r.error_count, 1, "error_count counts bad rows: {r:#?}");
}

#[tokio::test]
async fn a_file_of_3000_rows_is_created_with_consecutive_numbers_across_write_batches() {
    let fx = Fixture::start().await;
    let mut noise = Noise(0x9E37_79B9_7F4A_7C15);
    let parts = ["Laptop", "Dell, Inc.", "15\" screen", "\"Pro\"", "a,b", "Ünïcødé 日本", "x"];
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "name", "category_code", "department_code", "purchase_cost", "currency",
        "purchase_date", "serial", "notes",
    ])
    .unwrap();
    let mut expected = Vec::new();
    for i in 0..3000 {
        let name = format!("{} {} #{i}", noise.pick(&parts), noise.pick(&parts));
        let notes = if i % 7 == 0 {
            format!("first line\n{}, \"quoted\"", noise.pick(&parts))
        } else {
            String::new()
        };
        let cost = noise.next() % 1_000_000;
        let serial = format!("BULK-{i:05}");
        w.write_record([
            name.as_str(),
            "LAPTOP",
            if i % 2 == 0 { "IT" } else { "FIN" },
            &format!("{}.{:02}", cost / 100, cost % 100),
            "USD",
            "2025-01-31",
            &serial,
            &notes,
        ])
        .unwrap();
        expected.push((name, serial, notes, cost as i64));
    }
    let file = w.into_inner().unwrap();
    assert!(file.len() > 2 * (64 << 10), "the file spans several chunks");
    let upload_id = fx.upload(&fx.manager, &file, 64 << 10).await.unwrap();

    let r = import(&fx, from_file(&upload_id)).await.unwrap();
    assert_eq!(
        (r.row_count, r.created_count, r.error_count, r.errors.len()),
        (3000, 3000, 0, 0),
        "{:?}",
        &r.errors[..r.errors.len().min(5)]
    );
    assert_eq!(
        (r.first_number.as_str(), r.last_number.as_str()),
        ("AST-000001", "AST-003000")
    );
    let all = all_assets(&fx).await;
    assert_eq!(all.len(), 3000);
    for (i, (a, (name, serial, notes, cost))) in all.iter().zip(&expected).enumerate() {
        assert_eq!(a.number, format!("AST-{:06}", i + 1));
        assert_eq!(
            (&a.name, &a.serial, &a.notes, a.purchase_cost.clone()),
            (name, serial, notes, Some(usd(*cost))),
            "{}",
            a.number
        );
        assert_eq!(a.department_code, if i % 2 == 0 { "IT" } else { "FIN" });
    }
    assert_eq!(ledger_count(&fx, "purchase").await, 3000);
    assert_eq!(written(&fx).await.ledger, 3000);
    assert_eq!(outbox_count(&fx, "ams.asset.purchased").await, 3000);
    assert_eq!(written(&fx).await.outbox, 3000);
    let numbers: BTreeSet<String> = purchased(&fx)
        .await
        .into_iter()
        .map(|e| {
            let a = e.asset.unwrap();
            assert_eq!(a.category_code, "LAPTOP");
            a.number
        })
        .collect();
    assert_eq!(numbers.len(), 3000);
    assert_eq!(numbers.first().unwrap(), "AST-000001");
    assert_eq!(numbers.last().unwrap(), "AST-003000");
}
}
