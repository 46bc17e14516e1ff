//! BMS's budget reports through its gRPC API on port 0, on both databases:
//!
//! - a fiscal year with three departments' budgets in two currencies,
//!   expenses recorded (one voided, one overspending a WARN line), a
//!   transfer, AMS purchases booked on an unallocated line and held: every
//!   row satisfies the ledger's identities, each department total is the
//!   exact sum of its rows, each currency's total the sum of its
//!   departments', spent equals the RECORDED expenses ListExpenses lists,
//!   the months sum to spent against the straight-line plan, held expenses
//!   are apart;
//! - the department and line filters;
//! - the CSV files (SUMMARY and MONTHLY) parse and hold GetBudgetReport's
//!   numbers, formulas neutralised; ExportBudgetReport's bytes are
//!   DownloadBudgetReport's chunks concatenated; a file over 4 MiB is only
//!   streamed;
//! - bad input names its field, unknown things are NOT_FOUND;
//! - the policy table, RPC by RPC, for every kind of caller.
#![allow(clippy::unwrap_used)]

mod support;

use std::collections::BTreeMap;

use chrono::{Datelike as _, NaiveDate};
use map_bms::bookings::{AmsExpense, Bookings};
use map_contracts::{
    bms::v1::{self as pb, report_service_client::ReportServiceClient},
    common::v1::Money,
};
use map_kit::testing::{Caller, check_policy_matrix, expect_err};
use sea_orm::{ActiveModelTrait as _, ActiveValue::Set};
use support::{Fixture, amount, date, fields, line, line_of, reason, usd};
use tonic::{Code, Status, transport::Channel};

use pb::BudgetControlMode::{Ignore, Stop, Warn};

const SUMMARY_COLUMNS: [&str; 24] = [
    "row_type",
    "department_code",
    "department_name",
    "category_code",
    "account_code",
    "description",
    "unallocated",
    "control_mode",
    "currency_code",
    "base_allocated_minor",
    "increased_minor",
    "transferred_in_minor",
    "transferred_out_minor",
    "allocated_minor",
    "committed_minor",
    "pending_minor",
    "pending_increase_minor",
    "spent_minor",
    "remaining_minor",
    "utilization_basis_points",
    "warning_threshold_percent",
    "over_threshold",
    "overspent",
    "flagged_expense_count",
];

const MONTHLY_COLUMNS: [&str; 13] = [
    "row_type",
    "department_code",
    "department_name",
    "category_code",
    "account_code",
    "description",
    "currency_code",
    "month",
    "allocated_minor",
    "planned_cumulative_minor",
    "spent_minor",
    "cumulative_spent_minor",
    "variance_minor",
];

fn money(currency: &str, amount_minor: i64) -> Money {
    Money {
        amount_minor,
        currency_code: currency.into(),
    }
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

/// What a spreadsheet must show for a text cell: an apostrophe before a
/// would-be formula.
fn shown(text: &str) -> String {
    if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    }
}

/// The figures of a row or total that sum: base, increased, in, out,
/// allocated, committed, pending, pending increase, spent, remaining.
fn figures_of_row(r: &pb::BudgetReportRow) -> [i64; 10] {
    [
        amount(&r.base_allocated),
        amount(&r.increased),
        amount(&r.transferred_in),
        amount(&r.transferred_out),
        amount(&r.allocated),
        amount(&r.committed),
        amount(&r.pending),
        amount(&r.pending_increase),
        amount(&r.spent),
        amount(&r.remaining),
    ]
}

fn figures_of_total(t: &pb::BudgetReportTotal) -> [i64; 10] {
    [
        amount(&t.base_allocated),
        amount(&t.increased),
        amount(&t.transferred_in),
        amount(&t.transferred_out),
        amount(&t.allocated),
        amount(&t.committed),
        amount(&t.pending),
        amount(&t.pending_increase),
        amount(&t.spent),
        amount(&t.remaining),
    ]
}

fn add(into: &mut [i64; 10], from: [i64; 10]) {
    for (a, b) in into.iter_mut().zip(from) {
        *a += b;
    }
}

/// A month's (spent, cumulative spent, planned, variance).
fn month_figures(m: &pb::BudgetReportMonth) -> [i64; 4] {
    [
        amount(&m.spent),
        amount(&m.cumulative_spent),
        amount(&m.planned_cumulative),
        amount(&m.variance),
    ]
}

