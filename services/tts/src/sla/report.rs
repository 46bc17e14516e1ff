//! SLA reports (GetSlaReport, ExportSlaReport): a placeholder with the
//! signatures the adapter calls, to be replaced by the report's own change.
//! TtsError has no variant for UNIMPLEMENTED, so the adapter answers
//! UNIMPLEMENTED itself before calling these.

use map_contracts::tts::v1 as pb;
use map_kit::db::Db;

use crate::TtsError;

/// GetSlaReport.
pub async fn report(
    _db: &Db,
    _request: &pb::GetSlaReportRequest,
) -> Result<pb::GetSlaReportResponse, TtsError> {
    Err(not_yet())
}

/// ExportSlaReport: the CSV file, whole.
pub async fn export_csv(_db: &Db, _request: &pb::GetSlaReportRequest) -> Result<Vec<u8>, TtsError> {
    Err(not_yet())
}

fn not_yet() -> TtsError {
    TtsError::precondition("SLA_REPORT_NOT_SERVED", "SLA reports are not served yet")
}
