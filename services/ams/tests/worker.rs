//! What AMS's worker does, with map-kit's real timers, directory handler,
//! relay and buses, on both databases:
//!
//! - `ams.asset.overdue` fires once per overdue checkout — two workers at
//!   once (concurrently on PostgreSQL; one after the other on SQLite, which
//!   allows one claimer) and a restarted one emit it once, naming the
//!   checkout, its due time and an occurrence; a check-in before the due
//!   time cancels it; a later checkout gets an alert of its own;
//! - a holder Auth deactivates has the assets they hold flagged
//!   (`holder_deactivated`, version moved, listed by
//!   `holder_deactivated_only`), nobody else's; a replayed or later user
//!   event flags nothing more; through the worker's real consumer of
//!   `ams.user-sync`, which applies an unknown `auth.user.*` type as a
//!   no-op rather than failing it;
//! - the events reach their queues through the relay on the in-process bus
//!   and on RabbitMQ (skipped without `MAP_TEST_AMQP_URL`): a purchase,
//!   a costed maintenance and a cost correction reach `bms.asset-expenses`
//!   once each with the category code, the department, the cost and their
//!   ledger entry's id, an opening-balance import puts nothing there, and
//!   checkouts reach `ams.asset-notices`.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use chrono::{DateTime, Utc};
use map_ams::{custodians::FlagDeactivatedHolders, overdue};
use map_contracts::{
    ams::v1 as pb,
    events::v1::{self as ev, Envelope},
    google::r#type::Date,
};
use map_kit::{
    System,
    bus::{
        Consumer, ConsumerConfig, Event, Handler as _, Outgoing, Relay, RelayConfig, Subscription,
        inbox, parked, relay::BatchOutcome,
    },
    directory::{self, SyncHandler},
    outbox::entity as outbox,
    testing::{Backend, Caller, TestBus, Transport, eventually},
    timers::{TimerWorker, TimerWorkerConfig},
    wire::time::timestamp,
};
use prost::{Message as _, Name as _};
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use support::{Fixture, id_of, usd};
use tokio::sync::watch;

const HOUR: Duration = Duration::from_secs(3600);
/// Longest wait for a message or a consumer.
const WAIT: Duration = Duration::from_secs(20);

// ---------------------------------------------------------------- helpers

/// A timer worker firing AMS's overdue timers, as the binary builds it.
fn timer_worker(fx: &Fixture) -> TimerWorker {
    TimerWorker::new(
        fx.db.db.clone(),
        fx.clock.clock(),
        TimerWorkerConfig::default(),
    )
    .handle(overdue::KIND, overdue::Overdue::new(fx.clock.clock()))
}

/// Timers fired by `worker` now.
async fn fire(worker: &TimerWorker) -> usize {
    let outcome = worker.fire_due().await.unwrap();
    assert_eq!(outcome.failed, 0, "an overdue timer failed");
    outcome.fired
}

