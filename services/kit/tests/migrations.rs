//! Every system's migrations apply to a fresh database (SQLite, or PostgreSQL
//! when MAP_TEST_DATABASE_URL is set), twice without harm, and two
//! concurrent runs do not collide.

use map_kit::testing::{Backend, TestDb};
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

/// The release whose databases the upgrade test starts from: the newest
/// folder of `migrations/tests/fixtures` (made by its `make.sh`).
const PREVIOUS_RELEASE: &str = "0.1.0";

fn fixture(system: &str, backend: Backend) -> String {
    let kind = match backend {
        Backend::Sqlite => "sqlite",
        Backend::Postgres => "postgres",
    };
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../migrations/tests/fixtures")
        .join(PREVIOUS_RELEASE)
        .join(format!("{system}.{kind}.sql"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

async fn row_count(db: &TestDb, table: &str) -> i64 {
    let backend = db.db.backend();
    let sql = format!("SELECT COUNT(*) AS n FROM \"{table}\"");
    let row = db
        .db
        .conn()
        .query_one_raw(Statement::from_string(backend, sql))
        .await
        .unwrap_or_else(|e| panic!("{table}: {e}"))
        .unwrap_or_else(|| panic!("{table}: no count"));
    row.try_get::<i64>("", "n")
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A database made by the previous release's migrations takes today's:
/// every migration is recorded as applied, and every row the old database
/// held is still there.
async fn upgrades<M: MigratorTrait>(system: &str) {
    let db = TestDb::empty(Backend::current()).await;
    db.db
        .conn()
        .execute_unprepared(&fixture(system, db.backend))
        .await
        .unwrap_or_else(|e| panic!("loading the {PREVIOUS_RELEASE} fixture of {system}: {e}"));
    let old_tables = tables(&db).await;
    assert!(
        old_tables.iter().any(|t| t == "seaql_migrations"),
        "{old_tables:?}"
    );
    let mut before = Vec::new();
    for table in &old_tables {
        before.push((table.clone(), row_count(&db, table).await));
    }

    map_kit::db::migrate::<M>(&db.url)
        .await
        .unwrap_or_else(|e| panic!("upgrading {system} from {PREVIOUS_RELEASE}: {e}"));

    let now = tables(&db).await;
    for (table, rows) in before {
        assert!(now.contains(&table), "{system}: table {table} is gone");
        let after = row_count(&db, &table).await;
        assert!(
            after >= rows,
            "{system}.{table}: {rows} rows before, {after} after"
        );
    }
    let applied = M::get_applied_migrations(db.db.conn())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let applied: Vec<String> = applied.iter().map(|m| m.name().to_owned()).collect();
    let known: Vec<String> = M::migrations()
        .iter()
        .map(|m| m.name().to_owned())
        .collect();
    assert_eq!(
        applied, known,
        "{system}: every migration applied, in order"
    );
}

map_kit::db_tests! {
#[tokio::test]
async fn auth_upgrades_from_the_previous_release() {
    upgrades::<m::auth::Migrator>("auth").await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn ams_upgrades_from_the_previous_release() {
    upgrades::<m::ams::Migrator>("ams").await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bms_upgrades_from_the_previous_release() {
    upgrades::<m::bms::Migrator>("bms").await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn tts_upgrades_from_the_previous_release() {
    upgrades::<m::tts::Migrator>("tts").await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn hdts_upgrades_from_the_previous_release() {
    upgrades::<m::hdts::Migrator>("hdts").await;
}
}

/// Shipped migrations are never edited, only appended: every file listed
/// in `migrations/shipped.sha256` still has its recorded digest. A new
/// migration is appended to the list in the commit that adds it.
#[test]
fn shipped_migrations_are_never_edited() {
    use sha2::{Digest as _, Sha256};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations");
    let list = std::fs::read_to_string(root.join("shipped.sha256"))
        .unwrap_or_else(|e| panic!("migrations/shipped.sha256: {e}"));
    let mut listed = Vec::new();
    for line in list
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
    {
        let (digest, file) = line
            .split_once("  ")
            .unwrap_or_else(|| panic!("bad line in shipped.sha256: {line}"));
        let bytes = std::fs::read(root.join(file))
            .unwrap_or_else(|e| panic!("shipped migration {file} is gone: {e}"));
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            digest,
            "shipped migration {file} was edited: add a new migration instead"
        );
        listed.push(file.to_owned());
    }
    let known = [
        m::auth::Migrator::migrations(),
        m::ams::Migrator::migrations(),
        m::bms::Migrator::migrations(),
        m::tts::Migrator::migrations(),
        m::hdts::Migrator::migrations(),
    ];
    for migration in known.iter().flatten() {
        let name = migration.name();
        assert!(
            listed.iter().any(|f| f.ends_with(&format!("/{name}.rs"))),
            "migration {name} is not in migrations/shipped.sha256: append it"
        );
    }
}
