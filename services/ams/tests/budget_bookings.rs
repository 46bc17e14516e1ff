//! What BMS booked for an asset, as AMS keeps it from `bms.expense.*`
//! (queue `ams.budget-bookings`) and GetAsset shows it, on both databases:
//! a purchase's booking on its line, moved by an assignment, voided; an
//! older version delivered late changes nothing; a manual BMS expense (no
//! asset) and an unknown event type are no-ops. Then through the worker's
//! real consumer on the in-process bus and RabbitMQ.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use map_ams::budget_bookings::{self, BudgetBookings};
use map_contracts::{
    ams::v1 as pb,
    events::v1::{self as ev, Envelope},
};
use map_kit::{
    bus::{Consumer, ConsumerConfig, Event, Handler as _, Outgoing, inbox, parked},
    testing::{TestBus, Transport, eventually},
    wire::time::timestamp,
};
use prost::{Message as _, Name as _};
use support::{Fixture, usd};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

/// The BMS expense `expense_id` of `asset` at `version`, on `line`.
fn snapshot(
    expense_id: &str,
    asset: &pb::Asset,
    version: i64,
    status: ev::ExpenseStatus,
    line: &str,
) -> ev::ExpenseSnapshot {
    ev::ExpenseSnapshot {
        id: expense_id.into(),
        status: status.into(),
        amount: Some(usd(120_000)),
        source_amount: Some(usd(120_000)),
        budget_id: "0190b000-0000-7000-8000-000000000001".into(),
        budget_line_id: line.into(),
        account_code: "6100".into(),
        category_code: "LAPTOP".into(),
        department_code: "IT".into(),
        fiscal_year_name: "FY2025".into(),
        source_system: "ams".into(),
        source: "ams.asset.purchased".into(),
        source_ref: "0190b000-0000-7000-8000-0000000000aa".into(),
        asset_id: asset.id.clone(),
        asset_number: asset.number.clone(),
        asset_category_code: "LAPTOP".into(),
        flags: if line.is_empty() {
            vec![ev::ExpenseFlag::NoBudget as i32]
        } else {
            vec![]
        },
        record_time: Some(timestamp(chrono::Utc::now())),
        version,
        ..Default::default()
    }
}

fn envelope(event_type: &str, expense: ev::ExpenseSnapshot) -> Envelope {
    let version = expense.version;
    let subject = expense.id.clone();
    let payload = match event_type {
        "bms.expense.voided" => prost_types::Any {
            type_url: ev::BmsExpenseVoided::type_url(),
            value: ev::BmsExpenseVoided {
                expense: Some(expense),
                ..Default::default()
            }
            .encode_to_vec(),
        },
        "bms.expense.assigned" => prost_types::Any {
            type_url: ev::BmsExpenseAssigned::type_url(),
            value: ev::BmsExpenseAssigned {
                expense: Some(expense),
                ..Default::default()
            }
            .encode_to_vec(),
        },
        _ => prost_types::Any {
            type_url: ev::BmsExpenseRecorded::type_url(),
            value: ev::BmsExpenseRecorded {
                expense: Some(expense),
            }
            .encode_to_vec(),
        },
    };
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        source: "bms".into(),
        subject,
        subject_version: version,
        payload: Some(payload),
        ..Default::default()
    }
}