fn add_months(into: &mut Vec<[i64; 4]>, from: &[pb::BudgetReportMonth]) {
    into.resize(from.len().max(into.len()), [0; 4]);
    for (sum, m) in into.iter_mut().zip(from) {
        for (a, b) in sum.iter_mut().zip(month_figures(m)) {
            *a += b;
        }
    }
}

fn utilization(used: i64, allocated: i64) -> i32 {
    match (used, allocated) {
        (u, _) if u <= 0 => 0,
        (_, a) if a <= 0 => i32::MAX,
        (u, a) => i32::try_from(i128::from(u) * 10_000 / i128::from(a)).unwrap_or(i32::MAX),
    }
}

fn mode(m: pb::BudgetControlMode) -> &'static str {
    match m {
        Stop => "stop",
        Warn => "warn",
        Ignore => "ignore",
        pb::BudgetControlMode::Unspecified => "",
    }
}

/// A client of `fx`'s server's ReportService.
async fn reports(fx: &Fixture) -> ReportServiceClient<Channel> {
    ReportServiceClient::new(fx.server.channel().await)
}

async fn get(
    client: &mut ReportServiceClient<Channel>,
    caller: &Caller,
    r: pb::GetBudgetReportRequest,
) -> Result<pb::GetBudgetReportResponse, Status> {
    Ok(client
        .get_budget_report(caller.request(r))
        .await?
        .into_inner())
}

async fn export(
    client: &mut ReportServiceClient<Channel>,
    caller: &Caller,
    r: pb::ExportBudgetReportRequest,
) -> Result<pb::ExportBudgetReportResponse, Status> {
    Ok(client
        .export_budget_report(caller.request(r))
        .await?
        .into_inner())
}

/// The chunks of a download, in order.
async fn download(
    client: &mut ReportServiceClient<Channel>,
    caller: &Caller,
    r: pb::DownloadBudgetReportRequest,
) -> Result<Vec<Vec<u8>>, Status> {
    let mut stream = client
        .download_budget_report(caller.request(r))
        .await?
        .into_inner();
    let mut chunks = Vec::new();
    while let Some(m) = stream.message().await? {
        chunks.push(m.chunk);
    }
    Ok(chunks)
}

fn download_of(r: &pb::ExportBudgetReportRequest) -> pb::DownloadBudgetReportRequest {
    pb::DownloadBudgetReportRequest {
        fiscal_year_id: r.fiscal_year_id.clone(),
        department_code: r.department_code.clone(),
        layout: r.layout,
        budget_line_id: r.budget_line_id.clone(),
    }
}

/// The cells of `records`.
fn cells(records: &[csv::StringRecord]) -> Vec<Vec<String>> {
    records
        .iter()
        .map(|r| r.iter().map(str::to_owned).collect())
        .collect()
}

fn records(content: &[u8]) -> (csv::StringRecord, Vec<csv::StringRecord>) {
    let mut reader = csv::ReaderBuilder::new().from_reader(content);
    let header = reader.headers().unwrap().clone();
    let records = reader.records().map(Result::unwrap).collect();
    (header, records)
}

/// The sum of the RECORDED expenses ListExpenses lists for `r`, by
/// currency.
async fn recorded(fx: &Fixture, r: pb::ListExpensesRequest) -> BTreeMap<String, i64> {
    let listed = fx
        .expenses()
        .await
        .list_expenses(fx.viewer.request(pb::ListExpensesRequest {
            statuses: vec![pb::ExpenseStatus::Recorded.into()],
            page_size: 500,
            ..r
        }))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.next_page_token.is_empty());
    let mut sums = BTreeMap::new();
    for e in &listed.expenses {
        let m = e.amount.as_ref().unwrap();
        *sums.entry(m.currency_code.clone()).or_default() += m.amount_minor;
    }
    sums
}

