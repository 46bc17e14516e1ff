//! A database of its own for a benchmark run.

use map_kit::db::Db;
use sea_orm::ConnectionTrait as _;
use secrecy::SecretString;

/// A database of its own for the run.
pub struct BenchDb {
    /// Its pool.
    pub db: Db,
    /// Its URL.
    pub url: SecretString,
    drop_sql: Option<(String, String)>,
    _dir: Option<tempfile::TempDir>,
}

impl std::fmt::Debug for BenchDb {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The server URL may carry a password: never shown.
        f.debug_struct("BenchDb").finish_non_exhaustive()
    }
}

impl BenchDb {
    /// A new database on the PostgreSQL `server` (dropped by
    /// [`remove`](Self::remove)), or a temp-file SQLite one without a server;
    /// no migration applied.
    pub async fn create(server: Option<&str>) -> Result<BenchDb, Box<dyn std::error::Error>> {
        let (url, drop_sql, dir) = match server {
            Some(server) => {
                let name = format!("map_bench_{}", uuid::Uuid::now_v7().simple());
                let admin = Db::connect(&SecretString::from(server.to_owned())).await?;
                admin
                    .conn()
                    .execute_unprepared(&format!("CREATE DATABASE {name}"))
                    .await?;
                admin.close().await?;
                // Same server and options (`?sslmode=…`), the run's own database.
                let (path, query) = server.split_once('?').unwrap_or((server, ""));
                let base = path.rsplit_once('/').map_or(path, |(b, _)| b);
                let query = if query.is_empty() {
                    String::new()
                } else {
                    format!("?{query}")
                };
                (
                    format!("{base}/{name}{query}"),
                    Some((
                        server.to_owned(),
                        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
                    )),
                    None,
                )
            }
            None => {
                let dir = tempfile::tempdir()?;
                let url = format!(
                    "sqlite://{}?mode=rwc",
                    dir.path().join("bench.db").display()
                );
                (url, None, Some(dir))
            }
        };
        let url = SecretString::from(url);
        let db = Db::connect(&url).await?;
        Ok(BenchDb {
            db,
            url,
            drop_sql,
            _dir: dir,
        })
    }

    /// Closes the pool and drops a PostgreSQL database.
    pub async fn remove(self) {
        let _ = self.db.close().await;
        if let Some((server, sql)) = self.drop_sql
            && let Ok(admin) = Db::connect(&SecretString::from(server)).await
        {
            let _ = admin.conn().execute_unprepared(&sql).await;
            let _ = admin.close().await;
        }
    }
}
