//! `map.tts.v1.WorkflowService` over the domain. Who may call what is
//! `policy::WORKFLOW_SERVICE`, enforced before the handlers.

use map_contracts::tts::v1::{self as pb, workflow_service_server::WorkflowService};
use map_kit::{System, idempotency::Idempotent, wire::field_mask::update_paths};
use tonic::{Request, Response, Status};

use crate::{
    TtsError,
    workflows::{
        ListQuery, UPDATE_PATHS, Workflows,
        definition::{Definition, Selector},
        model::{State, graph_from_proto},
    },
};

const CREATE: &str = "map.tts.v1.WorkflowService/CreateWorkflow";
const PUBLISH: &str = "map.tts.v1.WorkflowService/PublishWorkflow";

/// The handlers of WorkflowService.
#[derive(Debug, Clone)]
pub struct WorkflowApi {
    workflows: Workflows,
}

impl WorkflowApi {
    /// Handlers over `workflows`.
    pub fn new(workflows: Workflows) -> Self {
        WorkflowApi { workflows }
    }
}

#[tonic::async_trait]
impl WorkflowService for WorkflowApi {
    async fn create_workflow(
        &self,
        request: Request<pb::CreateWorkflowRequest>,
    ) -> Result<Response<pb::CreateWorkflowResponse>, Status> {
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, CREATE, &r)?;
        let (graph, extra) = graph_from_proto(&r.steps, &r.transitions, &r.initial_step_id);
        let def = Definition {
            name: r.name,
            description: r.description,
            selector: Selector {
                department_code: r.department_code,
                category: r.category,
                sub_category: r.sub_category,
            },
            graph,
        };
        Ok(Response::new(
            self.workflows.create(&key, def, extra).await?,
        ))
    }

    async fn get_workflow(
        &self,
        request: Request<pb::GetWorkflowRequest>,
    ) -> Result<Response<pb::GetWorkflowResponse>, Status> {
        let r = request.into_inner();
        let revision = self.workflows.get(&r.workflow_id, r.revision).await?;
        Ok(Response::new(pb::GetWorkflowResponse {
            workflow: Some(revision.to_proto()),
        }))
    }

    async fn list_workflows(
        &self,
        request: Request<pb::ListWorkflowsRequest>,
    ) -> Result<Response<pb::ListWorkflowsResponse>, Status> {
        let r = request.into_inner();
        let states = r
            .states
            .iter()
            .enumerate()
            .map(|(i, s)| {
                State::from_proto(*s).map(State::as_str).ok_or_else(|| {
                    TtsError::invalid(format!("states[{i}]"), "is not a workflow state")
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let query = ListQuery {
            states,
            department_code: r.department_code,
            category: r.category,
            workflow_id: r.workflow_id,
            order_by: r.order_by,
        };
        let (workflows, next_page_token) = self
            .workflows
            .list(&query, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListWorkflowsResponse {
            workflows: workflows.iter().map(|w| w.to_proto()).collect(),
            next_page_token,
        }))
    }

    async fn update_workflow(
        &self,
        request: Request<pb::UpdateWorkflowRequest>,
    ) -> Result<Response<pb::UpdateWorkflowResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &UPDATE_PATHS)?;
        let w = r.workflow.unwrap_or_default();
        let (graph, extra) = graph_from_proto(&w.steps, &w.transitions, &w.initial_step_id);
        let patch = Definition {
            name: w.name,
            description: w.description,
            selector: Selector {
                department_code: w.department_code,
                category: w.category,
                sub_category: w.sub_category,
            },
            graph,
        };
        let revision = self
            .workflows
            .update(&w.id, &w.etag, &paths, patch, extra)
            .await?;
        Ok(Response::new(pb::UpdateWorkflowResponse {
            workflow: Some(revision.to_proto()),
        }))
    }

    async fn publish_workflow(
        &self,
        request: Request<pb::PublishWorkflowRequest>,
    ) -> Result<Response<pb::PublishWorkflowResponse>, Status> {
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, PUBLISH, &r)?;
        Ok(Response::new(
            self.workflows
                .publish(&key, &r.workflow_id, r.revision, &r.etag)
                .await?,
        ))
    }

    async fn archive_workflow(
        &self,
        request: Request<pb::ArchiveWorkflowRequest>,
    ) -> Result<Response<pb::ArchiveWorkflowResponse>, Status> {
        let r = request.into_inner();
        let revision = self.workflows.archive(&r.workflow_id, &r.etag).await?;
        Ok(Response::new(pb::ArchiveWorkflowResponse {
            workflow: Some(revision.to_proto()),
        }))
    }
}
