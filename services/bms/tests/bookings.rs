//! The BMS worker's bookings of AMS's money events, on both databases and
//! both buses:
//!
//! - a purchase lands on its department's line for its category code, and
//!   is booked once however often it arrives (the same event redelivered,
//!   or replayed under a new event id);
//! - a purchase that matches no line, or would overspend a STOP line, is
//!   booked on the unallocated line and flagged (never refused); one with
//!   no fiscal year, no budget or another currency is held UNASSIGNED and
//!   flagged; a cost correction follows its purchase's line; a finance
//!   head then assigns a held one to a line;
//! - through the worker's real consumer of `bms.asset-expenses`, on the
//!   in-process bus and RabbitMQ: a duplicate delivery and a replay book
//!   nothing more, nothing is parked or dead-lettered; an event type the
//!   handler does not know is applied as a no-op.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use map_bms::bookings::{self, AmsExpense, Bookings};
use map_contracts::{
    bms::v1 as pb,
    events::v1::{self as ev, Envelope},
};
use map_kit::{
    bus::{Consumer, ConsumerConfig, Event, Handler as _, Outgoing, inbox, parked},
    testing::{TestBus, Transport, eventually},
};
use prost::{Message as _, Name as _};
use sea_orm::{EntityTrait as _, PaginatorTrait as _};
use support::{Fixture, amount, date, flags_of, line, line_of, usd};
use tokio::sync::watch;

use pb::BudgetControlMode::{Stop, Warn};

const WAIT: Duration = Duration::from_secs(20);

fn purchase(
    transaction: &str,
    department: &str,
    category: &str,
    cost: i64,
    currency: &str,
) -> AmsExpense {
    AmsExpense {
        source: "ams.asset.purchased",
        transaction_id: transaction.into(),
        amount_minor: cost,
        currency: currency.into(),
        expense_date: chrono::NaiveDate::from_ymd_opt(2026, 5, 4).unwrap(),
        description: "Purchase of AST-000001 Dell Latitude".into(),
        asset_id: format!("asset-of-{transaction}"),
        asset_number: "AST-000001".into(),
        category_code: category.into(),
        department_code: department.into(),
    }
}

async fn book(fx: &Fixture, x: &AmsExpense) -> pb::Expense {
    let txn = fx.db.db.begin_write().await.unwrap();
    let e = Bookings::new(fx.clock.clock()).book(&txn, x).await.unwrap();
    txn.commit().await.unwrap();
    map_bms::expenses::wire(fx.db.db.conn(), &e).await.unwrap()
}

async fn expense_count(fx: &Fixture) -> u64 {
    map_bms::entity::expenses::Entity::find()
        .count(fx.db.db.conn())
        .await
        .unwrap()
}

/// An `ams.asset.purchased` envelope for `transaction`.
fn purchased_envelope(transaction: &str, cost: i64) -> Envelope {
    let payload = ev::AmsAssetPurchased {
        asset: Some(ev::AssetSnapshot {
            id: uuid::Uuid::now_v7().to_string(),
            number: "AST-000042".into(),
            name: "Dell Latitude 5440".into(),
            category_code: "LAPTOP".into(),
            department_code: "IT".into(),
            purchase_cost: Some(usd(cost)),
            purchase_date: Some(date(2026, 5, 4)),
            version: 1,
            ..Default::default()
        }),
        transaction_id: transaction.into(),
        actor: None,
    };
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: "ams.asset.purchased".into(),
        source: "ams".into(),
        subject: transaction.into(),
        subject_version: 1,
        payload: Some(prost_types::Any {
            type_url: ev::AmsAssetPurchased::type_url(),
            value: payload.encode_to_vec(),
        }),
        ..Default::default()
    }
}

