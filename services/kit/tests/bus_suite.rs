//! The event backbone's behaviour, one suite run on both transports: the
//! in-process bus always, RabbitMQ when MAP_TEST_AMQP_URL is set (each test
//! under its own prefix, with its own databases).
#![allow(clippy::unwrap_used)]

mod bus_support;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bus_support::{
    Backend, Fixture, Recorder, enqueue, eventually, fast_relay, receive, user_created,
};
use map_contracts::events::v1::AuthUserCreated;
use map_kit::{
    System,
    bus::{
        Bus, Consumer, ConsumerConfig, ERROR_HEADER, Event, Handler, HandlerError, Outgoing, Relay,
        inbox, mirror::Freshness, parked, probe,
    },
    outbox::{NewEvent, Outbox, entity as outbox},
};
use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseTransaction, EntityTrait, Statement};
use tokio::sync::watch;
use uuid::Uuid;

const WAIT: Duration = Duration::from_secs(20);

fn consumer_config() -> ConsumerConfig {
    ConsumerConfig {
        prefetch: 16,
        batch: 8,
        concurrency: 2,
        max_attempts: 3,
        retry_min: Duration::from_millis(10),
        retry_max: Duration::from_millis(40),
        drain: Duration::from_secs(5),
        ..ConsumerConfig::default()
    }
}

/// Starts `handler` on `queue` against the fixture's consumer database.
fn start(
    fx: &Fixture,
    queue: &str,
    handler: impl Handler,
    config: ConsumerConfig,
    stop: &watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    let consumer = Consumer::new(
        queue,
        fx.consumer.db.clone(),
        fx.bus.clone(),
        handler,
        config,
    )
    .unwrap();
    let mut stop = stop.clone();
    tokio::spawn(async move {
        consumer
            .run(async move {
                let _ = stop.wait_for(|s| *s).await;
            })
            .await
            .unwrap();
    })
}

fn envelope_message(id: &str, event_type: &str, subject: &str, version: i64) -> Outgoing {
    let payload = prost_types::Any {
        type_url: "type.googleapis.com/map.events.v1.AuthUserCreated".into(),
        value: Vec::new(),
    };
    Outgoing::from_envelope(&map_contracts::events::v1::Envelope {
        id: id.to_owned(),
        r#type: event_type.to_owned(),
        source: event_type.split('.').next().unwrap_or_default().to_owned(),
        subject: subject.to_owned(),
        subject_version: version,
        payload: Some(payload),
        ..Default::default()
    })
}

/// An event enqueued in the producer's outbox is relayed, routed to the
/// consumer's queue, handled with the payload intact, recorded in the inbox,
/// and its outbox row is marked published.
async fn round_trip(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let (recorder, mut seen) = Recorder::new("tts.user-sync");
    let consumer = start(&fx, "tts.user-sync", recorder, consumer_config(), &stop);
    let relay = fx.spawn_relay(&stop);

    let user = Uuid::now_v7().to_string();
    let ids = enqueue(&fx.producer.db, vec![user_created(&user, 1, "ada")]).await;
    let got = receive(&mut seen, 1, WAIT).await;
    let event = &got[0];
    assert_eq!(event.id(), ids[0]);
    assert_eq!(event.event_type(), "auth.user.created");
    assert_eq!(event.envelope.source, "auth");
    assert_eq!(event.envelope.subject, user);
    let payload: AuthUserCreated = event.payload().unwrap();
    assert_eq!(payload.user.unwrap().display_name, "ada");
    // The handler saw it inside its transaction; the inbox row commits with
    // that transaction, just after.
    let consumer_db = fx.consumer.db.clone();
    let id = ids[0].clone();
    eventually("the event to be recorded in the inbox", WAIT, || {
        let (db, id) = (consumer_db.clone(), id.clone());
        async move {
            inbox::contains(db.conn(), "tts.user-sync", &id)
                .await
                .unwrap()
        }
    })
    .await;
    // Wrong payload type is a permanent error, not a panic.
    assert!(matches!(
        event.payload::<map_contracts::events::v1::HdtsTicketSubmitted>(),
        Err(HandlerError::Permanent(_))
    ));
    let producer = fx.producer.db.clone();
    eventually("the outbox row to be marked published", WAIT, || {
        let producer = producer.clone();
        async move {
            outbox::Entity::find()
                .all(producer.conn())
                .await
                .unwrap()
                .iter()
                .all(|r| r.published_at.is_some())
        }
    })
    .await;
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
    relay.await.unwrap();
}

