//! People-facing numbers under concurrency, on both databases: 100 callers
//! at once, each in its own write transaction, get 1‥100 exactly once; a
//! rolled-back transaction gives its number back; counters are separate.
//! Blocks (`next_numbers`, one statement for a batch of numbers) mixed with
//! single numbers never overlap and leave no gaps, concurrent or not.

use std::collections::BTreeSet;

use map_kit::{
    counters::{next_number, next_numbers},
    testing::TestDb,
};

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

map_kit::db_tests! {
#[tokio::test]
async fn concurrent_blocks_and_single_numbers_never_overlap_and_leave_no_gaps() {
    let db = TestDb::new::<map_migrations::ams::Migrator>().await;
    let mut callers = tokio::task::JoinSet::new();
    // 60 callers at once: blocks of 1‥7 numbers and single numbers, mixed.
    for i in 0..60_i64 {
        let db = db.db.clone();
        callers.spawn(async move {
            let txn = db.begin_write().await?;
            let (first, count) = if i % 3 == 0 {
                (next_number(&txn, "AST").await?, 1)
            } else {
                let count = i % 7 + 1;
                (next_numbers(&txn, "AST", count).await?, count)
            };
            txn.commit().await?;
            Ok::<(i64, i64), sea_orm::DbErr>((first.value, count))
        });
    }
    let mut taken = Vec::new();
    while let Some(joined) = callers.join_next().await {
        taken.push(joined.unwrap_or_else(|e| panic!("{e}")).unwrap_or_else(|e| panic!("{e}")));
    }
    let total: i64 = taken.iter().map(|(_, count)| count).sum();
    let mut numbers = Vec::new();
    for (first, count) in &taken {
        numbers.extend(*first..first + count);
    }
    let distinct: BTreeSet<i64> = numbers.iter().copied().collect();
    assert_eq!(distinct.len(), numbers.len(), "overlapping blocks: {taken:?}");
    assert_eq!(distinct, (1..=total).collect::<BTreeSet<i64>>(), "gaps: {taken:?}");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_block_follows_single_numbers_and_a_rolled_back_block_is_given_back() {
    let db = TestDb::new::<map_migrations::ams::Migrator>().await;
    // (first number, how many) taken in a transaction of its own.
    let take = |prefix: &'static str, count: Option<i64>, commit: bool| {
        let db = db.db.clone();
        async move {
            let txn = db.begin_write().await.unwrap_or_else(|e| panic!("{e}"));
            let n = match count {
                Some(count) => next_numbers(&txn, prefix, count).await,
                None => next_number(&txn, prefix).await,
            }
            .unwrap_or_else(|e| panic!("{e}"));
            if commit {
                txn.commit().await.unwrap_or_else(|e| panic!("{e}"));
            } else {
                txn.rollback().await.unwrap_or_else(|e| panic!("{e}"));
            }
            n.to_string()
        }
    };
    // A block on a counter that does not exist yet starts at 1.
    assert_eq!(take("AST", Some(5), true).await, "AST-000001");
    assert_eq!(take("AST", None, true).await, "AST-000006");
    assert_eq!(take("AST", Some(3), true).await, "AST-000007");
    // A rolled-back block gives all its numbers back.
    assert_eq!(take("AST", Some(100), false).await, "AST-000010");
    assert_eq!(take("AST", None, true).await, "AST-000010");
    // Fewer than one is one.
    assert_eq!(take("AST", Some(0), true).await, "AST-000011");
    assert_eq!(take("AST", Some(-4), true).await, "AST-000012");
    assert_eq!(take("AST", None, true).await, "AST-000013");
    // Another counter is untouched by the blocks.
    assert_eq!(take("RPT", Some(2), true).await, "RPT-000001");
    assert_eq!(take("RPT", None, true).await, "RPT-000003");
    assert_eq!(take("AST", Some(1), true).await, "AST-000014");
}
}
