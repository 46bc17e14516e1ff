//! `map bench budget-expenses`: expenses racing onto a few budget lines
//! through BMS's real gRPC server on PostgreSQL, then every line checked
//! against its ledger.
//!
//! Setup (not measured): the fiscal year of today, `--lines` departments
//! (10) in the directory, each with a budget of one STOP line. Each of the
//! `--concurrency` callers (64) loops: record an expense of 1.00–10.00 on a
//! random line (RecordExpense, a fresh request id).
//!
//! Runs, in order, at the same concurrency:
//! 1. `insert ceiling`: one single-row `INSERT` per transaction;
//! 2. `expenses, room to spare`: lines allocated far beyond what the run
//!    spends — expenses/s and their latency;
//! 3. `expenses at the limit`: new lines allocated `--limit` each (500.00),
//!    which the callers exhaust within the first seconds: every later call
//!    races for what is left and is refused (FAILED_PRECONDITION,
//!    BUDGET_EXCEEDED) — calls/s, recorded and refused apart;
//! 4. the ledger check: for every line, spent equals the sum of its
//!    recorded expenses, and on a STOP line spent + committed never exceeds
//!    the allocation. Target: 0 overspent lines.

use std::{
    collections::HashMap,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::{Duration, Instant},
};

use map_bench::{
    LoadOptions, Report, run_load,
    scenarios::baseline,
    system::{BenchResult, Mix, OneCaller, Served, insert_ceiling, verdict, with_token},
};
use map_contracts::{
    bms::v1::{self as pb, expense_service_client::ExpenseServiceClient},
    common::v1::Money,
};
use map_kit::{clock::Clock, db::Db, paging::Pager, wire::date::date};
use sea_orm::{ConnectionTrait as _, EntityTrait as _};

use crate::{
    budgets::Budgets,
    entity::{budget_lines, expenses},
    expenses::status,
    fiscal_years::FiscalYears,
    grpc::Domain,
    grpc_server,
    lines::Mode,
};

/// `map bench budget-expenses` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BudgetExpensesArgs {
    /// Budget lines the callers race onto (one per department's budget).
    #[arg(long, default_value_t = 10)]
    pub lines: u64,
    /// Allocation of each line of the at-the-limit phase, in minor units.
    #[arg(long, default_value_t = 50_000)]
    pub limit: i64,
    /// Seconds of the at-the-limit phase.
    #[arg(long, default_value_t = 5.0)]
    pub limit_duration: f64,
    /// HTTP/2 connections the callers share.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// The PostgreSQL server to make the run's database on.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
}

/// The finance head every call is made as.
fn finance_head() -> map_kit::authn::Principal {
    map_bench::system::caller(
        "c0000000-0000-7000-8000-0000000000f1",
        "DEP01",
        &[("bms", "finance_head")],
    )
}

/// Department `i` (from 0).
fn department(i: u64) -> String {
    format!("DEP{:02}", 1 + i)
}

