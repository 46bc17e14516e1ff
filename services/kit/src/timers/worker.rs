//! The worker that fires due timers. See the module documentation of
//! [`crate::timers`].

use std::{
    collections::BTreeMap,
    fmt,
    future::Future,
    sync::Arc,
    time::{Duration, Instant},
};

use chrono::{DateTime, Utc};
use sea_orm::{
    ColumnTrait as _, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait as _,
    QueryFilter as _, QueryOrder as _, QuerySelect as _, TransactionTrait as _,
    sea_query::{Expr, ExprTrait as _},
};
use tokio::sync::watch;

use super::{DONE, PENDING, SCHEDULED, Timer, entity};
use crate::{
    bus::backoff::Backoff,
    claim::{self, OnSqlite},
    clock::{Clock, earlier, later},
    db::Db,
};

/// Why a handler did not fire its timer. Its writes are rolled back and
/// the timer is retried after a delay.
#[derive(Debug, thiserror::Error)]
pub enum FireError {
    /// Worth retrying later (a database hiccup, a row not there yet).
    #[error("{0}")]
    Retry(String),
}

impl From<DbErr> for FireError {
    fn from(e: DbErr) -> Self {
        FireError::Retry(e.to_string())
    }
}

/// Does the work of one kind of timer.
#[async_trait::async_trait]
pub trait TimerHandler: Send + Sync + 'static {
    /// Fires `timer`: writes its effect through `txn`, which also marks the
    /// timer done when this returns `Ok` (they commit together). Must not
    /// commit or roll back `txn`, nor wait on the network. Scheduling the
    /// same kind and subject again through `txn` (a recurring timer) keeps
    /// it pending at its new time.
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError>;
}

/// How a timer worker paces itself.
#[derive(Debug, Clone)]
pub struct TimerWorkerConfig {
    /// Most timers claimed at once.
    pub batch: u64,
    /// Longest sleep without looking at the table: timers scheduled by
    /// another process (which wake no one here) fire at most this late.
    pub poll_interval: Duration,
    /// Delay after a handler's first failure; doubles with each further
    /// failure up to `retry_max`.
    pub retry_min: Duration,
    /// Longest delay between attempts of one timer.
    pub retry_max: Duration,
    /// How long fired timers are kept (for operators) before pruning.
    pub retention: Duration,
    /// How often to prune.
    pub prune_interval: Duration,
    /// Concurrent claiming loops on PostgreSQL (SQLite always runs one).
    pub claimers: usize,
}

