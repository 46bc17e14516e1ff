//! `map.bms.v1.ProposalService` over the domain. Who may call what is
//! `policy::PROPOSAL_SERVICE` (roles) and the domain (the requester, the
//! department, the chain); every command takes its request_id here.

use map_contracts::bms::v1::{self as pb, proposal_service_server::ProposalService};
use map_kit::authn;
use tonic::{Request, Response, Status};

use super::budget_api::key;
use crate::proposals::{Proposals, commands::Deciding};

/// The handlers of ProposalService.
#[derive(Debug, Clone)]
pub struct ProposalApi {
    proposals: Proposals,
}

impl ProposalApi {
    /// Handlers over `proposals`.
    pub fn new(proposals: Proposals) -> Self {
        ProposalApi { proposals }
    }
}

/// A command: the caller, its key, the domain call.
macro_rules! command {
    ($self:ident, $request:ident, $method:literal, $call:ident) => {{
        let actor = authn::principal(&$request)?;
        let r = $request.into_inner();
        let key = key(
            concat!("map.bms.v1.ProposalService/", $method),
            &r.request_id,
            &r,
        )?;
        Ok(Response::new(
            $self.proposals.$call(&actor, &key, &r).await?,
        ))
    }};
}

/// A decision of the pending step, answered as `$response`.
macro_rules! decision {
    ($self:ident, $request:ident, $method:literal, $deciding:expr, $response:ident) => {{
        let actor = authn::principal(&$request)?;
        let r = $request.into_inner();
        let key = key(
            concat!("map.bms.v1.ProposalService/", $method),
            &r.request_id,
            &r,
        )?;
        let proposal = $self
            .proposals
            .decide(&actor, &key, $deciding, &r.proposal_id, &r.comment, &r.etag)
            .await?;
        Ok(Response::new(pb::$response {
            proposal: Some(proposal),
        }))
    }};
}

#[tonic::async_trait]
impl ProposalService for ProposalApi {
    async fn create_proposal(
        &self,
        request: Request<pb::CreateProposalRequest>,
    ) -> Result<Response<pb::CreateProposalResponse>, Status> {
        command!(self, request, "CreateProposal", create)
    }

    async fn update_proposal(
        &self,
        request: Request<pb::UpdateProposalRequest>,
    ) -> Result<Response<pb::UpdateProposalResponse>, Status> {
        let actor = authn::principal(&request)?;
        Ok(Response::new(
            self.proposals.update(&actor, request.get_ref()).await?,
        ))
    }

    async fn submit_proposal(
        &self,
        request: Request<pb::SubmitProposalRequest>,
    ) -> Result<Response<pb::SubmitProposalResponse>, Status> {
        command!(self, request, "SubmitProposal", submit)
    }

    async fn approve_proposal(
        &self,
        request: Request<pb::ApproveProposalRequest>,
    ) -> Result<Response<pb::ApproveProposalResponse>, Status> {
        decision!(
            self,
            request,
            "ApproveProposal",
            Deciding::Approve,
            ApproveProposalResponse
        )
    }

    async fn reject_proposal(
        &self,
        request: Request<pb::RejectProposalRequest>,
    ) -> Result<Response<pb::RejectProposalResponse>, Status> {
        decision!(
            self,
            request,
            "RejectProposal",
            Deciding::Reject,
            RejectProposalResponse
        )
    }

    async fn return_proposal(
        &self,
        request: Request<pb::ReturnProposalRequest>,
    ) -> Result<Response<pb::ReturnProposalResponse>, Status> {
        decision!(
            self,
            request,
            "ReturnProposal",
            Deciding::Return,
            ReturnProposalResponse
        )
    }

    async fn withdraw_proposal(
        &self,
        request: Request<pb::WithdrawProposalRequest>,
    ) -> Result<Response<pb::WithdrawProposalResponse>, Status> {
        command!(self, request, "WithdrawProposal", withdraw)
    }

    async fn close_proposal(
        &self,
        request: Request<pb::CloseProposalRequest>,
    ) -> Result<Response<pb::CloseProposalResponse>, Status> {
        command!(self, request, "CloseProposal", close)
    }

    async fn get_proposal(
        &self,
        request: Request<pb::GetProposalRequest>,
    ) -> Result<Response<pb::GetProposalResponse>, Status> {
        Ok(Response::new(self.proposals.get(request.get_ref()).await?))
    }

    async fn list_proposals(
        &self,
        request: Request<pb::ListProposalsRequest>,
    ) -> Result<Response<pb::ListProposalsResponse>, Status> {
        let actor = authn::principal(&request)?;
        Ok(Response::new(
            self.proposals.list(&actor, request.get_ref()).await?,
        ))
    }

    async fn add_proposal_comment(
        &self,
        request: Request<pb::AddProposalCommentRequest>,
    ) -> Result<Response<pb::AddProposalCommentResponse>, Status> {
        command!(self, request, "AddProposalComment", comment)
    }

    async fn list_proposal_comments(
        &self,
        request: Request<pb::ListProposalCommentsRequest>,
    ) -> Result<Response<pb::ListProposalCommentsResponse>, Status> {
        Ok(Response::new(
            self.proposals.list_comments(request.get_ref()).await?,
        ))
    }

    async fn list_proposal_events(
        &self,
        request: Request<pb::ListProposalEventsRequest>,
    ) -> Result<Response<pb::ListProposalEventsResponse>, Status> {
        Ok(Response::new(
            self.proposals.list_events(request.get_ref()).await?,
        ))
    }
}
