//! An SLA report as CSV (RFC 4180, UTF-8, CRLF line ends): a header, one
//! row per group in the report's order, then the total row — written from
//! the report's own rows, so the file sums exactly to it.
//!
//! Durations are seconds with three decimals (exact: the report keeps whole
//! milliseconds), empty when unset. A cell a spreadsheet would run as a
//! formula — starting with `=`, `+`, `-` or `@`, or with a tab or carriage
//! return (OWASP's CSV injection list) — gets a leading apostrophe, which
//! spreadsheets show as text; group names are user data (a department code
//! arriving from the help desk is not validated here).

use std::borrow::Cow;

use map_contracts::tts::v1 as pb;

/// The header row.
pub(super) const HEADER: [&str; 9] = [
    "group",
    "met",
    "breached",
    "open",
    "without_policy",
    "mean_first_response_seconds",
    "p90_first_response_seconds",
    "mean_resolution_seconds",
    "p90_resolution_seconds",
];

/// `report` as CSV bytes.
pub(super) fn write(report: &pb::GetSlaReportResponse) -> Result<Vec<u8>, csv::Error> {
    let mut out = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .from_writer(Vec::new());
    out.write_record(HEADER)?;
    for row in report.rows.iter().chain(report.total.as_ref()) {
        out.write_record(record(row).iter().map(|cell| neutralise(cell).into_owned()))?;
    }
    out.into_inner().map_err(|e| e.into_error().into())
}

/// The cells of one row, before neutralising.
fn record(row: &pb::SlaReportRow) -> [String; 9] {
    [
        row.group.clone(),
        row.met.to_string(),
        row.breached.to_string(),
        row.open.to_string(),
        row.without_policy.to_string(),
        seconds(row.mean_first_response.as_ref()),
        seconds(row.p90_first_response.as_ref()),
        seconds(row.mean_resolution.as_ref()),
        seconds(row.p90_resolution.as_ref()),
    ]
}

/// `d` as seconds with three decimals ("90.250"); empty when unset.
fn seconds(d: Option<&prost_types::Duration>) -> String {
    let Some(d) = d else {
        return String::new();
    };
    let ms = i128::from(d.seconds) * 1000 + i128::from(d.nanos) / 1_000_000;
    let sign = if ms < 0 { "-" } else { "" };
    let ms = ms.abs();
    format!("{sign}{}.{:03}", ms / 1000, ms % 1000)
}

/// `cell`, with an apostrophe before it when a spreadsheet would run it as
/// a formula.
pub(super) fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}
