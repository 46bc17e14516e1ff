//! `map.bms.v1.ReportService` over the domain ([`crate::reports`]); the
//! download is the export's file streamed in chunks of at most
//! [`DOWNLOAD_CHUNK`] bytes. Who may call what is `policy::REPORT_SERVICE`.

use std::pin::Pin;

use futures::Stream;
use map_contracts::bms::v1::{self as pb, report_service_server::ReportService};
use tonic::{Request, Response, Status};

use crate::reports::{FileRequest, Reports};

/// The largest chunk of a downloaded file.
pub const DOWNLOAD_CHUNK: usize = 64 * 1024;

/// The handlers of ReportService.
#[derive(Debug, Clone)]
pub struct ReportApi {
    reports: Reports,
}

impl ReportApi {
    /// Handlers over the domain.
    pub fn new(reports: Reports) -> Self {
        ReportApi { reports }
    }
}

/// `content` as the messages of DownloadBudgetReport, in order.
fn chunks(content: &[u8]) -> Vec<pb::DownloadBudgetReportResponse> {
    content
        .chunks(DOWNLOAD_CHUNK)
        .map(|c| pb::DownloadBudgetReportResponse { chunk: c.to_vec() })
        .collect()
}

#[tonic::async_trait]
impl ReportService for ReportApi {
    async fn get_budget_report(
        &self,
        request: Request<pb::GetBudgetReportRequest>,
    ) -> Result<Response<pb::GetBudgetReportResponse>, Status> {
        Ok(Response::new(self.reports.report(request.get_ref()).await?))
    }

    async fn export_budget_report(
        &self,
        request: Request<pb::ExportBudgetReportRequest>,
    ) -> Result<Response<pb::ExportBudgetReportResponse>, Status> {
        Ok(Response::new(self.reports.export(request.get_ref()).await?))
    }

    type DownloadBudgetReportStream =
        Pin<Box<dyn Stream<Item = Result<pb::DownloadBudgetReportResponse, Status>> + Send>>;

    async fn download_budget_report(
        &self,
        request: Request<pb::DownloadBudgetReportRequest>,
    ) -> Result<Response<Self::DownloadBudgetReportStream>, Status> {
        let r = request.get_ref();
        let file = self
            .reports
            .file(FileRequest {
                fiscal_year_id: &r.fiscal_year_id,
                department_code: &r.department_code,
                budget_line_id: &r.budget_line_id,
                layout: r.layout,
            })
            .await?;
        let messages = chunks(&file.content).into_iter().map(Ok);
        Ok(Response::new(Box::pin(futures::stream::iter(messages))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_is_cut_into_chunks_of_at_most_64_kib_that_concatenate_to_it() {
        let content: Vec<u8> = (0..2 * DOWNLOAD_CHUNK + 7)
            .map(|i| (i % 251) as u8)
            .collect();
        let messages = chunks(&content);
        let sizes: Vec<usize> = messages.iter().map(|m| m.chunk.len()).collect();
        assert_eq!(sizes, [DOWNLOAD_CHUNK, DOWNLOAD_CHUNK, 7]);
        let joined: Vec<u8> = messages.into_iter().flat_map(|m| m.chunk).collect();
        assert_eq!(joined, content);
        assert_eq!(chunks(b"a,b\r\n").len(), 1);
    }
}
