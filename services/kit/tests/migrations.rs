//! Every system's migrations apply to a fresh database (SQLite, or PostgreSQL
//! when MAP_TEST_DATABASE_URL is set), twice without harm, and two
//! concurrent runs do not collide.

use map_kit::testing::TestDb;
use map_migrations as m;
use sea_orm::{ConnectionTrait, Statement};
use sea_orm_migration::MigratorTrait;

async fn tables(db: &TestDb) -> Vec<String> {
    let backend = db.db.backend();
    let sql = match backend {
        sea_orm::DatabaseBackend::Postgres => {
            "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'"
        }
        _ => "SELECT name FROM sqlite_master WHERE type = 'table'",
    };
    let rows = db
        .db
        .conn()
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    rows.iter()
        .filter_map(|r| r.try_get::<String>("", "name").ok())
        .collect()
}

async fn applies<M: MigratorTrait>() {
    let db = TestDb::new::<M>().await;
    let names = tables(&db).await;
    for table in ["outbox", "inbox", "seaql_migrations"] {
        assert!(
            names.iter().any(|n| n == table),
            "{table} missing from {names:?}"
        );
    }
    // Re-running finds nothing to do.
    map_kit::db::migrate::<M>(&db.url)
        .await
        .unwrap_or_else(|e| panic!("second run failed: {e}"));
    let pending = M::get_pending_migrations(db.db.conn())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(pending.is_empty());
}

map_kit::db_tests! {
#[tokio::test]
async fn auth_migrations_apply() {
    applies::<m::auth::Migrator>().await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn ams_migrations_apply() {
    applies::<m::ams::Migrator>().await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bms_migrations_apply() {
    applies::<m::bms::Migrator>().await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn tts_migrations_apply() {
    applies::<m::tts::Migrator>().await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn hdts_migrations_apply() {
    applies::<m::hdts::Migrator>().await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn concurrent_migration_runs_are_serialised() {
    // A database with nothing applied yet, migrated by four runs at once.
    let db = TestDb::new::<m::hdts::Migrator>().await;
    let url = db.url.clone();
    m::hdts::Migrator::down(db.db.conn(), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let runs = (0..4).map(|_| {
        let url = url.clone();
        tokio::spawn(async move { map_kit::db::migrate::<m::hdts::Migrator>(&url).await })
    });
    for run in futures::future::join_all(runs).await {
        run.unwrap_or_else(|e| panic!("{e}"))
            .unwrap_or_else(|e| panic!("a concurrent run failed: {e}"));
    }
    assert!(tables(&db).await.iter().any(|t| t == "outbox"));
}
}
