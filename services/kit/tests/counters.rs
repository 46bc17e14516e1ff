//! People-facing numbers under concurrency, on both databases: 100 callers
//! at once, each in its own write transaction, get 1‥100 exactly once; a
//! rolled-back transaction gives its number back; counters are separate.

use std::collections::BTreeSet;

use map_kit::{counters::next_number, testing::TestDb};

map_kit::db_tests! {
#[tokio::test]
async fn a_hundred_concurrent_callers_get_consecutive_numbers_once() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let mut callers = tokio::task::JoinSet::new();
    for _ in 0..100 {
        let db = db.db.clone();
        callers.spawn(async move {
            let txn = db.begin_write().await?;
            let n = next_number(&txn, "TT").await?;
            txn.commit().await?;
            Ok::<i64, sea_orm::DbErr>(n.value)
        });
    }
    let mut got = Vec::new();
    while let Some(joined) = callers.join_next().await {
        got.push(joined.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")));
    }
    let distinct: BTreeSet<i64> = got.iter().copied().collect();
    assert_eq!(distinct.len(), 100, "duplicates: {got:?}");
    assert_eq!(distinct, (1..=100).collect::<BTreeSet<i64>>(), "gaps");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_rolled_back_number_is_given_back_and_counters_are_separate() {
    let db = TestDb::new::<map_migrations::hdts::Migrator>().await;
    let take = |prefix: &'static str, commit: bool| {
        let db = db.db.clone();
        async move {
            let txn = db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
            let n = next_number(&txn, prefix).await.unwrap_or_else(|e| panic!("{e}"));
            if commit {
                txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
            } else {
                txn.rollback().await.unwrap_or_else(|e| panic!("{e}"));
            }
            n.to_string()
        }
    };
    assert_eq!(take("HD", true).await, "HD-000001");
    assert_eq!(take("HD", false).await, "HD-000002");
    assert_eq!(take("HD", true).await, "HD-000002");
    assert_eq!(take("RPT", true).await, "RPT-000001");
    assert_eq!(take("HD", true).await, "HD-000003");
}
}