/// The books of the main test: IT and HR in USD, FIN (named like a
/// formula) in EUR. Returns the ids of IT's LAPTOP and MONITOR lines.
async fn books(fx: &Fixture) -> (String, String) {
    map_kit::directory::entity::departments::ActiveModel {
        code: Set("FIN".into()),
        name: Set("+Finance, \"HQ\"".into()),
        active: Set(true),
        version: Set(1),
        updated_at: Set(chrono::Utc::now()),
    }
    .insert(fx.db.db.conn())
    .await
    .unwrap();
    let mut monitor_input = line("MONITOR", 200_000, Warn);
    monitor_input.description = "=SUM(A1:A9)".into();
    monitor_input.account_code = "6100".into();
    let it = fx
        .budget("IT", vec![line("LAPTOP", 1_000_000, Stop), monitor_input])
        .await
        .unwrap();
    let hr = fx
        .budget("HR", vec![line("DESK", 300_000, Warn)])
        .await
        .unwrap();
    let mut software = line("SOFTWARE", 50_000, Ignore);
    software.allocated = Some(money("EUR", 50_000));
    let fin = fx
        .budgets()
        .await
        .create_budget(fx.finance.request(pb::CreateBudgetRequest {
            fiscal_year_id: fx.year.id.clone(),
            department_code: "FIN".into(),
            currency_code: "EUR".into(),
            lines: vec![software],
            unallocated_allocated: Some(money("EUR", 10_000)),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap();

    let laptop = line_of(&it, "LAPTOP").id.clone();
    let monitor = line_of(&it, "MONITOR").id.clone();
    fx.spend_on(&laptop, 300_000, date(2026, 2, 10), "=cmd|' /C calc'!A0")
        .await
        .unwrap();
    let voided = fx
        .spend_on(&laptop, 150_000, date(2026, 6, 15), "duplicate")
        .await
        .unwrap();
    fx.spend_on(&laptop, 50_000, date(2026, 3, 31), "Docks")
        .await
        .unwrap();
    let over = fx
        .spend_on(&monitor, 250_000, date(2026, 6, 15), "Monitors")
        .await
        .unwrap();
    assert!(
        !over.expense.unwrap().flags.is_empty(),
        "an overspend of a WARN line is flagged"
    );
    fx.spend_on(&line_of(&hr, "DESK").id, 10_000, date(2026, 1, 5), "Desk")
        .await
        .unwrap();
    fx.expenses()
        .await
        .record_expense(fx.finance.request(pb::RecordExpenseRequest {
            budget_line_id: line_of(&fin, "SOFTWARE").id.clone(),
            amount: Some(money("EUR", 7_000)),
            description: "Licences".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            expense_date: Some(date(2026, 4, 20)),
            ..Default::default()
        }))
        .await
        .unwrap();
    fx.expenses()
        .await
        .void_expense(fx.finance.request(pb::VoidExpenseRequest {
            expense_id: voided.expense.unwrap().id,
            reason: "duplicate invoice".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap();
    fx.budgets()
        .await
        .transfer_budget(fx.finance.request(pb::TransferBudgetRequest {
            from_budget_line_id: laptop.clone(),
            to_budget_line_id: monitor.clone(),
            amount: Some(usd(20_000)),
            reason: "more monitors".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap();
    // AMS purchases: one of a category IT has no line for (booked on its
    // unallocated line, flagged), one in another currency (held).
    let purchase = |transaction: &str, category: &str, cost: i64, currency: &str| AmsExpense {
        source: "ams.asset.purchased",
        transaction_id: transaction.into(),
        amount_minor: cost,
        currency: currency.into(),
        expense_date: day(2026, 5, 4),
        description: "Purchase".into(),
        asset_id: format!("asset-of-{transaction}"),
        asset_number: "AST-000001".into(),
        category_code: category.into(),
        department_code: "IT".into(),
    };
    let txn = fx.db.db.begin_write().await.unwrap();
    let bookings = Bookings::new(fx.clock.clock());
    let chair = bookings
        .book(&txn, &purchase("t1", "CHAIR", 25_000, "USD"))
        .await
        .unwrap();
    let held = bookings
        .book(&txn, &purchase("t2", "LAPTOP", 12_345, "EUR"))
        .await
        .unwrap();
    txn.commit().await.unwrap();
    assert_eq!(chair.budget_line_id, it.unallocated_line_id);
    assert!(!chair.flags.is_empty());
    assert_eq!(held.status, "unassigned");
    (laptop, monitor)
}

map_kit::db_tests! {
#[tokio::test]
async fn a_report_reconciles_at_every_level_with_the_ledger() {
    let fx = Fixture::start().await;
    let (laptop, monitor) = books(&fx).await;
    let mut client = reports(&fx).await;
    let report = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        include_months: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(report.fiscal_year_id, fx.year.id);
    assert_eq!(report.fiscal_year_name, "FY2026");
    assert_eq!(report.generate_time, Some(map_kit::wire::time::timestamp(fx.clock.now())));

    // Rows by department code, then category code, unallocated last.
    let order: Vec<_> = report
        .rows
        .iter()
        .map(|r| (r.department_code.as_str(), r.category_code.as_str(), r.unallocated))
        .collect();
    assert_eq!(
        order,
        [
            ("FIN", "SOFTWARE", false),
            ("FIN", "", true),
            ("HR", "DESK", false),
            ("HR", "", true),
            ("IT", "LAPTOP", false),
            ("IT", "MONITOR", false),
            ("IT", "", true),
        ]
    );

    // Every row: the ledger's identities, its states, its spending as
    // ListExpenses lists it, its months.
    let year_days = 365;
    for r in &report.rows {
        let [base, increased, t_in, t_out, allocated, committed, _, _, spent, remaining] =
            figures_of_row(r);
        assert_eq!(allocated, base + increased + t_in - t_out, "{r:?}");
        assert_eq!(remaining, allocated - spent - committed, "{r:?}");
        assert_eq!(r.utilization_basis_points, utilization(spent + committed, allocated));
        assert_eq!(r.overspent, spent + committed > allocated);
        let currency = r.allocated.as_ref().unwrap().currency_code.clone();
        for m in [&r.spent, &r.committed, &r.remaining, &r.base_allocated] {
            assert_eq!(m.as_ref().unwrap().currency_code, currency);
        }
        let listed = recorded(&fx, pb::ListExpensesRequest {
            budget_line_id: r.budget_line_id.clone(),
            ..Default::default()
        })
        .await;
        assert_eq!(listed.get(&currency).copied().unwrap_or_default(), spent, "{r:?}");
        assert_eq!(r.months.len(), 12);
        let mut cumulative = 0;
        for (i, m) in r.months.iter().enumerate() {
            let month = u32::try_from(i + 1).unwrap();
            assert_eq!(m.month, Some(date(2026, i32::try_from(month).unwrap(), 0)));
            cumulative += amount(&m.spent);
            assert_eq!(amount(&m.cumulative_spent), cumulative);
            let last = if month == 12 {
                day(2026, 12, 31)
            } else {
                day(2026, month + 1, 1).pred_opt().unwrap()
            };
            let days = i64::from(last.ordinal());
            assert_eq!(
                amount(&m.planned_cumulative),
                (i128::from(allocated) * i128::from(days)).div_euclid(year_days) as i64
            );
            assert_eq!(amount(&m.variance), amount(&m.planned_cumulative) - cumulative);
        }
        assert_eq!(cumulative, spent, "the months sum to spent");
        assert_eq!(amount(&r.months[11].planned_cumulative), allocated);
    }
    let row = |id: &str| report.rows.iter().find(|r| r.budget_line_id == id).unwrap();
    let laptop_row = row(&laptop);
    assert_eq!(figures_of_row(laptop_row)[3..5], [20_000, 980_000]);
    assert_eq!(amount(&laptop_row.spent), 350_000, "the voided expense is not spent");
    let laptop_months: Vec<i64> = laptop_row.months.iter().map(|m| amount(&m.spent)).collect();
    assert_eq!(laptop_months, [0, 300_000, 50_000, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(laptop_row.control_mode(), Stop);
    let monitor_row = row(&monitor);
    assert_eq!(amount(&monitor_row.allocated), 220_000);
    assert_eq!(amount(&monitor_row.remaining), -30_000);
    assert!(monitor_row.overspent && monitor_row.over_threshold);
    assert_eq!(monitor_row.flagged_expense_count, 1);
    assert_eq!(monitor_row.description, "=SUM(A1:A9)");
    let it_reserve = &report.rows[6];
    assert_eq!(amount(&it_reserve.spent), 25_000);
    assert_eq!(it_reserve.flagged_expense_count, 1, "the purchase of no line is flagged");
    assert_eq!(report.rows[0].department_name, "+Finance, \"HQ\"");

    // Department totals: the exact sums of their rows, by department code.
    let codes: Vec<_> =
        report.department_totals.iter().map(|t| t.department_code.as_str()).collect();
    assert_eq!(codes, ["FIN", "HR", "IT"]);
    for t in &report.department_totals {
        let rows: Vec<_> = report.rows.iter().filter(|r| r.budget_id == t.budget_id).collect();
        assert!(rows.iter().all(|r| r.department_code == t.department_code));
        let mut sums = [0; 10];
        let mut months = Vec::new();
        for r in &rows {
            add(&mut sums, figures_of_row(r));
            add_months(&mut months, &r.months);
        }
        assert_eq!(figures_of_total(t), sums, "{}", t.department_code);
        assert_eq!(t.transferred_in, t.transferred_out, "transfers stay within a budget");
        assert_eq!(t.overspent_line_count, rows.iter().filter(|r| r.overspent).count() as i64);
        let over_threshold = rows.iter().filter(|r| r.over_threshold).count() as i64;
        assert_eq!(t.over_threshold_line_count, over_threshold);
        let flagged: i64 = rows.iter().map(|r| r.flagged_expense_count).sum();
        assert_eq!(t.flagged_expense_count, flagged);
        assert_eq!(t.months.iter().map(month_figures).collect::<Vec<_>>(), months);
        assert_eq!(t.utilization_basis_points, utilization(sums[8] + sums[5], sums[4]));
        assert_eq!(t.overspent, sums[8] + sums[5] > sums[4]);
        assert_eq!(t.department_name, rows[0].department_name);
    }
    let it_total = &report.department_totals[2];
    assert_eq!((amount(&it_total.allocated), amount(&it_total.spent)), (1_200_000, 625_000));
    assert_eq!((it_total.overspent_line_count, it_total.flagged_expense_count), (2, 2));

    // Fiscal-year totals: per currency, the sums of the department totals,
    // and the RECORDED expenses ListExpenses lists for the year.
    let currencies: Vec<_> = report.totals.iter().map(|t| t.currency_code.as_str()).collect();
    assert_eq!(currencies, ["EUR", "USD"]);
    let listed = recorded(&fx, pb::ListExpensesRequest {
        fiscal_year_id: fx.year.id.clone(),
        ..Default::default()
    })
    .await;
    for t in &report.totals {
        assert!(t.department_code.is_empty() && t.budget_id.is_empty());
        let departments: Vec<_> = report
            .department_totals
            .iter()
            .filter(|d| d.currency_code == t.currency_code)
            .collect();
        let mut sums = [0; 10];
        let mut months = Vec::new();
        for d in &departments {
            add(&mut sums, figures_of_total(d));
            add_months(&mut months, &d.months);
        }
        assert_eq!(figures_of_total(t), sums, "{}", t.currency_code);
        assert_eq!(t.months.iter().map(month_figures).collect::<Vec<_>>(), months);
        assert_eq!(
            t.flagged_expense_count,
            departments.iter().map(|d| d.flagged_expense_count).sum::<i64>()
        );
        assert_eq!(amount(&t.spent), listed[&t.currency_code], "spent is the recorded expenses");
    }
    assert_eq!(amount(&report.totals[1].allocated), 1_500_000);
    assert_eq!(amount(&report.totals[1].spent), 635_000);
    assert_eq!(amount(&report.totals[0].allocated), 60_000);

    // The held purchase is apart: in no row or total.
    assert_eq!(report.unassigned_totals, [money("EUR", 12_345)]);
    assert_eq!(report.unassigned_expense_count, 1);
    assert_eq!(amount(&report.totals[0].spent), 7_000);

    // Without months, the same numbers and no months.
    let plain = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(plain.rows.iter().all(|r| r.months.is_empty()));
    let strip = |mut r: pb::GetBudgetReportResponse| {
        r.rows.iter_mut().for_each(|r| r.months.clear());
        r.department_totals.iter_mut().for_each(|t| t.months.clear());
        r.totals.iter_mut().for_each(|t| t.months.clear());
        r
    };
    assert_eq!(strip(plain), strip(report));
}

#[tokio::test]
async fn the_department_and_line_filters_narrow_every_level() {
    let fx = Fixture::start().await;
    let (laptop, _) = books(&fx).await;
    let mut client = reports(&fx).await;
    let it = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        department_code: " it ".into(),
        include_months: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(it.rows.iter().all(|r| r.department_code == "IT"));
    assert_eq!(it.rows.len(), 3);
    assert_eq!(it.department_totals.len(), 1);
    assert_eq!(figures_of_total(&it.totals[0]), figures_of_total(&it.department_totals[0]));
    assert_eq!(it.unassigned_totals, [money("EUR", 12_345)], "IT's held purchase");
    let hr = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        department_code: "HR".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(hr.rows.len(), 2);
    assert!(hr.unassigned_totals.is_empty());
    assert_eq!(hr.unassigned_expense_count, 0);

    let one = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        budget_line_id: laptop.clone(),
        include_months: true,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(one.rows.len(), 1);
    assert_eq!(one.rows[0].budget_line_id, laptop);
    assert_eq!(amount(&one.rows[0].spent), 350_000);
    assert_eq!(one.rows[0].flagged_expense_count, 0);
    assert_eq!(figures_of_total(&one.department_totals[0]), figures_of_row(&one.rows[0]));
    assert_eq!(figures_of_total(&one.totals[0]), figures_of_row(&one.rows[0]));
    assert_eq!(one.totals[0].months, one.rows[0].months);
    assert!(one.unassigned_totals.is_empty(), "none with a line filter");
    // The line is IT's: with HR's filter, nothing.
    let none = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        department_code: "HR".into(),
        budget_line_id: laptop.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(none.rows.is_empty() && none.department_totals.is_empty() && none.totals.is_empty());

    let file = export(&mut client, &fx.viewer, pb::ExportBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        budget_line_id: laptop,
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(file.filename, "budget-report-FY2026-IT-LAPTOP.csv");
    let (_, rows) = records(&file.content);
    let kinds: Vec<_> = rows.iter().map(|r| r[0].to_owned()).collect();
    assert_eq!(kinds, ["line", "department", "total"]);
}

#[tokio::test]
async fn the_files_hold_the_reports_numbers_and_no_formulas() {
    let fx = Fixture::start().await;
    books(&fx).await;
    let mut client = reports(&fx).await;
    let report = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        include_months: true,
        ..Default::default()
    })
    .await
    .unwrap();

    // SUMMARY.
    let request = pb::ExportBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        ..Default::default()
    };
    let file = export(&mut client, &fx.viewer, request.clone()).await.unwrap();
    assert_eq!(file.content_type, "text/csv; charset=utf-8");
    assert_eq!(file.filename, "budget-report-FY2026.csv");
    assert!(!file.content.starts_with(b"\xEF\xBB\xBF"), "no BOM");
    assert!(file.content.ends_with(b"\r\n"));
    let text = std::str::from_utf8(&file.content).unwrap();
    assert_eq!(text.matches('\n').count(), text.matches("\r\n").count(), "CRLF only");
    assert!(text.contains(",\"'+Finance, \"\"HQ\"\"\","), "quoted, quotes doubled: {text}");
    let chunks = download(&mut client, &fx.viewer, download_of(&request)).await.unwrap();
    assert_eq!(chunks.concat(), file.content, "Download gives Export's bytes");

    let (header, rows) = records(&file.content);
    assert_eq!(header, SUMMARY_COLUMNS.to_vec());
    let mut expected: Vec<Vec<String>> = Vec::new();
    for t in &report.department_totals {
        for r in report.rows.iter().filter(|r| r.budget_id == t.budget_id) {
            let mut cells = vec![
                "line".to_owned(),
                shown(&r.department_code),
                shown(&r.department_name),
                shown(&r.category_code),
                shown(&r.account_code),
                shown(&r.description),
                r.unallocated.to_string(),
                mode(r.control_mode()).to_owned(),
                r.allocated.as_ref().unwrap().currency_code.clone(),
            ];
            cells.extend(figures_of_row(r).iter().map(i64::to_string));
            cells.extend([
                r.utilization_basis_points.to_string(),
                r.warning_threshold_percent.to_string(),
                r.over_threshold.to_string(),
                r.overspent.to_string(),
                r.flagged_expense_count.to_string(),
            ]);
            expected.push(cells);
        }
        expected.push(summary_total("department", t));
    }
    for t in &report.totals {
        expected.push(summary_total("total", t));
    }
    let got = cells(&rows);
    assert_eq!(got, expected);
    let monitor = rows.iter().find(|r| &r[3] == "MONITOR").unwrap();
    assert_eq!(&monitor[5], "'=SUM(A1:A9)", "the formula is shown as text");
    assert_eq!(&monitor[18], "-30000", "a negative amount stays a number");
    assert_eq!(&rows[0][2], "'+Finance, \"HQ\"");

    // MONTHLY: a row per line, department and currency, and month.
    let request = pb::ExportBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        layout: pb::BudgetReportLayout::Monthly.into(),
        ..Default::default()
    };
    let file = export(&mut client, &fx.finance, request.clone()).await.unwrap();
    assert_eq!(file.filename, "budget-report-FY2026-monthly.csv");
    let chunks = download(&mut client, &fx.finance, download_of(&request)).await.unwrap();
    assert_eq!(chunks.concat(), file.content);
    let (header, rows) = records(&file.content);
    assert_eq!(header, MONTHLY_COLUMNS.to_vec());
    let mut expected: Vec<Vec<String>> = Vec::new();
    let per_month = |first: Vec<String>,
                     allocated: &Option<Money>,
                     months: &[pb::BudgetReportMonth]| {
        months
            .iter()
            .map(|m| {
                let d = m.month.as_ref().unwrap();
                let mut cells = first.clone();
                cells.push(format!("{:04}-{:02}", d.year, d.month));
                cells.push(amount(allocated).to_string());
                cells.extend(
                    [&m.planned_cumulative, &m.spent, &m.cumulative_spent, &m.variance]
                        .map(|a| amount(a).to_string()),
                );
                cells
            })
            .collect::<Vec<_>>()
    };
    for t in &report.department_totals {
        for r in report.rows.iter().filter(|r| r.budget_id == t.budget_id) {
            let first = vec![
                "line".to_owned(),
                shown(&r.department_code),
                shown(&r.department_name),
                shown(&r.category_code),
                shown(&r.account_code),
                shown(&r.description),
                r.allocated.as_ref().unwrap().currency_code.clone(),
            ];
            expected.extend(per_month(first, &r.allocated, &r.months));
        }
        expected.extend(per_month(monthly_first("department", t), &t.allocated, &t.months));
    }
    for t in &report.totals {
        expected.extend(per_month(monthly_first("total", t), &t.allocated, &t.months));
    }
    let got = cells(&rows);
    assert_eq!(got.len(), (7 + 3 + 2) * 12);
    assert_eq!(got, expected);

    // A department's file is named after it.
    let it = export(&mut client, &fx.viewer, pb::ExportBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        department_code: "IT".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(it.filename, "budget-report-FY2026-IT.csv");
}

#[tokio::test]
async fn a_large_file_streams_in_chunks_and_only_streams_above_4_mib() {
    let fx = Fixture::start().await;
    let lines = (0..200)
        .map(|i| {
            let mut l = line(&format!("C{i:03}"), 1_000 + i, Warn);
            l.description = format!("-{}", "x".repeat(1_999));
            l
        })
        .collect();
    fx.budget("IT", lines).await.unwrap();
    let mut client = reports(&fx).await;
    let summary = pb::ExportBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        ..Default::default()
    };
    let file = export(&mut client, &fx.viewer, summary.clone()).await.unwrap();
    let chunks = download(&mut client, &fx.viewer, download_of(&summary)).await.unwrap();
    assert!(chunks.len() > 1, "{} bytes in one chunk", file.content.len());
    assert!(chunks.iter().all(|c| !c.is_empty() && c.len() <= 64 * 1024));
    assert_eq!(chunks.concat(), file.content);
    let (_, rows) = records(&file.content);
    assert_eq!(rows.len(), 201 + 1 + 1);
    assert!(rows[0][5].starts_with("'-x"));

    let monthly = pb::ExportBudgetReportRequest {
        layout: pb::BudgetReportLayout::Monthly.into(),
        ..summary
    };
    let e = expect_err(
        export(&mut client, &fx.viewer, monthly.clone()).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&e), "REPORT_TOO_LARGE");
    let chunks = download(&mut client, &fx.viewer, download_of(&monthly)).await.unwrap();
    assert!(chunks.iter().all(|c| c.len() <= 64 * 1024));
    let content = chunks.concat();
    assert!(content.len() > 4 * 1024 * 1024);
    let (_, rows) = records(&content);
    assert_eq!(rows.len(), (201 + 1 + 1) * 12);
}

#[tokio::test]
async fn bad_requests_name_their_fields_and_unknown_things_are_not_found() {
    let fx = Fixture::start().await;
    let it = fx.budget("IT", vec![line("LAPTOP", 1_000, Stop)]).await.unwrap();
    let next = fx.fiscal_year("FY2027", date(2027, 1, 1), date(2027, 12, 31)).await.unwrap();
    let next_it = fx
        .budgets()
        .await
        .create_budget(fx.finance.request(pb::CreateBudgetRequest {
            fiscal_year_id: next.id.clone(),
            department_code: "IT".into(),
            currency_code: "USD".into(),
            lines: vec![line("LAPTOP", 1_000, Stop)],
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .budget
        .unwrap();
    let mut client = reports(&fx).await;
    let year = fx.year.id.clone();

    let e = expect_err(
        get(&mut client, &fx.viewer, pb::GetBudgetReportRequest::default()).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&e), ["fiscal_year_id"]);
    let e = expect_err(
        get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
            fiscal_year_id: "FY2026".into(),
            budget_line_id: "laptop".into(),
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&e), ["fiscal_year_id", "budget_line_id"]);
    let e = expect_err(
        export(&mut client, &fx.viewer, pb::ExportBudgetReportRequest {
            layout: 9,
            ..Default::default()
        })
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&e), ["fiscal_year_id", "layout"]);
    let e = expect_err(
        download(&mut client, &fx.viewer, pb::DownloadBudgetReportRequest::default()).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&e), ["fiscal_year_id"]);

    // Unknown: a fiscal year, a department, a line, a line of another year.
    let unknown = uuid::Uuid::now_v7().to_string();
    for (fiscal_year_id, department_code, budget_line_id) in [
        (unknown.as_str(), "", ""),
        (year.as_str(), "NOPE", ""),
        (year.as_str(), "", unknown.as_str()),
        (year.as_str(), "", line_of(&next_it, "LAPTOP").id.as_str()),
    ] {
        let r = pb::GetBudgetReportRequest {
            fiscal_year_id: fiscal_year_id.into(),
            department_code: department_code.into(),
            budget_line_id: budget_line_id.into(),
            include_months: false,
        };
        expect_err(get(&mut client, &fx.viewer, r.clone()).await, Code::NotFound);
        let file = pb::ExportBudgetReportRequest {
            fiscal_year_id: r.fiscal_year_id.clone(),
            department_code: r.department_code.clone(),
            budget_line_id: r.budget_line_id.clone(),
            layout: pb::BudgetReportLayout::Summary.into(),
        };
        expect_err(export(&mut client, &fx.viewer, file.clone()).await, Code::NotFound);
        expect_err(download(&mut client, &fx.viewer, download_of(&file)).await, Code::NotFound);
    }
    // The line of its own year is found.
    let own = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: year,
        budget_line_id: line_of(&it, "LAPTOP").id.clone(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert_eq!(own.rows.len(), 1);
    // A department of the directory without a budget: an empty report.
    let hr = get(&mut client, &fx.viewer, pb::GetBudgetReportRequest {
        fiscal_year_id: fx.year.id.clone(),
        department_code: "HR".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(hr.rows.is_empty() && hr.totals.is_empty());
}

#[tokio::test]
async fn the_policy_table_holds_for_every_caller() {
    let fx = Fixture::start().await;
    let callers: Vec<Caller> = vec![
        Caller::anonymous(),
        fx.employee.clone(),
        fx.viewer.clone(),
        fx.auth.person(&[("bms", "requester")]),
        fx.auth.person(&[("bms", "approver")]),
        fx.finance.clone(),
        fx.auth.api_key(&[("bms", "viewer")]),
    ];
    let server = &fx.server;
    check_policy_matrix(server.channel().await, &map_bms::grpc::policy::REPORT_SERVICE, &callers)
        .await;
    // A requester reads budgets but not reports.
    let mut client = ReportServiceClient::new(server.channel().await);
    let requester = fx.auth.person(&[("bms", "requester")]);
    expect_err(
        get(&mut client, &requester, pb::GetBudgetReportRequest {
            fiscal_year_id: fx.year.id.clone(),
            ..Default::default()
        })
        .await,
        Code::PermissionDenied,
    );
}
}

fn summary_total(row_type: &str, t: &pb::BudgetReportTotal) -> Vec<String> {
    let mut cells = vec![
        row_type.to_owned(),
        shown(&t.department_code),
        shown(&t.department_name),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        t.currency_code.clone(),
    ];
    cells.extend(figures_of_total(t).iter().map(i64::to_string));
    cells.extend([
        t.utilization_basis_points.to_string(),
        String::new(),
        String::new(),
        t.overspent.to_string(),
        t.flagged_expense_count.to_string(),
    ]);
    cells
}

fn monthly_first(row_type: &str, t: &pb::BudgetReportTotal) -> Vec<String> {
    vec![
        row_type.to_owned(),
        shown(&t.department_code),
        shown(&t.department_name),
        String::new(),
        String::new(),
        String::new(),
        t.currency_code.clone(),
    ]
}
