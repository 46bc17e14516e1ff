//! The outbox relay: moves a system's committed events from its outbox table
//! to the bus.
//!
//! A batch: claim the oldest unpublished rows ([`crate::claim`]), publish
//! them (persistent, mandatory, confirmed), mark the confirmed ones published
//! and count a failed attempt (with its reason) on the others. On PostgreSQL
//! the claim is `SELECT … FOR UPDATE SKIP LOCKED` inside a transaction held
//! across the publish, so several relays share the work without publishing
//! a row twice (a crash between confirm and commit republishes: delivery is
//! at least once, and consumers deduplicate by event id). SQLite has no row
//! locks, so a process runs a single relay per database, and it holds no
//! transaction while it waits for the broker: claim (a read), publish, then
//! mark in a short write transaction — a slow broker never blocks the API's
//! writers on SQLite's one write lock.
//!
//! One bad row cannot slow the others. A row the broker refuses (returns it
//! as unroutable, or nacks it) is not claimed again before its own retry
//! time (doubling from [`RelayConfig::refused_retry_min`]), so it takes no
//! place in the batches in between; after [`RelayConfig::set_aside_after`]
//! refusals it is set aside until an operator puts it back
//! ([`crate::outbox::retry_set_aside`]). An unreachable broker or a missing
//! confirm is the broker's failure, not the row's: it counts in `attempts`
//! only, and the relay as a whole backs off exponentially — but only when
//! nothing of a batch was published.
//!
//! When the relay finds nothing to publish it waits for a wake-up from
//! [`crate::outbox::Outbox::enqueue`] in the same process or for its idle
//! pause, whichever comes first; the pause starts short (rows committed by
//! another process are found within milliseconds while events flow) and
//! doubles up to the poll interval while the outbox stays empty. Published
//! rows are pruned after the retention period. Stored times (published,
//! retry, set aside, the pruning cutoff) come from the relay's [`Clock`].

use std::{
    future::Future,
    sync::LazyLock,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use map_contracts::events::v1::Envelope;
use prost::Message as _;
use sea_orm::{
    ColumnTrait as _, Condition, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _,
    sea_query::{Expr, ExprTrait as _},
};
use tokio::sync::watch;

use super::{Bus, Outgoing, PublishError, backoff::Backoff};
use crate::{
    System,
    claim::{self, OnSqlite},
    clock::{Clock, earlier, later},
    db::Db,
    outbox::entity as outbox,
};

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
    /// First delay after a batch of which nothing was published; doubles up
    /// to `backoff_max`.
    pub backoff_min: Duration,
    /// Longest delay between attempts while the broker is away.
    pub backoff_max: Duration,
    /// How long a row the broker refused waits before it is claimed again;
    /// doubles with each refusal up to `refused_retry_max`.
    pub refused_retry_min: Duration,
    /// Longest wait of a refused row.
    pub refused_retry_max: Duration,
    /// Refusals after which a row is set aside (at least 1).
    pub set_aside_after: u32,
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
            refused_retry_min: Duration::from_secs(1),
            refused_retry_max: Duration::from_secs(60),
            set_aside_after: 8,
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
    /// Of the failed rows, those set aside now after repeated refusals.
    pub set_aside: usize,
}

/// How soon a relay woken by an enqueue looks again when it found nothing
/// (the enqueueing transaction had not committed yet); each further empty
/// look after the same wake-up waits twice as long, [`WOKEN_RECHECKS`]
/// times (1 ms … 4 s in all), so a commit slowed by a busy database is
/// still found without waiting out the poll interval. The enqueue comes
/// before its transaction's last statements and commit, so the look at the
/// wake-up itself usually finds nothing: the first recheck is what a lone
/// event waits, and it is short (at 5 ms it was most of a relay hop's
/// latency at a low rate: BENCHMARKS.md, ticket intake).
const WOKEN_RECHECK: Duration = Duration::from_millis(1);

/// Looks again after one wake-up before the relay goes back to idling.
const WOKEN_RECHECKS: u32 = 12;

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
    clock: Clock,
}

impl Relay {
    /// A relay of `source`'s outbox in `db`, on the system clock.
    pub fn new(source: System, db: Db, bus: Bus, config: RelayConfig) -> Relay {
        Relay {
            source,
            db,
            bus,
            config,
            clock: Clock::system(),
        }
    }

    /// The same relay on `clock` (the times it stores and compares).
    pub fn with_clock(self, clock: Clock) -> Relay {
        Relay { clock, ..self }
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
        // Looks still owed to the last wake-up (see WOKEN_RECHECK).
        let mut rechecks_left = 0u32;
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
                // Nothing of the batch went out: the broker is likely away.
                Ok(o) if o.failed > 0 && o.published == 0 => {
                    let delay = backoff.next_delay();
                    tracing::warn!(system = %self.source, failed = o.failed, ?delay, "publishing failed; backing off");
                    (delay, false)
                }
                // Some rows went out: the failed ones wait for their own
                // retry time (refused) or the next batch (broker hiccup).
                Ok(o) if o.published > 0 => {
                    if o.failed > 0 {
                        tracing::warn!(system = %self.source, failed = o.failed, published = o.published, "some events were not published");
                    }
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
                    if rechecks_left > 0 {
                        let done = WOKEN_RECHECKS - rechecks_left;
                        rechecks_left -= 1;
                        // The first recheck comes at once, whatever else is
                        // enqueued (a busy producer's every enqueue would
                        // otherwise cost an empty look); later, longer ones
                        // may be cut short by a new enqueue.
                        (WOKEN_RECHECK * 2u32.pow(done), done > 0)
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
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                changed = woken.changed(), if wakeable && self.config.wake_on_enqueue => {
                    if changed.is_err() {
                        break;
                    }
                    rechecks_left = WOKEN_RECHECKS;
                    idle.reset();
                }
                () = tokio::time::sleep(pause) => {}
            }
        }
    }

