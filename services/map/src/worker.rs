//! `map worker <system>`: the system's outbox relay and its consumers (one
//! per queue of the topology it consumes), on RabbitMQ. `map dev` runs the
//! same set for every system on the in-process bus.

use anyhow::Context as _;
use map_kit::{
    System,
    bus::{Bus, Consumer, Relay, RelayConfig},
    config::{LogArgs, ServiceArgs, ServiceConfig},
    db::Db,
    server::{GrpcServer, Readiness, shutdown_signal},
    telemetry,
};
use secrecy::SecretString;
use tokio::{sync::watch, task::JoinSet};

/// Flags of `map worker` beyond the service's.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// Where the worker serves `grpc.health.v1` (readiness follows the
    /// database, `liveness` the process); default `0.0.0.0:<system port +
    /// 1000>` (9000–9004).
    #[arg(long, env = "MAP_HEALTH_LISTEN")]
    pub health_listen: Option<std::net::SocketAddr>,
    /// TESTS ONLY (feature `test-hooks`): also consume this queue of the
    /// topology with the probe handler, which records each handled event in
    /// the table `bus_probe` (created if missing).
    #[cfg(feature = "test-hooks")]
    #[arg(long, env = "MAP_WORKER_PROBE_QUEUE", hide = true)]
    pub probe_queue: Option<String>,
}

/// Where a worker reaches Auth: its URL and this system's API key
/// (`MAP_AUTH_URL`, `MAP_AUTH_API_KEY`; every system but Auth).
pub struct AuthAccess {
    /// Where Auth is (`MAP_AUTH_URL`, with its TLS).
    pub target: map_kit::authn::AuthTarget,
    /// This system's key (role `auth:service`).
    pub api_key: SecretString,
}

/// How often the directory is compared with Auth's after its backfill.
const DIRECTORY_RECONCILE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Spawns the relay, consumers, timer worker, the pruner of stale uploads
/// (when it holds files) and (with `auth`) the directory's backfill and
/// reconcile of the system `config` is for, on `tasks`; they stop when
/// `stop` turns true.
pub fn spawn(
    config: &ServiceConfig,
    db: &Db,
    bus: &Bus,
    auth: Option<&AuthAccess>,
    extra: Vec<Consumer>,
    stop: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let system = config.system;
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let relay = Relay::new(system, db.clone(), bus.clone(), RelayConfig::default());
    tasks.spawn(relay.run(stopped(stop.clone())));
    if let Some(auth) = auth.filter(|_| system != System::Auth) {
        let channel = map_kit::authn::auth_channel(&auth.target);
        let directory = map_kit::directory::Directory::new(db.clone(), channel, &auth.api_key)?;
        tasks.spawn(directory.run_reconcile(DIRECTORY_RECONCILE, stopped(stop.clone())));
    }
    let module = crate::systems::of(system);
    let timers = map_kit::timers::TimerWorker::new(
        db.clone(),
        map_kit::clock::Clock::system(),
        map_kit::timers::TimerWorkerConfig::default(),
    );
    let parts = crate::systems::Worker {
        config,
        db,
        bus,
        auth,
    };
    tasks.spawn((module.timers)(timers, &parts).run(stopped(stop.clone())));
    if module.holds_files {
        tasks.spawn(map_kit::uploads::run_pruner(
            db.clone(),
            map_kit::clock::Clock::system(),
            map_kit::uploads::PRUNE_EVERY,
            stopped(stop.clone()),
        ));
    }
    let consumers = (module.consumers)(&parts)?;
    for consumer in consumers.into_iter().chain(extra) {
        let queue = consumer.queue();
        let until = stopped(stop.clone());
        tasks.spawn(async move {
            if let Err(error) = consumer.run(until).await {
                tracing::error!(queue, %error, "consumer failed");
            }
        });
    }
    Ok(())
}

pub async fn run(
    system: System,
    args: &ServiceArgs,
    worker: &WorkerArgs,
    check: crate::cli::CheckConfig,
    log: &LogArgs,
) -> anyhow::Result<()> {
    let config = args.validate(system, true)?;
    config.require_auth()?;
    let Some(amqp_url) = config.amqp_url.as_ref() else {
        anyhow::bail!(
            "invalid configuration: MAP_AMQP_URL (--amqp-url): is required by `map worker` \
             (the in-process bus exists only inside `map dev`)"
        );
    };
    if check.done(&format!("worker {system}")) {
        return Ok(());
    }
    let guard = telemetry::init(&format!("map-worker-{system}"), log.log_format, &log.log)?;
    let db = Db::connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to {system}'s database"))?;
    let bus = Bus::connect(Some(amqp_url), &config.amqp_prefix)
        .await
        .context("connecting to RabbitMQ")?;
    #[cfg_attr(not(feature = "test-hooks"), allow(unused_mut))]
    let mut extra = Vec::new();
    #[cfg(feature = "test-hooks")]
    if let Some(queue) = &worker.probe_queue {
        use map_kit::bus::{ConsumerConfig, probe};
        probe::ensure_table(&db).await?;
        extra.push(Consumer::new(
            queue,
            db.clone(),
            bus.clone(),
            probe::ProbeHandler::new(queue.clone()),
            ConsumerConfig::default(),
        )?);
        tracing::warn!(%queue, "probe consumer enabled (test and diagnostics only)");
    }
    let health_addr = worker.health_listen.unwrap_or_else(|| {
        std::net::SocketAddr::from(([0, 0, 0, 0], system.default_port() + 1000))
    });
    let health_listener = tokio::net::TcpListener::bind(health_addr)
        .await
        .with_context(|| format!("binding {health_addr} (MAP_HEALTH_LISTEN)"))?;
    let health_addr = health_listener.local_addr()?;
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    let auth = config
        .auth
        .clone()
        .zip(config.auth_api_key.clone())
        .map(|(target, api_key)| AuthAccess { target, api_key });
    spawn(
        &config,
        &db,
        &bus,
        auth.as_ref(),
        extra,
        &stop_rx,
        &mut tasks,
    )?;
    // Health only: no API on the worker's port.
    let health = GrpcServer::new(format!("{system}-worker"))
        .readiness(Readiness::of(db.clone()))
        .grace(std::time::Duration::from_secs(1));
    let mut health_stop = stop_rx.clone();
    let health = tokio::spawn(health.serve(health_listener, async move {
        let _ = health_stop.wait_for(|s| *s).await;
    }));
    tracing::info!(%system, health = %health_addr, "worker running");

    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("worker tasks still running after the grace period");
    }
    if let Ok(Err(e)) = health.await {
        tracing::error!(error = %e, "worker health server failed");
    }
    bus.close().await;
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}