impl Default for TimerWorkerConfig {
    fn default() -> Self {
        TimerWorkerConfig {
            batch: 50,
            poll_interval: Duration::from_secs(5),
            retry_min: Duration::from_secs(1),
            retry_max: Duration::from_secs(300),
            retention: Duration::from_secs(7 * 24 * 3600),
            prune_interval: Duration::from_secs(300),
            claimers: 2,
        }
    }
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FireOutcome {
    /// Timers whose handler's writes committed with their completion.
    pub fired: usize,
    /// Timers whose handler failed; they are retried later.
    pub failed: usize,
}

/// How soon a worker woken by a schedule looks again (the scheduling
/// transaction may not have committed when it first looked).
const WOKEN_RECHECK: Duration = Duration::from_millis(5);
/// How soon a worker looks again when due timers are claimed by another
/// worker (PostgreSQL): they are done or released shortly.
const BUSY_RECHECK: Duration = Duration::from_millis(50);

/// Fires the due timers of the kinds it has handlers for.
#[derive(Clone)]
pub struct TimerWorker {
    db: Db,
    clock: Clock,
    config: TimerWorkerConfig,
    handlers: BTreeMap<String, Arc<dyn TimerHandler>>,
}

impl fmt::Debug for TimerWorker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TimerWorker")
            .field("clock", &self.clock)
            .field("config", &self.config)
            .field("kinds", &self.handlers.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl TimerWorker {
    /// A worker over `db` with no handlers yet.
    pub fn new(db: Db, clock: Clock, config: TimerWorkerConfig) -> TimerWorker {
        TimerWorker {
            db,
            clock,
            config,
            handlers: BTreeMap::new(),
        }
    }

    /// Fires timers of `kind` with `handler`. Timers of kinds without a
    /// handler are left to other workers.
    pub fn handle(mut self, kind: &str, handler: impl TimerHandler) -> TimerWorker {
        self.handlers.insert(kind.to_owned(), Arc::new(handler));
        self
    }

    fn kinds(&self) -> Vec<String> {
        self.handlers.keys().cloned().collect()
    }

    /// Claims the due timers (up to a batch) and fires each, all in one
    /// transaction with a savepoint per timer.
    pub async fn fire_due(&self) -> Result<FireOutcome, DbErr> {
        if self.handlers.is_empty() {
            return Ok(FireOutcome::default());
        }
        let due = entity::Entity::find()
            .filter(entity::Column::State.eq(PENDING))
            .filter(entity::Column::RunAt.lte(self.clock.now()))
            .filter(entity::Column::Kind.is_in(self.kinds()))
            .order_by_asc(entity::Column::RunAt)
            .order_by_asc(entity::Column::Id)
            .limit(self.config.batch);
        let mut claim = claim::claim(&self.db, due, OnSqlite::Write).await?;
        let timers = std::mem::take(&mut claim.rows);
        let mut outcome = FireOutcome::default();
        if timers.is_empty() {
            claim.commit().await?;
            return Ok(outcome);
        }
        let txn = claim.txn(&self.db).await?;
        for timer in &timers {
            let Some(handler) = self.handlers.get(&timer.kind) else {
                continue;
            };
            let attempt = txn.begin().await?;
            match handler.fire(timer, &attempt).await {
                Ok(()) => {
                    self.complete(&attempt, timer).await?;
                    attempt.commit().await?;
                    outcome.fired += 1;
                }
                Err(error) => {
                    attempt.rollback().await?;
                    let delay = self.record_failure(txn, timer, &error).await?;
                    outcome.failed += 1;
                    tracing::warn!(kind = %timer.kind, subject = %timer.subject, attempts = timer.attempts + 1, %error, ?delay, "timer failed; retrying later");
                }
            }
        }
        claim.commit().await?;
        if outcome.fired > 0 {
            tracing::debug!(fired = outcome.fired, "fired timers");
        }
        Ok(outcome)
    }

    /// Marks `timer` done, unless its handler scheduled it again.
    async fn complete(&self, txn: &DatabaseTransaction, timer: &Timer) -> Result<(), DbErr> {
        entity::Entity::update_many()
            .col_expr(entity::Column::State, Expr::value(DONE))
            .col_expr(entity::Column::FiredAt, Expr::value(Some(self.clock.now())))
            .filter(entity::Column::Id.eq(timer.id))
            .filter(entity::Column::State.eq(PENDING))
            .filter(entity::Column::RunAt.eq(timer.run_at))
            .filter(entity::Column::DueAt.eq(timer.due_at))
            .exec(txn)
            .await?;
        Ok(())
    }

    /// Counts the failed attempt and moves the timer's next run back.
    async fn record_failure(
        &self,
        txn: &DatabaseTransaction,
        timer: &Timer,
        error: &FireError,
    ) -> Result<Duration, DbErr> {
        let failures = u32::try_from(timer.attempts.saturating_add(1)).unwrap_or(u32::MAX);
        let delay = Backoff::nth(self.config.retry_min, self.config.retry_max, failures);
        entity::Entity::update_many()
            .col_expr(
                entity::Column::Attempts,
                Expr::col(entity::Column::Attempts).add(1),
            )
            .col_expr(entity::Column::LastError, Expr::value(error.to_string()))
            .col_expr(
                entity::Column::RunAt,
                Expr::value(later(self.clock.now(), delay)),
            )
            .filter(entity::Column::Id.eq(timer.id))
            .exec(txn)
            .await?;
        Ok(delay)
    }

    /// When the earliest pending timer of this worker's kinds may run.
    pub async fn next_run(&self) -> Result<Option<DateTime<Utc>>, DbErr> {
        if self.handlers.is_empty() {
            return Ok(None);
        }
        Ok(entity::Entity::find()
            .filter(entity::Column::State.eq(PENDING))
            .filter(entity::Column::Kind.is_in(self.kinds()))
            .order_by_asc(entity::Column::RunAt)
            .one(self.db.conn())
            .await?
            .map(|t| t.run_at))
    }

    /// Deletes timers fired longer ago than the retention period.
    pub async fn prune(&self) -> Result<u64, DbErr> {
        let cutoff = earlier(self.clock.now(), self.config.retention);
        let done = entity::Entity::delete_many()
            .filter(entity::Column::State.eq(DONE))
            .filter(entity::Column::FiredAt.lt(cutoff))
            .exec(self.db.conn())
            .await?;
        Ok(done.rows_affected)
    }

    /// Fires timers until `shutdown` resolves. Database failures are logged
    /// and retried with backoff; they never end the loop. On PostgreSQL,
    /// [`TimerWorkerConfig::claimers`] loops claim concurrently.
    pub async fn run(self, shutdown: impl Future<Output = ()>) {
        let claimers = if self.db.backend() == DatabaseBackend::Postgres {
            self.config.claimers.max(1)
        } else {
            1
        };
        tracing::info!(kinds = ?self.kinds(), claimers, "timer worker started");
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
        tracing::info!("timer worker stopped");
    }

    /// One claiming loop; the `pruner` also prunes.
    async fn claim_loop(&self, pruner: bool, mut stop: watch::Receiver<bool>) {
        let mut woken = SCHEDULED.subscribe();
        let mut errors = Backoff::new(Duration::from_millis(100), Duration::from_secs(10));
        let mut pruned_at: Option<Instant> = None;
        let mut just_woken = false;
        loop {
            if *stop.borrow() {
                break;
            }
            if pruner && pruned_at.is_none_or(|t| t.elapsed() >= self.config.prune_interval) {
                match self.prune().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(pruned = n, "pruned fired timers"),
                    Err(error) => tracing::warn!(%error, "pruning timers failed"),
                }
                pruned_at = Some(Instant::now());
            }
            woken.borrow_and_update();
            // (until when to sleep on the clock, the longest pause)
            let (until, pause) = match self.fire_due().await {
                Ok(o) if (o.fired + o.failed) as u64 >= self.config.batch => {
                    errors.reset();
                    continue; // more may be due
                }
                Ok(_) => match self.next_run().await {
                    Ok(next) => {
                        errors.reset();
                        match next {
                            // Due but not claimable: another worker holds it.
                            Some(at) if at <= self.clock.now() => (None, BUSY_RECHECK),
                            next => (next, self.config.poll_interval),
                        }
                    }
                    Err(error) => {
                        let delay = errors.next_delay();
                        tracing::warn!(%error, ?delay, "timers unavailable; backing off");
                        (None, delay)
                    }
                },
                Err(error) => {
                    let delay = errors.next_delay();
                    tracing::warn!(%error, ?delay, "timers unavailable; backing off");
                    (None, delay)
                }
            };
            let pause = if just_woken {
                pause.min(WOKEN_RECHECK)
            } else {
                pause
            };
            just_woken = false;
            let due = async {
                match until {
                    Some(at) => self.clock.sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                _ = stop.wait_for(|s| *s) => break,
                changed = woken.changed() => {
                    if changed.is_err() {
                        break;
                    }
                    just_woken = true;
                }
                () = due => {}
                () = tokio::time::sleep(pause) => {}
            }
        }
    }
}