/// Topic wildcards route each event to exactly the queues bound to it, and
/// every consumer queue gets its own copy. Each queue is read up to a
/// sentinel published last, so what precedes it is all that was routed there.
async fn wildcard_bindings_and_per_consumer_queues(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let published = [
        ("auth.user.created", "u1"),
        ("auth.role.granted", "u2"),
        ("hdts.ticket.submitted", "h1"),
        ("ams.asset.purchased", "a1"),
        ("tts.ticket.commented", "t1"),
        ("tts.sla.breached", "s1"),
    ];
    let mut messages: Vec<Outgoing> = published
        .iter()
        .map(|(t, s)| envelope_message(&Uuid::now_v7().to_string(), t, s, 1))
        .collect();
    // Sentinels: one event type reaching each queue family, published last.
    let sentinels = [
        "auth.user.deactivated",
        "hdts.ticket.closed",
        "ams.asset.purchased",
        "tts.ticket.assigned",
        "tts.sla.warning",
    ];
    for t in sentinels {
        messages.push(envelope_message(&Uuid::now_v7().to_string(), t, "end", 1));
    }
    for r in fx.bus.publish(&messages).await {
        r.unwrap();
    }
    let expected: BTreeMap<&str, Vec<&str>> = BTreeMap::from([
        ("tts.user-sync", vec!["u1", "u2"]),
        ("hdts.user-sync", vec!["u1", "u2"]),
        ("ams.user-sync", vec!["u1", "u2"]),
        ("bms.user-sync", vec!["u1", "u2"]),
        ("tts.ticket-tasks", vec!["h1"]),
        ("bms.asset-expenses", vec!["a1"]),
        ("hdts.ticket-updates", vec!["t1"]),
        ("tts.sla-escalations", vec!["s1"]),
    ]);
    for (queue, subjects) in expected {
        let mut sub = fx.bus.subscribe(queue, 32).await.unwrap();
        let mut got = Vec::new();
        loop {
            let m = tokio::time::timeout(WAIT, sub.next())
                .await
                .unwrap_or_else(|_| panic!("{queue}: no sentinel"))
                .unwrap();
            let env =
                <map_contracts::events::v1::Envelope as prost::Message>::decode(m.body.as_slice())
                    .unwrap();
            assert_eq!(m.message_id.as_deref(), Some(env.id.as_str()));
            assert_eq!(m.event_type.as_deref(), Some(env.r#type.as_str()));
            m.ack().await.unwrap();
            if env.subject == "end" {
                break;
            }
            got.push(env.subject);
        }
        assert_eq!(got, subjects, "{queue}");
    }
}

/// Events published while no consumer has ever run wait in its queue.
async fn nothing_published_before_the_consumer_started_is_lost(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let events = (0..50)
        .map(|i| user_created(&Uuid::now_v7().to_string(), 1, &format!("u{i}")))
        .collect();
    let ids: BTreeSet<String> = enqueue(&fx.producer.db, events).await.into_iter().collect();
    let relay = Relay::new(
        System::Auth,
        fx.producer.db.clone(),
        fx.bus.clone(),
        fast_relay(),
    );
    let outcome = relay.relay_batch().await.unwrap();
    assert_eq!((outcome.published, outcome.failed), (50, 0));

    let (recorder, mut seen) = Recorder::new("hdts.user-sync");
    let consumer = start(&fx, "hdts.user-sync", recorder, consumer_config(), &stop);
    let got: BTreeSet<String> = receive(&mut seen, 50, WAIT)
        .await
        .iter()
        .map(|e| e.id().to_owned())
        .collect();
    assert_eq!(got, ids);
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
}

/// The same event delivered twice runs the handler once; the duplicate is
/// acknowledged (a sentinel behind it is handled, with prefetch 1 so the
/// deliveries are processed in order).
async fn a_duplicate_delivery_runs_the_handler_once(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let id = Uuid::now_v7().to_string();
    let dup = envelope_message(&id, "auth.user.updated", "u1", 2);
    let sentinel_id = Uuid::now_v7().to_string();
    let sentinel = envelope_message(&sentinel_id, "auth.user.updated", "u2", 1);
    for r in fx.bus.publish(&[dup.clone(), dup, sentinel]).await {
        r.unwrap();
    }
    let (recorder, mut seen) = Recorder::new("ams.user-sync");
    let calls = recorder.calls.clone();
    let config = ConsumerConfig {
        prefetch: 1,
        ..consumer_config()
    };
    let consumer = start(&fx, "ams.user-sync", recorder, config, &stop);
    let got = receive(&mut seen, 2, WAIT).await;
    assert_eq!(got[0].id(), id);
    assert_eq!(got[1].id(), sentinel_id);
    // (the handler reports before its transaction commits)
    let db = fx.consumer.db.clone();
    eventually("both events committed", WAIT, || {
        let db = db.clone();
        async move { probe::counts(&db, "ams.user-sync").await.unwrap() == (2, 2) }
    })
    .await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the duplicate ran the handler"
    );
    // Nothing left to redeliver: the duplicate was acknowledged.
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
    let mut again = fx.bus.subscribe("ams.user-sync", 4).await.unwrap();
    let leftover = tokio::time::timeout(Duration::from_millis(300), again.next()).await;
    assert!(leftover.is_err(), "a message was left unacknowledged");
}

struct Failing {
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl Handler for Failing {
    async fn handle(&self, _: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        // A write that must be rolled back with the failed attempt.
        probe::record(txn, "failing", "x").await?;
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        Err(HandlerError::Transient(format!("boom #{n}")))
    }
}

/// A handler that keeps failing is retried, then the event is parked in the
/// consumer's database with the reason — not dead-lettered: a failure that
/// outlasts the retries is an outage, not a bad event — and nothing it
/// wrote (nor the inbox row) stays.
async fn a_failing_handler_parks_the_event_with_the_reason(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let calls = Arc::new(AtomicUsize::new(0));
    let config = ConsumerConfig {
        // no re-drive during the test: the count of calls stays put
        park_retry_min: Duration::from_secs(3600),
        ..consumer_config()
    };
    let consumer = start(
        &fx,
        "bms.user-sync",
        Failing {
            calls: calls.clone(),
        },
        config,
        &stop,
    );
    let id = Uuid::now_v7().to_string();
    for r in fx
        .bus
        .publish(&[envelope_message(&id, "auth.user.created", "u1", 1)])
        .await
    {
        r.unwrap();
    }
    let db = fx.consumer.db.clone();
    eventually("the event to be parked", WAIT, || {
        let db = db.clone();
        async move { parked::count(db.conn(), "bms.user-sync").await.unwrap() == 1 }
    })
    .await;
    let rows = parked::list(fx.consumer.db.conn(), "bms.user-sync", 10)
        .await
        .unwrap();
    assert_eq!(rows[0].event_id, id);
    assert_eq!(rows[0].event_type, "auth.user.created");
    assert!(
        rows[0].reason.contains("failed 3 times") && rows[0].reason.contains("boom #3"),
        "{}",
        rows[0].reason
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert!(
        !inbox::contains(fx.consumer.db.conn(), "bms.user-sync", &id)
            .await
            .unwrap()
    );
    assert_eq!(
        probe::counts(&fx.consumer.db, "failing").await.unwrap().0,
        0
    );
    // Parked means acknowledged: nothing waits in the queue.
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
    let mut again = fx.bus.subscribe("bms.user-sync", 4).await.unwrap();
    let leftover = tokio::time::timeout(Duration::from_millis(300), again.next()).await;
    assert!(
        leftover.is_err(),
        "the parked message was left unacknowledged"
    );
}

/// Fails for subject "bad" (permanently), records the others.
struct FailsOnBad;

#[async_trait::async_trait]
impl Handler for FailsOnBad {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        probe::record(txn, "fails-on-bad", event.id()).await?;
        if event.envelope.subject == "bad" {
            return Err(HandlerError::Permanent("subject is bad".into()));
        }
        Ok(())
    }
}

/// Deliveries waiting together are applied in batches; a bad event among
/// them goes to the DLQ alone, a duplicate among them is applied once, and
/// every other event is applied exactly once (the batch is rolled back and
/// its events applied one by one). How deliveries group into batches is up
/// to their arrival; with 20 adjacent pairs some pairs share a batch.
async fn a_bad_event_in_a_batch_holds_back_no_other(backend: Backend) {
    if let Some(fx) = Fixture::new(backend).await {
        a_bad_event_among_pairs(&fx, FailsOnBad, 20, 5).await;
    }
}

/// Publishes `n` events, each twice in a row (a redelivery landing in the
/// same batch), the one at `bad` with subject "bad", before `handler`
/// starts consuming them; then checks that the bad one alone went to the
/// DLQ with its reason and every other was applied exactly once, with its
/// inbox row.
async fn a_bad_event_among_pairs(fx: &Fixture, handler: impl Handler, n: usize, bad: usize) {
    let ids: Vec<String> = (0..n).map(|_| Uuid::now_v7().to_string()).collect();
    let messages: Vec<Outgoing> = ids
        .iter()
        .enumerate()
        .flat_map(|(i, id)| {
            let subject = if i == bad { "bad" } else { "good" };
            let m = envelope_message(id, "auth.user.created", subject, 1);
            [m.clone(), m]
        })
        .collect();
    // Published before the consumer starts, so they wait in its queue together.
    for r in fx.bus.publish(&messages).await {
        r.unwrap();
    }
    let (stop_tx, stop) = watch::channel(false);
    let consumer = start(fx, "bms.user-sync", handler, consumer_config(), &stop);
    let mut dlq = fx.bus.subscribe("bms.user-sync.dlq", 4).await.unwrap();
    let dead = tokio::time::timeout(WAIT, dlq.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.message_id.as_deref(), Some(ids[bad].as_str()));
    assert_eq!(
        dead.headers.get(ERROR_HEADER).map(String::as_str),
        Some("subject is bad")
    );
    dead.ack().await.unwrap();
    let db = fx.consumer.db.clone();
    let good = i64::try_from(n - 1).unwrap();
    eventually("the good events committed", WAIT, || {
        let db = db.clone();
        async move { probe::counts(&db, "fails-on-bad").await.unwrap() == (good, good) }
    })
    .await;
    for (i, id) in ids.iter().enumerate() {
        let recorded = inbox::contains(fx.consumer.db.conn(), "bms.user-sync", id)
            .await
            .unwrap();
        assert_eq!(recorded, i != bad, "inbox row of event {i}");
    }
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
}

/// [`FailsOnBad`] with a [`Handler::handle_batch`] of its own: one
/// multi-row insert per batch, noting how large its batches were and whether
/// one ever held the same event twice.
#[derive(Default)]
struct BatchFailsOnBad {
    largest: Arc<AtomicUsize>,
    repeated: Arc<std::sync::atomic::AtomicBool>,
    untraced: Arc<std::sync::atomic::AtomicBool>,
}

#[async_trait::async_trait]
impl Handler for BatchFailsOnBad {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        FailsOnBad.handle(event, txn).await
    }

    async fn handle_batch(
        &self,
        events: &[&Event],
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        self.largest.fetch_max(events.len(), Ordering::SeqCst);
        if map_kit::telemetry::current_trace_context().0.is_empty() {
            self.untraced.store(true, Ordering::SeqCst);
        }
        let ids: Vec<&str> = events.iter().map(|e| e.id()).collect();
        let distinct: std::collections::HashSet<&str> = ids.iter().copied().collect();
        if distinct.len() != ids.len() {
            self.repeated.store(true, Ordering::SeqCst);
        }
        probe::record_many(txn, "fails-on-bad", &ids).await?;
        if events.iter().any(|e| e.envelope.subject == "bad") {
            return Err(HandlerError::Permanent("subject is bad".into()));
        }
        Ok(())
    }
}

/// A handler that writes a whole batch at once gets the batch's new events
/// in one call (never one twice), inside a span of the batch; when that call
/// fails, the consumer falls back to `handle` one by one, so the bad event
/// alone is dead-lettered and every other is applied exactly once.
async fn a_batch_handler_applies_a_batch_at_once(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    trace_spans();
    let handler = BatchFailsOnBad::default();
    let (largest, repeated, untraced) = (
        handler.largest.clone(),
        handler.repeated.clone(),
        handler.untraced.clone(),
    );
    a_bad_event_among_pairs(&fx, handler, 30, 7).await;
    assert!(
        largest.load(Ordering::SeqCst) >= 2,
        "handle_batch never got more than one event"
    );
    assert!(
        !repeated.load(Ordering::SeqCst),
        "a batch held an event twice"
    );
    assert!(
        !untraced.load(Ordering::SeqCst),
        "handle_batch ran outside any span"
    );
}

/// Bytes that are not an envelope go to the DLQ at once, without the handler.
async fn an_undecodable_message_goes_to_the_dlq_at_once(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let (recorder, _seen) = Recorder::new("tts.ticket-tasks");
    let calls = recorder.calls.clone();
    let consumer = start(&fx, "tts.ticket-tasks", recorder, consumer_config(), &stop);
    let garbage = Outgoing {
        id: "not-an-event".into(),
        event_type: "hdts.ticket.submitted".into(),
        body: vec![0xff, 0xff, 0xff, 0x01, 0x02],
        traceparent: String::new(),
        tracestate: String::new(),
    };
    for r in fx.bus.publish(&[garbage]).await {
        r.unwrap();
    }
    let mut dlq = fx.bus.subscribe("tts.ticket-tasks.dlq", 4).await.unwrap();
    let dead = tokio::time::timeout(WAIT, dlq.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(dead.message_id.as_deref(), Some("not-an-event"));
    assert_eq!(dead.body, vec![0xff, 0xff, 0xff, 0x01, 0x02]);
    let reason = dead.headers.get(ERROR_HEADER).cloned().unwrap_or_default();
    assert!(reason.starts_with("undecodable"), "{reason}");
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    dead.ack().await.unwrap();
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
}

/// A mirror of users that keeps the newest version it has seen.
struct UserMirror;

#[async_trait::async_trait]
impl Handler for UserMirror {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let user = event.payload::<AuthUserCreated>()?.user.unwrap_or_default();
        let backend = txn.get_database_backend();
        let p = |n: usize| match backend {
            DatabaseBackend::Postgres => format!("${n}"),
            _ => "?".to_owned(),
        };
        let held: Option<i64> = txn
            .query_one_raw(Statement::from_sql_and_values(
                backend,
                format!("SELECT version FROM mirror_user WHERE id = {}", p(1)),
                [user.id.clone().into()],
            ))
            .await?
            .map(|r| r.try_get::<i64>("", "version"))
            .transpose()?;
        let sql = match event.freshness(held) {
            Freshness::Stale => return Ok(()),
            Freshness::Unknown => format!(
                "INSERT INTO mirror_user (name, version, id) VALUES ({}, {}, {})",
                p(1),
                p(2),
                p(3)
            ),
            Freshness::Newer => format!(
                "UPDATE mirror_user SET name = {}, version = {} WHERE id = {}",
                p(1),
                p(2),
                p(3)
            ),
        };
        txn.execute_raw(Statement::from_sql_and_values(
            backend,
            sql,
            [
                user.display_name.into(),
                event.envelope.subject_version.into(),
                user.id.into(),
            ],
        ))
        .await?;
        Ok(())
    }
}

/// Out-of-order events: version 3, then 2 (ignored), then 4 (applied).
async fn an_older_subject_version_is_ignored_by_a_mirror(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    fx.consumer
        .db
        .conn()
        .execute_unprepared(
            "CREATE TABLE mirror_user (id VARCHAR(36) PRIMARY KEY, name TEXT NOT NULL, version BIGINT NOT NULL)",
        )
        .await
        .unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let user = Uuid::now_v7().to_string();
    let outbox = Outbox::new(System::Auth);
    for (version, name) in [(3, "three"), (2, "two"), (4, "four")] {
        let txn = fx.producer.db.begin_write().await.unwrap();
        outbox
            .enqueue(&txn, user_created(&user, version, name))
            .await
            .unwrap();
        txn.commit().await.unwrap();
    }
    let relay = Relay::new(
        System::Auth,
        fx.producer.db.clone(),
        fx.bus.clone(),
        fast_relay(),
    );
    assert_eq!(relay.relay_batch().await.unwrap().published, 3);
    let config = ConsumerConfig {
        prefetch: 1,
        ..consumer_config()
    };
    let consumer = start(&fx, "tts.user-sync", UserMirror, config, &stop);
    let db = fx.consumer.db.clone();
    let read = |db: map_kit::db::Db, user: String| async move {
        db.conn()
            .query_one_raw(Statement::from_sql_and_values(
                db.backend(),
                match db.backend() {
                    DatabaseBackend::Postgres => {
                        "SELECT name, version FROM mirror_user WHERE id = $1"
                    }
                    _ => "SELECT name, version FROM mirror_user WHERE id = ?",
                },
                [user.into()],
            ))
            .await
            .unwrap()
            .map(|r| {
                (
                    r.try_get::<String>("", "name").unwrap(),
                    r.try_get::<i64>("", "version").unwrap(),
                )
            })
    };
    eventually("all three events to be in the inbox", WAIT, || {
        let db = db.clone();
        async move {
            let rows = map_kit::bus::inbox::entity::Entity::find()
                .all(db.conn())
                .await
                .unwrap();
            rows.len() == 3
        }
    })
    .await;
    assert_eq!(
        read(db.clone(), user.clone()).await,
        Some(("four".into(), 4))
    );
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
}

/// An event type bound to no queue is returned by the broker (mandatory):
/// its row stays pending with the reason; bound events still go out.
async fn an_unroutable_event_stays_in_the_outbox(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let routed = enqueue(&fx.producer.db, vec![user_created("u1", 1, "ada")]).await;
    let unroutable = enqueue(
        &fx.producer.db,
        vec![NewEvent::new(
            "auth.session.created",
            "s1",
            1,
            &AuthUserCreated::default(),
        )],
    )
    .await;
    let relay = Relay::new(
        System::Auth,
        fx.producer.db.clone(),
        fx.bus.clone(),
        fast_relay(),
    );
    let outcome = relay.relay_batch().await.unwrap();
    assert_eq!((outcome.published, outcome.failed), (1, 1));
    let rows = outbox::Entity::find()
        .all(fx.producer.db.conn())
        .await
        .unwrap();
    let row = |id: &str| rows.iter().find(|r| r.id == id).unwrap().clone();
    assert!(row(&routed[0]).published_at.is_some());
    let stuck = row(&unroutable[0]);
    assert!(stuck.published_at.is_none());
    assert_eq!(stuck.attempts, 1);
    assert!(
        stuck
            .last_error
            .unwrap_or_default()
            .contains("no queue is bound to 'auth.session.created'")
    );
    // Pruning keeps pending rows and drops published ones past retention.
    let pruning = Relay::new(
        System::Auth,
        fx.producer.db.clone(),
        fx.bus.clone(),
        map_kit::bus::RelayConfig {
            retention: Duration::ZERO,
            ..fast_relay()
        },
    );
    assert_eq!(pruning.prune().await.unwrap(), 1);
    let left = outbox::Entity::find()
        .all(fx.producer.db.conn())
        .await
        .unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, unroutable[0]);
}

