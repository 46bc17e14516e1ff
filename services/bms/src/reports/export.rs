//! A budget report as CSV (RFC 4180, UTF-8 without BOM, CRLF line ends, a
//! header row), written from GetBudgetReport's own answer so the file holds
//! exactly its numbers. Layouts (see `map.bms.v1.ReportService`):
//!
//! - SUMMARY: each department's line rows then its `department` row, then
//!   a `total` row per currency;
//! - MONTHLY: the same order, each row repeated per calendar month.
//!
//! Amounts are integers in minor units, booleans `true`/`false`. A text
//! cell (codes, names, descriptions: user data) that a spreadsheet would
//! run as a formula — starting with `=`, `+`, `-`, `@`, a tab or a carriage
//! return — gets a leading apostrophe, as in TTS's SLA export; number cells
//! are the server's own (`-?[0-9]+`) and stay numbers. The csv crate quotes
//! a cell holding a comma, a quote or a line break and doubles its quotes.

use std::borrow::Cow;

use map_contracts::{bms::v1 as pb, common::v1::Money};

use crate::lines::Mode;

/// The columns of the SUMMARY layout.
pub const SUMMARY_HEADER: [&str; 24] = [
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

/// The columns of the MONTHLY layout.
pub const MONTHLY_HEADER: [&str; 13] = [
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

/// The shape of a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A row per line, department and currency.
    Summary,
    /// The same, per calendar month.
    Monthly,
}

/// `report` as CSV bytes in `layout` (MONTHLY needs the report's months).
pub fn write(report: &pb::GetBudgetReportResponse, layout: Layout) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    match layout {
        Layout::Summary => out.write_record(SUMMARY_HEADER)?,
        Layout::Monthly => out.write_record(MONTHLY_HEADER)?,
    }
    let mut rows = report.rows.iter().peekable();
    for total in &report.department_totals {
        while let Some(row) = rows.next_if(|r| r.budget_id == total.budget_id) {
            match layout {
                Layout::Summary => out.write_record(summary_line(row))?,
                Layout::Monthly => {
                    for record in monthly_line(row) {
                        out.write_record(record)?;
                    }
                }
            }
        }
        write_total(&mut out, layout, "department", total)?;
    }
    for total in &report.totals {
        write_total(&mut out, layout, "total", total)?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

fn write_total(
    out: &mut csv::Writer<Vec<u8>>,
    layout: Layout,
    row_type: &str,
    t: &pb::BudgetReportTotal,
) -> Result<(), csv::Error> {
    match layout {
        Layout::Summary => out.write_record(summary_total(row_type, t)),
        Layout::Monthly => {
            for record in monthly_total(row_type, t) {
                out.write_record(record)?;
            }
            Ok(())
        }
    }
}

fn summary_line(r: &pb::BudgetReportRow) -> Vec<String> {
    let mode = Mode::from_proto(r.control_mode()).map_or("", Mode::stored);
    vec![
        "line".into(),
        text(&r.department_code),
        text(&r.department_name),
        text(&r.category_code),
        text(&r.account_code),
        text(&r.description),
        r.unallocated.to_string(),
        mode.into(),
        text(currency(&r.allocated)),
        minor(&r.base_allocated),
        minor(&r.increased),
        minor(&r.transferred_in),
        minor(&r.transferred_out),
        minor(&r.allocated),
        minor(&r.committed),
        minor(&r.pending),
        minor(&r.pending_increase),
        minor(&r.spent),
        minor(&r.remaining),
        r.utilization_basis_points.to_string(),
        r.warning_threshold_percent.to_string(),
        r.over_threshold.to_string(),
        r.overspent.to_string(),
        r.flagged_expense_count.to_string(),
    ]
}

/// A department's or currency's SUMMARY row: the line-only columns empty,
/// and over_threshold too (a total has no threshold of its own).
fn summary_total(row_type: &str, t: &pb::BudgetReportTotal) -> Vec<String> {
    vec![
        row_type.into(),
        text(&t.department_code),
        text(&t.department_name),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        text(&t.currency_code),
        minor(&t.base_allocated),
        minor(&t.increased),
        minor(&t.transferred_in),
        minor(&t.transferred_out),
        minor(&t.allocated),
        minor(&t.committed),
        minor(&t.pending),
        minor(&t.pending_increase),
        minor(&t.spent),
        minor(&t.remaining),
        t.utilization_basis_points.to_string(),
        String::new(),
        String::new(),
        t.overspent.to_string(),
        t.flagged_expense_count.to_string(),
    ]
}

fn monthly_line(r: &pb::BudgetReportRow) -> Vec<Vec<String>> {
    let first = [
        "line".to_owned(),
        text(&r.department_code),
        text(&r.department_name),
        text(&r.category_code),
        text(&r.account_code),
        text(&r.description),
        text(currency(&r.allocated)),
    ];
    monthly(&first, &r.allocated, &r.months)
}

fn monthly_total(row_type: &str, t: &pb::BudgetReportTotal) -> Vec<Vec<String>> {
    let first = [
        row_type.to_owned(),
        text(&t.department_code),
        text(&t.department_name),
        String::new(),
        String::new(),
        String::new(),
        text(&t.currency_code),
    ];
    monthly(&first, &t.allocated, &t.months)
}

/// One record per month: `first`'s cells, then the month's.
fn monthly(
    first: &[String],
    allocated: &Option<Money>,
    months: &[pb::BudgetReportMonth],
) -> Vec<Vec<String>> {
    months
        .iter()
        .map(|m| {
            let month = m
                .month
                .as_ref()
                .map(|d| format!("{:04}-{:02}", d.year, d.month))
                .unwrap_or_default();
            let mut record = first.to_vec();
            record.extend([
                month,
                minor(allocated),
                minor(&m.planned_cumulative),
                minor(&m.spent),
                minor(&m.cumulative_spent),
                minor(&m.variance),
            ]);
            record
        })
        .collect()
}

fn minor(m: &Option<Money>) -> String {
    m.as_ref().map_or(0, |m| m.amount_minor).to_string()
}

fn currency(m: &Option<Money>) -> &str {
    m.as_ref().map_or("", |m| m.currency_code.as_str())
}

/// A text cell, neutralised.
fn text(cell: &str) -> String {
    neutralise(cell).into_owned()
}

/// `cell`, with an apostrophe before it when a spreadsheet would run it as
/// a formula.
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn usd(amount_minor: i64) -> Option<Money> {
        Some(Money {
            amount_minor,
            currency_code: "USD".into(),
        })
    }

    fn report() -> pb::GetBudgetReportResponse {
        let row = pb::BudgetReportRow {
            budget_id: "b1".into(),
            department_code: "IT".into(),
            department_name: "Information, \"Tech\"".into(),
            category_code: "LAPTOP".into(),
            description: "=HYPERLINK(\"x\")\r\nsecond line".into(),
            allocated: usd(1000),
            spent: usd(1500),
            remaining: usd(-500),
            control_mode: pb::BudgetControlMode::Warn.into(),
            overspent: true,
            months: vec![pb::BudgetReportMonth {
                month: Some(map_contracts::google::r#type::Date {
                    year: 2026,
                    month: 3,
                    day: 0,
                }),
                spent: usd(1500),
                cumulative_spent: usd(1500),
                planned_cumulative: usd(246),
                variance: usd(-1254),
            }],
            ..Default::default()
        };
        let total = pb::BudgetReportTotal {
            currency_code: "USD".into(),
            department_code: "IT".into(),
            department_name: "Information, \"Tech\"".into(),
            budget_id: "b1".into(),
            allocated: usd(1000),
            remaining: usd(-500),
            months: row.months.clone(),
            ..Default::default()
        };
        pb::GetBudgetReportResponse {
            rows: vec![row],
            department_totals: vec![total.clone()],
            totals: vec![pb::BudgetReportTotal {
                department_code: String::new(),
                department_name: String::new(),
                budget_id: String::new(),
                ..total
            }],
            ..Default::default()
        }
    }

    #[test]
    fn formulas_are_neutralised_and_numbers_are_not() {
        for (cell, want) in [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1", "'-1"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("IT", "IT"),
            ("", ""),
        ] {
            assert_eq!(neutralise(cell), want);
        }
        let csv = String::from_utf8(write(&report(), Layout::Summary).unwrap()).unwrap();
        assert!(csv.starts_with(&format!("{}\r\n", SUMMARY_HEADER.join(","))));
        assert!(
            csv.contains(concat!(
                "\r\nline,IT,\"Information, \"\"Tech\"\"\",LAPTOP,,",
                "\"'=HYPERLINK(\"\"x\"\")\r\nsecond line\",",
                "false,warn,USD,0,0,0,0,1000,0,0,0,1500,-500,"
            )),
            "{csv}"
        );
    }

    #[test]
    fn each_layout_has_its_rows_in_order_and_its_columns() {
        let summary = write(&report(), Layout::Summary).unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(summary.as_slice());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        let kinds: Vec<&str> = records.iter().map(|r| &r[0]).collect();
        assert_eq!(kinds, ["line", "department", "total"]);
        assert!(records.iter().all(|r| r.len() == SUMMARY_HEADER.len()));
        assert_eq!(&records[1][3], "", "line-only columns are empty on totals");
        assert_eq!(&records[1][18], "-500");
        assert_eq!(&records[2][1], "");
        assert!(summary.ends_with(b"\r\n"));

        let monthly = write(&report(), Layout::Monthly).unwrap();
        let mut reader = csv::ReaderBuilder::new().from_reader(monthly.as_slice());
        assert_eq!(reader.headers().unwrap(), MONTHLY_HEADER.to_vec());
        let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
        assert_eq!(records.len(), 3);
        assert_eq!(
            records[0].iter().skip(6).collect::<Vec<_>>(),
            ["USD", "2026-03", "1000", "246", "1500", "1500", "-1254"]
        );
        assert_eq!(&records[2][0], "total");
    }
}
