//! `map bench sla-timers`: SLA breaches fired per second by two timer
//! workers on PostgreSQL, each doing its real work (the clock, the ticket,
//! its history, the `tts.sla.breached` event, and the escalation level it
//! arms, fired in turn), beside the rate of the producer's transactions
//! alone (one outbox event each) measured in the same run; then the lag of
//! timers behind their deadlines when they fall due at half that rate.
//!
//! The tickets, their resolution clocks (past due) and their breach timers
//! are made by SQL in the database; the workers are the kit's
//! [`TimerWorker`]s with the handlers `map worker` runs.

use std::time::{Duration, Instant};

use map_bench::{LoadOptions, Report, run_load};
use map_contracts::events::v1 as ev;
use map_kit::{
    System,
    clock::Clock,
    db::Db,
    outbox::{NewEvent, Outbox},
    timers::{TimerWorker, TimerWorkerConfig},
};
use sea_orm::{ConnectionTrait as _, DbErr, Statement};

use crate::sla::{
    clocks,
    timers::{ClockTimer, LEVEL, LevelTimer},
};

/// `map bench sla-timers` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct SlaTimersArgs {
    /// Breaches due at once for the firing rate.
    #[arg(long, default_value_t = 20_000)]
    pub breaches: u64,
    /// Seconds of deadlines at half the measured rate, for the lag.
    #[arg(long, default_value_t = 20)]
    pub lag_seconds: u64,
    /// Timer workers (each with the default two claimers).
    #[arg(long, default_value_t = 2)]
    pub workers: usize,
    /// The PostgreSQL server to make the run's database on.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
}

/// Tickets `from..to` of one high-priority policy (around the clock, 1 h
/// to resolve), each with its resolution clock counted past its target and
/// a breach timer due at `due` + (g − from) / `rate` seconds.
async fn fill(db: &Db, from: u64, to: u64, rate: Option<f64>) -> Result<(), DbErr> {
    let conn = db.conn();
    let spread = match rate {
        Some(r) => format!("(g - {from}) * interval '1 second' / {r}"),
        None => "interval '0'".to_owned(),
    };
    let ticket = "'50000000-0000-7000-8000-' || lpad(to_hex(g), 12, '0')";
    conn.execute_unprepared(&format!(
        "INSERT INTO tickets (id, number, hdts_ticket_id, subject, description, requester_user_id, \
         department_code, category, sub_category, priority, status, step_id, assignee_user_id, \
         workflow_id, workflow_revision, workflow_match, triage_reason, version, created_at, \
         updated_at, resolved_at, closed_at, help_topic_id, requester_version, sla_policy_id) \
         SELECT {ticket}, 'TT-' || lpad(g::text, 7, '0'), NULL, 'Printer ' || g, '', \
         '30000000-0000-7000-8000-000000000001', 'IT', 'Hardware', '', 'high', 'in_progress', '', \
         '20000000-0000-7000-8000-000000000001', '', 0, '', '', 1, now() - interval '2 hours', \
         now() - interval '2 hours', NULL, NULL, '', 0, 'bench-policy' \
         FROM generate_series({from}, {to} - 1) g"
    ))
    .await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO ticket_sla_clocks (ticket_id, clock, step_id, policy_id, target_ms, warn_ms, \
         elapsed_ms, counting, counted_at, paused_since, warn_at, due_at, warned_at, breached_at, \
         stopped_at, levels_done) \
         SELECT {ticket}, 'resolution', '', 'bench-policy', 3600000, 2700000, 3600000, true, \
         now() + {spread}, NULL, NULL, now() + {spread}, now() - interval '30 minutes', NULL, NULL, '' \
         FROM generate_series({from}, {to} - 1) g"
    ))
    .await?;
    conn.execute_unprepared(&format!(
        "INSERT INTO timers (kind, subject, due_at, run_at, payload, state, attempts, last_error, \
         scheduled_at, fired_at) \
         SELECT '{kind}', {ticket} || '/resolution', now() + {spread}, now() + {spread}, '', \
         'pending', 0, NULL, now(), NULL FROM generate_series({from}, {to} - 1) g",
        kind = clocks::BREACH,
    ))
    .await?;
    conn.execute_unprepared("VACUUM ANALYZE timers").await?;
    Ok(())
}

/// Pending timers left.
async fn pending(db: &Db) -> Result<i64, DbErr> {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.backend(),
            "SELECT count(*) AS n FROM timers WHERE state = 'pending'",
        ))
        .await?;
    Ok(row
        .map(|r| r.try_get::<i64>("", "n"))
        .transpose()?
        .unwrap_or(0))
}