/// The worker's consumer of `bms.asset-expenses` on `transport`, wired as
/// the binary wires it: a purchase delivered twice and replayed under a new
/// event id books one expense on the LAPTOP line; nothing is parked.
async fn the_consumer_books_each_purchase_once(transport: Transport) {
    let Some(test_bus) = TestBus::new(transport).await else {
        return;
    };
    let fx = Fixture::start().await;
    let budget = fx
        .budget("IT", vec![line("LAPTOP", 500_000, Stop)])
        .await
        .unwrap();
    let consumer = Consumer::new(
        bookings::QUEUE,
        fx.db.db.clone(),
        test_bus.bus.clone(),
        Bookings::new(fx.clock.clock()),
        ConsumerConfig::default(),
    )
    .unwrap();
    let (stop_tx, mut stop) = watch::channel(false);
    let running = tokio::spawn(consumer.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    let transaction = uuid::Uuid::now_v7().to_string();
    let first = purchased_envelope(&transaction, 129_900);
    let replayed = purchased_envelope(&transaction, 129_900);
    let published = test_bus
        .bus
        .publish(&[
            Outgoing::from_envelope(&first),
            Outgoing::from_envelope(&first),
            Outgoing::from_envelope(&replayed),
        ])
        .await;
    assert!(published.iter().all(Result::is_ok), "{published:?}");
    let db = fx.db.db.clone();
    let ids = [first.id.clone(), replayed.id.clone()];
    eventually("every event applied by bms.asset-expenses", WAIT, || {
        let (db, ids) = (db.clone(), ids.clone());
        async move {
            for id in &ids {
                if !inbox::contains(db.conn(), bookings::QUEUE, id)
                    .await
                    .unwrap()
                {
                    return false;
                }
            }
            true
        }
    })
    .await;
    assert_eq!(
        parked::count(fx.db.db.conn(), bookings::QUEUE)
            .await
            .unwrap(),
        0
    );
    assert_eq!(expense_count(&fx).await, 1, "one purchase, one expense");
    let after = fx.get_budget(&budget.id).await;
    assert_eq!(amount(&line_of(&after, "LAPTOP").spent), 129_900);
    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
}

map_kit::db_tests! {
#[tokio::test]
async fn a_purchase_is_booked_on_its_category_line_once() {
    let fx = Fixture::start().await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 500_000, Stop)]).await.unwrap();
    let x = purchase("t-1", "IT", "LAPTOP", 129_900, "USD");
    let booked = book(&fx, &x).await;
    assert_eq!(booked.status(), pb::ExpenseStatus::Recorded);
    assert_eq!(booked.budget_line_id, line_of(&budget, "LAPTOP").id);
    assert_eq!(booked.category_code, "LAPTOP");
    assert_eq!(booked.source_system, "ams");
    assert_eq!(booked.source, "ams.asset.purchased");
    assert_eq!(booked.source_ref, "t-1");
    assert!(booked.flags.is_empty());
    // Delivered again: the same expense, nothing booked twice.
    assert_eq!(book(&fx, &x).await.id, booked.id);
    assert_eq!(expense_count(&fx).await, 1);
    let after = fx.get_budget(&budget.id).await;
    assert_eq!(amount(&line_of(&after, "LAPTOP").spent), 129_900);
    // The recorded event carries the asset and the line that paid.
    let events = fx.events("bms.expense.recorded").await;
    assert_eq!(events.len(), 1);
    let snapshot = events[0].3.to_msg::<ev::BmsExpenseRecorded>().unwrap().expense.unwrap();
    assert_eq!(snapshot.asset_number, "AST-000001");
    assert_eq!(snapshot.budget_line_id, booked.budget_line_id);
    assert!(snapshot.recorded_by.is_none(), "the worker recorded it");

    // An event type it does not know is a no-op.
    let unknown = Event::new(Envelope {
        r#type: "ams.asset.frobnicated".into(),
        ..purchased_envelope("t-9", 1)
    });
    let txn = fx.db.db.begin_write().await.unwrap();
    Bookings::new(fx.clock.clock()).handle(&unknown, &txn).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(expense_count(&fx).await, 1);

    // A cost correction goes to its purchase's line, adjusting it.
    let correction = AmsExpense {
        source: "ams.asset.cost_corrected",
        transaction_id: "t-2".into(),
        amount_minor: -9_900,
        ..x.clone()
    };
    let corrected = book(&fx, &correction).await;
    assert_eq!(corrected.budget_line_id, booked.budget_line_id);
    assert_eq!(corrected.adjusted_expense_id, booked.id);
    assert_eq!(amount(&corrected.amount), -9_900);
    let after = fx.get_budget(&budget.id).await;
    assert_eq!(amount(&line_of(&after, "LAPTOP").spent), 120_000);
}

