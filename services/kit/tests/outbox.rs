//! The outbox's write side: an event exists exactly when its transaction commits.

use map_contracts::events::v1::{AuthUserDeactivated, Envelope};
use map_kit::{
    System,
    outbox::{NewEvent, Outbox, OutboxError, entity},
    testing::TestDb,
};
use prost::{Message as _, Name as _};
use sea_orm::{EntityTrait, PaginatorTrait};

fn event(subject: &str) -> NewEvent {
    NewEvent::new(
        "auth.user.deactivated",
        subject,
        7,
        &AuthUserDeactivated::default(),
    )
}

map_kit::db_tests! {
#[tokio::test]
async fn an_enqueued_event_is_rolled_back_with_its_transaction() {
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let outbox = Outbox::new(System::Auth);

    let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
    outbox
        .enqueue(&txn, event("u-rolled-back"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    txn.rollback().await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        entity::Entity::find().count(db.db.conn()).await.ok(),
        Some(0)
    );

    let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
    let id = outbox
        .enqueue(&txn, event("u-committed"))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    txn.commit().await.unwrap_or_else(|e| panic!("{e}"));

    let rows = entity::Entity::find()
        .all(db.db.conn())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert_eq!(
        (row.id.as_str(), row.subject.as_str(), row.subject_version),
        (id.to_string().as_str(), "u-committed", 7)
    );
    assert!(row.published_at.is_none());
    let envelope = Envelope::decode(row.envelope.as_slice()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(envelope.r#type, "auth.user.deactivated");
    assert_eq!(envelope.source, "auth");
    assert_eq!(
        envelope.payload.map(|p| p.type_url),
        Some(AuthUserDeactivated::type_url())
    );
}
}

map_kit::db_tests! {
#[tokio::test]
async fn an_event_of_another_system_is_refused() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let txn = db.db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
    let refused = Outbox::new(System::Tts).enqueue(&txn, event("u1")).await;
    assert!(
        matches!(refused, Err(OutboxError::BadType { .. })),
        "{refused:?}"
    );
}
}