/// A row the broker keeps returning (mandatory publish, no queue bound) is
/// set aside after the configured refusals, while the rows beside it go
/// out; an operator puts it back in line.
async fn a_refused_row_is_set_aside(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let manual = map_kit::clock::ManualClock::at_system_time();
    let relay = Relay::new(
        System::Auth,
        fx.producer.db.clone(),
        fx.bus.clone(),
        map_kit::bus::RelayConfig {
            refused_retry_min: Duration::from_secs(5),
            set_aside_after: 2,
            ..fast_relay()
        },
    )
    .with_clock(manual.clock());
    let bad = NewEvent::new("auth.session.created", "s1", 1, &AuthUserCreated::default());
    let mut events = vec![bad];
    events.extend((0..4).map(|i| user_created(&format!("u{i}"), 1, "x")));
    let ids = enqueue(&fx.producer.db, events).await;
    let o = relay.relay_batch().await.unwrap();
    assert_eq!((o.published, o.failed, o.set_aside), (4, 1, 0));
    manual.advance(Duration::from_secs(5));
    let o = relay.relay_batch().await.unwrap();
    assert_eq!((o.published, o.failed, o.set_aside), (0, 1, 1));
    let row = outbox::Entity::find_by_id(1)
        .one(fx.producer.db.conn())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(row.id, ids[0]);
    assert_eq!((row.refusals, row.attempts), (2, 2));
    assert!(row.set_aside_at.is_some() && row.published_at.is_none());
    manual.advance(Duration::from_secs(3600));
    assert_eq!(
        relay.relay_batch().await.unwrap(),
        map_kit::bus::relay::BatchOutcome::default()
    );
    assert_eq!(
        map_kit::outbox::retry_set_aside(&fx.producer.db)
            .await
            .unwrap(),
        1
    );
    assert_eq!(relay.relay_batch().await.unwrap().failed, 1);
}

