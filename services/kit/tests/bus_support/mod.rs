//! The harness of the bus tests: a bus of the chosen backend under a fresh
//! prefix, producer and consumer databases, event helpers, recording
//! handlers, and a guard that restores a stopped broker.
#![allow(dead_code, clippy::unwrap_used)] // each test binary uses a part

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use map_contracts::events::v1::{AuthUserCreated, UserSnapshot};
use map_kit::{
    System,
    bus::{Bus, Event, Handler, HandlerError, Relay, RelayConfig, probe},
    outbox::{NewEvent, Outbox},
    testing::{
        AmqpCleanup, Backend as DbBackend, TestDb, amqp_prefix, amqp_url, expose, postgres_url,
    },
};
use sea_orm::DatabaseTransaction;
use secrecy::SecretString;
use tokio::sync::{mpsc, watch};

/// Which transport a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    InProcess,
    RabbitMq,
}

/// A bus under its own prefix plus a producer (Auth) and a consumer (TTS)
/// database. On drop, the prefix's exchanges and queues are deleted.
pub struct Fixture {
    pub bus: Bus,
    pub producer: TestDb,
    pub consumer: TestDb,
    pub backend: Backend,
    amqp: Option<(SecretString, String)>,
    /// Declared last: dropped after the bus, deleting the prefix's topology.
    _cleanup: Option<AmqpCleanup>,
}

impl Fixture {
    /// `None` (and a line on stderr) when the backend is RabbitMQ and
    /// `MAP_TEST_AMQP_URL` is unset.
    pub async fn new(backend: Backend) -> Option<Fixture> {
        let prefix = amqp_prefix();
        let (bus, amqp) = match backend {
            Backend::InProcess => (Bus::in_process(&prefix), None),
            Backend::RabbitMq => {
                let url = amqp_url()?;
                let bus = Bus::connect(Some(&url), &prefix)
                    .await
                    .unwrap_or_else(|e| panic!("MAP_TEST_AMQP_URL is set but: {e}"));
                (bus, Some((url, prefix)))
            }
        };
        // Each bus with the database it runs beside: the in-process bus with
        // SQLite (`map dev`), RabbitMQ with PostgreSQL (production). The
        // full 2×2 is for end-to-end flow tests only.
        let database = match backend {
            Backend::InProcess => DbBackend::Sqlite,
            Backend::RabbitMq => {
                postgres_url()?;
                DbBackend::Postgres
            }
        };
        let producer = TestDb::on::<map_migrations::auth::Migrator>(database).await;
        let consumer = TestDb::on::<map_migrations::tts::Migrator>(database).await;
        probe::ensure_table(&consumer.db).await.unwrap();
        let cleanup = amqp
            .as_ref()
            .map(|(url, prefix)| AmqpCleanup::new(url, prefix));
        Some(Fixture {
            bus,
            producer,
            consumer,
            backend,
            amqp,
            _cleanup: cleanup,
        })
    }

    /// The broker URL and prefix (RabbitMQ only), e.g. for a child process.
    pub fn amqp(&self) -> Option<(String, String)> {
        self.amqp
            .as_ref()
            .map(|(u, p)| (expose(u).to_owned(), p.clone()))
    }

    /// A relay of Auth's outbox with a fast poll, running until `stop`.
    pub fn spawn_relay(&self, stop: &watch::Receiver<bool>) -> tokio::task::JoinHandle<()> {
        self.spawn_relay_with(fast_relay(), stop)
    }

    /// A relay of Auth's outbox configured by `config`, running until `stop`.
    pub fn spawn_relay_with(
        &self,
        config: RelayConfig,
        stop: &watch::Receiver<bool>,
    ) -> tokio::task::JoinHandle<()> {
        let relay = Relay::new(
            System::Auth,
            self.producer.db.clone(),
            self.bus.clone(),
            config,
        );
        let mut stop = stop.clone();
        tokio::spawn(relay.run(async move {
            let _ = stop.wait_for(|s| *s).await;
        }))
    }
}

