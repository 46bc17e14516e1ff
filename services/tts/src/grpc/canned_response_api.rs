//! `map.tts.v1.CannedResponseService` over the domain. Who may call what is
//! `policy::CANNED_RESPONSE_SERVICE`, enforced before the handlers; that an
//! agent sees only its teams' responses is the domain's check.

use map_contracts::tts::v1::{self as pb, canned_response_service_server::CannedResponseService};
use map_kit::{System, authn, idempotency::Idempotent, wire::field_mask::update_paths};
use tonic::{Request, Response, Status};

use crate::canned::{CannedResponses, UPDATE_PATHS};

const CREATE: &str = "map.tts.v1.CannedResponseService/CreateCannedResponse";

/// The handlers of CannedResponseService.
#[derive(Debug, Clone)]
pub struct CannedResponseApi {
    canned: CannedResponses,
}

impl CannedResponseApi {
    /// Handlers over `canned`.
    pub fn new(canned: CannedResponses) -> Self {
        CannedResponseApi { canned }
    }
}

#[tonic::async_trait]
impl CannedResponseService for CannedResponseApi {
    async fn create_canned_response(
        &self,
        request: Request<pb::CreateCannedResponseRequest>,
    ) -> Result<Response<pb::CreateCannedResponseResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, CREATE, &r)?;
        Ok(Response::new(
            self.canned
                .create(&actor, &key, r.canned_response.unwrap_or_default())
                .await?,
        ))
    }

    async fn get_canned_response(
        &self,
        request: Request<pb::GetCannedResponseRequest>,
    ) -> Result<Response<pb::GetCannedResponseResponse>, Status> {
        let actor = authn::principal(&request)?;
        let canned_response = self.canned.get(&actor, &request.get_ref().id).await?;
        Ok(Response::new(pb::GetCannedResponseResponse {
            canned_response: Some(canned_response),
        }))
    }

    async fn list_canned_responses(
        &self,
        request: Request<pb::ListCannedResponsesRequest>,
    ) -> Result<Response<pb::ListCannedResponsesResponse>, Status> {
        let actor = authn::principal(&request)?;
        let (canned_responses, next_page_token) =
            self.canned.list(&actor, request.get_ref()).await?;
        Ok(Response::new(pb::ListCannedResponsesResponse {
            canned_responses,
            next_page_token,
        }))
    }

    async fn update_canned_response(
        &self,
        request: Request<pb::UpdateCannedResponseRequest>,
    ) -> Result<Response<pb::UpdateCannedResponseResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &UPDATE_PATHS)?;
        let canned_response = self
            .canned
            .update(&paths, r.canned_response.unwrap_or_default())
            .await?;
        Ok(Response::new(pb::UpdateCannedResponseResponse {
            canned_response: Some(canned_response),
        }))
    }

    async fn delete_canned_response(
        &self,
        request: Request<pb::DeleteCannedResponseRequest>,
    ) -> Result<Response<pb::DeleteCannedResponseResponse>, Status> {
        let r = request.into_inner();
        let canned_response = self.canned.delete(&r.id, &r.etag).await?;
        Ok(Response::new(pb::DeleteCannedResponseResponse {
            canned_response: Some(canned_response),
        }))
    }

    async fn render_canned_response(
        &self,
        request: Request<pb::RenderCannedResponseRequest>,
    ) -> Result<Response<pb::RenderCannedResponseResponse>, Status> {
        let actor = authn::principal(&request)?;
        Ok(Response::new(
            self.canned.render(&actor, request.get_ref()).await?,
        ))
    }
}
