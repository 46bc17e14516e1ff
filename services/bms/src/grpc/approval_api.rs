//! `map.bms.v1.ApprovalPolicyService` over the domain. Who may call what is
//! `policy::APPROVAL_POLICY_SERVICE`.

use map_contracts::bms::v1::{self as pb, approval_policy_service_server::ApprovalPolicyService};
use map_kit::authn;
use tonic::{Request, Response, Status};

use crate::approval_policies::ApprovalPolicies;

/// The handlers of ApprovalPolicyService.
#[derive(Debug, Clone)]
pub struct ApprovalPolicyApi {
    policies: ApprovalPolicies,
}

impl ApprovalPolicyApi {
    /// Handlers over `policies`.
    pub fn new(policies: ApprovalPolicies) -> Self {
        ApprovalPolicyApi { policies }
    }
}

#[tonic::async_trait]
impl ApprovalPolicyService for ApprovalPolicyApi {
    async fn get_approval_policy(
        &self,
        request: Request<pb::GetApprovalPolicyRequest>,
    ) -> Result<Response<pb::GetApprovalPolicyResponse>, Status> {
        Ok(Response::new(self.policies.get(request.get_ref()).await?))
    }

    async fn update_approval_policy(
        &self,
        request: Request<pb::UpdateApprovalPolicyRequest>,
    ) -> Result<Response<pb::UpdateApprovalPolicyResponse>, Status> {
        let actor = authn::principal(&request)?;
        Ok(Response::new(
            self.policies.update(&actor, request.get_ref()).await?,
        ))
    }
}