pub fn fast_relay() -> RelayConfig {
    RelayConfig {
        poll_interval: Duration::from_millis(20),
        backoff_min: Duration::from_millis(50),
        backoff_max: Duration::from_millis(500),
        ..RelayConfig::default()
    }
}

/// An `auth.user.created` event for user `subject` at `version`.
pub fn user_created(subject: &str, version: i64, name: &str) -> NewEvent {
    NewEvent::new(
        "auth.user.created",
        subject,
        version,
        &AuthUserCreated {
            user: Some(UserSnapshot {
                id: subject.to_owned(),
                email: format!("{name}@example.org"),
                display_name: name.to_owned(),
                active: true,
                version,
                ..UserSnapshot::default()
            }),
            actor_user_id: String::new(),
        },
    )
}

/// Enqueues `events` in Auth's outbox, one transaction; returns their ids.
pub async fn enqueue(db: &map_kit::db::Db, events: Vec<NewEvent>) -> Vec<String> {
    let outbox = Outbox::new(System::Auth);
    let txn = db.begin_write().await.unwrap();
    let mut ids = Vec::new();
    for e in events {
        ids.push(outbox.enqueue(&txn, e).await.unwrap().to_string());
    }
    txn.commit().await.unwrap();
    ids
}

/// Sends the bus's and lapin's log lines to the test's captured output, so a
/// failing run shows what the connection went through (`RUST_LOG` overrides).
pub fn capture_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "map_kit::bus=debug,lapin=info".into());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_test_writer()
        .try_init();
}

pub use map_kit::testing::eventually;

/// Records each handled event in `bus_probe` and reports it on a channel.
#[derive(Clone)]
pub struct Recorder {
    pub consumer: String,
    pub seen: mpsc::UnboundedSender<Event>,
    pub calls: Arc<AtomicUsize>,
}

impl Recorder {
    pub fn new(consumer: &str) -> (Recorder, mpsc::UnboundedReceiver<Event>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (
            Recorder {
                consumer: consumer.to_owned(),
                seen: tx,
                calls: Arc::new(AtomicUsize::new(0)),
            },
            rx,
        )
    }
}

#[async_trait::async_trait]
impl Handler for Recorder {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        probe::record(txn, &self.consumer, event.id()).await?;
        let _ = self.seen.send(event.clone());
        Ok(())
    }
}

/// Receives `n` events or fails after `within`.
pub async fn receive(
    rx: &mut mpsc::UnboundedReceiver<Event>,
    n: usize,
    within: Duration,
) -> Vec<Event> {
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + within;
    while got.len() < n {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(e)) => got.push(e),
            Ok(None) => panic!("handler channel closed after {} events", got.len()),
            Err(_) => panic!("received {} of {n} events in {within:?}", got.len()),
        }
    }
    got
}

/// Runs `rabbitmqctl <args>`, failing the test if it fails.
pub fn rabbitmqctl(args: &[&str]) {
    let status = std::process::Command::new("rabbitmqctl")
        .args(args)
        .status()
        .unwrap_or_else(|e| panic!("rabbitmqctl {args:?}: {e}"));
    assert!(status.success(), "rabbitmqctl {args:?} failed: {status}");
}

/// Stops the broker's application; starts it again on drop, whatever
/// happened (a panic included), and waits until it accepts work.
pub struct BrokerStopped;

impl BrokerStopped {
    pub fn stop() -> BrokerStopped {
        let guard = BrokerStopped;
        rabbitmqctl(&["-q", "stop_app"]);
        guard
    }
}

impl Drop for BrokerStopped {
    fn drop(&mut self) {
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["-q", "start_app"])
            .status();
        let _ = std::process::Command::new("rabbitmqctl")
            .args(["-q", "await_startup", "--timeout", "60"])
            .status();
    }
}