/// The fiscal year of today and `count` departments, by SQL; their
/// budgets (one STOP line each, allocated `allocation`) through the domain.
async fn budgets(db: &Db, count: u64, allocation: i64, round: &str) -> BenchResult<Vec<String>> {
    let pager = Pager::random();
    let fiscal_years = FiscalYears::new(db.clone(), Clock::system(), pager.clone());
    let budgets = Budgets::new(db.clone(), Clock::system(), pager);
    let today = Clock::system().now().date_naive();
    let year = match crate::fiscal_years::containing(db.conn(), today).await? {
        Some(y) => y,
        None => {
            let start = today - chrono::Duration::days(180);
            let end = today + chrono::Duration::days(180);
            let r = pb::CreateFiscalYearRequest {
                name: "FY-bench".into(),
                start_date: Some(date(start)),
                end_date: Some(date(end)),
                request_id: uuid::Uuid::now_v7().to_string(),
            };
            let key = map_kit::idempotency::Idempotent::new(
                map_kit::System::Bms,
                "request_id",
                &r.request_id,
                "bench/CreateFiscalYear",
                &r,
            )?;
            fiscal_years.create(&key, &r).await?;
            crate::fiscal_years::containing(db.conn(), today)
                .await?
                .ok_or("no fiscal year")?
        }
    };
    let mut lines = Vec::new();
    for i in 0..count {
        // One budget per department and year: each round has departments
        // of its own.
        let code = format!("{round}{}", department(i));
        db.conn()
            .execute_unprepared(&format!(
                "INSERT INTO directory_departments (code, name, active, version, updated_at) \
                 VALUES ('{code}', 'Department {code}', true, 1, now())"
            ))
            .await?;
        let r = pb::CreateBudgetRequest {
            fiscal_year_id: year.id.clone(),
            department_code: code,
            currency_code: "USD".into(),
            lines: vec![pb::BudgetLineInput {
                category_code: "LAPTOP".into(),
                allocated: Some(usd(allocation)),
                control_mode: Mode::Stop.to_proto().into(),
                ..Default::default()
            }],
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        };
        let key = map_kit::idempotency::Idempotent::new(
            map_kit::System::Bms,
            "request_id",
            &r.request_id,
            "bench/CreateBudget",
            &r,
        )?;
        let budget = budgets.create(&key, &r).await?.budget.ok_or("no budget")?;
        let line = budget
            .lines
            .iter()
            .find(|l| !l.unallocated)
            .ok_or("no category line")?;
        lines.push(line.id.clone());
    }
    Ok(lines)
}

fn usd(amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: "USD".into(),
    }
}

/// Refused and failed calls of a measured window.
#[derive(Debug, Default)]
struct Misses {
    refused: AtomicU64,
    other: AtomicU64,
}

