//! The tonic adapter: HelpDeskService behind map-kit's authentication layer
//! and its access policy ([`policy`]).

mod help_desk_api;
pub mod policy;

use std::sync::Arc;

use map_contracts::hdts::v1::help_desk_service_server::HelpDeskServiceServer;
use map_kit::{
    authn::{Authenticated, Validator},
    server::GrpcServer,
};

pub use help_desk_api::HelpDeskApi;

use crate::{HdtsError, tickets::HelpDesk, topics::Topics};

impl From<HdtsError> for tonic::Status {
    fn from(e: HdtsError) -> tonic::Status {
        map_kit::ApiError::from(e).into()
    }
}

/// HDTS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
pub fn grpc_server(topics: Topics, desk: HelpDesk, validator: Arc<dyn Validator>) -> GrpcServer {
    GrpcServer::new("hdts").add_service(Authenticated::new(
        HelpDeskServiceServer::new(HelpDeskApi::new(topics, desk)),
        &policy::HELP_DESK_SERVICE,
        validator,
    ))
}
