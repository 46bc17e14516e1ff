//! Budget reports (`map.bms.v1.ReportService`): a fiscal year's budget
//! lines (optionally one department's, or one line), their department
//! totals and the fiscal year's totals per currency, optionally by
//! calendar month against a straight-line plan; and the same report as a
//! CSV file, whole (at most [`MAX_EXPORT`] bytes) or for streaming.
//!
//! - `snapshot`: every read of one report, in one transaction;
//! - `assemble`: rows from the lines' maintained totals, totals as exact
//!   integer sums of rows;
//! - `months`: the fiscal year's calendar months and the plan;
//! - `export`: the CSV layouts, formula-safe.
//!
//! A file is built once from GetBudgetReport's answer, so ExportBudgetReport
//! and DownloadBudgetReport give the same bytes, with the same numbers as
//! GetBudgetReport for the same snapshot.

mod assemble;
mod export;
mod months;
mod snapshot;

use map_contracts::bms::v1 as pb;
use map_kit::{ApiError, Violations, clock::Clock, db::Db};

pub use self::export::Layout;
use self::snapshot::Scope;
use crate::BmsError;

/// The largest file ExportBudgetReport answers in one message: 4 MiB.
pub const MAX_EXPORT: usize = 4 * 1024 * 1024;

/// The media type of the files.
pub const CONTENT_TYPE: &str = "text/csv; charset=utf-8";

/// A report as a CSV file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    /// The file's bytes.
    pub content: Vec<u8>,
    /// Suggested file name, e.g. `budget-report-FY2026-IT.csv`.
    pub filename: String,
}

/// What a file covers: the fields ExportBudgetReport and
/// DownloadBudgetReport share.
#[derive(Debug, Clone, Copy)]
pub struct FileRequest<'a> {
    /// UUID of the fiscal year; required.
    pub fiscal_year_id: &'a str,
    /// Only this Auth department code; empty means all.
    pub department_code: &'a str,
    /// Only this line; empty means all.
    pub budget_line_id: &'a str,
    /// `BudgetReportLayout` on the wire.
    pub layout: i32,
}

/// The reports' domain: reads only.
#[derive(Debug, Clone)]
pub struct Reports {
    db: Db,
    clock: Clock,
}

impl Reports {
    /// Over `db`; reports are stamped with `clock`'s now.
    pub fn new(db: Db, clock: Clock) -> Reports {
        Reports { db, clock }
    }

    /// GetBudgetReport.
    pub async fn report(
        &self,
        r: &pb::GetBudgetReportRequest,
    ) -> Result<pb::GetBudgetReportResponse, BmsError> {
        let mut v = Violations::default();
        let scope = scope(
            &mut v,
            &r.fiscal_year_id,
            &r.department_code,
            &r.budget_line_id,
            r.include_months,
        );
        v.finish()?;
        let snapshot = snapshot::read(&self.db, &scope, self.clock.now()).await?;
        Ok(assemble::report(&snapshot, scope.months))
    }

    /// The file of `r`, whatever its size (DownloadBudgetReport).
    pub async fn file(&self, r: FileRequest<'_>) -> Result<File, BmsError> {
        let layout = pb::BudgetReportLayout::try_from(r.layout);
        let monthly = matches!(layout, Ok(pb::BudgetReportLayout::Monthly));
        let mut v = Violations::default();
        let scope = scope(
            &mut v,
            r.fiscal_year_id,
            r.department_code,
            r.budget_line_id,
            monthly,
        );
        if layout.is_err() {
            v.add("layout", "must be SUMMARY or MONTHLY");
        }
        v.finish()?;
        let layout = if monthly {
            Layout::Monthly
        } else {
            Layout::Summary
        };
        let snapshot = snapshot::read(&self.db, &scope, self.clock.now()).await?;
        let report = assemble::report(&snapshot, scope.months);
        let content = export::write(&report, layout)
            .map_err(|e| BmsError::from(ApiError::Internal(e.into())))?;
        Ok(File {
            filename: filename(&report, &scope, layout),
            content,
        })
    }

