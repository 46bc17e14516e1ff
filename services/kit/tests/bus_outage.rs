//! A broker outage in the middle of a stream of events: `rabbitmqctl
//! stop_app` while 10,000 events are being published, `start_app` later;
//! afterwards each event has been handled exactly once (counted in the
//! consumer's database), with no process restarted.
//!
//! This file holds one test so that no other test of its binary runs while
//! the broker is down; the broker is started again whatever happens.
#![allow(clippy::unwrap_used)]

mod bus_support;

use std::time::Duration;

use bus_support::{Backend, BrokerStopped, Fixture, enqueue, eventually, user_created};
use futures::FutureExt as _;
use map_kit::{
    bus::{Consumer, ConsumerConfig, probe},
    db::Db,
    outbox::entity as outbox,
};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter};
use tokio::sync::watch;

const EVENTS: usize = 10_000;
const PER_TRANSACTION: usize = 25;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_event_is_handled_once_across_a_broker_restart() {
    bus_support::capture_logs();
    let Some(fx) = Fixture::new(Backend::RabbitMq).await else {
        return;
    };
    let (stop_tx, stop) = watch::channel(false);
    let consumer = Consumer::new(
        "tts.user-sync",
        fx.consumer.db.clone(),
        fx.bus.clone(),
        probe::ProbeHandler::new("tts.user-sync"),
        ConsumerConfig::default(),
    )
    .unwrap();
    let mut consumer_stop = stop.clone();
    let consumer = tokio::spawn(consumer.run(async move {
        let _ = consumer_stop.wait_for(|s| *s).await;
    }));
    let relay = fx.spawn_relay(&stop);

    // The producer writes the events, 25 per transaction, while the relay
    // publishes: the first half before the outage, the second half during it.
    let produce = |chunks: std::ops::Range<usize>| {
        let db = fx.producer.db.clone();
        tokio::spawn(async move {
            for chunk in chunks {
                let events = (0..PER_TRANSACTION)
                    .map(|i| user_created(&format!("u{chunk}-{i}"), 1, "x"))
                    .collect();
                enqueue(&db, events).await;
            }
        })
    };
    let chunks = EVENTS / PER_TRANSACTION;
    let first_half = produce(0..chunks / 2);

    let consumer_db = fx.consumer.db.clone();
    let handled = move || {
        let db = consumer_db.clone();
        async move { probe::counts(&db, "tts.user-sync").await.unwrap().0 }
    };
    eventually(
        "the first 1,000 events to be handled",
        Duration::from_secs(60),
        || {
            let handled = handled.clone();
            async move { handled().await >= 1_000 }
        },
    )
    .await;

    {
        let _down = BrokerStopped::stop();
        let at_stop = handled().await;
        assert!(
            at_stop < EVENTS as i64,
            "all events were through before the outage ({at_stop}); the test proves nothing"
        );
        eprintln!("broker stopped after {at_stop} events were handled");
        first_half.await.unwrap();
        produce(chunks / 2..chunks).await.unwrap();
        // While the broker is away, publishing fails and rows stay pending.
        eventually(
            "a publish to fail during the outage",
            Duration::from_secs(60),
            || outbox_rows(&fx.producer.db, outbox::Column::Attempts.gt(0)).map(|n| n > 0),
        )
        .await;
        // `_down` starts the broker again here.
    }
    eventually(
        "all 10,000 events to be handled",
        Duration::from_secs(180),
        || {
            let handled = handled.clone();
            async move { handled().await >= EVENTS as i64 }
        },
    )
    .await;
    let (total, distinct) = probe::counts(&fx.consumer.db, "tts.user-sync")
        .await
        .unwrap();
    assert_eq!(distinct, EVENTS as i64, "some event was never handled");
    assert_eq!(total, EVENTS as i64, "some event was handled twice");
    // The relay marks a batch published after its confirms, so the consumer
    // may finish a batch before the relay's commit: wait for the marks.
    eventually(
        "every outbox row to be marked published",
        Duration::from_secs(60),
        || outbox_rows(&fx.producer.db, outbox::Column::PublishedAt.is_null()).map(|n| n == 0),
    )
    .await;

    let _ = stop_tx.send(true);
    consumer.await.unwrap().unwrap();
    relay.await.unwrap();
}

/// How many of `db`'s outbox rows meet `condition`.
async fn outbox_rows(db: &Db, condition: sea_orm::sea_query::SimpleExpr) -> u64 {
    outbox::Entity::find()
        .filter(condition)
        .count(db.conn())
        .await
        .unwrap()
}