/// A relay wakes up for a new row without waiting for its poll interval.
async fn the_relay_wakes_when_an_event_is_enqueued(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let relay = fx.spawn_relay_with(
        map_kit::bus::RelayConfig {
            poll_min: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(3600),
            ..fast_relay()
        },
        &stop,
    );
    let (recorder, mut seen) = Recorder::new("tts.user-sync");
    let consumer = start(&fx, "tts.user-sync", recorder, consumer_config(), &stop);
    for i in 0..3 {
        let ids = enqueue(&fx.producer.db, vec![user_created("u", i, "x")]).await;
        let got = receive(&mut seen, 1, Duration::from_secs(10)).await;
        assert_eq!(got[0].id(), ids[0]);
    }
    let _ = stop_tx.send(true);
    relay.await.unwrap();
    consumer.await.unwrap();
}

/// A relay that no enqueue wakes (one in a worker process beside the API)
/// still finds new rows soon while events flow: after a publish it looks
/// again within milliseconds, not after its (here: hour-long) poll interval.
async fn a_relay_apart_from_the_producer_finds_rows_while_events_flow(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let (recorder, mut seen) = Recorder::new("tts.user-sync");
    let consumer = start(&fx, "tts.user-sync", recorder, consumer_config(), &stop);
    // The first row is there before the relay starts: its first look finds it.
    let mut ids = enqueue(&fx.producer.db, vec![user_created("u", 0, "x")]).await;
    let relay = fx.spawn_relay_with(
        map_kit::bus::RelayConfig {
            wake_on_enqueue: false,
            poll_min: Duration::from_millis(5),
            poll_interval: Duration::from_secs(3600),
            ..fast_relay()
        },
        &stop,
    );
    for i in 1..4 {
        let got = receive(&mut seen, 1, Duration::from_secs(10)).await;
        assert_eq!(got[0].id(), ids[0]);
        ids = enqueue(&fx.producer.db, vec![user_created("u", i, "x")]).await;
    }
    let got = receive(&mut seen, 1, Duration::from_secs(10)).await;
    assert_eq!(got[0].id(), ids[0]);
    let _ = stop_tx.send(true);
    relay.await.unwrap();
    consumer.await.unwrap();
}

