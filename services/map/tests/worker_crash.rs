//! A consumer process dies between commit and ack: a child `map worker tts`
//! with the probe consumer is stopped by the failpoint
//! `consumer-after-commit` at its 500th event; after a restart every one of
//! 2,000 events has been handled exactly once (counted in the consumer's
//! database). Needs RabbitMQ (MAP_TEST_AMQP_URL); PostgreSQL or SQLite.
#![allow(clippy::unwrap_used)]

use std::{process::Stdio, time::Duration};

use map_kit::{
    System,
    bus::{Bus, Relay, RelayConfig, failpoint, inbox, probe},
    outbox::{NewEvent, Outbox},
    testing::{AmqpCleanup, Backend, TestDb, amqp_prefix, amqp_url, expose, postgres_url},
};
use sea_orm::{EntityTrait, PaginatorTrait};
use tokio::process::{Child, Command};

const EVENTS: i64 = 2_000;
const CRASH_AT: i64 = 500;

fn worker(consumer: &TestDb, amqp: &str, prefix: &str, failpoint: Option<&str>) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_map"));
    // The probe takes a queue the TTS worker does not consume itself (its
    // directory consumes tts.user-sync).
    cmd.args(["worker", "tts", "--probe-queue", "hdts.user-sync"])
        .env("MAP_DATABASE_URL", expose(&consumer.url))
        .env("MAP_AMQP_URL", amqp)
        .env("MAP_AMQP_PREFIX", prefix)
        .env("MAP_LOG", "warn")
        .env("MAP_HEALTH_LISTEN", "127.0.0.1:0")
        // Nothing answers there: the directory's backfill retries meanwhile,
        // which this test does not need.
        .env("MAP_AUTH_URL", "http://127.0.0.1:9")
        .env("MAP_AUTH_API_KEY", "mapk_worker_crash_test")
        .env_remove("MAP_FAILPOINT")
        .stdout(Stdio::null())
        .kill_on_drop(true);
    if let Some(fp) = failpoint {
        cmd.env("MAP_FAILPOINT", fp);
    }
    cmd.spawn().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_between_commit_and_ack_applies_each_event_once() {
    // The production shape: RabbitMQ and PostgreSQL.
    let Some(url) = amqp_url() else { return };
    if postgres_url().is_none() {
        return;
    }
    let prefix = amqp_prefix();
    let _cleanup = AmqpCleanup::new(&url, &prefix);
    let bus = Bus::connect(Some(&url), &prefix).await.unwrap();
    let producer = TestDb::on::<map_migrations::auth::Migrator>(Backend::Postgres).await;
    let consumer = TestDb::on::<map_migrations::tts::Migrator>(Backend::Postgres).await;
    probe::ensure_table(&consumer.db).await.unwrap();

    // 2,000 user events, published before the worker starts.
    let outbox = Outbox::new(System::Auth);
    let payload = map_contracts::events::v1::AuthUserCreated::default();
    for chunk in 0..EVENTS / 100 {
        let txn = producer.db.begin_write().await.unwrap();
        for i in 0..100 {
            let event = NewEvent::new("auth.user.created", format!("u{chunk}-{i}"), 1, &payload);
            outbox.enqueue(&txn, event).await.unwrap();
        }
        txn.commit().await.unwrap();
    }
    let relay = Relay::new(
        System::Auth,
        producer.db.clone(),
        bus.clone(),
        RelayConfig::default(),
    );
    let mut published = 0;
    while published < EVENTS as usize {
        let o = relay.relay_batch().await.unwrap();
        assert_eq!(o.failed, 0);
        published += o.published;
    }

    let amqp = expose(&url).to_owned();
    let mut crashing = worker(
        &consumer,
        &amqp,
        &prefix,
        Some(&format!("{}:{CRASH_AT}", failpoint::CONSUMER_AFTER_COMMIT)),
    );
    let status = tokio::time::timeout(Duration::from_secs(120), crashing.wait())
        .await
        .expect("the worker reached the failpoint in time")
        .unwrap();
    assert_eq!(status.code(), Some(failpoint::EXIT_STATUS), "{status}");
    let (total, distinct) = probe::counts(&consumer.db, "hdts.user-sync").await.unwrap();
    assert!(
        (CRASH_AT..EVENTS).contains(&total),
        "{total} handled before the crash"
    );
    assert_eq!(total, distinct);

    let mut restarted = worker(&consumer, &amqp, &prefix, None);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let (_, distinct) = probe::counts(&consumer.db, "hdts.user-sync").await.unwrap();
        if distinct >= EVENTS {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "only {distinct} of {EVENTS} events handled after the restart"
        );
        assert!(
            restarted.try_wait().unwrap().is_none(),
            "the restarted worker exited"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (total, distinct) = probe::counts(&consumer.db, "hdts.user-sync").await.unwrap();
    assert_eq!(distinct, EVENTS);
    assert_eq!(total, EVENTS, "an event was applied twice");
    let inboxed = inbox::entity::Entity::find()
        .count(consumer.db.conn())
        .await
        .unwrap();
    assert_eq!(inboxed, EVENTS as u64);

    restarted.kill().await.unwrap();
    bus.close().await;
}
