//! Parked events: an event whose handler cannot apply it *yet* waits in the
//! consumer's database — acknowledged on the broker, re-driven with backoff
//! — instead of going to the dead-letter queue:
//! - a service the handler calls out to (a real gRPC server) is down for
//!   longer than the consumer's in-process retries: the events are parked,
//!   re-driven while it stays down, and applied once it comes up, each
//!   exactly once, none dead-lettered;
//! - an event that arrives before the one it depends on waits for it;
//! - an event parked for longer than the limit is dead-lettered with the
//!   reason.
//!
//! On the in-process bus with SQLite and on RabbitMQ with PostgreSQL.
#![allow(clippy::unwrap_used)]

mod bus_support;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex},
    time::Duration,
};

use bus_support::{Backend, Fixture, enqueue, eventually, user_created};
use map_kit::{
    bus::{
        Consumer, ConsumerConfig, ERROR_HEADER, Event, Handler, HandlerError, Prepared, parked,
        probe,
    },
    testing::ReservedPort,
};
use sea_orm::DatabaseTransaction;
use tokio::sync::watch;
use tonic::transport::Endpoint;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

const WAIT: Duration = Duration::from_secs(30);
const QUEUE: &str = "tts.user-sync";

/// Retries in process quickly and briefly, re-drives parked events soon.
fn config() -> ConsumerConfig {
    ConsumerConfig {
        batch: 1,
        max_attempts: 2,
        retry_min: Duration::from_millis(10),
        retry_max: Duration::from_millis(20),
        park_retry_min: Duration::from_millis(100),
        park_retry_max: Duration::from_millis(400),
        ..ConsumerConfig::default()
    }
}

fn start(
    fx: &Fixture,
    handler: impl Handler,
    config: ConsumerConfig,
    stop: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let consumer = Consumer::new(
        QUEUE,
        fx.consumer.db.clone(),
        fx.bus.clone(),
        handler,
        config,
    )
    .unwrap();
    let mut until = stop.clone();
    tokio::spawn(async move {
        consumer
            .run(async move {
                let _ = until.wait_for(|s| *s).await;
            })
            .await
            .unwrap();
    })
}

async fn parked_rows(fx: &Fixture) -> Vec<parked::Parked> {
    parked::list(fx.consumer.db.conn(), QUEUE, 100)
        .await
        .unwrap()
}

/// Calls a real gRPC health service before each event's transaction (as a
/// ticket consumer calls Auth's NextAssignee); unreachable is transient.
struct CallsOut {
    url: String,
}

#[async_trait::async_trait]
impl Handler for CallsOut {
    async fn prepare(&self, _event: &Event) -> Result<Option<Prepared>, HandlerError> {
        let unavailable =
            |e: String| HandlerError::Transient(format!("dependency unavailable: {e}"));
        let channel = Endpoint::from_shared(self.url.clone())
            .unwrap()
            .connect_timeout(Duration::from_millis(500))
            .timeout(Duration::from_secs(2))
            .connect()
            .await
            .map_err(|e| unavailable(e.to_string()))?;
        let status = HealthClient::new(channel)
            .check(HealthCheckRequest::default())
            .await
            .map_err(|e| unavailable(e.message().to_owned()))?
            .into_inner()
            .status;
        Ok(Some(Arc::new(status)))
    }

    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        if event.prepared::<i32>().is_none() {
            return Err(HandlerError::Permanent("nothing prepared".into()));
        }
        probe::record(txn, QUEUE, event.id()).await?;
        Ok(())
    }
}

async fn events_wait_parked_while_a_dependency_is_down(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    // Reserved, not listening: calls are refused until it serves.
    let port = ReservedPort::new();
    let handler = CallsOut {
        url: format!("http://{}", port.addr()),
    };
    let (stop_tx, stop) = watch::channel(false);
    let consumer = start(&fx, handler, config(), &stop);
    let relay = fx.spawn_relay(&stop);
    let ids = enqueue(
        &fx.producer.db,
        (0..3)
            .map(|i| user_created(&uuid::Uuid::now_v7().to_string(), 1, &format!("u{i}")))
            .collect(),
    )
    .await;

    // Parked, then re-driven (and postponed) at least twice each while the
    // dependency stays down: the outage outlasts the in-process retries.
    eventually("all three parked and re-driven twice", WAIT, || async {
        let rows = parked_rows(&fx).await;
        rows.len() == 3 && rows.iter().all(|r| r.attempts >= 2)
    })
    .await;
    let rows = parked_rows(&fx).await;
    let mut parked_ids: Vec<_> = rows.iter().map(|r| r.event_id.clone()).collect();
    parked_ids.sort();
    let mut expected = ids.clone();
    expected.sort();
    assert_eq!(parked_ids, expected);
    assert!(
        rows.iter()
            .all(|r| r.reason.contains("dependency unavailable")),
        "{rows:?}"
    );
    assert_eq!(probe::counts(&fx.consumer.db, QUEUE).await.unwrap(), (0, 0));

    // The dependency comes up: every parked event is applied, once.
    let (_reporter, health) = tonic_health::server::health_reporter();
    let listener = port.listen();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(health)
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );
    let db = fx.consumer.db.clone();
    eventually("the parked events to be applied", WAIT, || {
        let db = db.clone();
        async move { probe::counts(&db, QUEUE).await.unwrap() == (3, 3) }
    })
    .await;
    eventually("no event left parked", WAIT, || async {
        parked_rows(&fx).await.is_empty()
    })
    .await;
    // Applied, so none was dead-lettered (a dead-lettered row is never
    // re-driven), and the inbox holds each once.
    for id in &ids {
        assert!(
            map_kit::bus::inbox::contains(fx.consumer.db.conn(), QUEUE, id)
                .await
                .unwrap()
        );
    }
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
    relay.await.unwrap();
    server.abort();
}

