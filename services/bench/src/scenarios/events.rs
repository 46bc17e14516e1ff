//! `events`: the event backbone end to end, beside the database's and the
//! broker's own ceilings, in one run.
//!
//! - **pipeline**: one call = a transaction that enqueues an
//!   `ams.asset.purchased` event in the outbox and commits; the relay
//!   (in this process, woken by the enqueue) publishes it with confirms to
//!   RabbitMQ; the consumer of `bms.asset-expenses` records it in its inbox
//!   and writes one row in the same transaction, commits and acks. The call
//!   returns when the consumer has acknowledged the event, so its latency is
//!   the end-to-end latency (commit at the producer → commit and ack at the
//!   consumer).
//! - **producer alone**: the same producer transactions with no relay and
//!   no consumer running: how fast this machine's PostgreSQL commits the
//!   pipeline's first step by itself.
//! - **broker**: one call = a plain persistent, mandatory, confirmed publish
//!   of a message of the same size and routing key, consumed and acked by a
//!   plain consumer; no database at all. The ceiling of the broker on this
//!   machine.
//!
//! Everything lives under a fresh AMQP prefix and a fresh database, both
//! removed at the end.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
    time::Duration,
};

use map_contracts::events::v1::{AmsAssetPurchased, AssetSnapshot, AssetStatus};
use map_kit::{
    System,
    bus::{
        Bus, Consumer, ConsumerConfig, Event, Handler, HandlerError, Outgoing, Relay, RelayConfig,
    },
    db::Db,
    outbox::{NewEvent, Outbox},
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, sea_query::Query};
use secrecy::SecretString;
use tokio::sync::{oneshot, watch};

use super::bench_db::BenchDb;
use crate::{LoadOptions, Report, run_load};

/// Flags of `map bench events`.
#[derive(Debug, Clone, clap::Args)]
pub struct EventsArgs {
    /// RabbitMQ to measure.
    #[arg(
        long,
        env = "MAP_AMQP_URL",
        default_value = "amqp://guest:guest@127.0.0.1:5672/%2f",
        hide_env_values = true
    )]
    pub amqp_url: String,
    /// A PostgreSQL server (`postgres://…/postgres`): the run creates and
    /// drops a database of its own there. Unset → a temp-file SQLite database.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: Option<String>,
    /// Consumer prefetch (events applied concurrently).
    #[arg(long, default_value_t = 128)]
    pub prefetch: u16,
    /// Skip the broker-ceiling run.
    #[arg(long)]
    pub pipeline_only: bool,
    /// Events each producer transaction enqueues (a ticket opened emits
    /// several); the call ends when the consumer has applied all of them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u64).range(1..=100))]
    pub events_per_call: u64,
    /// The consumer writes each event's row in a statement of its own
    /// instead of one multi-row insert per batch (`Handler::handle_batch`).
    #[arg(long)]
    pub per_event_handler: bool,
    /// The relay is not woken by the producer's enqueues, as when it runs
    /// in a worker process apart from the API that produces.
    #[arg(long)]
    pub relay_apart: bool,
}

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<()>>>>;

fn lock(w: &Waiters) -> std::sync::MutexGuard<'_, HashMap<String, oneshot::Sender<()>>> {
    w.lock().unwrap_or_else(|p| p.into_inner())
}

fn wake(waiters: &Waiters, id: &str) {
    if let Some(tx) = lock(waiters).remove(id) {
        let _ = tx.send(());
    }
}

/// The consumer's work: the expense row, in the inbox's transaction. Several
/// events at once go in one multi-row insert unless `per_event`.
struct BookExpense {
    per_event: bool,
}

fn amount(event: &Event) -> Result<i64, HandlerError> {
    let purchase: AmsAssetPurchased = event.payload()?;
    Ok(purchase
        .asset
        .and_then(|a| a.purchase_cost)
        .map_or(0, |m| m.amount_minor))
}

#[async_trait::async_trait]
impl Handler for BookExpense {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        self.handle_batch(&[event], txn).await
    }

    async fn handle_batch(
        &self,
        events: &[&Event],
        txn: &DatabaseTransaction,
    ) -> Result<(), HandlerError> {
        let rows: Vec<&[&Event]> = if self.per_event {
            events.chunks(1).collect()
        } else {
            vec![events]
        };
        for rows in rows {
            let mut insert = Query::insert();
            insert
                .into_table("bench_expense")
                .columns(["event_id", "amount"]);
            for event in rows {
                insert.values_panic([event.id().into(), amount(event)?.into()]);
            }
            txn.execute(&insert).await?;
        }
        Ok(())
    }
}