async fn apply(fx: &Fixture, envelope: Envelope) {
    let txn = fx.db.db.begin_write().await.unwrap();
    BudgetBookings
        .handle(&Event::new(envelope), &txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

async fn bookings(fx: &Fixture, asset: &pb::Asset) -> Vec<pb::AssetBudgetBooking> {
    fx.assets_client()
        .await
        .get_asset(fx.viewer.request(pb::GetAssetRequest {
            lookup: Some(pb::get_asset_request::Lookup::Id(asset.id.clone())),
        }))
        .await
        .unwrap()
        .into_inner()
        .budget_bookings
}

const LINE: &str = "0190b000-0000-7000-8000-0000000000f1";
const OTHER_LINE: &str = "0190b000-0000-7000-8000-0000000000f2";
const EXPENSE: &str = "0190b000-0000-7000-8000-0000000000e1";

/// The worker's consumer of `ams.budget-bookings` on `transport`, wired as
/// the binary wires it: the recorded expense, delivered twice, is kept once.
async fn the_consumer_keeps_the_line_that_paid(transport: Transport) {
    let Some(test_bus) = TestBus::new(transport).await else {
        return;
    };
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Booked")).await.unwrap();
    let consumer = Consumer::new(
        budget_bookings::QUEUE,
        fx.db.db.clone(),
        test_bus.bus.clone(),
        BudgetBookings,
        ConsumerConfig::default(),
    )
    .unwrap();
    let (stop_tx, mut stop) = watch::channel(false);
    let running = tokio::spawn(consumer.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    let recorded = envelope(
        "bms.expense.recorded",
        snapshot(EXPENSE, &asset, 1, ev::ExpenseStatus::Recorded, LINE),
    );
    let published = test_bus
        .bus
        .publish(&[
            Outgoing::from_envelope(&recorded),
            Outgoing::from_envelope(&recorded),
        ])
        .await;
    assert!(published.iter().all(Result::is_ok), "{published:?}");
    let db = fx.db.db.clone();
    let id = recorded.id.clone();
    eventually("the booking applied by ams.budget-bookings", WAIT, || {
        let (db, id) = (db.clone(), id.clone());
        async move {
            inbox::contains(db.conn(), budget_bookings::QUEUE, &id)
                .await
                .unwrap()
        }
    })
    .await;
    assert_eq!(
        parked::count(fx.db.db.conn(), budget_bookings::QUEUE)
            .await
            .unwrap(),
        0
    );
    let kept = bookings(&fx, &asset).await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].budget_line_id, LINE);
    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
}

map_kit::db_tests! {
#[tokio::test]
async fn an_asset_shows_the_line_that_paid_newest_version_wins() {
    let fx = Fixture::start().await;
    let asset = fx.create(fx.laptop("Paid for")).await.unwrap();
    assert!(bookings(&fx, &asset).await.is_empty(), "nothing booked yet");

    apply(&fx, envelope("bms.expense.recorded", snapshot(EXPENSE, &asset, 1, ev::ExpenseStatus::Recorded, LINE))).await;
    let kept = bookings(&fx, &asset).await;
    assert_eq!(kept.len(), 1);
    let b = &kept[0];
    assert_eq!(b.status(), pb::BudgetBookingStatus::Recorded);
    assert_eq!((b.budget_line_id.as_str(), b.account_code.as_str(), b.line_category_code.as_str()), (LINE, "6100", "LAPTOP"));
    assert_eq!(b.amount, Some(usd(120_000)));
    assert_eq!(b.source, "ams.asset.purchased");
    assert_eq!(b.fiscal_year_name, "FY2025");

    // Moved to another line (version 2); the first version, delivered
    // late, changes nothing.
    apply(&fx, envelope("bms.expense.assigned", snapshot(EXPENSE, &asset, 2, ev::ExpenseStatus::Recorded, OTHER_LINE))).await;
    apply(&fx, envelope("bms.expense.recorded", snapshot(EXPENSE, &asset, 1, ev::ExpenseStatus::Recorded, LINE))).await;
    let kept = bookings(&fx, &asset).await;
    assert_eq!((kept[0].budget_line_id.as_str(), kept[0].version), (OTHER_LINE, 2));

    // Voided (version 3).
    apply(&fx, envelope("bms.expense.voided", snapshot(EXPENSE, &asset, 3, ev::ExpenseStatus::Voided, OTHER_LINE))).await;
    assert_eq!(bookings(&fx, &asset).await[0].status(), pb::BudgetBookingStatus::Voided);

    // A held expense of the same asset is shown with BMS's flags.
    apply(&fx, envelope("bms.expense.recorded", snapshot("0190b000-0000-7000-8000-0000000000e2", &asset, 1, ev::ExpenseStatus::Unassigned, ""))).await;
    let kept = bookings(&fx, &asset).await;
    assert_eq!(kept.len(), 2);
    assert_eq!(kept[1].status(), pb::BudgetBookingStatus::Unassigned);
    assert_eq!(kept[1].flags, ["NO_BUDGET"]);

    // A manual BMS expense (no asset) and an unknown type are no-ops.
    let mut manual = snapshot("0190b000-0000-7000-8000-0000000000e3", &asset, 1, ev::ExpenseStatus::Recorded, LINE);
    manual.asset_id = String::new();
    apply(&fx, envelope("bms.expense.recorded", manual)).await;
    let mut unknown = envelope("bms.expense.recorded", snapshot("0190b000-0000-7000-8000-0000000000e4", &asset, 1, ev::ExpenseStatus::Recorded, LINE));
    unknown.r#type = "bms.expense.frobnicated".into();
    apply(&fx, unknown).await;
    assert_eq!(bookings(&fx, &asset).await.len(), 2);
    // The asset itself did not change.
    let again = fx
        .assets_client()
        .await
        .get_asset(fx.viewer.request(pb::GetAssetRequest {
            lookup: Some(pb::get_asset_request::Lookup::Id(asset.id.clone())),
        }))
        .await
        .unwrap()
        .into_inner()
        .asset
        .unwrap();
    assert_eq!(again.version, asset.version);
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_keeps_the_line_that_paid_on_the_in_process_bus() {
    the_consumer_keeps_the_line_that_paid(Transport::InProcess).await;
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_keeps_the_line_that_paid_on_rabbitmq() {
    the_consumer_keeps_the_line_that_paid(Transport::RabbitMq).await;
}
}