/// Spans need the OpenTelemetry layer to carry trace ids (no log output
/// here); another test of this binary may have installed it already.
fn trace_spans() {
    use opentelemetry::trace::TracerProvider as _;
    use tracing_subscriber::layer::SubscriberExt as _;
    use tracing_subscriber::util::SubscriberInitExt as _;
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder().build();
    let _ = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bus-test")))
        .try_init();
}

/// The handler runs in a span of the trace of the request that enqueued
/// the event.
async fn the_consumer_continues_the_producers_trace(backend: Backend) {
    use tracing::Instrument as _;
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    trace_spans();
    let (stop_tx, stop) = watch::channel(false);
    struct TraceOf(tokio::sync::mpsc::UnboundedSender<String>);
    #[async_trait::async_trait]
    impl Handler for TraceOf {
        async fn handle(&self, _: &Event, _: &DatabaseTransaction) -> Result<(), HandlerError> {
            let _ = self.0.send(map_kit::telemetry::current_trace_context().0);
            Ok(())
        }
    }
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let consumer = start(&fx, "tts.user-sync", TraceOf(tx), consumer_config(), &stop);
    let relay = fx.spawn_relay(&stop);
    let span = tracing::info_span!("request");
    let producer_trace = async {
        enqueue(&fx.producer.db, vec![user_created("u", 1, "x")]).await;
        map_kit::telemetry::current_trace_context().0
    }
    .instrument(span)
    .await;
    let consumer_trace = tokio::time::timeout(WAIT, rx.recv())
        .await
        .unwrap()
        .unwrap();
    let trace_id = |tp: &str| tp.split('-').nth(1).unwrap_or_default().to_owned();
    assert!(!trace_id(&producer_trace).is_empty(), "{producer_trace}");
    assert_eq!(trace_id(&consumer_trace), trace_id(&producer_trace));
    assert_ne!(
        consumer_trace, producer_trace,
        "the consumer has a span of its own"
    );
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
    relay.await.unwrap();
}