/// Starts `n` timer workers with TTS's SLA handlers; stopped by the sender.
fn workers(db: &Db, n: usize) -> tokio::sync::watch::Sender<bool> {
    let (stop, stopped) = tokio::sync::watch::channel(false);
    for _ in 0..n {
        let clock = Clock::system();
        let worker = TimerWorker::new(
            db.clone(),
            clock.clone(),
            TimerWorkerConfig {
                poll_interval: Duration::from_millis(200),
                ..TimerWorkerConfig::default()
            },
        )
        .handle(clocks::WARNING, ClockTimer::warning(clock.clone()))
        .handle(clocks::BREACH, ClockTimer::breach(clock.clone()))
        .handle(LEVEL, LevelTimer::new(clock));
        let mut stopped = stopped.clone();
        tokio::spawn(worker.run(async move {
            let _ = stopped.wait_for(|s| *s).await;
        }));
    }
    stop
}

fn report(scenario: &str, seconds: f64, calls: u64, notes: Vec<String>) -> Report {
    Report {
        scenario: scenario.to_owned(),
        concurrency: 1,
        target_rate: None,
        duration_s: seconds,
        calls,
        errors: 0,
        throughput: calls as f64 / seconds.max(f64::MIN_POSITIVE),
        latency: map_bench::Latency::of(&map_bench::new_histogram()),
        first_error: None,
        notes,
    }
}

/// Runs the scenario on `db` (migrated, empty, PostgreSQL).
pub async fn run(
    db: &Db,
    load: &LoadOptions,
    args: &SlaTimersArgs,
) -> Result<Vec<Report>, Box<dyn std::error::Error>> {
    let conn = db.conn();
    conn.execute_unprepared(
        "INSERT INTO sla_policies (id, name, priority, first_response_ms, resolution_ms, \
         warning_percent, calendar_id, active, pause_statuses, help_topic_id, workflow_id, \
         department_code, escalation_levels, version, created_at, updated_at) VALUES \
         ('bench-policy', 'High', 'high', 900000, 3600000, 75, '', true, \
         'waiting_on_requester', '', '', '', '[]', 1, now(), now())",
    )
    .await?;
    let mut reports = Vec::new();

    // The ceiling: the producer's transactions alone, one outbox event each.
    let outbox = Outbox::new(System::Tts);
    let producer_db = db.clone();
    let producer = run_load("sla-timers: producer transactions alone", load, move |_| {
        let db = producer_db.clone();
        let outbox = outbox.clone();
        async move {
            let txn = db.begin_write().await?;
            let payload = ev::TtsSlaBreached::default();
            outbox
                .enqueue(
                    &txn,
                    NewEvent::new("tts.sla.breached", "bench", 1, &payload),
                )
                .await
                .map_err(|e| DbErr::Custom(e.to_string()))?;
            txn.commit().await?;
            Ok::<(), DbErr>(())
        }
    })
    .await;
    let ceiling = producer.throughput;
    reports.push(producer);

    // Firing rate: every breach due now, two workers.
    fill(db, 0, args.breaches, None).await?;
    let started = Instant::now();
    let stop = workers(db, args.workers);
    while pending(db).await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    let _ = stop.send(true);
    // Each breach arms its escalation level, fired in turn.
    let fired = args.breaches * 2;
    let rate = fired as f64 / seconds;
    reports.push(report(
        "sla-timers: fired by the workers",
        seconds,
        fired,
        vec![
            format!(
                "{} breaches and their {} escalation levels, {} workers",
                args.breaches, args.breaches, args.workers
            ),
            format!("{:.2}× the producer's transactions alone", rate / ceiling),
        ],
    ));

    // Lag at half that rate: breaches falling due one after another.
    let half = rate / 2.0;
    // Breaches at half/2 per second: with their levels, half the rate.
    let count = (half / 2.0 * args.lag_seconds as f64) as u64;
    let from = args.breaches;
    let stop = workers(db, args.workers);
    fill(db, from, from + count, Some(half / 2.0)).await?;
    while pending(db).await? > 0 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let lags = conn
        .query_all_raw(Statement::from_string(
            db.backend(),
            format!(
                "SELECT (EXTRACT(EPOCH FROM (fired_at - due_at)) * 1000000)::bigint AS lag \
                 FROM timers WHERE kind = '{}' AND subject >= '50000000-0000-7000-8000-{from:012x}'",
                clocks::BREACH
            ),
        ))
        .await?;
    let mut h = map_bench::new_histogram();
    for row in &lags {
        let lag: i64 = row.try_get("", "lag")?;
        let _ = h.record(u64::try_from(lag).unwrap_or(0).max(1));
    }
    let mut lag = report(
        "sla-timers: lag behind the deadline",
        args.lag_seconds as f64,
        lags.len() as u64,
        vec![format!(
            "breaches due at {:.0}/s (each arms a level: {:.0} timers/s, half the firing rate)",
            half / 2.0,
            half
        )],
    );
    lag.latency = map_bench::Latency::of(&h);
    lag.target_rate = Some(half);
    reports.push(lag);
    Ok(reports)
}
