//! The tonic adapter: AuthService, AdminService and DepartmentService behind map-kit's
//! authentication layer and their access policies ([`policy`]), fed by the
//! in-process validator (the same `Principal` the other systems get from
//! ValidateToken, without the network hop).

mod admin_api;
mod auth_api;
mod convert;
mod department_api;
pub mod policy;
mod status;

use std::sync::Arc;

use futures::future::BoxFuture;
use map_contracts::auth::v1::{
    admin_service_server::AdminServiceServer, auth_service_server::AuthServiceServer,
    department_service_server::DepartmentServiceServer,
};
use map_kit::{
    ApiError,
    authn::{Authenticated, Principal, Validator},
    server::GrpcServer,
};

pub use admin_api::AdminApi;
pub use auth_api::AuthApi;
pub use department_api::DepartmentApi;
pub use status::ERROR_DOMAIN;

use crate::Auth;

/// Validates credentials of calls to Auth itself, in process.
#[derive(Debug, Clone)]
pub struct InProcessValidator(pub Arc<Auth>);

impl Validator for InProcessValidator {
    fn validate<'a>(
        &'a self,
        token: &'a str,
    ) -> BoxFuture<'a, Result<Option<Arc<Principal>>, ApiError>> {
        Box::pin(async move {
            match self.0.validate(token).await {
                Ok(v) => Ok(v.map(|v| v.principal)),
                Err(e) => {
                    tracing::warn!(error = %e, "validating a caller failed");
                    Err(ApiError::Unavailable("auth database".into()))
                }
            }
        })
    }
}

/// Auth's gRPC server: both services with authentication in front. The
/// binary adds TLS and the drain limit and serves it (`map serve auth`,
/// `map dev`); tests serve it on port 0.
pub fn grpc_server(auth: Arc<Auth>) -> GrpcServer {
    let validator: Arc<dyn Validator> = Arc::new(InProcessValidator(auth.clone()));
    let auth_service = Authenticated::new(
        AuthServiceServer::new(AuthApi::new(auth.clone())),
        &policy::AUTH_SERVICE,
        validator.clone(),
    );
    let admin_service = Authenticated::new(
        AdminServiceServer::new(AdminApi::new(auth.clone())),
        &policy::ADMIN_SERVICE,
        validator.clone(),
    );
    let department_service = Authenticated::new(
        DepartmentServiceServer::new(DepartmentApi::new(auth)),
        &policy::DEPARTMENT_SERVICE,
        validator,
    );
    GrpcServer::new("auth")
        .add_service(auth_service)
        .add_service(admin_service)
        .add_service(department_service)
}