/// On PostgreSQL several relays share one outbox: every row is published
/// exactly once (FOR UPDATE SKIP LOCKED).
async fn concurrent_relays_publish_each_row_once(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    if fx.producer.db.backend() != DatabaseBackend::Postgres {
        eprintln!("skipped: several relays per database need PostgreSQL (SQLite runs one)");
        return;
    }
    let events = (0..600)
        .map(|i| user_created(&format!("u{i}"), 1, "x"))
        .collect();
    let ids: BTreeSet<String> = enqueue(&fx.producer.db, events).await.into_iter().collect();
    let relay = |batch| {
        Relay::new(
            System::Auth,
            fx.producer.db.clone(),
            fx.bus.clone(),
            map_kit::bus::RelayConfig {
                batch,
                ..fast_relay()
            },
        )
    };
    let (a, b, c) = (relay(50), relay(50), relay(50));
    let drain = |r: Relay| async move {
        let mut total = 0;
        loop {
            let o = r.relay_batch().await.unwrap();
            assert_eq!(o.failed, 0);
            if o.published == 0 {
                return total;
            }
            total += o.published;
        }
    };
    let (x, y, z) = tokio::join!(drain(a), drain(b), drain(c));
    assert_eq!(x + y + z, 600);
    let mut sub = fx.bus.subscribe("tts.user-sync", 256).await.unwrap();
    let mut got = BTreeSet::new();
    for _ in 0..600 {
        let m = tokio::time::timeout(WAIT, sub.next())
            .await
            .unwrap()
            .unwrap();
        assert!(got.insert(m.message_id.clone().unwrap()), "published twice");
        m.ack().await.unwrap();
    }
    assert_eq!(got, ids);
}

