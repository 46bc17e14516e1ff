//! Calls out of consumers: a handler's `prepare` runs before its event's
//! transaction begins (so a write transaction of someone else succeeds
//! meanwhile, even on SQLite), its value reaches `handle`, and a retried
//! transaction reuses it instead of calling out again. On the in-process
//! bus with SQLite and on RabbitMQ with PostgreSQL.
#![allow(clippy::unwrap_used)]

mod bus_support;

use std::{
    collections::{BTreeMap, BTreeSet},
    sync::{Arc, Mutex},
    time::Duration,
};

use bus_support::{Backend, Fixture, enqueue, eventually, user_created};
use map_kit::{
    bus::{Consumer, ConsumerConfig, Event, Handler, HandlerError, Prepared},
    db::Db,
};
use sea_orm::DatabaseTransaction;
use tokio::sync::watch;

#[derive(Default)]
struct Log {
    /// Calls of prepare per event id.
    prepared: BTreeMap<String, usize>,
    /// Events whose transaction already failed once.
    failed_once: BTreeSet<String>,
    /// (event id, the value handle saw), per committed attempt.
    applied: Vec<(String, String)>,
}

/// Prepares by "calling out" while proving no write lock is held (it
/// commits a write transaction of its own on the consumer's database), and
/// fails each event's first transaction once.
struct CallsOut {
    db: Db,
    log: Arc<Mutex<Log>>,
}

#[async_trait::async_trait]
impl Handler for CallsOut {
    async fn prepare(&self, event: &Event) -> Result<Option<Prepared>, HandlerError> {
        let write = async {
            let txn = self.db.begin_write().await?;
            txn.commit().await
        };
        tokio::time::timeout(Duration::from_secs(5), write)
            .await
            .map_err(|_| HandlerError::Permanent("a write lock was held across prepare".into()))?
            .map_err(|e| HandlerError::Permanent(format!("cannot write during prepare: {e}")))?;
        *self
            .log
            .lock()
            .unwrap()
            .prepared
            .entry(event.id().to_owned())
            .or_default() += 1;
        Ok(Some(Arc::new(format!("assignee for {}", event.id()))))
    }

    async fn handle(&self, event: &Event, _txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let prepared = event
            .prepared::<String>()
            .cloned()
            .ok_or_else(|| HandlerError::Permanent("nothing prepared".into()))?;
        let mut log = self.log.lock().unwrap();
        if log.failed_once.insert(event.id().to_owned()) {
            return Err(HandlerError::Transient("the first attempt fails".into()));
        }
        log.applied.push((event.id().to_owned(), prepared));
        Ok(())
    }
}

async fn prepare_runs_before_the_transaction_once_per_delivery(backend: Backend) {
    let Some(fx) = Fixture::new(backend).await else {
        return;
    };
    let log = Arc::new(Mutex::new(Log::default()));
    let handler = CallsOut {
        db: fx.consumer.db.clone(),
        log: log.clone(),
    };
    let config = ConsumerConfig {
        batch: 1,
        max_attempts: 5,
        retry_min: Duration::from_millis(10),
        retry_max: Duration::from_millis(20),
        ..ConsumerConfig::default()
    };
    let consumer = Consumer::new(
        "tts.user-sync",
        fx.consumer.db.clone(),
        fx.bus.clone(),
        handler,
        config,
    )
    .unwrap();
    let (stop_tx, stop) = watch::channel(false);
    let mut until = stop.clone();
    let running = tokio::spawn(consumer.run(async move {
        let _ = until.wait_for(|s| *s).await;
    }));
    let relay = fx.spawn_relay(&stop);
    let ids = enqueue(
        &fx.producer.db,
        (0..3)
            .map(|i| user_created(&uuid::Uuid::now_v7().to_string(), 1, &format!("u{i}")))
            .collect(),
    )
    .await;
    eventually("three events applied", Duration::from_secs(20), || async {
        log.lock().unwrap().applied.len() == 3
    })
    .await;
    {
        let log = log.lock().unwrap();
        for id in &ids {
            assert_eq!(log.prepared.get(id), Some(&1), "prepare ran once for {id}");
            assert!(
                log.applied
                    .contains(&(id.clone(), format!("assignee for {id}"))),
                "{id}: {:?}",
                log.applied
            );
        }
    }
    let _ = stop_tx.send(true);
    let _ = running.await;
    let _ = relay.await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_process_with_sqlite() {
    prepare_runs_before_the_transaction_once_per_delivery(Backend::InProcess).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rabbitmq_with_postgres() {
    prepare_runs_before_the_transaction_once_per_delivery(Backend::RabbitMq).await;
}
