//! The test harness every crate reuses (feature `testing`): a fresh database
//! per test with migrations applied, on SQLite and on PostgreSQL
//! ([`db_tests!`](crate::db_tests) runs a test on both), a unique AMQP
//! prefix, a real gRPC server on port 0, and skips that never pass silently
//! ([`skip`]: a test lacking PostgreSQL, RabbitMQ or a tool fails under `CI`
//! and is counted as skipped elsewhere), callers and a [`FakeValidator`]
//! standing in for Auth, and the authorization matrix generated from a
//! service's policy ([`check_policy_matrix`]).
//!
//! `MAP_TEST_DATABASE_URL` names a PostgreSQL server on which each
//! PostgreSQL test gets a new database of its own; `MAP_TEST_AMQP_URL` names
//! the RabbitMQ to test against. `cargo xtask test` sets both when it finds
//! the services on their default local ports.

mod backend;
mod callers;
pub mod directory;
mod eventually;
mod pki;
mod policy_matrix;
mod ports;
mod skip;
mod status;
mod test_bus;

use std::{future::Future, net::SocketAddr};

use sea_orm::{ConnectionTrait, Database};
use sea_orm_migration::MigratorTrait;
use secrecy::{ExposeSecret, SecretString};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tonic::transport::{Channel, Endpoint};

pub use backend::{Backend, amqp_url, postgres_url};
pub use callers::{Caller, FakeValidator, principal};
pub use eventually::{eventually, poll_until};
pub use pki::{Issued, IssuedFiles, TestCa};
pub use policy_matrix::{RawCodec, call_raw, check_policy_matrix};
pub use ports::ReservedPort;
pub use skip::{current_test, needs, skip, tool, under_ci};
pub use status::{expect_err, fields, reason};
pub use test_bus::{TestBus, Transport};

use crate::{db::Db, server::GrpcServer};

/// A database of its own for one test, migrations applied. On PostgreSQL
/// the database is dropped with the `TestDb` when the test passed (keep the
/// `TestDb` alive as long as anything uses its pool); a failed test keeps it
/// for inspection (CI drops leftovers older than two hours). A temp-file
/// SQLite database goes with its directory.
#[derive(Debug)]
pub struct TestDb {
    /// The pool.
    pub db: Db,
    /// Its URL, e.g. for a child process.
    pub url: SecretString,
    /// Which backend it is on.
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    /// PostgreSQL: the server URL and the database's name, to drop it.
    drop_from: Option<(SecretString, String)>,
}

impl TestDb {
    /// A database on the [current backend](Backend::current) with `M`'s
    /// migrations applied: inside a [`db_tests!`](crate::db_tests) variant
    /// that variant's backend, SQLite anywhere else.
    ///
    /// # Panics
    /// When the database cannot be made or migrations fail.
    pub async fn new<M: MigratorTrait>() -> TestDb {
        TestDb::on::<M>(Backend::current()).await
    }

    /// A database on `backend` with `M`'s migrations applied.
    ///
    /// # Panics
    /// When the database cannot be made (PostgreSQL: `MAP_TEST_DATABASE_URL`
    /// unset or unusable), or migrations fail.
    pub async fn on<M: MigratorTrait>(backend: Backend) -> TestDb {
        let db = TestDb::empty(backend).await;
        crate::db::migrate::<M>(&db.url)
            .await
            .expect("migrations apply to the test database");
        db
    }

    /// An empty database on `backend`, no migration applied (e.g. to load a
    /// fixture into).
    ///
    /// # Panics
    /// When the database cannot be made (PostgreSQL: `MAP_TEST_DATABASE_URL`
    /// unset or unusable).
    pub async fn empty(backend: Backend) -> TestDb {
        let (url, dir, drop_from) = match backend {
            Backend::Postgres => {
                let server = std::env::var("MAP_TEST_DATABASE_URL")
                    .ok()
                    .filter(|u| !u.is_empty())
                    .expect(
                        "a PostgreSQL test needs MAP_TEST_DATABASE_URL (see testing::postgres_url)",
                    );
                let (url, name) = create_postgres_database(&server).await;
                (url, None, Some((SecretString::from(server), name)))
            }
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir for the test database");
                let url = format!("sqlite://{}?mode=rwc", dir.path().join("test.db").display());
                (SecretString::from(url), Some(dir), None)
            }
        };
        let db = Db::connect(&url)
            .await
            .expect("connect to the test database");
        TestDb {
            db,
            url,
            backend,
            _dir: dir,
            drop_from,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((server, name)) = self.drop_from.take() else {
            return;
        };
        if std::thread::panicking() {
            eprintln!("test failed: its database {name} is kept for inspection");
            return;
        }
        // FORCE ends the connections still in the pool.
        on_a_runtime_of_its_own(async move {
            if let Ok(admin) = Database::connect(server.expose_secret()).await {
                let _ = admin
                    .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
                let _ = admin.close().await;
            }
        });
    }
}

