//! The relay against one bad row and a slow broker, on both databases with
//! the in-process bus: a row the broker refuses takes its place in one batch
//! only, is set aside after repeated refusals and put back by an operator;
//! the relay backs off only when nothing of a batch went out; and on SQLite
//! no writer waits while the relay waits for the broker.
#![allow(clippy::unwrap_used)]

mod bus_support;

use std::time::Duration;

use bus_support::{enqueue, eventually, fast_relay, user_created};
use map_contracts::events::v1::AuthUserCreated;
use map_kit::{
    System,
    bus::{Bus, Relay, RelayConfig, relay::BatchOutcome},
    clock::ManualClock,
    db::Db,
    outbox::{self, NewEvent, entity},
    testing::{TestDb, amqp_prefix},
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::sync::watch;

const WAIT: Duration = Duration::from_secs(20);

/// An event of a type no queue is bound to: the broker returns it
/// (mandatory publish), every time.
fn unroutable() -> NewEvent {
    NewEvent::new("auth.session.created", "s1", 1, &AuthUserCreated::default())
}

fn users(n: usize) -> Vec<NewEvent> {
    (0..n)
        .map(|i| user_created(&format!("u{i}"), 1, "x"))
        .collect()
}

fn config() -> RelayConfig {
    RelayConfig {
        batch: 10,
        refused_retry_min: Duration::from_secs(10),
        refused_retry_max: Duration::from_secs(3600),
        set_aside_after: 3,
        ..fast_relay()
    }
}

/// Batches until one claims nothing.
async fn drain(relay: &Relay) -> Vec<BatchOutcome> {
    let mut rounds = Vec::new();
    loop {
        let o = relay.relay_batch().await.unwrap();
        if o == BatchOutcome::default() {
            return rounds;
        }
        rounds.push(o);
    }
}

async fn row(db: &Db, id: &str) -> entity::Model {
    entity::Entity::find()
        .filter(entity::Column::Id.eq(id))
        .one(db.conn())
        .await
        .unwrap()
        .unwrap()
}

async fn pending(db: &Db) -> u64 {
    entity::Entity::find()
        .filter(entity::Column::PublishedAt.is_null())
        .count(db.conn())
        .await
        .unwrap()
}

fn outcome(published: usize, failed: usize, set_aside: usize) -> BatchOutcome {
    BatchOutcome {
        published,
        failed,
        set_aside,
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_refused_row_is_set_aside_without_holding_back_its_batches() {
    let manual = ManualClock::at_system_time();
    let relay_over = |db: &TestDb| {
        Relay::new(System::Auth, db.db.clone(), Bus::in_process(&amqp_prefix()), config())
            .with_clock(manual.clock())
    };
    // Without a bad row: 29 events, batches of 10.
    let clean = TestDb::new::<map_migrations::auth::Migrator>().await;
    enqueue(&clean.db, users(29)).await;
    let without = drain(&relay_over(&clean)).await;
    assert_eq!(
        without.iter().map(|o| o.published).collect::<Vec<_>>(),
        [10, 10, 9]
    );

    // The same 29 behind a row the broker refuses, first in line.
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let poison = enqueue(&db.db, vec![unroutable()]).await.remove(0);
    enqueue(&db.db, users(29)).await;
    let relay = relay_over(&db);
    let with = drain(&relay).await;
    assert_eq!(with, [outcome(9, 1, 0), outcome(10, 0, 0), outcome(10, 0, 0)]);
    assert_eq!(with.len(), without.len(), "the bad row cost the others a round");
    assert_eq!(pending(&db.db).await, 1);

    let bad = row(&db.db, &poison).await;
    assert_eq!((bad.attempts, bad.refusals), (1, 1));
    assert_eq!(bad.retry_at, Some(manual.now() + Duration::from_secs(10)));
    assert!(bad.set_aside_at.is_none());
    // Its retries come at its own, doubling, pace; the third refusal sets it aside.
    manual.advance(Duration::from_secs(10));
    assert_eq!(drain(&relay).await, [outcome(0, 1, 0)]);
    manual.advance(Duration::from_secs(19));
    assert_eq!(drain(&relay).await, [], "retried before its time");
    manual.advance(Duration::from_secs(1));
    assert_eq!(drain(&relay).await, [outcome(0, 1, 1)]);
    let bad = row(&db.db, &poison).await;
    assert_eq!((bad.attempts, bad.refusals), (3, 3));
    assert_eq!(bad.set_aside_at, Some(manual.now()));
    assert!(
        bad.last_error
            .unwrap_or_default()
            .contains("no queue is bound to 'auth.session.created'")
    );
    assert_eq!(outbox::count_set_aside(&db.db).await.unwrap(), 1);
    manual.advance(Duration::from_secs(24 * 3600));
    assert_eq!(drain(&relay).await, [], "a set-aside row was claimed");

    // An operator puts it back: claimed at once, refusals counted afresh.
    assert_eq!(outbox::retry_set_aside(&db.db).await.unwrap(), 1);
    assert_eq!(outbox::count_set_aside(&db.db).await.unwrap(), 0);
    assert_eq!(outbox::retry_set_aside(&db.db).await.unwrap(), 0);
    assert_eq!(drain(&relay).await, [outcome(0, 1, 0)]);
    let bad = row(&db.db, &poison).await;
    assert_eq!((bad.attempts, bad.refusals), (4, 1));
    assert!(bad.set_aside_at.is_none());
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_relay_backs_off_only_when_nothing_of_a_batch_went_out() {
    let manual = ManualClock::at_system_time();
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let (stop_tx, mut stop) = watch::channel(false);
    // A backoff would last an hour: only a relay that does not back off
    // after a batch with a refused row publishes the later events in time.
    let relay = Relay::new(
        System::Auth,
        db.db.clone(),
        Bus::in_process(&amqp_prefix()),
        RelayConfig {
            backoff_min: Duration::from_secs(3600),
            backoff_max: Duration::from_secs(3600),
            // (a second claiming loop would publish while the first backs off)
            claimers: 1,
            ..config()
        },
    )
    .with_clock(manual.clock());
    let mut first = vec![unroutable()];
    first.extend(users(5));
    enqueue(&db.db, first).await;
    let running = tokio::spawn(relay.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    let conn = db.db.clone();
    eventually("the first events published", WAIT, || {
        let conn = conn.clone();
        async move { pending(&conn).await == 1 }
    })
    .await;
    enqueue(&db.db, users(5)).await;
    eventually("the later events published", WAIT, || {
        let conn = conn.clone();
        async move { pending(&conn).await == 1 }
    })
    .await;
    let _ = stop_tx.send(true);
    running.await.unwrap();
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writers_never_wait_for_a_relay_waiting_on_the_broker() {
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let (bus, gate) = Bus::in_process_gated(&amqp_prefix());
    enqueue(&db.db, users(3)).await;
    let relay = Relay::new(System::Auth, db.db.clone(), bus, config());
    let batch = tokio::spawn(async move { relay.relay_batch().await });
    gate.waiting(1).await;
    // The relay has claimed its rows and waits for confirms. A writer (an
    // API request enqueueing an event) commits meanwhile, well within
    // SQLite's busy timeout.
    tokio::time::timeout(Duration::from_secs(3), enqueue(&db.db, users(1)))
        .await
        .expect("a write waited for the relay's publish");
    gate.open();
    assert_eq!(batch.await.unwrap().unwrap(), outcome(3, 0, 0));
    assert_eq!(pending(&db.db).await, 1);
}
}