/// The run's database: AMS's migrations and the consumer's table.
async fn database(server: Option<&str>) -> Result<BenchDb, Box<dyn std::error::Error>> {
    let bench_db = BenchDb::create(server).await?;
    map_kit::db::migrate::<map_migrations::ams::Migrator>(&bench_db.url).await?;
    bench_db
        .db
        .conn()
        .execute_unprepared(
            "CREATE TABLE bench_expense (event_id VARCHAR(36) PRIMARY KEY, amount BIGINT NOT NULL)",
        )
        .await?;
    Ok(bench_db)
}

fn purchase(i: u64) -> AmsAssetPurchased {
    AmsAssetPurchased {
        asset: Some(AssetSnapshot {
            id: uuid::Uuid::now_v7().to_string(),
            number: format!("AST-{i:06}"),
            name: "Dell Latitude 5440".into(),
            category_code: "LAPTOP".into(),
            category_name: "Laptops".into(),
            department_code: "IT".into(),
            status: AssetStatus::InStock.into(),
            purchase_cost: Some(map_contracts::common::v1::Money {
                amount_minor: 129_900,
                currency_code: "EUR".into(),
            }),
            purchase_date: Some(map_contracts::google::r#type::Date {
                year: 2026,
                month: 11,
                day: 25,
            }),
            supplier: "Dell".into(),
            purchase_reference: format!("PO-{i}"),
            version: 1,
            ..AssetSnapshot::default()
        }),
        transaction_id: uuid::Uuid::now_v7().to_string(),
        actor: None,
    }
}

/// Runs the pipeline and (unless skipped) the broker ceiling.
pub async fn run(
    opts: &LoadOptions,
    args: &EventsArgs,
) -> Result<Vec<Report>, Box<dyn std::error::Error>> {
    let url = SecretString::from(args.amqp_url.clone());
    let prefix = format!("bench{}.", &uuid::Uuid::now_v7().simple().to_string()[20..]);
    let bus = Bus::connect(Some(&url), &prefix).await?;
    let mut reports = Vec::new();
    let result = async {
        reports.push(pipeline(opts, args, &bus).await?);
        if !args.pipeline_only {
            reports.push(producer_alone(opts, args).await?);
            reports.push(broker(opts, &bus, args.prefetch).await?);
        }
        Ok::<(), Box<dyn std::error::Error>>(())
    }
    .await;
    let _ = bus.delete_topology().await;
    bus.close().await;
    result?;
    if let [pipeline, producer, broker] = reports.as_mut_slice() {
        // Both producer figures count transactions; the broker's counts
        // messages, one per event.
        let per_call = args.events_per_call as f64;
        for (ratio, what) in [
            (
                pipeline.throughput / producer.throughput.max(1.0),
                "the producer alone's transactions/s",
            ),
            (
                pipeline.throughput * per_call / broker.throughput.max(1.0),
                "the broker ceiling's messages/s",
            ),
        ] {
            pipeline.notes.push(format!(
                "{:.0}% of {what} measured in the same run",
                ratio * 100.0
            ));
        }
    }
    Ok(reports)
}

async fn pipeline(
    opts: &LoadOptions,
    args: &EventsArgs,
    bus: &Bus,
) -> Result<Report, Box<dyn std::error::Error>> {
    let bench_db = database(args.database_server.as_deref()).await?;
    let db = bench_db.db.clone();
    let backend = format!("{:?}", db.backend());
    let waiters: Waiters = Arc::default();
    let (stop_tx, stop) = watch::channel(false);
    let stopped = |mut stop: watch::Receiver<bool>| async move {
        let _ = stop.wait_for(|s| *s).await;
    };
    // Producer, relay and consumer each have a pool of their own, as they
    // would in their own processes (the API, and the two systems' workers).
    let relay_db = Db::connect(&bench_db.url).await?;
    let consumer_db = Db::connect(&bench_db.url).await?;
    let relay = Relay::new(
        System::Ams,
        relay_db.clone(),
        bus.clone(),
        RelayConfig {
            wake_on_enqueue: !args.relay_apart,
            ..RelayConfig::default()
        },
    );
    let relay = tokio::spawn(relay.run(stopped(stop.clone())));
    let hook_waiters = waiters.clone();
    let consumer = Consumer::new(
        "bms.asset-expenses",
        consumer_db.clone(),
        bus.clone(),
        BookExpense {
            per_event: args.per_event_handler,
        },
        ConsumerConfig {
            prefetch: args.prefetch,
            ..ConsumerConfig::default()
        },
    )?
    .on_applied(move |event| wake(&hook_waiters, event.id()));
    let consumer = tokio::spawn(consumer.run(stopped(stop.clone())));

    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let call_db = db.clone();
    let call_waiters = waiters.clone();
    let per_call = args.events_per_call;
    let name = if per_call == 1 {
        "events: outbox→RabbitMQ→consumer".to_owned()
    } else {
        format!("events: outbox→RabbitMQ→consumer, {per_call} per transaction")
    };
    let mut report = run_load(&name, opts, move |_| {
        let db = call_db.clone();
        let waiters = call_waiters.clone();
        let first = counter.fetch_add(per_call, std::sync::atomic::Ordering::Relaxed);
        async move {
            let mut consumed = Vec::new();
            produce(&db, first, per_call, |id| {
                let (tx, rx) = oneshot::channel();
                lock(&waiters).insert(id.to_string(), tx);
                consumed.push(rx);
            })
            .await?;
            let all = futures::future::try_join_all(consumed);
            tokio::time::timeout(Duration::from_secs(30), all)
                .await
                .map_err(|_| "not consumed within 30 s".to_owned())?
                .map(|_| ())
                .map_err(|_| "waiter dropped".to_owned())
        }
    })
    .await;
    if per_call > 1 {
        report.notes.push(format!(
            "{:.0} events/s ({per_call} events per producer transaction)",
            report.throughput * per_call as f64
        ));
    }
    let _ = stop_tx.send(true);
    let _ = relay.await;
    let _ = consumer.await;
    report.notes.push(format!(
        "producer and consumer database: {backend}; prefetch {}; handler: {}; latency = producer commit → consumer commit + ack",
        args.prefetch,
        if args.per_event_handler {
            "one insert per event"
        } else {
            "one multi-row insert per batch"
        }
    ));
    let _ = relay_db.close().await;
    let _ = consumer_db.close().await;
    bench_db.remove().await;
    Ok(report)
}

