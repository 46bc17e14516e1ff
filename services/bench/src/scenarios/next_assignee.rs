//! `next-assignee`: Auth's NextAssignee on PostgreSQL under load, beside
//! the same server's single-row insert transactions measured in the same
//! run (the ceiling of anything that commits a row per call; target ≥ 0.6×).
//!
//! Setup (not measured): a database of its own for each run on
//! `--database-server`, Auth migrated there, `--holders` users holding
//! `tts:agent`, an `auth:service` API key, Auth's real gRPC server on
//! 127.0.0.1:0. Each call asks for the next `tts:agent` with a fresh
//! request key (the realistic path: a consumer passes its event id, so a
//! redelivery gets the same agent) unless `--unkeyed`.
//!
//! Runs, in order, at the same concurrency:
//! 1. `insert ceiling`: one `INSERT` of a fresh row per transaction;
//! 2. `auth NextAssignee`: the calls over gRPC; the report's notes give the
//!    ratio to (1) and the fairness: the spread of picks between holders
//!    (max − min over every pick of the run, warm-up included).

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use map_auth::{Auth, AuthSettings, Keyset, users::NewUser};
use map_contracts::auth::v1::{NextAssigneeRequest, auth_service_client::AuthServiceClient};
use map_kit::authn::RoleRef;
use secrecy::ExposeSecret as _;
use tokio::{net::TcpListener, sync::oneshot};
use tonic::metadata::MetadataValue;

use super::{baseline, bench_db::BenchDb};
use crate::{LoadOptions, Report, run_load};

/// Flags of `map bench next-assignee`.
#[derive(Debug, Clone, clap::Args)]
pub struct NextAssigneeArgs {
    /// A PostgreSQL server (`postgres://…/postgres`): each run creates and
    /// drops a database of its own there.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
    /// Users holding the role.
    #[arg(long, default_value_t = 8)]
    pub holders: usize,
    /// HTTP/2 connections the callers share.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Calls without a request key (every call takes a turn, nothing is
    /// written).
    #[arg(long)]
    pub unkeyed: bool,
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Runs the scenario; the reports in the order of the module docs.
pub async fn run(opts: &LoadOptions, args: &NextAssigneeArgs) -> Result<Vec<Report>, BoxError> {
    let server = Some(args.database_server.as_str());
    let ceiling = insert_ceiling(opts, server).await?;

    let bench_db = BenchDb::create(server).await.map_err(|e| e.to_string())?;
    map_kit::db::migrate::<map_migrations::auth::Migrator>(&bench_db.url).await?;
    let auth = Auth::new(
        bench_db.db.clone(),
        AuthSettings::with_keys(Keyset::generate().0),
    );
    let mut holders = Vec::new();
    for i in 0..args.holders.max(1) {
        let created = auth
            .create_user(
                None,
                NewUser {
                    email: format!("agent{i}@example.com"),
                    display_name: format!("Agent {i}"),
                    department: String::new(),
                    password: None,
                    roles: vec![RoleRef {
                        system: "tts".into(),
                        role: "agent".into(),
                    }],
                },
            )
            .await?;
        holders.push(created.user.id);
    }
    let key = auth
        .create_api_key(
            None,
            "bench",
            vec![RoleRef {
                system: "auth".into(),
                role: "service".into(),
            }],
        )
        .await?;
    let key: MetadataValue<_> = key.secret.expose_secret().parse()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(map_auth::grpc_server(auth).serve(listener, async {
        let _ = stopped.await;
    }));
    let channels = baseline::channels(addr, args.connections.max(1)).await?;

    let picks: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
    let counted = picks.clone();
    let keyed = !args.unkeyed;
    let mut report = run_load("auth NextAssignee", opts, move |worker| {
        let mut client = AuthServiceClient::new(channels[worker % channels.len()].clone());
        let key = key.clone();
        let picks = counted.clone();
        async move {
            let mut request = tonic::Request::new(NextAssigneeRequest {
                system: "tts".into(),
                role: "agent".into(),
                request_key: if keyed {
                    uuid::Uuid::now_v7().to_string()
                } else {
                    String::new()
                },
            });
            request.metadata_mut().insert("x-api-key", key);
            let user = client.next_assignee(request).await?.into_inner().user;
            let id = user.map(|u| u.id).unwrap_or_default();
            *picks
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .entry(id)
                .or_default() += 1;
            Ok::<(), tonic::Status>(())
        }
    })
    .await;
    let _ = stop.send(());
    let counts = picks
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone();
    let per_holder: Vec<u64> = holders
        .iter()
        .map(|h| counts.get(h).copied().unwrap_or(0))
        .collect();
    let spread = per_holder.iter().max().unwrap_or(&0) - per_holder.iter().min().unwrap_or(&0);
    report.notes.push(format!(
        "{:.2}× the insert ceiling ({:.0} transactions/s)",
        report.throughput / ceiling.throughput.max(1.0),
        ceiling.throughput
    ));
    report.notes.push(format!(
        "fairness: {} holders, picks per holder {per_holder:?}, spread {spread}",
        holders.len()
    ));
    report.notes.push(format!(
        "request keys: {}",
        if keyed {
            "a fresh one per call (each pick recorded)"
        } else {
            "none"
        }
    ));
    bench_db.remove().await;
    Ok(vec![ceiling, report])
}

/// One single-row insert per transaction, on a database of its own.
async fn insert_ceiling(opts: &LoadOptions, server: Option<&str>) -> Result<Report, BoxError> {
    let bench_db = BenchDb::create(server).await.map_err(|e| e.to_string())?;
    let report = crate::system::insert_ceiling(&bench_db.db, opts).await;
    bench_db.remove().await;
    Ok(report?)
}
