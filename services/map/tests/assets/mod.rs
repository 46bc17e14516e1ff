//! Asset management, and the purchase it sends to budget management, as a
//! user drives them through the gateway with grpcurl (a real third-party
//! client, through server reflection): shared by the chart's run test
//! (separate processes, PostgreSQL, RabbitMQ) and the `map dev` test (one
//! process, SQLite, the in-process bus). It runs after the help-desk walk,
//! whose department IT and administrator have reached AMS's and BMS's
//! directories through the bus by then (it waits for them anyway).
#![allow(dead_code)] // each test binary uses part of it

use std::time::Duration;

use base64::Engine as _;
use map_kit::testing::poll_until;
use serde_json::{Value, json};
use sha2::Digest as _;

use crate::helpdesk::{grpcurl, grpcurl_as, grpcurl_raw};

/// Signs in at `gateway` as the administrator `email`, takes ams:manager
/// and bms:finance_head, gives IT a FY2025 budget with a LAPTOP line, and
/// walks an asset's life: a category, a purchase (which the BMS worker
/// books on that line by itself, and AMS then shows on the asset), a
/// checkout to the
/// administrator (who then sees it among their assets), its depreciation
/// schedule, its return and its ledger; then a CSV file uploaded in chunks
/// and imported, its bad row reported by line and column. `logs` explains
/// a failure.
pub async fn walk(gateway: &str, email: &str, password: &str, logs: &dyn Fn() -> String) {
    let login = grpcurl(
        gateway,
        "map.auth.v1.AuthService/Login",
        &json!({"email": email, "password": password}),
    );
    let admin_id = login["user"]["id"]
        .as_str()
        .expect("the user's id")
        .to_owned();
    let token = login["accessToken"].as_str().expect("a token").to_owned();
    for (system, role) in [("ams", "manager"), ("bms", "finance_head")] {
        grpcurl_as(
            gateway,
            &format!("authorization: Bearer {token}"),
            "map.auth.v1.AdminService/GrantRole",
            &json!({"userId": admin_id, "role": {"system": system, "role": role}}),
        );
    }
    let login = grpcurl(
        gateway,
        "map.auth.v1.AuthService/Login",
        &json!({"email": email, "password": password}),
    );
    let bearer = format!(
        "authorization: Bearer {}",
        login["accessToken"].as_str().expect("a token")
    );
    let call = |method: &str, body: &Value| grpcurl_as(gateway, &bearer, method, body);

    let category = call(
        "map.ams.v1.CategoryService/CreateCategory",
        &json!({"code": "LAPTOP", "name": "Laptops", "depreciationMethod": "DEPRECIATION_METHOD_STRAIGHT_LINE",
                "usefulLifeMonths": 36, "salvagePercent": 10,
                "requestId": "01890a5d-ac96-774b-bcce-b302099a8101"}),
    );
    assert_eq!(category["category"]["code"], "LAPTOP", "{category}");

    // IT's budget for 2025, once department IT is in BMS's directory.
    call(
        "map.bms.v1.BudgetService/CreateFiscalYear",
        &json!({"name": "FY2025", "startDate": {"year": 2025, "month": 1, "day": 1},
                "endDate": {"year": 2025, "month": 12, "day": 31},
                "requestId": "01890a5d-ac96-774b-bcce-b302099a8201"}),
    );
    let budget_request = json!({"fiscalYearId": "", "departmentCode": "IT", "currencyCode": "USD",
        "lines": [{"categoryCode": "LAPTOP", "accountCode": "6100",
                   "allocated": {"amountMinor": "500000", "currencyCode": "USD"},
                   "controlMode": "BUDGET_CONTROL_MODE_WARN"}],
        "requestId": "01890a5d-ac96-774b-bcce-b302099a8202"});
    let year = call(
        "map.bms.v1.BudgetService/GetFiscalYear",
        &json!({"name": "FY2025"}),
    );
    let mut budget_request = budget_request;
    budget_request["fiscalYearId"] = year["fiscalYear"]["id"].clone();
    let mut budget = Value::Null;
    let budgeted = poll_until(Duration::from_secs(30), || {
        let out = grpcurl_raw(
            gateway,
            &bearer,
            "map.bms.v1.BudgetService/CreateBudget",
            &budget_request,
        );
        let ok = out.status.success();
        if ok {
            budget = serde_json::from_slice(&out.stdout).unwrap_or_default();
        }
        async move { ok }
    })
    .await;
    assert!(budgeted, "IT's budget was never accepted: {}", logs());
    let laptop_line = budget["budget"]["lines"][0]["id"]
        .as_str()
        .expect("the LAPTOP line")
        .to_owned();

    // Department IT reaches AMS's directory through the bus: the purchase is
    // accepted once it is there.
    let purchase = json!({"name": "ThinkPad T14", "serial": "PF-1", "categoryCode": "LAPTOP",
        "departmentCode": "IT", "purchaseCost": {"amountMinor": "120000", "currencyCode": "USD"},
        "purchaseDate": {"year": 2025, "month": 1, "day": 15},
        "requestId": "01890a5d-ac96-774b-bcce-b302099a8102"});
    let mut created = Value::Null;
    let reached = poll_until(Duration::from_secs(30), || {
        let out = grpcurl_raw(
            gateway,
            &bearer,
            "map.ams.v1.AssetService/CreateAsset",
            &purchase,
        );
        let ok = out.status.success();
        if ok {
            created = serde_json::from_slice(&out.stdout).unwrap_or_default();
        }
        async move { ok }
    })
    .await;
    assert!(reached, "the purchase was never accepted: {}", logs());
    let asset = created["asset"].clone();
    let id = asset["id"].as_str().expect("an asset id").to_owned();
    assert_eq!(asset["status"], "ASSET_STATUS_IN_STOCK", "{asset}");

    // BMS's worker books the purchase on IT's LAPTOP line by itself.
    let mut expenses = Value::Null;
    let booked = poll_until(Duration::from_secs(30), || {
        let out = grpcurl_raw(
            gateway,
            &bearer,
            "map.bms.v1.ExpenseService/ListExpenses",
            &json!({"assetId": id}),
        );
        let listed: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        let ok = listed["expenses"].as_array().is_some_and(|e| !e.is_empty());
        if ok {
            expenses = listed;
        }
        async move { ok }
    })
    .await;
    assert!(booked, "the purchase never reached IT's budget: {}", logs());
    let expense = &expenses["expenses"][0];
    assert_eq!(
        expenses["expenses"].as_array().map(Vec::len),
        Some(1),
        "{expenses}"
    );
    assert_eq!(expense["budgetLineId"], laptop_line.as_str(), "{expense}");
    assert_eq!(expense["amount"]["amountMinor"], "120000", "{expense}");
    assert_eq!(expense["source"], "ams.asset.purchased", "{expense}");
    assert_eq!(expense["accountCode"], "6100", "{expense}");
    // And AMS shows, on the asset, the line that paid (from bms.expense.*).
    let mut shown = Value::Null;
    let mirrored = poll_until(Duration::from_secs(30), || {
        let got = call("map.ams.v1.AssetService/GetAsset", &json!({"id": id}));
        let ok = got["budgetBookings"][0]["budgetLineId"] == laptop_line.as_str();
        shown = got;
        async move { ok }
    })
    .await;
    assert!(
        mirrored,
        "the asset never showed the line that paid: {shown} {}",
        logs()
    );

    // Checked out to the administrator, once they are in AMS's directory.
    let checkout = json!({"assetId": id, "holderUserId": admin_id,
        "requestId": "01890a5d-ac96-774b-bcce-b302099a8103"});
    let mut out = Value::Null;
    let held = poll_until(Duration::from_secs(30), || {
        let r = grpcurl_raw(
            gateway,
            &bearer,
            "map.ams.v1.AssetService/CheckOutAsset",
            &checkout,
        );
        let ok = r.status.success();
        if ok {
            out = serde_json::from_slice(&r.stdout).unwrap_or_default();
        }
        async move { ok }
    })
    .await;
    assert!(held, "the checkout was never accepted: {}", logs());
    assert_eq!(out["asset"]["status"], "ASSET_STATUS_CHECKED_OUT", "{out}");
    let mine = call("map.ams.v1.AssetService/ListMyAssets", &json!({}));
    assert_eq!(mine["assets"][0]["id"], id.as_str(), "{mine}");

    let schedule = call(
        "map.ams.v1.AssetService/GetDepreciationSchedule",
        &json!({"assetId": id}),
    );
    let periods = schedule["periods"].as_array().expect("periods");
    assert_eq!(periods.len(), 36, "{schedule}");
    assert_eq!(
        periods[35]["closingValue"]["amountMinor"], "12000",
        "{schedule}"
    );

    call(
        "map.ams.v1.AssetService/CheckInAsset",
        &json!({"assetId": id, "note": "fine", "requestId": "01890a5d-ac96-774b-bcce-b302099a8104"}),
    );
    let ledger = call(
        "map.ams.v1.AssetService/ListAssetTransactions",
        &json!({"assetId": id, "orderBy": "time"}),
    );
    let kinds: Vec<&str> = ledger["transactions"]
        .as_array()
        .expect("entries")
        .iter()
        .filter_map(|t| t["type"].as_str())
        .collect();
    assert_eq!(
        kinds,
        [
            "ASSET_TRANSACTION_TYPE_PURCHASE",
            "ASSET_TRANSACTION_TYPE_CHECKOUT",
            "ASSET_TRANSACTION_TYPE_CHECKIN"
        ],
        "{ledger}"
    );

    // A CSV file uploaded in two chunks and imported: two rows created, the
    // bad one reported by line and column.
    let csv = "\u{feff}name,category_code,department_code,purchase_cost,currency,purchase_date\r\n\
               \"Dock, USB-C\",LAPTOP,IT,199.99,USD,2025-02-01\r\n\
               Monitor,LAPTOP,IT,12.345,USD,2025-02-01\r\n\
               Headset,LAPTOP,IT,49,USD,2025-02-02\r\n";
    let bytes = csv.as_bytes();
    let started = call(
        "map.ams.v1.UploadService/StartUpload",
        &json!({"fileName": "assets.csv", "contentType": "text/csv", "sizeBytes": bytes.len()}),
    );
    let upload_id = started["upload"]["id"]
        .as_str()
        .expect("an upload")
        .to_owned();
    let half = bytes.len() / 2;
    for (offset, piece) in [(0, &bytes[..half]), (half, &bytes[half..])] {
        call(
            "map.ams.v1.UploadService/AppendUploadChunk",
            &json!({"uploadId": upload_id, "offset": offset,
                    "data": base64::engine::general_purpose::STANDARD.encode(piece)}),
        );
    }
    call(
        "map.ams.v1.UploadService/CompleteUpload",
        &json!({"uploadId": upload_id, "sha256": hex::encode(sha2::Sha256::digest(bytes))}),
    );
    let imported = call(
        "map.ams.v1.AssetService/ImportAssets",
        &json!({"uploadId": upload_id, "requestId": "01890a5d-ac96-774b-bcce-b302099a8105"}),
    );
    assert_eq!(imported["rowCount"], "3", "{imported}");
    assert_eq!(imported["createdCount"], "2", "{imported}");
    assert_eq!(imported["errors"][0]["line"], "3", "{imported}");
    assert_eq!(
        imported["errors"][0]["column"], "purchase_cost",
        "{imported}"
    );
}
