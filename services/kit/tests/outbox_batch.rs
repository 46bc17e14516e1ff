//! The outbox's batch write (`Outbox::enqueue_many`), on both databases:
//! several events in one multi-row insert, stored in the order given with
//! the ids it returns, each as `enqueue` would store it; rolled back with
//! its transaction; an empty batch writes nothing; one bad event type
//! refuses the whole batch; and a batch as large as AMS's import sends (500
//! rows, a purchase and a checkout each) goes in at once.

use map_contracts::events::v1::{AuthUserCreated, Envelope, UserSnapshot};
use map_kit::{
    System,
    clock::ManualClock,
    outbox::{NewEvent, Outbox, OutboxError, entity},
    testing::TestDb,
    wire::time::timestamp,
};
use prost::{Message as _, Name as _};
use sea_orm::{EntityTrait as _, PaginatorTrait as _, QueryOrder as _};

fn created(subject: &str, version: i64) -> NewEvent {
    NewEvent::new(
        "auth.user.created",
        subject,
        version,
        &AuthUserCreated {
            user: Some(UserSnapshot {
                id: subject.to_owned(),
                display_name: format!("user {subject}"),
                version,
                ..UserSnapshot::default()
            }),
            actor_user_id: String::new(),
        },
    )
}

/// The outbox's rows in claim order.
async fn rows(db: &TestDb) -> Vec<entity::Model> {
    entity::Entity::find()
        .order_by_asc(entity::Column::Seq)
        .all(db.db.conn())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

async fn count(db: &TestDb) -> u64 {
    entity::Entity::find()
        .count(db.db.conn())
        .await
        .unwrap_or_else(|e| panic!("{e}"))
}

map_kit::db_tests! {
#[tokio::test]
async fn a_batch_is_stored_in_order_and_rolled_back_with_its_transaction() {
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let clock = ManualClock::at_system_time();
    let outbox = Outbox::new(System::Auth).with_clock(clock.clock());

    // Nothing to store: no statement, no rows, no ids.
    let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
    let none = outbox.enqueue_many(&txn, Vec::new()).await.unwrap_or_else(|e| panic!("{e}"));
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    assert!(none.is_empty());
    assert_eq!(count(&db).await, 0);

    // Rolled back: none of the batch stays.
    let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
    let gone = outbox
        .enqueue_many(&txn, (1..=5).map(|v| created("u-rolled-back", v)).collect())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(gone.len(), 5);
    txn.rollback().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(count(&db).await, 0);

    // Committed, between two single events of the same transaction.
    let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
    let before = outbox.enqueue(&txn, created("u-before", 1)).await.unwrap_or_else(|e| panic!("{e}"));
    let batch = outbox
        .enqueue_many(&txn, vec![created("u-c", 3), created("u-a", 1), created("u-b", 2)])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let after = outbox.enqueue(&txn, created("u-after", 9)).await.unwrap_or_else(|e| panic!("{e}"));
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));

    let mut ids = vec![before.to_string()];
    ids.extend(batch.iter().map(ToString::to_string));
    ids.push(after.to_string());
    let stored = rows(&db).await;
    assert_eq!(stored.iter().map(|r| r.id.clone()).collect::<Vec<_>>(), ids, "claim order");
    assert_eq!(
        stored
            .iter()
            .map(|r| (r.subject.as_str(), r.subject_version))
            .collect::<Vec<_>>(),
        [("u-before", 1), ("u-c", 3), ("u-a", 1), ("u-b", 2), ("u-after", 9)]
    );
    // Each row of the batch as `enqueue` stores one: pending, stamped with
    // the outbox's clock, its envelope naming it.
    for row in &stored[1..4] {
        assert_eq!(row.event_type, "auth.user.created");
        assert_eq!(row.created_at, clock.now());
        assert!(row.published_at.is_none());
        assert_eq!((row.attempts, row.refusals), (0, 0));
        assert!(row.retry_at.is_none() && row.set_aside_at.is_none() && row.last_error.is_none());
        let envelope = Envelope::decode(row.envelope.as_slice()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(envelope.id, row.id);
        assert_eq!(envelope.r#type, "auth.user.created");
        assert_eq!(envelope.source, "auth");
        assert_eq!((envelope.subject.as_str(), envelope.subject_version), (row.subject.as_str(), row.subject_version));
        assert_eq!(envelope.occurred_at, Some(timestamp(clock.now())));
        let payload = envelope.payload.unwrap_or_else(|| panic!("no payload"));
        assert_eq!(payload.type_url, AuthUserCreated::type_url());
        let user = AuthUserCreated::decode(payload.value.as_slice())
            .unwrap_or_else(|e| panic!("{e}"))
            .user
            .unwrap_or_else(|| panic!("no user"));
        assert_eq!(user.id, row.subject);
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn one_bad_event_type_refuses_the_whole_batch() {
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let outbox = Outbox::new(System::Auth);
    let another_systems = NewEvent::new("tts.ticket.created", "t1", 1, &AuthUserCreated::default());
    let malformed = NewEvent::new("auth.user", "u1", 1, &AuthUserCreated::default());
    for bad in [another_systems, malformed] {
        let bad_type = bad.event_type;
        let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
        let refused = outbox
            .enqueue_many(&txn, vec![created("u1", 1), bad, created("u2", 1)])
            .await;
        assert!(
            matches!(&refused, Err(OutboxError::BadType { event_type, producer: System::Auth }) if event_type == bad_type),
            "{refused:?}"
        );
        // The transaction is still usable and holds none of the batch.
        txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(count(&db).await, 0, "{bad_type}: part of a refused batch was stored");
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_batch_as_large_as_an_import_sends_goes_in_at_once() {
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let outbox = Outbox::new(System::Auth);
    // AMS registers 500 rows per batch, each with a purchase and a checkout.
    let events: Vec<NewEvent> = (0..1000).map(|i| created(&format!("u{i:04}"), 1)).collect();
    let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
    let ids = outbox.enqueue_many(&txn, events).await.unwrap_or_else(|e| panic!("{e}"));
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
    let stored = rows(&db).await;
    assert_eq!(stored.len(), 1000);
    assert_eq!(
        stored.iter().map(|r| r.id.clone()).collect::<Vec<_>>(),
        ids.iter().map(ToString::to_string).collect::<Vec<_>>()
    );
    assert_eq!(
        stored.iter().map(|r| r.subject.clone()).collect::<Vec<_>>(),
        (0..1000).map(|i| format!("u{i:04}")).collect::<Vec<_>>()
    );
}
}
