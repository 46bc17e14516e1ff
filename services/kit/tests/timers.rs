//! Timers: scheduled in the caller's transaction, fired exactly once with
//! their handler's writes, re-armed, cancelled, retried with backoff, and
//! shared by concurrent workers on PostgreSQL. Time moves on a manual clock.
#![allow(clippy::unwrap_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use map_kit::{
    clock::ManualClock,
    db::Db,
    testing::{Backend, TestDb, eventually},
    timers::{
        DONE, FireError, FireOutcome, PENDING, Timer, TimerHandler, TimerWorker, TimerWorkerConfig,
        Timers,
    },
};
use sea_orm::{ConnectionTrait, DatabaseTransaction, Statement};
use tokio::sync::{Barrier, watch};

const KIND: &str = "test.ping";
const WAIT: Duration = Duration::from_secs(20);

fn secs(n: u64) -> Duration {
    Duration::from_secs(n)
}

/// A migrated database with `timer_effects`, the table the handlers write:
/// one row per subject (a second effect of one timer would be refused).
async fn database() -> TestDb {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    db.db
        .conn()
        .execute_unprepared(
            "CREATE TABLE timer_effects (subject VARCHAR(128) PRIMARY KEY, payload TEXT NOT NULL)",
        )
        .await
        .unwrap();
    db
}

async fn effects(db: &Db) -> i64 {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.backend(),
            "SELECT COUNT(*) AS n FROM timer_effects",
        ))
        .await
        .unwrap()
        .unwrap();
    row.try_get::<i64>("", "n").unwrap()
}

async fn effect_of(txn: &DatabaseTransaction, timer: &Timer) -> Result<(), FireError> {
    txn.execute_raw(Statement::from_sql_and_values(
        txn.get_database_backend(),
        "INSERT INTO timer_effects (subject, payload) VALUES ($1, $2)",
        [
            timer.subject.clone().into(),
            String::from_utf8_lossy(&timer.payload).into_owned().into(),
        ],
    ))
    .await?;
    Ok(())
}

/// Records each timer's effect; fails the first `fail_first` calls (after
/// writing, so the failed attempt's write must be rolled back).
#[derive(Clone, Default)]
struct Effect {
    calls: Arc<AtomicUsize>,
    fail_first: usize,
}

#[async_trait::async_trait]
impl TimerHandler for Effect {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        effect_of(txn, timer).await?;
        if n <= self.fail_first {
            return Err(FireError::Retry(format!("boom #{n}")));
        }
        Ok(())
    }
}

fn config() -> TimerWorkerConfig {
    TimerWorkerConfig {
        batch: 10,
        poll_interval: Duration::from_secs(3600),
        retry_min: secs(10),
        retry_max: secs(3600),
        claimers: 1,
        ..TimerWorkerConfig::default()
    }
}

async fn schedule(db: &Db, timers: &Timers, subject: &str, due: chrono::DateTime<chrono::Utc>) {
    let txn = db.begin_write().await.unwrap();
    timers
        .schedule(&txn, KIND, subject, due, subject.as_bytes().to_vec())
        .await
        .unwrap();
    txn.commit().await.unwrap();
}

async fn timer(db: &Db, subject: &str) -> Option<Timer> {
    Timers::get(db.conn(), KIND, subject).await.unwrap()
}

