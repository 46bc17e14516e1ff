//! The outbox relay: moves a system's committed events from its outbox table
//! to the bus.
//!
//! A batch: claim the oldest unpublished rows, publish them (persistent,
//! mandatory, confirmed), mark the confirmed ones published and count a
//! failed attempt (with its reason) on the others. On PostgreSQL the claim is
//! `SELECT … FOR UPDATE SKIP LOCKED` inside a transaction held across the
//! publish, so several relays share the work without publishing a row twice
//! (a crash between confirm and commit republishes: delivery is at least
//! once, and consumers deduplicate by event id). SQLite has no row locks, so
//! a process runs a single relay per database.
//!
//! While the broker is away the relay backs off exponentially. When it finds
//! nothing to publish it waits for a wake-up from
//! [`crate::outbox::Outbox::enqueue`] in the same process or for its idle
//! pause, whichever comes first; the pause starts short (rows committed by
//! another process are found within milliseconds while events flow) and
//! doubles up to the poll interval while the outbox stays empty. Published
//! rows are pruned after the retention period.

use std::{
    future::Future,
    sync::LazyLock,
    time::{Duration, Instant},
};

use chrono::Utc;
use map_contracts::events::v1::Envelope;
use prost::Message as _;
use sea_orm::{
    ColumnTrait as _, DatabaseBackend, DbErr, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _, TransactionTrait as _,
    sea_query::{Expr, ExprTrait as _, LockBehavior, LockType},
};
use tokio::sync::watch;

use super::{Bus, Outgoing, PublishError, backoff::Backoff};
use crate::{System, db::Db, outbox::entity as outbox};

/// How a relay paces itself.
#[derive(Debug, Clone)]
pub struct RelayConfig {
    /// Most rows claimed and published at once.
    pub batch: u64,
    /// First wait after a look that found nothing; each further empty look
    /// doubles it up to `poll_interval`, a published row resets it. While
    /// events flow, rows written by another process (which wake no one
    /// here) are found within a few milliseconds; an idle outbox is looked
    /// at every `poll_interval`.
    pub poll_min: Duration,
    /// Longest idle wait before looking at the outbox again.
    pub poll_interval: Duration,
    /// How long published rows are kept (for operators) before pruning.
    pub retention: Duration,
    /// How often to prune.
    pub prune_interval: Duration,
    /// First delay after a failed publish; doubles up to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest delay between attempts while the broker is away.
    pub backoff_max: Duration,
    /// Concurrent claiming loops on PostgreSQL (SQLite always runs one).
    pub claimers: usize,
    /// Whether an enqueue in this process wakes the relay. Off, it behaves
    /// as a relay in another process than the producers does (`map worker`
    /// beside `map serve`): it learns of new rows only by looking.
    pub wake_on_enqueue: bool,
}

impl Default for RelayConfig {
    fn default() -> Self {
        RelayConfig {
            batch: 500,
            poll_min: Duration::from_millis(5),
            poll_interval: Duration::from_millis(100),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(300),
            backoff_min: Duration::from_millis(100),
            backoff_max: Duration::from_secs(10),
            claimers: 2,
            wake_on_enqueue: true,
        }
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Rows confirmed by the broker and marked published.
    pub published: usize,
    /// Rows whose publish failed; they stay pending.
    pub failed: usize,
}

/// How soon a relay woken by an enqueue looks again when it found nothing
/// (the enqueueing transaction had not committed yet).
const WOKEN_RECHECK: Duration = Duration::from_millis(5);

/// Wake-up counters, one per producing system, bumped on every enqueue.
static ENQUEUED: LazyLock<[watch::Sender<u64>; 5]> =
    LazyLock::new(|| std::array::from_fn(|_| watch::Sender::new(0)));

fn slot(system: System) -> usize {
    System::ALL.iter().position(|s| *s == system).unwrap_or(0)
}

/// Tells the relays of `source` in this process that a row was enqueued
/// (called by the outbox; the row may not be committed yet, so a relay that
/// finds nothing looks again shortly after).
pub fn notify_enqueued(source: System) {
    ENQUEUED[slot(source)].send_modify(|n| *n = n.wrapping_add(1));
}

/// Publishes one system's outbox. See the module documentation.
#[derive(Debug, Clone)]
pub struct Relay {
    source: System,
    db: Db,
    bus: Bus,
    config: RelayConfig,
}

impl Relay {
    /// A relay of `source`'s outbox in `db`.
    pub fn new(source: System, db: Db, bus: Bus, config: RelayConfig) -> Relay {
        Relay {
            source,
            db,
            bus,
            config,
        }
    }

