//! The tonic adapter: CategoryService, AssetService and UploadService
//! behind map-kit's authentication layer and their access policies
//! ([`policy`]).

mod asset_api;
mod category_api;
pub mod policy;
mod upload_api;

use std::sync::Arc;

use map_contracts::ams::v1::{
    asset_service_server::AssetServiceServer, category_service_server::CategoryServiceServer,
    upload_service_server::UploadServiceServer,
};
use map_kit::{
    authn::{Authenticated, Validator},
    server::GrpcServer,
    uploads::UploadApi,
};

pub use asset_api::AssetApi;
pub use category_api::CategoryApi;
pub use upload_api::AmsUploadApi;

use crate::{assets::Assets, categories::Categories};

/// AMS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
pub fn grpc_server(
    categories: Categories,
    assets: Assets,
    validator: Arc<dyn Validator>,
) -> GrpcServer {
    let uploads = Authenticated::new(
        UploadServiceServer::new(AmsUploadApi(UploadApi::new(assets.uploads().clone()))),
        &policy::UPLOAD_SERVICE,
        validator.clone(),
    );
    GrpcServer::new("ams")
        .add_service(Authenticated::new(
            CategoryServiceServer::new(CategoryApi::new(categories)),
            &policy::CATEGORY_SERVICE,
            validator.clone(),
        ))
        .add_service(Authenticated::new(
            AssetServiceServer::new(AssetApi::new(assets)),
            &policy::ASSET_SERVICE,
            validator,
        ))
        .add_service(uploads)
}