fn fired(n: usize) -> FireOutcome {
    FireOutcome {
        fired: n,
        failed: 0,
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_timer_fires_once_when_due() {
    let db = database().await;
    let manual = ManualClock::at_system_time();
    let t0 = manual.now();
    let timers = Timers::new(manual.clock());
    // Scheduled in a transaction that rolls back: no timer.
    let txn = db.db.begin_write().await.unwrap();
    timers.schedule(&txn, KIND, "gone", t0, Vec::new()).await.unwrap();
    txn.rollback().await.unwrap();
    schedule(&db.db, &timers, "s1", t0 + secs(60)).await;

    let handler = Effect::default();
    let worker = TimerWorker::new(db.db.clone(), manual.clock(), config())
        .handle(KIND, handler.clone());
    assert_eq!(worker.next_run().await.unwrap(), Some(t0 + secs(60)));
    assert_eq!(worker.fire_due().await.unwrap(), fired(0));
    manual.advance(secs(59));
    assert_eq!(worker.fire_due().await.unwrap(), fired(0), "fired early");
    manual.advance(secs(1));
    assert_eq!(worker.fire_due().await.unwrap(), fired(1));
    for _ in 0..3 {
        manual.advance(secs(3600));
        assert_eq!(worker.fire_due().await.unwrap(), fired(0), "fired twice");
    }
    assert_eq!(effects(&db.db).await, 1);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 1);
    let done = timer(&db.db, "s1").await.unwrap();
    assert_eq!(done.state, DONE);
    assert_eq!(done.fired_at, Some(t0 + secs(60)));
    assert_eq!(done.payload, b"s1");
    assert!(timer(&db.db, "gone").await.is_none());
    assert_eq!(worker.next_run().await.unwrap(), None);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_timer_is_rearmed_cancelled_and_scheduled_again() {
    let db = database().await;
    let manual = ManualClock::at_system_time();
    let t0 = manual.now();
    let timers = Timers::new(manual.clock());
    schedule(&db.db, &timers, "a", t0 + secs(10)).await;
    schedule(&db.db, &timers, "b", t0 + secs(10)).await;
    let txn = db.db.begin_write().await.unwrap();
    assert!(timers.rearm(&txn, KIND, "a", t0 + secs(100)).await.unwrap());
    assert!(timers.cancel(&txn, KIND, "b").await.unwrap());
    assert!(!timers.cancel(&txn, KIND, "b").await.unwrap(), "cancelled twice");
    assert!(!timers.rearm(&txn, KIND, "b", t0).await.unwrap(), "re-armed a cancelled timer");
    assert!(!timers.rearm(&txn, KIND, "never", t0).await.unwrap());
    txn.commit().await.unwrap();

    let handler = Effect::default();
    let worker = TimerWorker::new(db.db.clone(), manual.clock(), config())
        .handle(KIND, handler.clone());
    manual.advance(secs(10));
    assert_eq!(worker.fire_due().await.unwrap(), fired(0), "fired at its old time");
    manual.advance(secs(90));
    assert_eq!(worker.fire_due().await.unwrap(), fired(1));
    assert_eq!(timer(&db.db, "a").await.unwrap().due_at, t0 + secs(100));
    assert!(timer(&db.db, "b").await.is_none());
    // A fired timer is not re-armed, but can be scheduled anew.
    let txn = db.db.begin_write().await.unwrap();
    assert!(!timers.rearm(&txn, KIND, "a", t0 + secs(200)).await.unwrap());
    txn.commit().await.unwrap();
    db.db
        .conn()
        .execute_unprepared("DELETE FROM timer_effects")
        .await
        .unwrap();
    schedule(&db.db, &timers, "a", t0 + secs(200)).await;
    let again = timer(&db.db, "a").await.unwrap();
    assert_eq!((again.state.as_str(), again.fired_at), (PENDING, None));
    manual.advance(secs(100));
    assert_eq!(worker.fire_due().await.unwrap(), fired(1));
    assert_eq!(handler.calls.load(Ordering::SeqCst), 2);
    assert_eq!(effects(&db.db).await, 1);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_failing_handler_is_retried_with_backoff_and_counted() {
    let db = database().await;
    let manual = ManualClock::at_system_time();
    let t0 = manual.now();
    let timers = Timers::new(manual.clock());
    schedule(&db.db, &timers, "s1", t0).await;
    let handler = Effect {
        fail_first: 2,
        ..Effect::default()
    };
    let worker = TimerWorker::new(db.db.clone(), manual.clock(), config())
        .handle(KIND, handler.clone());
    let failed = FireOutcome { fired: 0, failed: 1 };

    assert_eq!(worker.fire_due().await.unwrap(), failed);
    let t = timer(&db.db, "s1").await.unwrap();
    assert_eq!((t.state.as_str(), t.attempts), (PENDING, 1));
    assert_eq!(t.last_error.as_deref(), Some("boom #1"));
    assert_eq!((t.due_at, t.run_at), (t0, t0 + secs(10)));
    assert_eq!(effects(&db.db).await, 0, "a failed attempt's write stayed");
    assert_eq!(worker.fire_due().await.unwrap(), fired(0), "retried at once");

    manual.advance(secs(10));
    assert_eq!(worker.fire_due().await.unwrap(), failed);
    let t = timer(&db.db, "s1").await.unwrap();
    assert_eq!(t.attempts, 2);
    assert_eq!(t.last_error.as_deref(), Some("boom #2"));
    assert_eq!(t.run_at, manual.now() + secs(20), "the delay doubles");
    manual.advance(secs(19));
    assert_eq!(worker.fire_due().await.unwrap(), fired(0));
    manual.advance(secs(1));
    assert_eq!(worker.fire_due().await.unwrap(), fired(1));

    let t = timer(&db.db, "s1").await.unwrap();
    assert_eq!((t.state.as_str(), t.attempts), (DONE, 2));
    assert_eq!(effects(&db.db).await, 1);
    assert_eq!(handler.calls.load(Ordering::SeqCst), 3);
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_worker_sleeps_until_the_next_due_time_on_its_clock() {
    let db = database().await;
    let manual = ManualClock::at_system_time();
    let t0 = manual.now();
    let timers = Timers::new(manual.clock());
    schedule(&db.db, &timers, "first", t0 + secs(1800)).await;
    // Its poll interval is an hour: only the clock or a schedule wakes it.
    let worker = TimerWorker::new(db.db.clone(), manual.clock(), config())
        .handle(KIND, Effect::default());
    let (stop_tx, mut stop) = watch::channel(false);
    let running = tokio::spawn(worker.run(async move {
        let _ = stop.wait_for(|s| *s).await;
    }));
    let fired = |subject: &'static str| {
        let db = db.db.clone();
        move || {
            let db = db.clone();
            async move { timer(&db, subject).await.is_some_and(|t| t.state == DONE) }
        }
    };
    manual.advance(secs(1800));
    eventually("the first timer to fire", WAIT, fired("first")).await;
    // Scheduled while the worker sleeps with nothing due (for an hour of
    // its poll interval): only the schedule's wake-up makes it look again.
    schedule(&db.db, &timers, "second", manual.now() + secs(60)).await;
    manual.advance(secs(60));
    eventually("the second timer to fire", WAIT, fired("second")).await;
    let _ = stop_tx.send(true);
    running.await.unwrap();
    assert_eq!(effects(&db.db).await, 2);
}
}

/// Fires every minute: each firing schedules its own timer again.
struct EveryMinute {
    timers: Timers,
    calls: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl TimerHandler for EveryMinute {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let next = timer.due_at + secs(60);
        self.timers
            .schedule(txn, &timer.kind, &timer.subject, next, Vec::new())
            .await?;
        Ok(())
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_handler_that_schedules_its_timer_again_keeps_it_pending() {
    let db = database().await;
    let manual = ManualClock::at_system_time();
    let t0 = manual.now();
    let timers = Timers::new(manual.clock());
    schedule(&db.db, &timers, "tick", t0).await;
    let calls = Arc::new(AtomicUsize::new(0));
    let worker = TimerWorker::new(db.db.clone(), manual.clock(), config()).handle(
        KIND,
        EveryMinute {
            timers: timers.clone(),
            calls: calls.clone(),
        },
    );
    for minute in 0..3u64 {
        assert_eq!(worker.fire_due().await.unwrap(), fired(1), "minute {minute}");
        assert_eq!(worker.fire_due().await.unwrap(), fired(0));
        let t = timer(&db.db, "tick").await.unwrap();
        assert_eq!((t.state.as_str(), t.due_at), (PENDING, t0 + secs(60 * (minute + 1))));
        manual.advance(secs(60));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}
}

/// Records the effect, and on its first timer waits at `barrier` until
/// the other worker has claimed and fired a timer too.
#[derive(Clone)]
struct Meeting {
    effect: Effect,
    barrier: Option<Arc<Barrier>>,
    met: Arc<AtomicBool>,
    fired: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl TimerHandler for Meeting {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        if let Some(barrier) = &self.barrier
            && !self.met.swap(true, Ordering::SeqCst)
        {
            barrier.wait().await;
        }
        self.effect.fire(timer, txn).await?;
        self.fired.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_workers_fire_each_of_200_timers_once() {
    let db = database().await;
    let manual = ManualClock::at_system_time();
    let t0 = manual.now();
    let timers = Timers::new(manual.clock());
    let txn = db.db.begin_write().await.unwrap();
    for i in 0..200 {
        timers
            .schedule(&txn, KIND, &format!("s{i}"), t0, Vec::new())
            .await
            .unwrap();
    }
    txn.commit().await.unwrap();
    let effect = Effect::default();
    // PostgreSQL: two workers, each holding its first claim open until the
    // other has claimed rows too (FOR UPDATE SKIP LOCKED: they never wait
    // for each other's rows). SQLite: one worker, the single claimer.
    let postgres = Backend::current() == Backend::Postgres;
    let barrier = postgres.then(|| Arc::new(Barrier::new(2)));
    let workers = if postgres { 2 } else { 1 };
    let (stop_tx, stop) = watch::channel(false);
    let mut running = Vec::new();
    let mut per_worker = Vec::new();
    for _ in 0..workers {
        let handler = Meeting {
            effect: effect.clone(),
            barrier: barrier.clone(),
            met: Arc::new(AtomicBool::new(false)),
            fired: Arc::new(AtomicUsize::new(0)),
        };
        per_worker.push(handler.fired.clone());
        let worker = TimerWorker::new(db.db.clone(), manual.clock(), config())
            .handle(KIND, handler);
        let mut stop = stop.clone();
        running.push(tokio::spawn(worker.run(async move {
            let _ = stop.wait_for(|s| *s).await;
        })));
    }
    let conn = db.db.clone();
    eventually("200 effects", WAIT, || {
        let conn = conn.clone();
        async move { effects(&conn).await == 200 }
    })
    .await;
    let _ = stop_tx.send(true);
    for r in running {
        r.await.unwrap();
    }
    assert_eq!(effect.calls.load(Ordering::SeqCst), 200, "a timer fired twice");
    let fired: Vec<usize> = per_worker.iter().map(|f| f.load(Ordering::SeqCst)).collect();
    assert_eq!(fired.iter().sum::<usize>(), 200);
    assert!(fired.iter().all(|n| *n > 0), "a worker fired nothing: {fired:?}");
    let pending = db
        .db
        .conn()
        .query_one_raw(Statement::from_string(
            db.db.backend(),
            "SELECT COUNT(*) AS n FROM timers WHERE state <> 'done'",
        ))
        .await
        .unwrap()
        .unwrap()
        .try_get::<i64>("", "n")
        .unwrap();
    assert_eq!(pending, 0);
}
}
