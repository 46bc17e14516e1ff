//! `map bench budget-report`: GetBudgetReport through BMS's real gRPC
//! server on PostgreSQL for a fiscal year of `--departments` budgets of
//! `--lines-per-budget` lines each (20 × 50 = 1,000 lines, unallocated
//! lines included), first with `--baseline-expenses` (10,000) recorded
//! expenses, then with the same year grown to `--expenses` (1,000,000), so
//! the report shows whether its cost grows with the ledger. Measured: the
//! whole year; one department; the whole year with its months (which
//! aggregates the year's expenses by line and day, so it is expected to
//! grow — shown, not targeted).
//!
//! Targets: the whole year's p99 ≤ 50 ms at the larger size and ≤ 1.5× its
//! p99 at the baseline. After each size the report's total spent is
//! checked against the sum of the recorded expenses. The data is made by
//! SQL (`generate_series`), the lines' maintained spent amounts set from
//! their expenses, then `VACUUM ANALYZE`.

use std::sync::{
    Arc,
    atomic::{AtomicU64, Ordering},
};

use map_bench::{
    LoadOptions, Report, run_load,
    system::{BenchResult, OneCaller, Served, verdict, with_token},
};
use map_contracts::bms::v1::{self as pb, report_service_client::ReportServiceClient};
use map_kit::{clock::Clock, db::Db, paging::Pager};
use sea_orm::{ConnectionTrait as _, Statement};

use crate::{grpc::Domain, grpc_server};

/// `map bench budget-report` arguments.
#[derive(Debug, Clone, clap::Args)]
pub struct BudgetReportArgs {
    /// Recorded expenses of the measured year.
    #[arg(long, default_value_t = 1_000_000)]
    pub expenses: u64,
    /// Recorded expenses of the first, small measurement.
    #[arg(long, default_value_t = 10_000)]
    pub baseline_expenses: u64,
    /// Departments, one budget each.
    #[arg(long, default_value_t = 20)]
    pub departments: u64,
    /// Lines of each budget, its unallocated line included.
    #[arg(long, default_value_t = 50)]
    pub lines_per_budget: u64,
    /// The PostgreSQL server to make the run's database on.
    #[arg(long, env = "MAP_BENCH_DATABASE_SERVER", hide_env_values = true)]
    pub database_server: String,
}

/// Target p99 of the whole year's report at the larger size, in
/// microseconds.
const TARGET_P99_US: u64 = 50_000;
/// Target ratio of that p99 to the baseline's.
const TARGET_RATIO: f64 = 1.5;
/// The fiscal year's id.
const YEAR: &str = "00000000-0000-7000-8000-00000000f001";

/// The id of budget `b`.
fn budget_id(b: u64) -> String {
    format!("00000000-0000-7000-8001-{b:012}")
}

/// The id of line `l` (all budgets' lines numbered together).
fn line_id(l: u64) -> String {
    format!("00000000-0000-7000-8002-{l:012}")
}

/// Department `d` (from 0).
fn department(d: u64) -> String {
    format!("DEP{:02}", d + 1)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Query {
    Year,
    Department,
    YearWithMonths,
}

impl Query {
    const ALL: [Query; 3] = [Query::Year, Query::Department, Query::YearWithMonths];

    fn name(self) -> &'static str {
        match self {
            Query::Year => "budget report: (a) the fiscal year",
            Query::Department => "budget report: (b) one department",
            Query::YearWithMonths => "budget report: (c) the fiscal year with its months",
        }
    }

    fn request(self, n: u64, departments: u64) -> pb::GetBudgetReportRequest {
        let year = pb::GetBudgetReportRequest {
            fiscal_year_id: YEAR.into(),
            ..Default::default()
        };
        match self {
            Query::Year => year,
            Query::Department => pb::GetBudgetReportRequest {
                department_code: department(n % departments.max(1)),
                ..year
            },
            Query::YearWithMonths => pb::GetBudgetReportRequest {
                include_months: true,
                ..year
            },
        }
    }
}

