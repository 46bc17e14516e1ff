//! `map.tts.v1.SlaService` over the domain: calendars
//! ([`CalendarRecords`]), policies ([`PolicyRecords`]) and the reports
//! ([`crate::sla::report`]), an export streamed in chunks of at most
//! [`EXPORT_CHUNK`] bytes. Who may call what is `policy::SLA_SERVICE`,
//! enforced before the handlers.

use std::pin::Pin;

use futures::Stream;
use map_contracts::tts::v1::{self as pb, sla_service_server::SlaService};
use map_kit::{
    System, clock::Clock, db::Db, idempotency::Idempotent, wire::field_mask::update_paths,
};
use tonic::{Request, Response, Status};

use crate::{
    sla::{
        calendars::{self, CalendarRecords},
        policies::{self, PolicyRecords},
        report,
    },
    tickets::Tickets,
    workflows::Workflows,
};

const CREATE_POLICY: &str = "map.tts.v1.SlaService/CreateSlaPolicy";
const CREATE_CALENDAR: &str = "map.tts.v1.SlaService/CreateCalendar";

/// The largest chunk of an exported CSV file.
pub const EXPORT_CHUNK: usize = 64 * 1024;

/// The handlers of SlaService.
#[derive(Debug, Clone)]
pub struct SlaApi {
    calendars: CalendarRecords,
    policies: PolicyRecords,
    db: Db,
    clock: Clock,
}

impl SlaApi {
    /// Handlers over `calendars` and `policies`, reports read from `db` as
    /// of `clock`'s now.
    pub fn new(calendars: CalendarRecords, policies: PolicyRecords, db: Db, clock: Clock) -> Self {
        SlaApi {
            calendars,
            policies,
            db,
            clock,
        }
    }

    /// Beside the tickets and workflows of one server.
    pub fn beside(tickets: &Tickets, workflows: &Workflows) -> Self {
        let (db, clock, _) = tickets.parts();
        SlaApi::new(
            CalendarRecords::beside(tickets),
            PolicyRecords::beside(tickets, workflows),
            db,
            clock,
        )
    }
}

/// `csv` as the messages of ExportSlaReport, in order.
fn chunks(csv: &[u8]) -> Vec<pb::ExportSlaReportResponse> {
    csv.chunks(EXPORT_CHUNK)
        .map(|c| pb::ExportSlaReportResponse { chunk: c.to_vec() })
        .collect()
}

#[tonic::async_trait]
impl SlaService for SlaApi {
    async fn create_sla_policy(
        &self,
        request: Request<pb::CreateSlaPolicyRequest>,
    ) -> Result<Response<pb::CreateSlaPolicyResponse>, Status> {
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, CREATE_POLICY, &r)?;
        Ok(Response::new(self.policies.create(&key, &r).await?))
    }

    async fn list_sla_policies(
        &self,
        request: Request<pb::ListSlaPoliciesRequest>,
    ) -> Result<Response<pb::ListSlaPoliciesResponse>, Status> {
        let (sla_policies, next_page_token) = self.policies.list(request.get_ref()).await?;
        Ok(Response::new(pb::ListSlaPoliciesResponse {
            sla_policies,
            next_page_token,
        }))
    }

    async fn get_sla_policy(
        &self,
        request: Request<pb::GetSlaPolicyRequest>,
    ) -> Result<Response<pb::GetSlaPolicyResponse>, Status> {
        let sla_policy = self.policies.get(&request.get_ref().id).await?;
        Ok(Response::new(pb::GetSlaPolicyResponse {
            sla_policy: Some(sla_policy),
        }))
    }

    async fn update_sla_policy(
        &self,
        request: Request<pb::UpdateSlaPolicyRequest>,
    ) -> Result<Response<pb::UpdateSlaPolicyResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &policies::UPDATE_PATHS)?;
        let sla_policy = self
            .policies
            .update(&paths, r.sla_policy.unwrap_or_default())
            .await?;
        Ok(Response::new(pb::UpdateSlaPolicyResponse {
            sla_policy: Some(sla_policy),
        }))
    }

    async fn create_calendar(
        &self,
        request: Request<pb::CreateCalendarRequest>,
    ) -> Result<Response<pb::CreateCalendarResponse>, Status> {
        let r = request.into_inner();
        let key = Idempotent::new(
            System::Tts,
            "request_id",
            &r.request_id,
            CREATE_CALENDAR,
            &r,
        )?;
        Ok(Response::new(self.calendars.create(&key, &r).await?))
    }

    async fn list_calendars(
        &self,
        request: Request<pb::ListCalendarsRequest>,
    ) -> Result<Response<pb::ListCalendarsResponse>, Status> {
        let (calendars, next_page_token) = self.calendars.list(request.get_ref()).await?;
        Ok(Response::new(pb::ListCalendarsResponse {
            calendars,
            next_page_token,
        }))
    }

    async fn get_calendar(
        &self,
        request: Request<pb::GetCalendarRequest>,
    ) -> Result<Response<pb::GetCalendarResponse>, Status> {
        let calendar = self.calendars.get(&request.get_ref().id).await?;
        Ok(Response::new(pb::GetCalendarResponse {
            calendar: Some(calendar),
        }))
    }

    async fn update_calendar(
        &self,
        request: Request<pb::UpdateCalendarRequest>,
    ) -> Result<Response<pb::UpdateCalendarResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &calendars::UPDATE_PATHS)?;
        let calendar = self
            .calendars
            .update(&paths, r.calendar.unwrap_or_default())
            .await?;
        Ok(Response::new(pb::UpdateCalendarResponse {
            calendar: Some(calendar),
        }))
    }

    async fn get_sla_report(
        &self,
        request: Request<pb::GetSlaReportRequest>,
    ) -> Result<Response<pb::GetSlaReportResponse>, Status> {
        Ok(Response::new(
            report::report(&self.db, request.get_ref(), self.clock.now()).await?,
        ))
    }

    type ExportSlaReportStream =
        Pin<Box<dyn Stream<Item = Result<pb::ExportSlaReportResponse, Status>> + Send>>;

    async fn export_sla_report(
        &self,
        request: Request<pb::ExportSlaReportRequest>,
    ) -> Result<Response<Self::ExportSlaReportStream>, Status> {
        let csv = report::export_csv(&self.db, request.get_ref(), self.clock.now()).await?;
        let messages = chunks(&csv).into_iter().map(Ok);
        Ok(Response::new(Box::pin(tokio_stream::iter(messages))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_export_is_cut_into_chunks_of_at_most_64_kib_that_concatenate_to_it() {
        let csv: Vec<u8> = (0..2 * EXPORT_CHUNK + 7).map(|i| (i % 251) as u8).collect();
        let messages = chunks(&csv);
        let sizes: Vec<usize> = messages.iter().map(|m| m.chunk.len()).collect();
        assert_eq!(sizes, [EXPORT_CHUNK, EXPORT_CHUNK, 7]);
        let joined: Vec<u8> = messages.into_iter().flat_map(|m| m.chunk).collect();
        assert_eq!(joined, csv);
        assert_eq!(chunks(b"a,b\r\n").len(), 1);
    }
}
