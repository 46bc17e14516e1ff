//! The tonic adapter: HelpDeskService and UploadService behind map-kit's
//! authentication layer and their access policies ([`policy`]).

mod help_desk_api;
pub mod policy;
mod upload_api;

use std::sync::Arc;

use map_contracts::hdts::v1::{
    help_desk_service_server::HelpDeskServiceServer, upload_service_server::UploadServiceServer,
};
use map_kit::{
    authn::{Authenticated, Validator},
    server::GrpcServer,
    uploads::UploadApi,
};

pub use help_desk_api::HelpDeskApi;
pub use upload_api::HdtsUploadApi;

use crate::{tickets::HelpDesk, topics::Topics};

/// HDTS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
/// Files go to the help desk's uploads (`desk.uploads()`).
pub fn grpc_server(topics: Topics, desk: HelpDesk, validator: Arc<dyn Validator>) -> GrpcServer {
    let uploads = Authenticated::new(
        UploadServiceServer::new(HdtsUploadApi(UploadApi::new(desk.uploads().clone()))),
        &policy::UPLOAD_SERVICE,
        validator.clone(),
    );
    GrpcServer::new("hdts")
        .add_service(Authenticated::new(
            HelpDeskServiceServer::new(HelpDeskApi::new(topics, desk)),
            &policy::HELP_DESK_SERVICE,
            validator,
        ))
        .add_service(uploads)
}