async fn exec(db: &Db, sql: String) -> BenchResult<()> {
    db.conn()
        .execute_raw(Statement::from_string(db.backend(), sql))
        .await?;
    Ok(())
}

/// The year (today ± 180 days), the departments, their budgets and lines.
async fn reference_data(db: &Db, args: &BudgetReportArgs) -> BenchResult<()> {
    let today = Clock::system().now().date_naive();
    let start = today - chrono::Duration::days(180);
    let end = today + chrono::Duration::days(180);
    exec(
        db,
        format!(
            "INSERT INTO fiscal_years (id, name, start_date, end_date, created_at) \
             VALUES ('{YEAR}', 'FY-bench', '{start}', '{end}', now())"
        ),
    )
    .await?;
    let per = args.lines_per_budget.max(1);
    for d in 0..args.departments {
        let code = department(d);
        let budget = budget_id(d);
        // The unallocated line is the budget's last.
        let unallocated = line_id(d * per + per - 1);
        exec(
            db,
            format!(
                "INSERT INTO directory_departments (code, name, active, version, updated_at) \
                 VALUES ('{code}', 'Department {code}', true, 1, now())"
            ),
        )
        .await?;
        exec(
            db,
            format!(
                "INSERT INTO budgets (id, fiscal_year_id, department_code, currency, \
                 unallocated_line_id, version, created_at, updated_at) \
                 VALUES ('{budget}', '{YEAR}', '{code}', 'USD', '{unallocated}', 1, now(), now())"
            ),
        )
        .await?;
        let lines: Vec<String> = (0..per)
            .map(|i| {
                let id = line_id(d * per + i);
                let last = i == per - 1;
                let (code, account, mode) = if last {
                    (String::new(), "UNALLOCATED".to_owned(), "warn")
                } else {
                    (format!("CAT{:03}", i + 1), format!("6{:03}", i + 1), "stop")
                };
                format!(
                    "('{id}', '{budget}', '{code}', {last}, '{account}', '', '{mode}', 90, \
                     1000000000, now())"
                )
            })
            .collect();
        exec(
            db,
            format!(
                "INSERT INTO budget_lines (id, budget_id, category_code, unallocated, \
                 account_code, description, control_mode, warning_threshold_percent, \
                 base_allocated_minor, created_at) VALUES {}",
                lines.join(", ")
            ),
        )
        .await?;
    }
    Ok(())
}

/// Grows the year's recorded expenses from `from` to `to`, spread over
/// every line and day, one in a thousand flagged; then sets the lines'
/// maintained spent amounts from them.
async fn fill(db: &Db, args: &BudgetReportArgs, from: u64, to: u64) -> BenchResult<()> {
    let per = args.lines_per_budget.max(1);
    let lines = per * args.departments.max(1);
    exec(
        db,
        format!(
            "INSERT INTO expenses (id, status, budget_id, budget_line_id, department_code, \
             fiscal_year_id, amount_minor, currency, source_amount_minor, source_currency, \
             expense_date, description, source_system, source, flags, recorded_at, version) \
             SELECT '00000000-0000-7000-8003-' || lpad(g::text, 12, '0'), 'recorded', \
               '00000000-0000-7000-8001-' || lpad(((g % {lines}) / {per})::text, 12, '0'), \
               '00000000-0000-7000-8002-' || lpad((g % {lines})::text, 12, '0'), \
               'DEP' || lpad(((g % {lines}) / {per} + 1)::text, 2, '0'), \
               '{YEAR}', 100 + g % 900, 'USD', 100 + g % 900, 'USD', \
               (SELECT start_date FROM fiscal_years WHERE id = '{YEAR}') + (g % 360)::int, \
               'bench', 'bms', 'manual', \
               CASE WHEN g % 1000 = 0 THEN 'OVERSPENT' ELSE '' END, \
               now() - (g % 360) * interval '1 day', 1 \
             FROM generate_series({from}, {to} - 1) g"
        ),
    )
    .await?;
    exec(
        db,
        "UPDATE budget_lines l SET spent_minor = s.spent FROM \
         (SELECT budget_line_id, SUM(amount_minor) AS spent FROM expenses \
          WHERE status = 'recorded' GROUP BY budget_line_id) s \
         WHERE l.id = s.budget_line_id"
            .to_owned(),
    )
    .await?;
    exec(db, "VACUUM ANALYZE".to_owned()).await
}