/// One producer transaction: `per_call` events (numbered from `first`)
/// enqueued in the outbox, `enqueued` told of each id before the commit.
async fn produce(
    db: &Db,
    first: u64,
    per_call: u64,
    mut enqueued: impl FnMut(uuid::Uuid),
) -> Result<(), String> {
    let outbox = Outbox::new(System::Ams);
    let txn = db.begin_write().await.map_err(|e| e.to_string())?;
    for i in first..first + per_call {
        let event = NewEvent::new("ams.asset.purchased", format!("asset-{i}"), 1, &purchase(i));
        let id = outbox
            .enqueue(&txn, event)
            .await
            .map_err(|e| e.to_string())?;
        enqueued(id);
    }
    txn.commit().await.map_err(|e| e.to_string())
}

/// The producer's transactions alone (no relay, no consumer) against a
/// database of their own: the database's ceiling for the pipeline's first
/// step, measured in the same run.
async fn producer_alone(
    opts: &LoadOptions,
    args: &EventsArgs,
) -> Result<Report, Box<dyn std::error::Error>> {
    let bench_db = database(args.database_server.as_deref()).await?;
    let db = bench_db.db.clone();
    let counter = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let per_call = args.events_per_call;
    let name = if per_call == 1 {
        "events: producer alone (outbox commit, no relay)".to_owned()
    } else {
        format!("events: producer alone, {per_call} per transaction")
    };
    let report = run_load(&name, opts, move |_| {
        let db = db.clone();
        let first = counter.fetch_add(per_call, std::sync::atomic::Ordering::Relaxed);
        async move { produce(&db, first, per_call, |_| {}).await }
    })
    .await;
    bench_db.remove().await;
    Ok(report)
}

async fn broker(
    opts: &LoadOptions,
    bus: &Bus,
    prefetch: u16,
) -> Result<Report, Box<dyn std::error::Error>> {
    let waiters: Waiters = Arc::default();
    let mut subscription = bus.subscribe("bms.asset-expenses", prefetch).await?;
    let consume_waiters = waiters.clone();
    let consumer = tokio::spawn(async move {
        while let Some(m) = subscription.next().await {
            let id = m.message_id.clone().unwrap_or_default();
            if m.ack().await.is_ok() {
                wake(&consume_waiters, &id);
            }
        }
    });
    let body_len = {
        use prost::Message as _;
        purchase(0).encoded_len() + 200 // the envelope around it
    };
    let call_bus = bus.clone();
    let call_waiters = waiters.clone();
    let mut report = run_load("events: broker ceiling", opts, move |_| {
        let bus = call_bus.clone();
        let waiters = call_waiters.clone();
        async move {
            let id = uuid::Uuid::now_v7().to_string();
            let (tx, rx) = oneshot::channel();
            lock(&waiters).insert(id.clone(), tx);
            let message = Outgoing {
                id,
                event_type: "ams.asset.purchased".into(),
                body: vec![0x2a; body_len],
                traceparent: String::new(),
                tracestate: String::new(),
            };
            for r in bus.publish(&[message]).await {
                r.map_err(|e| e.to_string())?;
            }
            tokio::time::timeout(Duration::from_secs(30), rx)
                .await
                .map_err(|_| "not consumed within 30 s".to_owned())?
                .map_err(|_| "waiter dropped".to_owned())
        }
    })
    .await;
    consumer.abort();
    report.notes.push(format!(
        "plain persistent mandatory confirmed publish ({body_len} B) + consume + ack, prefetch {prefetch}, no database"
    ));
    Ok(report)
}