/// Subscribing to a queue that is not in the topology is an error.
async fn unknown_queues_are_refused(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    assert!(fx.bus.subscribe("payroll.salaries", 1).await.is_err());
    assert!(
        Consumer::new(
            "payroll.salaries",
            fx.consumer.db.clone(),
            fx.bus.clone(),
            UserMirror,
            consumer_config()
        )
        .is_err()
    );
    let _: &Bus = &fx.bus;
}

/// When the broker cancels a consumer (here: its queue is deleted under
/// it), the consumer declares the topology again and consumes again.
async fn a_cancelled_consumer_consumes_again(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let Some((url, prefix)) = fx.amqp() else {
        return; // nothing cancels an in-process consumer
    };
    let (stop_tx, stop) = watch::channel(false);
    let (recorder, mut seen) = Recorder::new("tts.user-sync");
    let consumer = start(&fx, "tts.user-sync", recorder, consumer_config(), &stop);
    let first = Uuid::now_v7().to_string();
    for r in fx
        .bus
        .publish(&[envelope_message(&first, "auth.user.created", "u1", 1)])
        .await
    {
        r.unwrap();
    }
    assert_eq!(receive(&mut seen, 1, WAIT).await[0].id(), first);

    let admin = lapin::Connection::connect(&url, lapin::ConnectionProperties::default())
        .await
        .unwrap();
    let channel = admin.create_channel().await.unwrap();
    channel
        .queue_delete(
            format!("{prefix}tts.user-sync").into(),
            lapin::options::QueueDeleteOptions::default(),
        )
        .await
        .unwrap();
    let _ = admin.close(200, "done".into()).await;

    // Until the queue is declared again a publish is unroutable, or (while
    // the deletion completes) lost with the old queue: publish new events
    // until one reaches the consumer again.
    let deadline = tokio::time::Instant::now() + WAIT;
    let mut sent = BTreeSet::new();
    let got = loop {
        assert!(
            tokio::time::Instant::now() < deadline,
            "never consumed again"
        );
        let id = Uuid::now_v7().to_string();
        let ok = fx
            .bus
            .publish(&[envelope_message(&id, "auth.user.created", "u2", 1)])
            .await
            .iter()
            .all(Result::is_ok);
        if ok {
            sent.insert(id);
        }
        if let Ok(Some(e)) = tokio::time::timeout(Duration::from_millis(100), seen.recv()).await {
            break e;
        }
    };
    assert!(sent.contains(got.id()), "an unexpected event arrived");
    let _ = stop_tx.send(true);
    consumer.await.unwrap();
}