    /// Relays until `shutdown` resolves. Database and broker failures are
    /// logged and retried with backoff; they never end the loop.
    ///
    /// On PostgreSQL, [`RelayConfig::claimers`] loops claim concurrently, so
    /// one claims new rows while another waits for its confirms.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let claimers = if self.db.backend() == DatabaseBackend::Postgres {
            self.config.claimers.max(1)
        } else {
            1
        };
        tracing::info!(system = %self.source, claimers, "relay started");
        let (stop_tx, stop) = watch::channel(false);
        let loops =
            futures::future::join_all((0..claimers).map(|i| self.claim_loop(i == 0, stop.clone())));
        tokio::pin!(loops);
        tokio::select! {
            () = shutdown => {
                let _ = stop_tx.send(true);
                loops.await;
            }
            _ = &mut loops => {}
        }
        tracing::info!(system = %self.source, "relay stopped");
    }

    /// One claiming loop; the `pruner` also prunes.
    async fn claim_loop(&self, pruner: bool, mut stop: watch::Receiver<bool>) {
        let mut woken = ENQUEUED[slot(self.source)].subscribe();
        let mut backoff = Backoff::new(self.config.backoff_min, self.config.backoff_max);
        let mut idle = Backoff::new(self.config.poll_min, self.config.poll_interval);
        let mut pruned_at: Option<Instant> = None;
        let mut just_woken = false;
        loop {
            if *stop.borrow() {
                break;
            }
            if pruner && pruned_at.is_none_or(|t| t.elapsed() >= self.config.prune_interval) {
                match self.prune().await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(system = %self.source, pruned = n, "pruned published events")
                    }
                    Err(error) => tracing::warn!(system = %self.source, %error, "pruning failed"),
                }
                pruned_at = Some(Instant::now());
            }
            woken.borrow_and_update();
            // (how long to pause, whether an enqueue may cut the pause short)
            let (pause, wakeable) = match self.relay_batch().await {
                Ok(o) if o.failed > 0 => {
                    let delay = backoff.next_delay();
                    tracing::warn!(system = %self.source, failed = o.failed, published = o.published, ?delay, "publishing failed; backing off");
                    (delay, false)
                }
                Ok(o) if o.published > 0 => {
                    backoff.reset();
                    idle.reset();
                    continue; // more may be waiting
                }
                // Nothing pending. After a wake-up the row that woke us may
                // not have been committed when we looked: look again after
                // the pause whatever else is enqueued meanwhile (otherwise
                // every enqueue of a busy producer would cost an empty look).
                Ok(_) => {
                    backoff.reset();
                    if just_woken {
                        (WOKEN_RECHECK, false)
                    } else {
                        (idle.next_delay(), true)
                    }
                }
                Err(error) => {
                    let delay = backoff.next_delay();
                    tracing::warn!(system = %self.source, %error, ?delay, "outbox unavailable; backing off");
                    (delay, false)
                }
            };
            just_woken = false;
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                changed = woken.changed(), if wakeable && self.config.wake_on_enqueue => {
                    if changed.is_err() {
                        break;
                    }
                    just_woken = true;
                    idle.reset();
                }
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Claims, publishes and marks one batch.
    pub async fn relay_batch(&self) -> Result<BatchOutcome, DbErr> {
        let pending = || {
            outbox::Entity::find()
                .filter(outbox::Column::PublishedAt.is_null())
                .order_by_asc(outbox::Column::Seq)
                .limit(self.config.batch)
        };
        if self.db.backend() == DatabaseBackend::Postgres {
            let txn = self.db.conn().begin().await?;
            let rows = pending()
                .lock_with_behavior(LockType::Update, LockBehavior::SkipLocked)
                .all(&txn)
                .await?;
            let outcome = self.publish_and_mark(&rows, &txn).await;
            txn.commit().await?;
            outcome
        } else {
            let rows = pending().all(self.db.conn()).await?;
            if rows.is_empty() {
                return Ok(BatchOutcome::default());
            }
            let txn = self.db.begin_write().await?;
            let outcome = self.publish_and_mark(&rows, &txn).await;
            txn.commit().await?;
            outcome
        }
    }

    async fn publish_and_mark(
        &self,
        rows: &[outbox::Model],
        txn: &sea_orm::DatabaseTransaction,
    ) -> Result<BatchOutcome, DbErr> {
        if rows.is_empty() {
            return Ok(BatchOutcome::default());
        }
        let messages: Vec<Outgoing> = rows.iter().map(message).collect();
        let results = self.bus.publish(&messages).await;
        let mut published = Vec::new();
        let mut failed: Vec<(i64, PublishError)> = Vec::new();
        for (row, result) in rows.iter().zip(results) {
            match result {
                Ok(()) => published.push(row.seq),
                Err(e) => failed.push((row.seq, e)),
            }
        }
        if !published.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::PublishedAt, Expr::value(Utc::now()))
                .filter(outbox::Column::Seq.is_in(published.iter().copied()))
                .exec(txn)
                .await?;
        }
        // One update per distinct reason (usually one: the broker is away).
        let mut reasons: Vec<(String, Vec<i64>)> = Vec::new();
        for (seq, e) in &failed {
            let reason = e.to_string();
            match reasons.iter_mut().find(|(r, _)| *r == reason) {
                Some((_, seqs)) => seqs.push(*seq),
                None => reasons.push((reason, vec![*seq])),
            }
        }
        for (reason, seqs) in reasons {
            outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                )
                .col_expr(outbox::Column::LastError, Expr::value(reason))
                .filter(outbox::Column::Seq.is_in(seqs))
                .exec(txn)
                .await?;
        }
        if !published.is_empty() {
            tracing::debug!(system = %self.source, published = published.len(), "relayed events");
        }
        Ok(BatchOutcome {
            published: published.len(),
            failed: failed.len(),
        })
    }

    /// Deletes rows published longer ago than the retention period.
    pub async fn prune(&self) -> Result<u64, DbErr> {
        let retention = chrono::Duration::from_std(self.config.retention)
            .unwrap_or_else(|_| chrono::Duration::days(7));
        let cutoff = Utc::now() - retention;
        let result = outbox::Entity::delete_many()
            .filter(outbox::Column::PublishedAt.lt(cutoff))
            .exec(self.db.conn())
            .await?;
        Ok(result.rows_affected)
    }
}

fn message(row: &outbox::Model) -> Outgoing {
    let trace = Envelope::decode(row.envelope.as_slice())
        .ok()
        .and_then(|e| e.trace)
        .unwrap_or_default();
    Outgoing {
        id: row.id.clone(),
        event_type: row.event_type.clone(),
        body: row.envelope.clone(),
        traceparent: trace.traceparent,
        tracestate: trace.tracestate,
    }
}
