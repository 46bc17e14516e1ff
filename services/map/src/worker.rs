//! `map worker <system>`: the system's outbox relay and its consumers (one
//! per queue of the topology it consumes), on RabbitMQ. `map dev` runs the
//! same set for every system on the in-process bus.

use anyhow::Context as _;
use map_kit::{
    System,
    bus::{Bus, Consumer, Relay, RelayConfig},
    config::{LogArgs, ServiceArgs},
    db::Db,
    server::shutdown_signal,
    telemetry,
};
use tokio::{sync::watch, task::JoinSet};

/// Flags of `map worker` beyond the service's.
#[derive(Debug, Clone, clap::Args)]
pub struct WorkerArgs {
    /// TESTS ONLY (feature `test-hooks`): also consume this queue of the
    /// topology with the probe handler, which records each handled event in
    /// the table `bus_probe` (created if missing).
    #[cfg(feature = "test-hooks")]
    #[arg(long, env = "MAP_WORKER_PROBE_QUEUE", hide = true)]
    pub probe_queue: Option<String>,
}

/// The consumers `system`'s worker runs. A system adds its handlers here
/// when it implements its queues (see `map_kit::bus::topology::QUEUES`);
/// until then its queues buffer events for it.
pub fn consumers(system: System, _db: &Db, _bus: &Bus) -> anyhow::Result<Vec<Consumer>> {
    let consumers = match system {
        System::Auth | System::Ams | System::Bms | System::Tts | System::Hdts => Vec::new(),
    };
    Ok(consumers)
}

/// Spawns `system`'s relay and consumers on `tasks`; they stop when `stop`
/// turns true.
pub fn spawn(
    system: System,
    db: &Db,
    bus: &Bus,
    extra: Vec<Consumer>,
    stop: &watch::Receiver<bool>,
    tasks: &mut JoinSet<()>,
) -> anyhow::Result<()> {
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    let relay = Relay::new(system, db.clone(), bus.clone(), RelayConfig::default());
    tasks.spawn(relay.run(stopped(stop.clone())));
    for consumer in consumers(system, db, bus)?.into_iter().chain(extra) {
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
    log: &LogArgs,
) -> anyhow::Result<()> {
    let config = args.validate(system, true)?;
    let Some(amqp_url) = config.amqp_url.as_ref() else {
        anyhow::bail!(
            "invalid configuration: MAP_AMQP_URL (--amqp-url): is required by `map worker` \
             (the in-process bus exists only inside `map dev`)"
        );
    };
    let guard = telemetry::init(&format!("map-worker-{system}"), log.log_format, &log.log)?;
    let db = Db::connect(&config.database_url)
        .await
        .with_context(|| format!("connecting to {system}'s database"))?;
    let bus = Bus::connect(Some(amqp_url), &config.amqp_prefix)
        .await
        .context("connecting to RabbitMQ")?;
    #[cfg(not(feature = "test-hooks"))]
    let _ = worker;
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
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = JoinSet::new();
    spawn(system, &db, &bus, extra, &stop_rx, &mut tasks)?;
    tracing::info!(%system, "worker running");

    shutdown_signal().await;
    let _ = stop_tx.send(true);
    let drained = tokio::time::timeout(config.shutdown_grace, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!("worker tasks still running after the grace period");
    }
    bus.close().await;
    guard.shutdown(std::time::Duration::from_secs(5)).await;
    Ok(())
}