/// Applies `second` only once `first` was applied (committed); answers
/// "not yet" before.
struct DependsOnFirst {
    applied: Arc<Mutex<HashSet<String>>>,
}

#[async_trait::async_trait]
impl Handler for DependsOnFirst {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let subject = event.envelope.subject.clone();
        if subject == "second" && !self.applied.lock().unwrap().contains("first") {
            return Err(HandlerError::NotYet("first not applied yet".into()));
        }
        probe::record(txn, QUEUE, event.id()).await?;
        Ok(())
    }
}

async fn an_event_that_comes_early_waits_for_the_one_it_needs(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let applied = Arc::new(Mutex::new(HashSet::new()));
    let order = Arc::new(Mutex::new(Vec::new()));
    let handler = DependsOnFirst {
        applied: applied.clone(),
    };
    let consumer = Consumer::new(
        QUEUE,
        fx.consumer.db.clone(),
        fx.bus.clone(),
        handler,
        config(),
    )
    .unwrap()
    .on_applied({
        let applied = applied.clone();
        let order = order.clone();
        move |event: &Event| {
            applied
                .lock()
                .unwrap()
                .insert(event.envelope.subject.clone());
            order.lock().unwrap().push(event.envelope.subject.clone());
        }
    });
    let (stop_tx, stop) = watch::channel(false);
    let mut until = stop.clone();
    let running = tokio::spawn(consumer.run(async move {
        let _ = until.wait_for(|s| *s).await;
    }));
    let relay = fx.spawn_relay(&stop);

    enqueue(&fx.producer.db, vec![user_created("second", 1, "second")]).await;
    eventually("the early event to be parked", WAIT, || async {
        parked_rows(&fx).await.len() == 1
    })
    .await;
    let row = &parked_rows(&fx).await[0];
    assert_eq!(row.reason, "first not applied yet");

    enqueue(&fx.producer.db, vec![user_created("first", 1, "first")]).await;
    eventually("both applied", WAIT, || async {
        order.lock().unwrap().len() == 2
    })
    .await;
    assert_eq!(*order.lock().unwrap(), ["first", "second"]);
    eventually("no event left parked", WAIT, || async {
        parked_rows(&fx).await.is_empty()
    })
    .await;
    assert_eq!(probe::counts(&fx.consumer.db, QUEUE).await.unwrap(), (2, 2));
    let _ = stop_tx.send(true);
    running.await.unwrap().unwrap();
    relay.await.unwrap();
}

/// Never ready.
struct NeverReady;

#[async_trait::async_trait]
impl Handler for NeverReady {
    async fn handle(&self, _: &Event, _: &DatabaseTransaction) -> Result<(), HandlerError> {
        Err(HandlerError::NotYet("still waiting".into()))
    }
}

async fn an_event_parked_too_long_is_dead_lettered(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let config = ConsumerConfig {
        park_for: Duration::ZERO,
        ..config()
    };
    let (stop_tx, stop) = watch::channel(false);
    let consumer = start(&fx, NeverReady, config, &stop);
    let relay = fx.spawn_relay(&stop);
    let mut dlq = fx.bus.subscribe(&format!("{QUEUE}.dlq"), 4).await.unwrap();
    let ids = enqueue(&fx.producer.db, vec![user_created("u1", 1, "u1")]).await;

    let dead = tokio::time::timeout(WAIT, dlq.next())
        .await
        .expect("the event to be dead-lettered")
        .unwrap();
    assert_eq!(dead.message_id.as_deref(), Some(ids[0].as_str()));
    let reason = dead.headers.get(ERROR_HEADER).cloned().unwrap_or_default();
    assert!(
        reason.contains("longer than the limit") && reason.contains("still waiting"),
        "{reason}"
    );
    // The dead letter carries the event as delivered.
    let envelope: map_contracts::events::v1::Envelope =
        prost::Message::decode(dead.body.as_slice()).unwrap();
    assert_eq!(envelope.id, ids[0]);
    dead.ack().await.unwrap();
    eventually("the parked row to be gone", WAIT, || async {
        parked_rows(&fx).await.is_empty()
    })
    .await;
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
    relay.await.unwrap();
}

macro_rules! on_both_buses {
    ($($name:ident),* $(,)?) => {
        mod in_process_with_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::InProcess).await;
                }
            )*
        }
        mod rabbitmq_with_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name(super::Backend::RabbitMq).await;
                }
            )*
        }
    };
}

on_both_buses!(
    events_wait_parked_while_a_dependency_is_down,
    an_event_that_comes_early_waits_for_the_one_it_needs,
    an_event_parked_too_long_is_dead_lettered,
);
