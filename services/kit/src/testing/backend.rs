//! Which database a test runs on. Every database-backed test runs on both:
//! [`db_tests!`](crate::db_tests) makes a `sqlite` and a `postgres` variant
//! of each test, and [`TestDb::new`](super::TestDb::new) inside a variant
//! makes that variant's database.

use std::future::Future;

use secrecy::SecretString;

/// A database backend of the tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// A temp-file SQLite database (`map dev`'s only backend).
    Sqlite,
    /// A new database on the PostgreSQL server of `MAP_TEST_DATABASE_URL`.
    Postgres,
}

tokio::task_local! {
    static CURRENT: Backend;
}

impl Backend {
    /// The backend of the running [`db_tests!`](crate::db_tests) variant;
    /// SQLite outside one.
    pub fn current() -> Backend {
        CURRENT.try_with(|b| *b).unwrap_or(Backend::Sqlite)
    }

    /// Runs `test` with `self` as the current backend. PostgreSQL without
    /// `MAP_TEST_DATABASE_URL` records a skip and does not run the test (a
    /// failure under CI, see [`skip`](super::skip)).
    pub async fn run(self, test: impl Future<Output = ()>) {
        if self == Backend::Postgres && postgres_url().is_none() {
            return;
        }
        CURRENT.scope(self, test).await;
    }
}

/// The PostgreSQL server to test against (`MAP_TEST_DATABASE_URL`), or
/// `None` after recording a skip (a failure under CI).
pub fn postgres_url() -> Option<SecretString> {
    super::skip::service_url("MAP_TEST_DATABASE_URL", "PostgreSQL").map(SecretString::from)
}

/// The RabbitMQ to test against (`MAP_TEST_AMQP_URL`), or `None` after
/// recording a skip (a failure under CI). A test that can use the
/// in-process bus instead asks for RabbitMQ only in its RabbitMQ variant.
pub fn amqp_url() -> Option<SecretString> {
    super::skip::service_url("MAP_TEST_AMQP_URL", "RabbitMQ").map(SecretString::from)
}

/// Declares database-backed tests that each run on both backends: every
/// `async fn name() { … }` (with its attributes, e.g. `#[tokio::test]`)
/// becomes a module `name` with the tests `sqlite` and `postgres`, so the
/// test output shows `name::sqlite` and `name::postgres`. Inside the body,
/// [`TestDb::new`](crate::testing::TestDb::new) makes the variant's
/// database and [`Backend::current`] names it.
///
/// ```text
/// map_kit::db_tests! {
///     #[tokio::test]
///     async fn a_row_survives_a_restart() {
///         let db = TestDb::new::<map_migrations::auth::Migrator>().await;
///         …
///     }
/// }
/// ```
#[macro_export]
macro_rules! db_tests {
    ($( $(#[$attr:meta])* async fn $name:ident() $body:block )*) => {
        $(
            mod $name {
                #[allow(unused_imports)]
                use super::*;

                $(#[$attr])*
                async fn sqlite() {
                    $crate::testing::Backend::Sqlite.run(async move { $body }).await
                }

                $(#[$attr])*
                async fn postgres() {
                    $crate::testing::Backend::Postgres.run(async move { $body }).await
                }
            }
        )*
    };
}