/// `asset` checked out to `holder` by the manager, due back at `due`.
async fn check_out_until(
    fx: &Fixture,
    asset: &pb::Asset,
    holder: &Caller,
    due: DateTime<Utc>,
) -> pb::CheckOutAssetResponse {
    fx.assets_client()
        .await
        .check_out_asset(fx.manager.request(pb::CheckOutAssetRequest {
            asset_id: asset.id.clone(),
            holder_user_id: id_of(holder),
            expected_return_time: Some(timestamp(due)),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
}

/// Asset `id` checked in by the manager.
async fn check_in(fx: &Fixture, id: &str) -> pb::CheckInAssetResponse {
    fx.assets_client()
        .await
        .check_in_asset(fx.manager.request(pb::CheckInAssetRequest {
            asset_id: id.to_owned(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
}

/// Asset `id` as GetAsset shows it to a viewer.
async fn get(fx: &Fixture, id: &str) -> pb::Asset {
    fx.assets_client()
        .await
        .get_asset(fx.viewer.request(pb::GetAssetRequest {
            lookup: Some(pb::get_asset_request::Lookup::Id(id.to_owned())),
        }))
        .await
        .unwrap()
        .into_inner()
        .asset
        .unwrap()
}

/// The ids ListAssets answers a viewer with, sorted.
async fn listed(fx: &Fixture, request: pb::ListAssetsRequest) -> Vec<String> {
    let mut ids: Vec<String> = fx
        .assets_client()
        .await
        .list_assets(fx.viewer.request(request))
        .await
        .unwrap()
        .into_inner()
        .assets
        .into_iter()
        .map(|a| a.id)
        .collect();
    ids.sort();
    ids
}

fn overdue_only() -> pb::ListAssetsRequest {
    pb::ListAssetsRequest {
        overdue_only: true,
        ..Default::default()
    }
}

fn deactivated_only() -> pb::ListAssetsRequest {
    pb::ListAssetsRequest {
        holder_deactivated_only: true,
        ..Default::default()
    }
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

/// The outbox's `ams.asset.overdue` events, oldest first, with their
/// subject versions.
async fn overdue_events(fx: &Fixture) -> Vec<(i64, ev::AmsAssetOverdue)> {
    fx.events()
        .await
        .into_iter()
        .filter(|(t, _, _)| t == "ams.asset.overdue")
        .map(|(_, version, any)| {
            assert_eq!(any.type_url, ev::AmsAssetOverdue::type_url());
            (
                version,
                ev::AmsAssetOverdue::decode(any.value.as_slice()).unwrap(),
            )
        })
        .collect()
}

/// An occurrence id: a UUIDv7.
fn assert_uuid_v7(id: &str) {
    let parsed = uuid::Uuid::parse_str(id).unwrap_or_else(|e| panic!("'{id}': {e}"));
    assert_eq!(parsed.get_version_num(), 7, "'{id}' is not a UUIDv7");
}

/// `user` as Auth's `event_type` would carry them at `version`.
fn user_event(event_type: &str, user: &Caller, version: i64, active: bool) -> Envelope {
    let principal = user.principal.as_ref().unwrap();
    let snapshot = Some(ev::UserSnapshot {
        id: principal.id.clone(),
        email: format!("{}@example.com", principal.id),
        display_name: "Departing holder".into(),
        department: "IT".into(),
        active,
        roles: principal
            .roles
            .iter()
            .map(|r| ev::RoleRef {
                system: r.system.clone(),
                role: r.role.clone(),
            })
            .collect(),
        version,
        ..Default::default()
    });
    let payload = match event_type {
        "auth.user.deactivated" => prost_types::Any {
            type_url: ev::AuthUserDeactivated::type_url(),
            value: ev::AuthUserDeactivated {
                user: snapshot,
                actor_user_id: String::new(),
            }
            .encode_to_vec(),
        },
        _ => prost_types::Any {
            type_url: ev::AuthUserUpdated::type_url(),
            value: ev::AuthUserUpdated {
                user: snapshot,
                ..Default::default()
            }
            .encode_to_vec(),
        },
    };
    Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        source: "auth".into(),
        subject: principal.id.clone(),
        subject_version: version,
        payload: Some(payload),
        ..Default::default()
    }
}

/// The handler the worker runs on `ams.user-sync`.
fn sync_handler() -> SyncHandler {
    SyncHandler::new().with_reaction(FlagDeactivatedHolders)
}

/// Applies `envelope` through `handler` in a transaction of its own, as the
/// consumer does.
async fn apply(fx: &Fixture, handler: &SyncHandler, envelope: &Envelope) {
    let txn = fx.db.db.begin_write().await.unwrap();
    handler
        .handle(&Event::new(envelope.clone()), &txn)
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

/// (version, holder_deactivated) of each asset, as GetAsset shows them.
async fn states(fx: &Fixture, ids: &[&str]) -> Vec<(i64, bool)> {
    let mut out = Vec::new();
    for id in ids {
        let a = get(fx, id).await;
        out.push((a.version, a.holder_deactivated));
    }
    out
}

/// Relays AMS's outbox until a batch moves nothing; every row must have
/// been published.
async fn relay_all(fx: &Fixture, relay: &Relay) {
    loop {
        let outcome = relay.relay_batch().await.unwrap();
        assert_eq!(outcome.failed, 0, "the bus refused an AMS event");
        if outcome == BatchOutcome::default() {
            break;
        }
    }
    let pending = outbox::Entity::find()
        .filter(outbox::Column::PublishedAt.is_null())
        .count(fx.db.db.conn())
        .await
        .unwrap();
    assert_eq!(pending, 0, "events left in the outbox");
}

/// The envelopes `sub` delivers (acknowledged), up to and including the
/// `event_type` event about `subject`.
async fn receive_until(sub: &mut Subscription, event_type: &str, subject: &str) -> Vec<Envelope> {
    let mut got = Vec::new();
    loop {
        let message = tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap_or_else(|_| panic!("no {event_type} of {subject} within {WAIT:?}; got {got:?}"))
            .unwrap();
        let envelope = Envelope::decode(message.body.as_slice()).unwrap();
        assert_eq!(
            message.event_type.as_deref(),
            Some(envelope.r#type.as_str())
        );
        assert_eq!(message.message_id.as_deref(), Some(envelope.id.as_str()));
        message.ack().await.unwrap();
        let last = envelope.r#type == event_type && envelope.subject == subject;
        got.push(envelope);
        if last {
            return got;
        }
        assert!(got.len() < 50, "runaway queue: {got:?}");
    }
}

/// (type, subject) of each envelope.
fn kinds(envelopes: &[Envelope]) -> Vec<(String, String)> {
    envelopes
        .iter()
        .map(|e| (e.r#type.clone(), e.subject.clone()))
        .collect()
}

fn payload<M: prost::Name + Default>(envelope: &Envelope) -> M {
    let any = envelope.payload.as_ref().unwrap();
    assert_eq!(any.type_url, M::type_url(), "{}", envelope.r#type);
    M::decode(any.value.as_slice()).unwrap()
}

fn date(year: i32, month: i32, day: i32) -> Date {
    Date { year, month, day }
}

/// A purchase, a costed maintenance and a cost correction reach
/// `bms.asset-expenses` through the relay and `transport`, once each, after
/// an opening-balance import that puts nothing there; the checkouts reach
/// `ams.asset-notices`.
async fn expenses_and_notices_reach_their_queues(transport: Transport) {
    let Some(test_bus) = TestBus::new(transport).await else {
        return;
    };
    let fx = Fixture::start().await;
    let bus = test_bus.bus.clone();
    let relay = Relay::new(
        System::Ams,
        fx.db.db.clone(),
        bus.clone(),
        RelayConfig::default(),
    );
    let mut c = fx.assets_client().await;

    // An existing fleet, one asset of it held: nothing for BMS.
    let imported = c
        .import_assets(fx.manager.request(pb::ImportAssetsRequest {
            rows: vec![pb::ImportAssetRow {
                name: "Old laptop".into(),
                category_code: "LAPTOP".into(),
                department_code: "IT".into(),
                purchase_cost: Some(usd(90_000)),
                purchase_date: Some(date(2022, 6, 1)),
                holder_user_id: id_of(&fx.employee),
                ..Default::default()
            }],
            request_id: uuid::Uuid::now_v7().to_string(),
            opening_balance: true,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.created_count, 1);
    let old = imported.assets[0].id.clone();

    // A purchase, a checkout, a costed maintenance, a cost correction.
    let laptop = fx.create(fx.laptop("Latitude")).await.unwrap();
    let purchase_entries = c
        .list_asset_transactions(fx.viewer.request(pb::ListAssetTransactionsRequest {
            asset_id: laptop.id.clone(),
            types: vec![pb::AssetTransactionType::Purchase.into()],
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .transactions;
    assert_eq!(purchase_entries.len(), 1);
    let purchase_id = purchase_entries[0].id.clone();
    let checkout = fx.check_out(&laptop, &fx.employee).await.unwrap();
    let maintained = c
        .add_maintenance_record(fx.manager.request(pb::AddMaintenanceRecordRequest {
            asset_id: laptop.id.clone(),
            kind: pb::MaintenanceKind::Repair.into(),
            title: "New keyboard".into(),
            supplier: "Dell".into(),
            cost: Some(usd(15_000)),
            start_date: Some(date(2025, 3, 1)),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let record = maintained.record.unwrap();
    let corrected = c
        .correct_asset_cost(fx.manager.request(pb::CorrectAssetCostRequest {
            asset_id: laptop.id.clone(),
            purchase_cost: Some(usd(110_000)),
            reason: "invoice INV-42 credited".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let correction_id = corrected.transaction.unwrap().id;
    relay_all(&fx, &relay).await;

    // Published and confirmed; then a last purchase and checkout, so what
    // arrives before them is everything the queues got.
    let last = fx.create(fx.laptop("Last")).await.unwrap();
    fx.check_out(&last, &fx.employee).await.unwrap();
    relay_all(&fx, &relay).await;

    let mut expenses = bus.subscribe("bms.asset-expenses", 16).await.unwrap();
    let got = receive_until(&mut expenses, "ams.asset.purchased", &last.id).await;
    assert_eq!(
        kinds(&got),
        [
            ("ams.asset.purchased".to_owned(), laptop.id.clone()),
            ("ams.asset.maintained".to_owned(), laptop.id.clone()),
            ("ams.asset.cost_corrected".to_owned(), laptop.id.clone()),
            ("ams.asset.purchased".to_owned(), last.id.clone()),
        ],
        "the opening balance {old} must not reach BMS"
    );
    assert!(got.iter().all(|e| e.source == "ams"));

    let purchased: ev::AmsAssetPurchased = payload(&got[0]);
    assert_eq!(got[0].subject_version, 1);
    assert_eq!(purchased.transaction_id, purchase_id);
    let asset = purchased.asset.unwrap();
    assert_eq!(
        (
            asset.id.as_str(),
            asset.category_code.as_str(),
            asset.category_name.as_str(),
            asset.department_code.as_str(),
            asset.version,
            asset.status(),
            asset.opening_balance,
        ),
        (
            laptop.id.as_str(),
            "LAPTOP",
            "Laptops",
            "IT",
            1,
            ev::AssetStatus::InStock,
            false
        )
    );
    assert_eq!(asset.purchase_cost, Some(usd(120_000)));
    assert_eq!(asset.purchase_date, Some(date(2025, 1, 15)));
    assert_eq!(purchased.actor.unwrap().user_id, id_of(&fx.manager));

    let maintenance: ev::AmsAssetMaintained = payload(&got[1]);
    assert_eq!(maintenance.transaction_id, record.transaction_id);
    assert_eq!(maintenance.maintenance_record_id, record.id);
    assert_eq!(maintenance.cost, Some(usd(15_000)));
    assert_eq!(maintenance.kind, "repair");
    assert_eq!(maintenance.start_date, Some(date(2025, 3, 1)));
    let asset = maintenance.asset.unwrap();
    assert_eq!(
        (asset.category_code.as_str(), asset.department_code.as_str()),
        ("LAPTOP", "IT")
    );
    assert_eq!(got[1].subject_version, maintained.asset.unwrap().version);

    let correction: ev::AmsAssetCostCorrected = payload(&got[2]);
    assert_eq!(correction.transaction_id, correction_id);
    assert_eq!(correction.previous_cost, Some(usd(120_000)));
    assert_eq!(correction.delta, Some(usd(-10_000)));
    let asset = correction.asset.unwrap();
    assert_eq!(asset.purchase_cost, Some(usd(110_000)));
    assert_eq!(
        (asset.category_code.as_str(), asset.department_code.as_str()),
        ("LAPTOP", "IT")
    );
    assert_eq!(got[2].subject_version, corrected.asset.unwrap().version);

    let mut notices = bus.subscribe("ams.asset-notices", 16).await.unwrap();
    let got = receive_until(&mut notices, "ams.asset.checked_out", &last.id).await;
    assert_eq!(
        kinds(&got),
        [
            ("ams.asset.checked_out".to_owned(), old.clone()),
            ("ams.asset.checked_out".to_owned(), laptop.id.clone()),
            ("ams.asset.checked_out".to_owned(), last.id.clone()),
        ]
    );
    let out: ev::AmsAssetCheckedOut = payload(&got[1]);
    assert_eq!(out.transaction_id, checkout.transaction.unwrap().id);
    let asset = out.asset.unwrap();
    assert_eq!(asset.status(), ev::AssetStatus::CheckedOut);
    assert_eq!(asset.holder.unwrap().user_id, id_of(&fx.employee));
    assert_eq!(got[1].subject_version, checkout.asset.unwrap().version);
}

/// The worker's consumer of `ams.user-sync`, wired as the binary wires it,
/// on `transport`: an unknown `auth.user.*` type is applied as a no-op (in
/// the inbox, not parked, not dead-lettered) and does not hold back the
/// deactivation behind it, which flags the holder's asset.
async fn the_user_sync_consumer_flags_holders(transport: Transport) {
    let Some(test_bus) = TestBus::new(transport).await else {
        return;
    };
    let fx = Fixture::start().await;
    let holder = fx.person(&[]).await;
    let asset = fx.create(fx.laptop("Held")).await.unwrap();
    let out = fx.check_out(&asset, &holder).await.unwrap().asset.unwrap();

    let queue = directory::sync_queue(System::Ams).unwrap();
    assert_eq!(queue, "ams.user-sync");
    let consumer = Consumer::new(
        queue,
        fx.db.db.clone(),
        test_bus.bus.clone(),
        sync_handler(),
        ConsumerConfig::default(),
    )
    .unwrap();
    let (stop_tx, mut stop) = watch::channel(false);
    let running = tokio::spawn(consumer.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));

    let unknown = Envelope {
        r#type: "auth.user.frobnicated".into(),
        ..user_event("auth.user.updated", &holder, 2, false)
    };
    let deactivation = user_event("auth.user.updated", &holder, 2, false);
    let published = test_bus
        .bus
        .publish(&[
            Outgoing::from_envelope(&unknown),
            Outgoing::from_envelope(&deactivation),
        ])
        .await;
    assert!(published.iter().all(Result::is_ok), "{published:?}");

    let db = fx.db.db.clone();
    let ids = [unknown.id.clone(), deactivation.id.clone()];
    eventually("both events applied by ams.user-sync", WAIT, || {
        let (db, ids) = (db.clone(), ids.clone());
        async move {
            for id in &ids {
                if !inbox::contains(db.conn(), queue, id).await.unwrap() {
                    return false;
                }
            }
            true
        }
    })
    .await;
    assert_eq!(parked::count(fx.db.db.conn(), queue).await.unwrap(), 0);
    let flagged = get(&fx, &asset.id).await;
    assert!(flagged.holder_deactivated);
    assert_eq!(flagged.version, out.version + 1);
    assert_eq!(
        listed(&fx, deactivated_only()).await,
        vec![asset.id.clone()]
    );

    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
}

// ------------------------------------------------------------------ tests

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_overdue_checkout_is_alerted_once_across_two_workers_and_a_restart() {
    let fx = Fixture::start().await;
    let laptop = fx.create(fx.laptop("Latitude")).await.unwrap();
    let checkout_time = fx.clock.now();
    let due = checkout_time + HOUR;
    let out = check_out_until(&fx, &laptop, &fx.employee, due).await;
    let checkout_id = out.transaction.unwrap().id;
    let checked_out = out.asset.unwrap();
    assert_eq!(checked_out.expected_return_time, Some(timestamp(due)));

    // Not before it is due.
    let early = timer_worker(&fx);
    fx.clock.advance(HOUR - Duration::from_secs(1));
    assert_eq!(fire(&early).await, 0);
    assert!(overdue_events(&fx).await.is_empty());
    assert!(listed(&fx, overdue_only()).await.is_empty());

    // Two workers look at once (SQLite allows one claimer per database:
    // there they take turns).
    fx.clock.advance(HOUR + Duration::from_secs(1));
    let detected = fx.clock.now();
    let (first, second) = (timer_worker(&fx), timer_worker(&fx));
    let fired = match Backend::current() {
        Backend::Postgres => {
            let (a, b) = tokio::join!(fire(&first), fire(&second));
            a + b
        }
        Backend::Sqlite => fire(&first).await + fire(&second).await,
    };
    assert_eq!(fired, 1);
    // A restarted worker, later: nothing more.
    fx.clock.advance(HOUR);
    let restarted = timer_worker(&fx);
    assert_eq!(fire(&restarted).await, 0);
    assert_eq!(fire(&first).await + fire(&second).await, 0);

    let events = overdue_events(&fx).await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (version, alert) = &events[0];
    assert_eq!(alert.checkout_transaction_id, checkout_id);
    assert_eq!(alert.due_time, Some(timestamp(due)));
    assert_eq!(alert.checkout_time, Some(timestamp(checkout_time)));
    assert_eq!(alert.detect_time, Some(timestamp(detected)));
    assert_uuid_v7(&alert.occurrence_id);
    let snapshot = alert.asset.as_ref().unwrap();
    assert_eq!(snapshot.id, laptop.id);
    assert_eq!(snapshot.status(), ev::AssetStatus::CheckedOut);
    assert_eq!(snapshot.holder.as_ref().unwrap().user_id, id_of(&fx.employee));
    assert_eq!(snapshot.expected_return_time, Some(timestamp(due)));
    assert_eq!(snapshot.category_code, "LAPTOP");
    // Detecting it changed nothing of the asset.
    let now = get(&fx, &laptop.id).await;
    assert_eq!(now, checked_out);
    assert_eq!((*version, snapshot.version), (now.version, now.version));
    assert_eq!(listed(&fx, overdue_only()).await, vec![laptop.id.clone()]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_check_in_before_the_due_time_cancels_the_alert() {
    let fx = Fixture::start().await;
    let laptop = fx.create(fx.laptop("Latitude")).await.unwrap();
    let other = fx.create(fx.laptop("Another")).await.unwrap();
    let due = fx.clock.now() + HOUR;
    check_out_until(&fx, &laptop, &fx.employee, due).await;
    check_out_until(&fx, &other, &fx.employee, due).await;
    fx.clock.advance(HOUR / 2);
    let returned = check_in(&fx, &laptop.id).await;
    assert!(returned.asset.unwrap().expected_return_time.is_none());

    fx.clock.advance(2 * HOUR);
    let worker = timer_worker(&fx);
    // The other asset, still out, is alerted; the returned one is not.
    assert_eq!(fire(&worker).await, 1);
    assert_eq!(fire(&worker).await, 0);
    let events = overdue_events(&fx).await;
    assert_eq!(
        events
            .iter()
            .map(|(_, e)| e.asset.as_ref().unwrap().id.clone())
            .collect::<Vec<_>>(),
        vec![other.id.clone()]
    );
    assert_eq!(listed(&fx, overdue_only()).await, vec![other.id.clone()]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn each_checkout_gets_its_own_overdue_alert() {
    let fx = Fixture::start().await;
    let laptop = fx.create(fx.laptop("Latitude")).await.unwrap();
    let worker = timer_worker(&fx);

    let first_due = fx.clock.now() + HOUR;
    let first = check_out_until(&fx, &laptop, &fx.employee, first_due).await;
    fx.clock.advance(2 * HOUR);
    assert_eq!(fire(&worker).await, 1);
    let returned = check_in(&fx, &laptop.id).await;
    assert!(listed(&fx, overdue_only()).await.is_empty());

    // Checked out again, to someone else: a new deadline, a new alert.
    let second_due = fx.clock.now() + HOUR;
    let second = check_out_until(&fx, &laptop, &fx.viewer, second_due).await;
    fx.clock.advance(HOUR - Duration::from_secs(1));
    assert_eq!(fire(&worker).await, 0);
    fx.clock.advance(Duration::from_secs(1));
    assert_eq!(fire(&worker).await, 1);
    fx.clock.advance(24 * HOUR);
    assert_eq!(fire(&timer_worker(&fx)).await, 0);

    let events = overdue_events(&fx).await;
    assert_eq!(events.len(), 2, "{events:?}");
    let (first_id, second_id) = (first.transaction.unwrap().id, second.transaction.unwrap().id);
    assert_ne!(first_id, second_id);
    assert_eq!(
        events
            .iter()
            .map(|(_, e)| (e.checkout_transaction_id.clone(), e.due_time))
            .collect::<Vec<_>>(),
        [
            (first_id, Some(timestamp(first_due))),
            (second_id, Some(timestamp(second_due)))
        ]
    );
    assert_ne!(events[0].1.occurrence_id, events[1].1.occurrence_id);
    let holder = |i: usize| events[i].1.asset.as_ref().unwrap().holder.as_ref().unwrap().user_id.clone();
    assert_eq!((holder(0), holder(1)), (id_of(&fx.employee), id_of(&fx.viewer)));
    assert_eq!(events[0].0, first.asset.unwrap().version);
    let second_version = second.asset.unwrap().version;
    assert_eq!(events[1].0, second_version);
    assert!(second_version > returned.asset.unwrap().version);
    assert_eq!(listed(&fx, overdue_only()).await, vec![laptop.id.clone()]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_deactivated_holders_assets_are_flagged_once_and_nobody_elses() {
    let fx = Fixture::start().await;
    let departing = fx.person(&[]).await;
    let staying = fx.person(&[]).await;
    let [a1, a2, returned, theirs, in_stock] = [
        fx.create(fx.laptop("A1")).await.unwrap(),
        fx.create(fx.laptop("A2")).await.unwrap(),
        fx.create(fx.laptop("Returned")).await.unwrap(),
        fx.create(fx.laptop("Theirs")).await.unwrap(),
        fx.create(fx.laptop("In stock")).await.unwrap(),
    ];
    for a in [&a1, &a2, &returned] {
        fx.check_out(a, &departing).await.unwrap();
    }
    check_in(&fx, &returned.id).await;
    fx.check_out(&theirs, &staying).await.unwrap();
    let ids = [a1.id.as_str(), a2.id.as_str(), returned.id.as_str(), theirs.id.as_str(), in_stock.id.as_str()];
    let before = states(&fx, &ids).await;
    assert!(before.iter().all(|(_, flagged)| !flagged));
    assert!(listed(&fx, deactivated_only()).await.is_empty());
    let events_before = fx.event_types().await;

    let handler = sync_handler();
    let deactivation = user_event("auth.user.deactivated", &departing, 2, false);
    apply(&fx, &handler, &deactivation).await;

    let after = states(&fx, &ids).await;
    assert_eq!(
        after,
        [
            (before[0].0 + 1, true),
            (before[1].0 + 1, true),
            before[2],
            before[3],
            before[4],
        ]
    );
    let flagged = get(&fx, &a1.id).await;
    assert_eq!(flagged.holder_user_id, id_of(&departing), "still theirs until checked in");
    assert_ne!(flagged.etag, a1.etag);
    assert_eq!(listed(&fx, deactivated_only()).await, sorted(vec![a1.id.clone(), a2.id.clone()]));
    assert_eq!(fx.event_types().await, events_before, "flagging emits nothing");

    // The same event again, a later update while inactive, then a
    // reactivation: nothing more moves (the flags stay until check-in).
    apply(&fx, &handler, &deactivation).await;
    apply(&fx, &handler, &user_event("auth.user.updated", &departing, 3, false)).await;
    apply(&fx, &handler, &user_event("auth.user.updated", &departing, 4, true)).await;
    assert_eq!(states(&fx, &ids).await, after);
    assert_eq!(listed(&fx, deactivated_only()).await, sorted(vec![a1.id.clone(), a2.id.clone()]));

    // Recovered: checked in, no longer flagged.
    let back = check_in(&fx, &a1.id).await.asset.unwrap();
    assert!(!back.holder_deactivated);
    assert_eq!(listed(&fx, deactivated_only()).await, vec![a2.id.clone()]);
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_sync_consumer_flags_holders_on_the_in_process_bus() {
    the_user_sync_consumer_flags_holders(Transport::InProcess).await;
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_sync_consumer_flags_holders_on_rabbitmq() {
    the_user_sync_consumer_flags_holders(Transport::RabbitMq).await;
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expenses_and_notices_reach_their_queues_on_the_in_process_bus() {
    expenses_and_notices_reach_their_queues(Transport::InProcess).await;
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expenses_and_notices_reach_their_queues_on_rabbitmq() {
    expenses_and_notices_reach_their_queues(Transport::RabbitMq).await;
}
}
