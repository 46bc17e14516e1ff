//! The tonic adapter: WorkflowService behind map-kit's authentication layer
//! and its access policy ([`policy`]). TicketService and SlaService are
//! still scaffolded (UNIMPLEMENTED naming the system) until their issues land.

pub mod policy;
mod workflow_api;

use std::sync::Arc;

use map_contracts::tts::v1::workflow_service_server::WorkflowServiceServer;
use map_kit::{
    System,
    authn::{Authenticated, Validator},
    server::GrpcServer,
};

pub use workflow_api::WorkflowApi;

use crate::{TtsError, workflows::Workflows};

impl From<TtsError> for tonic::Status {
    fn from(e: TtsError) -> tonic::Status {
        map_kit::ApiError::from(e).into()
    }
}

/// TTS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
pub fn grpc_server(workflows: Workflows, validator: Arc<dyn Validator>) -> GrpcServer {
    let workflow_service = Authenticated::new(
        WorkflowServiceServer::new(WorkflowApi::new(workflows)),
        &policy::WORKFLOW_SERVICE,
        validator,
    );
    GrpcServer::new("tts")
        .add_service(workflow_service)
        .scaffold(System::Tts)
}
