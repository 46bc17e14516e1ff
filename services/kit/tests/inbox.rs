//! Inbox housekeeping on both databases: rows older than the cutoff go,
//! newer ones and other consumers' stay, so a recent redelivery is still
//! recognised.

use map_kit::{bus::inbox, testing::TestDb};
use sea_orm::{ActiveModelTrait as _, ActiveValue::Set};

map_kit::db_tests! {
#[tokio::test]
async fn pruning_removes_only_old_rows_of_its_consumer() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let now = chrono::Utc::now();
    for (consumer, id, age_days) in [
        ("tts.user-sync", "old", 10),
        ("tts.user-sync", "recent", 1),
        ("tts.ticket-tasks", "old-elsewhere", 10),
    ] {
        inbox::entity::ActiveModel {
            consumer: Set(consumer.into()),
            event_id: Set(id.into()),
            handled_at: Set(now - chrono::Duration::days(age_days)),
        }
        .insert(db.db.conn())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    }
    let cutoff = now - chrono::Duration::days(7);
    let pruned = inbox::prune(db.db.conn(), "tts.user-sync", cutoff)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(pruned, 1);
    for (consumer, id, kept) in [
        ("tts.user-sync", "old", false),
        ("tts.user-sync", "recent", true),
        ("tts.ticket-tasks", "old-elsewhere", true),
    ] {
        let found = inbox::contains(db.db.conn(), consumer, id)
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(found, kept, "{consumer} {id}");
    }
}
}