    /// The file of `r` in one message (ExportBudgetReport):
    /// FAILED_PRECONDITION (REPORT_TOO_LARGE) above [`MAX_EXPORT`] bytes.
    pub async fn export(
        &self,
        r: &pb::ExportBudgetReportRequest,
    ) -> Result<pb::ExportBudgetReportResponse, BmsError> {
        let file = self
            .file(FileRequest {
                fiscal_year_id: &r.fiscal_year_id,
                department_code: &r.department_code,
                budget_line_id: &r.budget_line_id,
                layout: r.layout,
            })
            .await?;
        if file.content.len() > MAX_EXPORT {
            return Err(BmsError::precondition(
                "REPORT_TOO_LARGE",
                format!(
                    "the file would be {} bytes, more than 4 MiB: use DownloadBudgetReport",
                    file.content.len()
                ),
            ));
        }
        Ok(pb::ExportBudgetReportResponse {
            content: file.content,
            content_type: CONTENT_TYPE.to_owned(),
            filename: file.filename,
        })
    }
}

/// Checks the fields of a report's scope for form, recording violations in
/// `v`.
fn scope(
    v: &mut Violations,
    fiscal_year_id: &str,
    department_code: &str,
    budget_line_id: &str,
    months: bool,
) -> Scope {
    v.uuid("fiscal_year_id", fiscal_year_id);
    if !budget_line_id.is_empty() {
        v.uuid("budget_line_id", budget_line_id);
    }
    let department_code = department_code.trim().to_uppercase();
    Scope {
        fiscal_year_id: fiscal_year_id.to_owned(),
        department_code: (!department_code.is_empty()).then_some(department_code),
        budget_line_id: (!budget_line_id.is_empty()).then(|| budget_line_id.to_owned()),
        months,
    }
}

/// `budget-report-<fiscal year>[-<department>[-<category>]][-monthly].csv`,
/// each part reduced to letters, digits, `.` and `_`.
fn filename(report: &pb::GetBudgetReportResponse, scope: &Scope, layout: Layout) -> String {
    let mut parts = vec!["budget-report".to_owned(), safe(&report.fiscal_year_name)];
    let line = scope.budget_line_id.as_ref().and(report.rows.first());
    if let Some(code) = scope
        .department_code
        .as_deref()
        .or(line.map(|r| r.department_code.as_str()))
    {
        parts.push(safe(code));
    }
    if let Some(row) = line {
        parts.push(if row.unallocated {
            "UNALLOCATED".to_owned()
        } else {
            safe(&row.category_code)
        });
    }
    if layout == Layout::Monthly {
        parts.push("monthly".to_owned());
    }
    format!("{}.csv", parts.join("-"))
}

/// `part` for a file name: anything but ASCII letters, digits, `.` and `_`
/// becomes `_`.
fn safe(part: &str) -> String {
    part.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_the_year_department_line_and_layout() {
        let report = pb::GetBudgetReportResponse {
            fiscal_year_name: "FY2025".into(),
            rows: vec![pb::BudgetReportRow {
                department_code: "IT".into(),
                category_code: "LAPTOP".into(),
                ..Default::default()
            }],
            ..Default::default()
        };
        let mut v = Violations::default();
        let all = scope(&mut v, "", "", "", false);
        let it = scope(&mut v, "", " it ", "", false);
        let line = scope(
            &mut v,
            "",
            "",
            "0190c0de-0000-7000-8000-000000000000",
            false,
        );
        assert_eq!(
            filename(&report, &all, Layout::Summary),
            "budget-report-FY2025.csv"
        );
        assert_eq!(
            filename(&report, &it, Layout::Summary),
            "budget-report-FY2025-IT.csv"
        );
        assert_eq!(
            filename(&report, &all, Layout::Monthly),
            "budget-report-FY2025-monthly.csv"
        );
        assert_eq!(
            filename(&report, &line, Layout::Summary),
            "budget-report-FY2025-IT-LAPTOP.csv"
        );
        let odd = pb::GetBudgetReportResponse {
            fiscal_year_name: "FY 2025/26 \"a\"".into(),
            ..Default::default()
        };
        assert_eq!(
            filename(&odd, &all, Layout::Summary),
            "budget-report-FY_2025_26__a_.csv"
        );
    }
}
