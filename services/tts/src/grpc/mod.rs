//! The tonic adapter: WorkflowService, TicketService, UploadService,
//! CannedResponseService and SlaService behind map-kit's authentication
//! layer and their access policies ([`policy`]).

mod canned_response_api;
pub mod policy;
mod sla_api;
mod ticket_api;
mod upload_api;
pub mod watch;
mod workflow_api;

use std::sync::Arc;

use map_contracts::tts::v1::{
    canned_response_service_server::CannedResponseServiceServer,
    sla_service_server::SlaServiceServer, ticket_service_server::TicketServiceServer,
    upload_service_server::UploadServiceServer, workflow_service_server::WorkflowServiceServer,
};
use map_kit::{
    System,
    authn::{Authenticated, Validator},
    server::GrpcServer,
    uploads::UploadApi,
};

pub use canned_response_api::CannedResponseApi;
pub use sla_api::SlaApi;
pub use ticket_api::TicketApi;
pub use upload_api::TtsUploadApi;
pub use workflow_api::WorkflowApi;

use self::watch::{WatchConfig, Watchers};
use crate::{
    canned::CannedResponses,
    tickets::{Tickets, live::LiveTickets},
    workflows::Workflows,
};

/// TTS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached), its live streams fed by `live`. The binary adds
/// TLS, readiness and the drain (which ends the streams at once). Files go
/// to the tickets' uploads (`tickets.uploads()`).
pub fn grpc_server(
    workflows: Workflows,
    tickets: Tickets,
    validator: Arc<dyn Validator>,
    live: LiveTickets,
) -> GrpcServer {
    grpc_server_with(workflows, tickets, validator, live, WatchConfig::default())
}

/// [`grpc_server`] with the streams' timings (tests shorten them).
pub fn grpc_server_with(
    workflows: Workflows,
    tickets: Tickets,
    validator: Arc<dyn Validator>,
    live: LiveTickets,
    config: WatchConfig,
) -> GrpcServer {
    let server = GrpcServer::new("tts");
    let watchers = Watchers {
        live,
        validator: validator.clone(),
        draining: server.draining(),
        config,
    };
    let canned_service = Authenticated::new(
        CannedResponseServiceServer::new(CannedResponseApi::new(CannedResponses::beside(
            &tickets, &workflows,
        ))),
        &policy::CANNED_RESPONSE_SERVICE,
        validator.clone(),
    );
    let sla_service = Authenticated::new(
        SlaServiceServer::new(SlaApi::beside(&tickets, &workflows)),
        &policy::SLA_SERVICE,
        validator.clone(),
    );
    let workflow_service = Authenticated::new(
        WorkflowServiceServer::new(WorkflowApi::new(workflows)),
        &policy::WORKFLOW_SERVICE,
        validator.clone(),
    );
    let upload_service = Authenticated::new(
        UploadServiceServer::new(TtsUploadApi(UploadApi::new(tickets.uploads().clone()))),
        &policy::UPLOAD_SERVICE,
        validator.clone(),
    );
    let ticket_service = Authenticated::new(
        TicketServiceServer::new(TicketApi::new(tickets, watchers)),
        &policy::TICKET_SERVICE,
        validator,
    );
    server
        .add_service(workflow_service)
        .add_service(ticket_service)
        .add_service(upload_service)
        .add_service(canned_service)
        .add_service(sla_service)
        .scaffold(System::Tts)
}