#[tokio::test]
async fn what_cannot_go_on_its_line_is_booked_elsewhere_and_flagged_never_refused() {
    let fx = Fixture::start().await;
    let budget = fx
        .budget("IT", vec![line("LAPTOP", 100_000, Stop), line("MONITOR", 1_000, Warn)])
        .await
        .unwrap();
    let reserve = budget.unallocated_line_id.clone();
    use pb::ExpenseFlag as F;
    // No line for the category: the unallocated line (which has nothing,
    // so it is also overspent).
    let chair = book(&fx, &purchase("t-1", "IT", "CHAIR", 30_000, "USD")).await;
    assert_eq!(chair.budget_line_id, reserve);
    assert!(chair.unallocated);
    assert_eq!(flags_of(&chair), [F::NoMatchingLine, F::Overspent]);
    // A STOP line it would overspend: diverted to the unallocated line.
    let big = book(&fx, &purchase("t-2", "IT", "LAPTOP", 100_001, "USD")).await;
    assert_eq!(big.budget_line_id, reserve);
    assert_eq!(big.diverted_from_budget_line_id, line_of(&budget, "LAPTOP").id);
    assert_eq!(flags_of(&big), [F::LineWouldOverspend, F::Overspent]);
    // A WARN line it overspends: booked there, flagged.
    let monitor = book(&fx, &purchase("t-3", "IT", "MONITOR", 1_001, "USD")).await;
    assert_eq!(monitor.budget_line_id, line_of(&budget, "MONITOR").id);
    assert_eq!(flags_of(&monitor), [F::Overspent]);
    // Held: no budget for HR, no fiscal year in 2030, another currency.
    let hr = book(&fx, &purchase("t-4", "HR", "LAPTOP", 5, "USD")).await;
    assert_eq!((hr.status(), flags_of(&hr)), (pb::ExpenseStatus::Unassigned, vec![F::NoBudget]));
    assert!(hr.budget_line_id.is_empty());
    let mut late = purchase("t-5", "IT", "LAPTOP", 5, "USD");
    late.expense_date = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).unwrap();
    let late = book(&fx, &late).await;
    assert_eq!(flags_of(&late), [F::NoFiscalYear]);
    let euros = book(&fx, &purchase("t-6", "IT", "LAPTOP", 5, "EUR")).await;
    assert_eq!((euros.status(), flags_of(&euros)), (pb::ExpenseStatus::Unassigned, vec![F::CurrencyMismatch]));

    let after = fx.get_budget(&budget.id).await;
    assert_eq!(amount(&line_of(&after, "LAPTOP").spent), 0, "the STOP line was not overspent");
    assert_eq!(amount(&line_of(&after, "").spent), 130_001);
    let flagged = fx
        .expenses()
        .await
        .list_expenses(fx.viewer.request(pb::ListExpensesRequest {
            flags: vec![F::NoBudget.into(), F::CurrencyMismatch.into()],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let mut refs: Vec<_> = flagged.expenses.iter().map(|e| e.source_ref.as_str()).collect();
    refs.sort_unstable();
    assert_eq!(refs, ["t-4", "t-6"]);

    // A finance head books the held HR purchase on IT's LAPTOP line.
    let assigned = fx
        .expenses()
        .await
        .assign_expense(fx.finance.request(pb::AssignExpenseRequest {
            expense_id: hr.id.clone(),
            budget_line_id: line_of(&budget, "LAPTOP").id.clone(),
            note: "HR's laptop is paid by IT this year".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let e = assigned.expense.unwrap();
    assert_eq!(e.status(), pb::ExpenseStatus::Recorded);
    assert_eq!(flags_of(&e), [F::NoBudget], "the flags stay as the record of why");
    assert_eq!(e.version, 2);
    assert_eq!(amount(&assigned.budget_line.unwrap().spent), 5);
    assert_eq!(fx.events("bms.expense.assigned").await.len(), 1);
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_books_each_purchase_once_on_the_in_process_bus() {
    the_consumer_books_each_purchase_once(Transport::InProcess).await;
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_consumer_books_each_purchase_once_on_rabbitmq() {
    the_consumer_books_each_purchase_once(Transport::RabbitMq).await;
}
}
