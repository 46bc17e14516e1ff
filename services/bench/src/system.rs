//! What a system's own scenarios (AMS's `asset-*`, BMS's
//! `budget-expenses`) share: the system's real gRPC server on 127.0.0.1:0
//! with one caller admitted by one bearer token (the scenario measures the
//! system, not token validation), the single-row insert ceiling measured in
//! the same run, a small deterministic generator and the verdict words.

use std::{net::SocketAddr, sync::Arc};

use futures::future::BoxFuture;
use map_kit::{
    ApiError,
    authn::{Principal, PrincipalKind, RoleRef, Validator},
    db::Db,
    server::GrpcServer,
};
use sea_orm::{ConnectionTrait as _, DbErr, Statement};
use tokio::net::TcpListener;
use tonic::transport::Channel;

use crate::{LoadOptions, Report, run_load};

/// What a scenario returns.
pub type BenchResult<T> = Result<T, Box<dyn std::error::Error>>;

/// The bearer token of the one caller of a scenario.
pub const BEARER: &str = "bench-caller-token";

/// A person `id` holding `system:role` for each of `roles`.
pub fn caller(id: &str, department: &str, roles: &[(&str, &str)]) -> Principal {
    Principal {
        id: id.into(),
        kind: PrincipalKind::User,
        email: "caller@bench.local".into(),
        display_name: "Bench caller".into(),
        department: department.into(),
        roles: roles
            .iter()
            .map(|(system, role)| RoleRef {
                system: (*system).into(),
                role: (*role).into(),
            })
            .collect(),
    }
}

/// Admits [`BEARER`] as one principal, nobody else.
#[derive(Debug)]
pub struct OneCaller(Arc<Principal>);

impl OneCaller {
    /// Admits `principal`.
    pub fn new(principal: Principal) -> OneCaller {
        OneCaller(Arc::new(principal))
    }
}

impl Validator for OneCaller {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Principal>>, ApiError>> {
        let found = (token == BEARER).then(|| self.0.clone());
        Box::pin(async move { Ok(found) })
    }
}

/// `message` with the caller's bearer token.
pub fn with_token<T>(message: T) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    if let Ok(value) = format!("Bearer {BEARER}").parse() {
        request.metadata_mut().insert("authorization", value);
    }
    request
}

/// A system's real gRPC server on 127.0.0.1:0, stopped by
/// [`Served::stop`].
#[derive(Debug)]
pub struct Served {
    /// Where it listens.
    pub addr: SocketAddr,
    /// One connection to it.
    pub channel: Channel,
    stop: tokio::sync::oneshot::Sender<()>,
    serving: tokio::task::JoinHandle<Result<(), map_kit::server::ServeError>>,
}

impl Served {
    /// Serves `server`.
    pub async fn start(server: GrpcServer) -> BenchResult<Served> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(listener, async {
            let _ = stopped.await;
        }));
        let channel = Channel::from_shared(format!("http://{addr}"))?
            .tcp_nodelay(true)
            .connect()
            .await?;
        Ok(Served {
            addr,
            channel,
            stop,
            serving,
        })
    }

    /// Stops the server and waits for it.
    pub async fn stop(self) {
        let _ = self.stop.send(());
        let _ = self.serving.await;
    }
}

/// The ceiling of anything that commits a row per call, as
/// `map bench next-assignee` measures it: one `INSERT` of a fresh row per
/// transaction, on a table of its own in `db`, driven by `load`.
pub async fn insert_ceiling(db: &Db, load: &LoadOptions) -> Result<Report, DbErr> {
    db.conn()
        .execute_unprepared("CREATE TABLE bench_insert (id VARCHAR(36) PRIMARY KEY)")
        .await?;
    let pool = db.clone();
    let report = run_load(
        "insert ceiling (one row per transaction)",
        load,
        move |_| {
            let db = pool.clone();
            async move {
                let txn = db.begin_write().await?;
                txn.execute_raw(Statement::from_sql_and_values(
                    db.backend(),
                    "INSERT INTO bench_insert (id) VALUES ($1)",
                    [uuid::Uuid::now_v7().to_string().into()],
                ))
                .await?;
                txn.commit().await
            }
        },
    )
    .await;
    db.conn()
        .execute_unprepared("DROP TABLE bench_insert")
        .await?;
    Ok(report)
}

/// "met" or "NOT met".
pub fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "NOT met" }
}

/// A small deterministic generator (SplitMix64) for synthetic data and the
/// callers' picks: no dependency, the same data for the same seed.
#[derive(Debug, Clone)]
pub struct Mix(u64);

impl Mix {
    /// Seeded with `seed`.
    pub fn new(seed: u64) -> Mix {
        Mix(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` ≥ 1).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }
}