/// Runs `cleanup` to the end on a thread and runtime of its own: a drop may
/// happen while the test's runtime shuts down, or in a panicking test.
fn on_a_runtime_of_its_own(cleanup: impl Future<Output = ()> + Send + 'static) {
    let _ = std::thread::spawn(move || {
        if let Ok(rt) = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
        {
            rt.block_on(cleanup);
        }
    })
    .join();
}

/// Creates a database named `map_test_<uuidv7>` on `server`; returns its URL
/// and name.
async fn create_postgres_database(server: &str) -> (SecretString, String) {
    let name = format!("map_test_{}", uuid::Uuid::now_v7().simple());
    let admin = Database::connect(server)
        .await
        .unwrap_or_else(|e| panic!("MAP_TEST_DATABASE_URL is set but unreachable: {e}"));
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .unwrap_or_else(|e| panic!("cannot create test database {name}: {e}"));
    let _ = admin.close().await;
    // Replace the database path of the server URL, keeping its query.
    let (base, query) = server
        .split_once('?')
        .map_or((server, None), |(b, q)| (b, Some(q)));
    let authority_end = base.find("://").map_or(0, |i| i + 3);
    let base = match base[authority_end..].find('/') {
        Some(slash) => &base[..authority_end + slash],
        None => base,
    };
    let url = SecretString::from(match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    });
    (url, name)
}

/// A unique prefix for exchange and queue names, so parallel tests never
/// consume each other's messages.
pub fn amqp_prefix() -> String {
    format!("t{}.", &uuid::Uuid::now_v7().simple().to_string()[20..])
}

/// Deletes the queues and exchanges of an AMQP prefix when dropped, even
/// when the test panicked, so a failed run leaves nothing in the broker
/// (a leftover quorum queue keeps its messages and its share of the
/// broker's work). Holds the URL and prefix a test connected with.
#[derive(Debug)]
pub struct AmqpCleanup {
    url: SecretString,
    prefix: String,
}

impl AmqpCleanup {
    /// Cleans up `prefix` on the broker at `url` on drop.
    pub fn new(url: &SecretString, prefix: &str) -> AmqpCleanup {
        AmqpCleanup {
            url: url.clone(),
            prefix: prefix.to_owned(),
        }
    }
}

impl Drop for AmqpCleanup {
    fn drop(&mut self) {
        let (url, prefix) = (self.url.clone(), std::mem::take(&mut self.prefix));
        on_a_runtime_of_its_own(async move {
            if let Ok(bus) = crate::bus::Bus::connect(Some(&url), &prefix).await {
                let _ = bus.delete_topology().await;
                bus.close().await;
            }
        });
    }
}

/// A real gRPC server on an ephemeral port.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<Result<(), crate::server::ServeError>>,
}

impl TestServer {
    /// Binds 127.0.0.1:0 and serves `server` in the background.
    ///
    /// # Panics
    /// When no port can be bound, or a service's policy misses a method.
    pub async fn start(server: GrpcServer) -> TestServer {
        if let Err(e) = server.check_policies() {
            panic!("the server would refuse to start: {e}");
        }
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        TestServer {
            addr,
            stop: Some(stop),
            task,
        }
    }

    /// `http://addr`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A connected channel.
    ///
    /// # Panics
    /// When the server does not accept the connection.
    pub async fn channel(&self) -> Channel {
        Endpoint::from_shared(self.url())
            .expect("valid url")
            .connect()
            .await
            .expect("connect to test server")
    }

    /// Begins shutdown without waiting.
    pub fn begin_shutdown(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Whether the server task has returned.
    pub fn is_finished(&self) -> bool {
        self.task.is_finished()
    }

    /// Shuts down and waits for the server to return.
    ///
    /// # Panics
    /// When the server failed.
    pub async fn stop(mut self) {
        self.begin_shutdown();
        (&mut self.task)
            .await
            .expect("server task")
            .expect("server ran cleanly");
    }
}

/// Exposes a secret URL to test code (e.g. to pass it to a child process).
pub fn expose(url: &SecretString) -> &str {
    url.expose_secret()
}