    /// Claims, publishes and marks one batch.
    pub async fn relay_batch(&self) -> Result<BatchOutcome, DbErr> {
        let claimable = outbox::Entity::find()
            .filter(outbox::Column::PublishedAt.is_null())
            .filter(outbox::Column::SetAsideAt.is_null())
            .filter(
                Condition::any()
                    .add(outbox::Column::RetryAt.is_null())
                    .add(outbox::Column::RetryAt.lte(self.clock.now())),
            )
            .order_by_asc(outbox::Column::Seq)
            .limit(self.config.batch);
        let mut claim = claim::claim(&self.db, claimable, OnSqlite::Read).await?;
        if claim.rows.is_empty() {
            claim.commit().await?;
            return Ok(BatchOutcome::default());
        }
        let messages: Vec<Outgoing> = claim.rows.iter().map(message).collect();
        let results = self.bus.publish(&messages).await;
        let rows = std::mem::take(&mut claim.rows);
        let txn = claim.txn(&self.db).await?;
        let outcome = self.mark(&rows, results, txn).await?;
        claim.commit().await?;
        Ok(outcome)
    }

    /// Records what the broker said about each row.
    async fn mark(
        &self,
        rows: &[outbox::Model],
        results: Vec<Result<(), PublishError>>,
        txn: &DatabaseTransaction,
    ) -> Result<BatchOutcome, DbErr> {
        let now = self.clock.now();
        let mut published = Vec::new();
        // One update per distinct (reason, refusals so far): usually one,
        // "the broker is away", or a few refused rows.
        let mut failures: Vec<(Failure, Vec<i64>)> = Vec::new();
        let mut set_aside = 0;
        for (row, result) in rows.iter().zip(results) {
            let failure = match result {
                Ok(()) => {
                    published.push(row.seq);
                    continue;
                }
                Err(e) => Failure {
                    refusals: e.is_refusal().then_some(row.refusals.saturating_add(1)),
                    reason: e.to_string(),
                },
            };
            if failure.sets_aside(self.config.set_aside_after) {
                set_aside += 1;
                tracing::warn!(system = %self.source, event_id = %row.id, event_type = %row.event_type, refusals = ?failure.refusals, reason = %failure.reason, "event set aside after repeated refusals");
            }
            match failures.iter_mut().find(|(f, _)| *f == failure) {
                Some((_, seqs)) => seqs.push(row.seq),
                None => failures.push((failure, vec![row.seq])),
            }
        }
        if !published.is_empty() {
            outbox::Entity::update_many()
                .col_expr(outbox::Column::PublishedAt, Expr::value(now))
                .filter(outbox::Column::Seq.is_in(published.iter().copied()))
                .exec(txn)
                .await?;
        }
        let failed = failures.iter().map(|(_, seqs)| seqs.len()).sum();
        for (failure, seqs) in failures {
            let mut update = outbox::Entity::update_many()
                .col_expr(
                    outbox::Column::Attempts,
                    Expr::col(outbox::Column::Attempts).add(1),
                )
                .col_expr(
                    outbox::Column::LastError,
                    Expr::value(failure.reason.clone()),
                );
            if let Some(refusals) = failure.refusals {
                let set_aside: Option<DateTime<Utc>> = failure
                    .sets_aside(self.config.set_aside_after)
                    .then_some(now);
                let wait = Backoff::nth(
                    self.config.refused_retry_min,
                    self.config.refused_retry_max,
                    u32::try_from(refusals).unwrap_or(u32::MAX),
                );
                let retry_at = later(now, wait);
                update = update
                    .col_expr(outbox::Column::Refusals, Expr::value(refusals))
                    .col_expr(outbox::Column::RetryAt, Expr::value(Some(retry_at)))
                    .col_expr(outbox::Column::SetAsideAt, Expr::value(set_aside));
            }
            update
                .filter(outbox::Column::Seq.is_in(seqs))
                .exec(txn)
                .await?;
        }
        if !published.is_empty() {
            tracing::debug!(system = %self.source, published = published.len(), "relayed events");
        }
        Ok(BatchOutcome {
            published: published.len(),
            failed,
            set_aside,
        })
    }

    /// Deletes rows published longer ago than the retention period.
    pub async fn prune(&self) -> Result<u64, DbErr> {
        let cutoff = earlier(self.clock.now(), self.config.retention);
        let result = outbox::Entity::delete_many()
            .filter(outbox::Column::PublishedAt.lt(cutoff))
            .exec(self.db.conn())
            .await?;
        Ok(result.rows_affected)
    }
}

/// Why a row was not published.
#[derive(Debug, PartialEq, Eq)]
struct Failure {
    /// The row's refusals counting this one, when the broker refused the
    /// row itself; `None` when the broker failed (away, no confirm).
    refusals: Option<i32>,
    reason: String,
}

impl Failure {
    fn sets_aside(&self, after: u32) -> bool {
        self.refusals
            .is_some_and(|n| u32::try_from(n).unwrap_or(0) >= Ord::max(after, 1))
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
