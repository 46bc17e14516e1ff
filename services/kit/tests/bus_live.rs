//! Live watches on both buses: a watch sees the matching events published
//! by another process (on RabbitMQ a second connection, as another replica
//! would be), skips the others, and its queue goes away with it.

use std::time::Duration;

use map_contracts::events::v1::Envelope;
use map_kit::{
    bus::{Bus, Outgoing},
    testing::{AmqpCleanup, amqp_prefix, amqp_url},
};

fn event(event_type: &str, subject: &str, version: i64) -> Outgoing {
    Outgoing::from_envelope(&Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        source: "auth".into(),
        subject: subject.into(),
        subject_version: version,
        ..Envelope::default()
    })
}

/// (type, subject, version) of the next watched event, within 10 s.
async fn next(watch: &mut map_kit::bus::live::Watch) -> (String, String, i64) {
    let e = tokio::time::timeout(Duration::from_secs(10), watch.next())
        .await
        .unwrap_or_else(|_| panic!("no watched event within 10 s"))
        .unwrap_or_else(|| panic!("the watch ended"));
    (e.r#type, e.subject, e.subject_version)
}

async fn publish(bus: &Bus, messages: &[Outgoing]) {
    for result in bus.publish(messages).await {
        result.unwrap_or_else(|e| panic!("publish: {e}"));
    }
}

async fn sees_matching_events_only(watcher: &Bus, publisher: &Bus) {
    let mut watch = watcher
        .watch(&["auth.user.*"])
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    // The watch's queue is bound once its first event arrives: publish until
    // then (RabbitMQ declares it asynchronously), then check the order.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        publish(publisher, &[event("auth.user.updated", "probe", 0)]).await;
        if tokio::time::timeout(Duration::from_millis(200), watch.next())
            .await
            .is_ok()
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the watch never saw an event"
        );
    }
    // Skip the probes still arriving.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), watch.next()).await {}
    publish(
        publisher,
        &[
            event("auth.user.updated", "u1", 2),
            event("auth.department.created", "IT", 1),
            event("auth.user.deactivated", "u1", 3),
        ],
    )
    .await;
    assert_eq!(
        next(&mut watch).await,
        ("auth.user.updated".into(), "u1".into(), 2)
    );
    // auth.department.created does not match auth.user.*: the next one is the deactivation.
    assert_eq!(
        next(&mut watch).await,
        ("auth.user.deactivated".into(), "u1".into(), 3)
    );
}

#[tokio::test]
async fn in_process_watch_sees_matching_events() {
    let bus = Bus::in_process(&amqp_prefix());
    sees_matching_events_only(&bus, &bus).await;
}

#[tokio::test]
async fn rabbitmq_watch_sees_another_connections_events() {
    let Some(url) = amqp_url() else {
        return;
    };
    let prefix = amqp_prefix();
    let _cleanup = AmqpCleanup::new(&url, &prefix);
    let watcher = Bus::connect(Some(&url), &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let publisher = Bus::connect(Some(&url), &prefix)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    sees_matching_events_only(&watcher, &publisher).await;
    watcher.close().await;
    publisher.close().await;
}