/// Runs `name`: the callers race expenses onto `lines` for `load`.
async fn race(
    name: &str,
    load: &LoadOptions,
    channels: &Arc<Vec<tonic::transport::Channel>>,
    lines: Vec<String>,
    misses: Arc<Misses>,
) -> Report {
    let lines = Arc::new(lines);
    let calls = Arc::new(AtomicU64::new(0));
    let warm_end = Instant::now() + Duration::from_secs_f64(load.warmup.max(0.0));
    let today = Clock::system().now().date_naive();
    let channels = channels.clone();
    run_load(name, load, move |worker| {
        let mut client = ExpenseServiceClient::new(channels[worker % channels.len()].clone());
        let mut mix = Mix::new(calls.fetch_add(1, Ordering::Relaxed));
        let line = lines[mix.below(lines.len() as u64) as usize].clone();
        let amount = 100 + i64::try_from(mix.below(901)).unwrap_or(0);
        let missed = misses.clone();
        async move {
            let began = Instant::now();
            let answer = client
                .record_expense(with_token(pb::RecordExpenseRequest {
                    budget_line_id: line,
                    amount: Some(usd(amount)),
                    description: "Bench expense".into(),
                    request_id: uuid::Uuid::now_v7().to_string(),
                    expense_date: Some(date(today)),
                    ..Default::default()
                }))
                .await;
            match answer {
                Ok(_) => Ok(()),
                Err(status) => {
                    if began >= warm_end {
                        if status.code() == tonic::Code::FailedPrecondition {
                            missed.refused.fetch_add(1, Ordering::Relaxed);
                        } else {
                            missed.other.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Err(status)
                }
            }
        }
    })
    .await
}

/// Runs the scenario on `db` (migrated, empty, PostgreSQL).
pub async fn run(
    db: &Db,
    load: &LoadOptions,
    args: &BudgetExpensesArgs,
) -> BenchResult<Vec<Report>> {
    let count = args.lines.max(1);
    let ceiling = insert_ceiling(db, load).await?;
    let spare = budgets(db, count, i64::MAX / 4, "R").await?;
    let limited = budgets(db, count, args.limit.max(0), "L").await?;
    let pager = Pager::random();
    let served = Served::start(grpc_server(
        Domain::new(db, &Clock::system(), &pager),
        Arc::new(OneCaller::new(finance_head())),
    ))
    .await?;
    let channels = Arc::new(baseline::channels(served.addr, args.connections.max(1)).await?);

    let spare_misses = Arc::new(Misses::default());
    let mut room = race(
        "expenses, room to spare",
        load,
        &channels,
        spare,
        spare_misses.clone(),
    )
    .await;
    room.notes.push(format!(
        "{count} STOP lines of {count} budgets, 1.00–10.00 an expense, {} HTTP/2 connections; refused {}, other errors {}",
        args.connections.max(1),
        spare_misses.refused.load(Ordering::Relaxed),
        spare_misses.other.load(Ordering::Relaxed),
    ));
    room.notes.push(format!(
        "{:.2}× the insert ceiling ({:.0} transactions/s, same run)",
        room.throughput / ceiling.throughput.max(1.0),
        ceiling.throughput
    ));

    let limit_load = LoadOptions {
        duration: args.limit_duration,
        warmup: 0.0,
        ..load.clone()
    };
    let limit_misses = Arc::new(Misses::default());
    let mut at_limit = race(
        "expenses at the limit",
        &limit_load,
        &channels,
        limited.clone(),
        limit_misses.clone(),
    )
    .await;
    served.stop().await;
    let refused = limit_misses.refused.load(Ordering::Relaxed);
    at_limit.notes.push(format!(
        "{count} STOP lines allocated {} each: calls {} ({:.0}/s), recorded {}, refused BUDGET_EXCEEDED {refused}, other errors {}",
        args.limit,
        at_limit.calls + at_limit.errors,
        (at_limit.calls + at_limit.errors) as f64 / at_limit.duration_s.max(1e-9),
        at_limit.calls,
        limit_misses.other.load(Ordering::Relaxed),
    ));

    let checked = check_lines(db).await?;
    at_limit.notes.push(format!(
        "ledger check: {} lines, {} recorded expenses; lines whose spent differs from their ledger {}; STOP lines overspent {} — target 0: {}",
        checked.lines,
        checked.expenses,
        checked.mismatched,
        checked.overspent,
        verdict(checked.mismatched == 0 && checked.overspent == 0)
    ));
    let filled: i64 = checked
        .spent
        .iter()
        .filter(|(id, _)| limited.contains(id))
        .map(|(_, s)| *s)
        .sum();
    at_limit.notes.push(format!(
        "the limited lines hold {filled} of {} allocated ({:.2}%)",
        args.limit.saturating_mul(count as i64),
        filled as f64 * 100.0 / (args.limit.max(1) as f64 * count as f64)
    ));
    Ok(vec![ceiling, room, at_limit])
}

/// What the ledger check found.
#[derive(Debug)]
struct Checked {
    lines: usize,
    expenses: usize,
    mismatched: usize,
    overspent: usize,
    spent: HashMap<String, i64>,
}

/// Every line against its recorded expenses (see the module docs).
async fn check_lines(db: &Db) -> BenchResult<Checked> {
    let lines = budget_lines::Entity::find().all(db.conn()).await?;
    let recorded = expenses::Entity::find().all(db.conn()).await?;
    let mut sums: HashMap<String, i64> = HashMap::new();
    let mut count = 0;
    for e in recorded.iter().filter(|e| e.status == status::RECORDED) {
        *sums.entry(e.budget_line_id.clone()).or_default() += e.amount_minor;
        count += 1;
    }
    let mut mismatched = 0;
    let mut overspent = 0;
    for l in &lines {
        if sums.get(&l.id).copied().unwrap_or(0) != l.spent_minor {
            mismatched += 1;
        }
        if Mode::of(l) == Mode::Stop && l.spent_minor + l.committed_minor > l.allocated() {
            overspent += 1;
        }
    }
    Ok(Checked {
        lines: lines.len(),
        expenses: count,
        mismatched,
        overspent,
        spent: lines
            .iter()
            .map(|l| (l.id.clone(), l.spent_minor))
            .collect(),
    })
}
