//! The tonic adapter: WorkflowService, TicketService and UploadService
//! behind map-kit's authentication layer and their access policies
//! ([`policy`]). SlaService
//! is still scaffolded (UNIMPLEMENTED naming the system) until its issue
//! lands.

pub mod policy;
mod ticket_api;
mod upload_api;
mod workflow_api;

use std::sync::Arc;

use map_contracts::tts::v1::{
    ticket_service_server::TicketServiceServer, upload_service_server::UploadServiceServer,
    workflow_service_server::WorkflowServiceServer,
};
use map_kit::{
    System,
    authn::{Authenticated, Validator},
    server::GrpcServer,
    uploads::UploadApi,
};

pub use ticket_api::TicketApi;
pub use upload_api::TtsUploadApi;
pub use workflow_api::WorkflowApi;

use crate::{TtsError, tickets::Tickets, workflows::Workflows};

impl From<TtsError> for tonic::Status {
    fn from(e: TtsError) -> tonic::Status {
        map_kit::ApiError::from(e).into()
    }
}

/// TTS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
/// Files go to the tickets' uploads (`tickets.uploads()`).
pub fn grpc_server(
    workflows: Workflows,
    tickets: Tickets,
    validator: Arc<dyn Validator>,
) -> GrpcServer {
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
        TicketServiceServer::new(TicketApi::new(tickets)),
        &policy::TICKET_SERVICE,
        validator,
    );
    GrpcServer::new("tts")
        .add_service(workflow_service)
        .add_service(ticket_service)
        .add_service(upload_service)
        .scaffold(System::Tts)
}