/// The sum of the recorded expenses, by SQL.
async fn ledger_total(db: &Db) -> BenchResult<i64> {
    let row = db
        .conn()
        .query_one_raw(Statement::from_string(
            db.backend(),
            "SELECT CAST(COALESCE(SUM(amount_minor), 0) AS BIGINT) AS total FROM expenses \
             WHERE status = 'recorded'"
                .to_owned(),
        ))
        .await?
        .ok_or("no sum")?;
    Ok(row.try_get::<i64>("", "total")?)
}

/// Runs the scenario on `db` (migrated, empty, PostgreSQL).
pub async fn run(db: &Db, load: &LoadOptions, args: &BudgetReportArgs) -> BenchResult<Vec<Report>> {
    reference_data(db, args).await?;
    let pager = Pager::random();
    let served = Served::start(grpc_server(
        Domain::new(db, &Clock::system(), &pager),
        Arc::new(OneCaller::new(map_bench::system::caller(
            "c0000000-0000-7000-8000-0000000000f2",
            "DEP01",
            &[("bms", "finance_head")],
        ))),
    ))
    .await?;
    let mut reports = Vec::new();
    let mut baseline: Vec<u64> = Vec::new();
    let sizes = [args.baseline_expenses.min(args.expenses), args.expenses];
    let mut filled = 0;
    for (n, size) in sizes.into_iter().enumerate() {
        let started = std::time::Instant::now();
        fill(db, args, filled, size).await?;
        filled = size;
        tracing::warn!(
            expenses = size,
            seconds = started.elapsed().as_secs_f64(),
            "filled"
        );
        // The report reconciles with the ledger before it is timed.
        let whole = ReportServiceClient::new(served.channel.clone())
            .get_budget_report(with_token(Query::Year.request(0, args.departments)))
            .await?
            .into_inner();
        let reported: i64 = whole
            .totals
            .iter()
            .filter_map(|t| t.spent.as_ref())
            .map(|m| m.amount_minor)
            .sum();
        let ledger = ledger_total(db).await?;
        let lines = whole.rows.len();
        for (q, query) in Query::ALL.into_iter().enumerate() {
            let mut report = measure(&served, query, size, args.departments, load).await;
            report.notes.push(format!(
                "{size} expenses on {lines} lines; report's spent {reported} = ledger's {ledger}: {}",
                verdict(reported == ledger)
            ));
            if n == 0 {
                baseline.push(report.latency.p99_us);
            } else if query != Query::YearWithMonths {
                let before = baseline.get(q).copied().unwrap_or(0);
                let ratio = report.latency.p99_us as f64 / before.max(1) as f64;
                report.notes.push(format!(
                    "p99 {:.1} ms (target ≤ {} ms: {}); {:.2}× the p99 at {} ({:.1} ms; target ≤ {TARGET_RATIO}×: {})",
                    report.latency.p99_us as f64 / 1000.0,
                    TARGET_P99_US / 1000,
                    verdict(report.latency.p99_us <= TARGET_P99_US),
                    ratio,
                    sizes[0],
                    before as f64 / 1000.0,
                    verdict(ratio <= TARGET_RATIO)
                ));
            }
            reports.push(report);
        }
    }
    served.stop().await;
    Ok(reports)
}

async fn measure(
    served: &Served,
    query: Query,
    size: u64,
    departments: u64,
    load: &LoadOptions,
) -> Report {
    let channel = served.channel.clone();
    let calls = Arc::new(AtomicU64::new(0));
    run_load(&format!("{} @{size}", query.name()), load, move |_| {
        let mut client = ReportServiceClient::new(channel.clone());
        let n = calls.fetch_add(1, Ordering::Relaxed);
        let request = query.request(n, departments);
        async move {
            client.get_budget_report(with_token(request)).await?;
            Ok::<(), tonic::Status>(())
        }
    })
    .await
}
