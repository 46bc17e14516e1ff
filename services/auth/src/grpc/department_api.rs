//! `map.auth.v1.DepartmentService` over the domain. Who may call what is
//! `policy::DEPARTMENT_SERVICE`, enforced before the handlers.

use std::sync::Arc;

use map_contracts::auth::v1::{self as pb, department_service_server::DepartmentService};
use map_kit::{authn, wire::field_mask::update_paths};
use tonic::{Request, Response, Status};

use super::convert;
use crate::{Auth, AuthError, departments::DepartmentPatch};

/// The handlers of DepartmentService.
#[derive(Debug, Clone)]
pub struct DepartmentApi {
    auth: Arc<Auth>,
}

impl DepartmentApi {
    /// Handlers over `auth`.
    pub fn new(auth: Arc<Auth>) -> Self {
        DepartmentApi { auth }
    }
}

#[tonic::async_trait]
impl DepartmentService for DepartmentApi {
    async fn create_department(
        &self,
        request: Request<pb::CreateDepartmentRequest>,
    ) -> Result<Response<pb::CreateDepartmentResponse>, Status> {
        let actor = authn::principal(&request)?;
        let d = request.into_inner().department.unwrap_or_default();
        let created = self
            .auth
            .create_department(Some(&*actor), &d.code, &d.name)
            .await?;
        Ok(Response::new(pb::CreateDepartmentResponse {
            department: Some(convert::department(created)),
        }))
    }

    async fn get_department(
        &self,
        request: Request<pb::GetDepartmentRequest>,
    ) -> Result<Response<pb::GetDepartmentResponse>, Status> {
        let department = self.auth.get_department(&request.into_inner().code).await?;
        Ok(Response::new(pb::GetDepartmentResponse {
            department: Some(convert::department(department)),
        }))
    }

    async fn list_departments(
        &self,
        request: Request<pb::ListDepartmentsRequest>,
    ) -> Result<Response<pb::ListDepartmentsResponse>, Status> {
        let r = request.into_inner();
        let (departments, next_page_token) = self
            .auth
            .list_departments(r.show_inactive, &r.order_by, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListDepartmentsResponse {
            departments: departments.into_iter().map(convert::department).collect(),
            next_page_token,
        }))
    }

    async fn update_department(
        &self,
        request: Request<pb::UpdateDepartmentRequest>,
    ) -> Result<Response<pb::UpdateDepartmentResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let d = r.department.unwrap_or_default();
        let paths =
            update_paths(r.update_mask.as_ref(), &["name", "active"]).map_err(AuthError::from)?;
        let patch = DepartmentPatch {
            name: paths.contains("name").then(|| d.name.clone()),
            active: paths.contains("active").then_some(d.active),
        };
        let updated = self
            .auth
            .update_department(Some(&*actor), &d.code, &d.etag, patch)
            .await?;
        Ok(Response::new(pb::UpdateDepartmentResponse {
            department: Some(convert::department(updated)),
        }))
    }
}