macro_rules! bus_suite {
    ($backend:expr) => {
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn round_trip() {
            super::round_trip($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn wildcard_bindings_and_per_consumer_queues() {
            super::wildcard_bindings_and_per_consumer_queues($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn nothing_published_before_the_consumer_started_is_lost() {
            super::nothing_published_before_the_consumer_started_is_lost($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_duplicate_delivery_runs_the_handler_once() {
            super::a_duplicate_delivery_runs_the_handler_once($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_failing_handler_parks_the_event_with_the_reason() {
            super::a_failing_handler_parks_the_event_with_the_reason($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_bad_event_in_a_batch_holds_back_no_other() {
            super::a_bad_event_in_a_batch_holds_back_no_other($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_batch_handler_applies_a_batch_at_once() {
            super::a_batch_handler_applies_a_batch_at_once($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_undecodable_message_goes_to_the_dlq_at_once() {
            super::an_undecodable_message_goes_to_the_dlq_at_once($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_older_subject_version_is_ignored_by_a_mirror() {
            super::an_older_subject_version_is_ignored_by_a_mirror($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn an_unroutable_event_stays_in_the_outbox() {
            super::an_unroutable_event_stays_in_the_outbox($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_refused_row_is_set_aside() {
            super::a_refused_row_is_set_aside($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_relay_wakes_when_an_event_is_enqueued() {
            super::the_relay_wakes_when_an_event_is_enqueued($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_relay_apart_from_the_producer_finds_rows_while_events_flow() {
            super::a_relay_apart_from_the_producer_finds_rows_while_events_flow($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn the_consumer_continues_the_producers_trace() {
            super::the_consumer_continues_the_producers_trace($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn concurrent_relays_publish_each_row_once() {
            super::concurrent_relays_publish_each_row_once($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn a_cancelled_consumer_consumes_again() {
            super::a_cancelled_consumer_consumes_again($backend).await
        }
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn unknown_queues_are_refused() {
            super::unknown_queues_are_refused($backend).await
        }
    };
}

mod in_process {
    bus_suite!(super::Backend::InProcess);
}

mod rabbitmq {
    bus_suite!(super::Backend::RabbitMq);
}
