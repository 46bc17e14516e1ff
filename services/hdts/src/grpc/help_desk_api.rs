//! `map.hdts.v1.HelpDeskService` over the domain. Who may call what is
//! `policy::HELP_DESK_SERVICE`, enforced before the handlers. Submitting,
//! reading and listing tickets, replies, withdrawal, confirmation, reopening,
//! rating, the help topics and attachments' content are served.

use std::pin::Pin;

use futures::{Stream, StreamExt as _};
use map_contracts::hdts::v1::{self as pb, help_desk_service_server::HelpDeskService};
use map_kit::{System, authn, idempotency::Idempotent, wire::field_mask::update_paths};
use tonic::{Request, Response, Status};

use crate::{
    tickets::{HelpDesk, lifecycle::Command},
    topics::{TopicFields, Topics, UPDATE_PATHS, Viewer, to_proto},
};

const CREATE_TOPIC: &str = "map.hdts.v1.HelpDeskService/CreateHelpTopic";
const SUBMIT: &str = "map.hdts.v1.HelpDeskService/SubmitTicket";
const REPLY: &str = "map.hdts.v1.HelpDeskService/AddReply";
const WITHDRAW: &str = "map.hdts.v1.HelpDeskService/WithdrawTicket";
const CONFIRM: &str = "map.hdts.v1.HelpDeskService/ConfirmResolution";
const REOPEN: &str = "map.hdts.v1.HelpDeskService/ReopenTicket";
const RATE: &str = "map.hdts.v1.HelpDeskService/RateTicket";

/// The handlers of HelpDeskService.
#[derive(Debug, Clone)]
pub struct HelpDeskApi {
    topics: Topics,
    desk: HelpDesk,
}

impl HelpDeskApi {
    /// Handlers over `topics` and `desk`.
    pub fn new(topics: Topics, desk: HelpDesk) -> Self {
        HelpDeskApi { topics, desk }
    }
}

/// An employee, unless the caller is an agent or administrator of HDTS.
fn viewer<T>(request: &Request<T>) -> Result<Viewer, Status> {
    let p = authn::principal(request)?;
    Ok(
        if p.has_role(System::Hdts, "agent") || p.has_role(System::Hdts, "admin") {
            Viewer::Staff
        } else {
            Viewer::Employee
        },
    )
}

#[tonic::async_trait]
impl HelpDeskService for HelpDeskApi {
    type GetAttachmentStream =
        Pin<Box<dyn Stream<Item = Result<pb::GetAttachmentResponse, Status>> + Send>>;

    async fn get_attachment(
        &self,
        request: Request<pb::GetAttachmentRequest>,
    ) -> Result<Response<Self::GetAttachmentStream>, Status> {
        let actor = authn::principal(&request)?;
        let download = self
            .desk
            .attachment(&actor, request.get_ref().file.as_ref())
            .await?;
        // The metadata rides on the first message.
        let mut attachment = Some(download.attachment);
        let stream = download.content.map(move |chunk| match chunk {
            Ok(c) => Ok(pb::GetAttachmentResponse {
                attachment: attachment.take(),
                offset: c.offset,
                data: c.data,
            }),
            Err(e) => Err(Status::from(e.into_api(System::Hdts))),
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn submit_ticket(
        &self,
        request: Request<pb::SubmitTicketRequest>,
    ) -> Result<Response<pb::SubmitTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Hdts, "request_id", &r.request_id, SUBMIT, &r)?;
        Ok(Response::new(self.desk.submit(&actor, &key, r).await?))
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::GetTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let (id, number) = match request.into_inner().lookup {
            Some(pb::get_ticket_request::Lookup::Id(id)) => (id, String::new()),
            Some(pb::get_ticket_request::Lookup::Number(n)) => (String::new(), n),
            None => (String::new(), String::new()),
        };
        Ok(Response::new(pb::GetTicketResponse {
            ticket: Some(self.desk.get(&actor, &id, &number).await?),
        }))
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let actor = authn::principal(&request)?;
        let (tickets, next_page_token) = self.desk.list(&actor, request.get_ref()).await?;
        Ok(Response::new(pb::ListTicketsResponse {
            tickets,
            next_page_token,
        }))
    }

    async fn list_replies(
        &self,
        request: Request<pb::ListRepliesRequest>,
    ) -> Result<Response<pb::ListRepliesResponse>, Status> {
        let actor = authn::principal(&request)?;
        let (replies, next_page_token) = self.desk.list_replies(&actor, request.get_ref()).await?;
        Ok(Response::new(pb::ListRepliesResponse {
            replies,
            next_page_token,
        }))
    }

    async fn add_reply(
        &self,
        request: Request<pb::AddReplyRequest>,
    ) -> Result<Response<pb::AddReplyResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Hdts, "request_id", &r.request_id, REPLY, &r)?;
        Ok(Response::new(self.desk.add_reply(&actor, &key, r).await?))
    }

    async fn withdraw_ticket(
        &self,
        request: Request<pb::WithdrawTicketRequest>,
    ) -> Result<Response<pb::WithdrawTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Hdts, "request_id", &r.request_id, WITHDRAW, &r)?;
        let ticket = self
            .desk
            .lifecycle(
                &actor,
                &key,
                Command::Withdraw,
                &r.ticket_id,
                &r.etag,
                &r.reason,
            )
            .await?;
        Ok(Response::new(pb::WithdrawTicketResponse {
            ticket: Some(ticket),
        }))
    }

    async fn confirm_resolution(
        &self,
        request: Request<pb::ConfirmResolutionRequest>,
    ) -> Result<Response<pb::ConfirmResolutionResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Hdts, "request_id", &r.request_id, CONFIRM, &r)?;
        let ticket = self
            .desk
            .lifecycle(&actor, &key, Command::Confirm, &r.ticket_id, &r.etag, "")
            .await?;
        Ok(Response::new(pb::ConfirmResolutionResponse {
            ticket: Some(ticket),
        }))
    }

    async fn reopen_ticket(
        &self,
        request: Request<pb::ReopenTicketRequest>,
    ) -> Result<Response<pb::ReopenTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Hdts, "request_id", &r.request_id, REOPEN, &r)?;
        let ticket = self
            .desk
            .lifecycle(
                &actor,
                &key,
                Command::Reopen,
                &r.ticket_id,
                &r.etag,
                &r.reason,
            )
            .await?;
        Ok(Response::new(pb::ReopenTicketResponse {
            ticket: Some(ticket),
        }))
    }

    async fn rate_ticket(
        &self,
        request: Request<pb::RateTicketRequest>,
    ) -> Result<Response<pb::RateTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Hdts, "request_id", &r.request_id, RATE, &r)?;
        let ticket = self.desk.rate(&actor, &key, r).await?;
        Ok(Response::new(pb::RateTicketResponse {
            ticket: Some(ticket),
        }))
    }

    async fn create_help_topic(
        &self,
        request: Request<pb::CreateHelpTopicRequest>,
    ) -> Result<Response<pb::CreateHelpTopicResponse>, Status> {
        let r = request.into_inner();
        let key = Idempotent::new(System::Hdts, "request_id", &r.request_id, CREATE_TOPIC, &r)?;
        let fields = TopicFields {
            name: r.name,
            description: r.description,
            department_code: r.department_code,
            category: r.category,
            sub_category: r.sub_category,
            active: true,
        };
        Ok(Response::new(self.topics.create(&key, fields).await?))
    }

    async fn get_help_topic(
        &self,
        request: Request<pb::GetHelpTopicRequest>,
    ) -> Result<Response<pb::GetHelpTopicResponse>, Status> {
        let viewer = viewer(&request)?;
        let topic = self
            .topics
            .get(viewer, &request.into_inner().help_topic_id)
            .await?;
        Ok(Response::new(pb::GetHelpTopicResponse {
            help_topic: Some(to_proto(&topic)),
        }))
    }

    async fn list_help_topics(
        &self,
        request: Request<pb::ListHelpTopicsRequest>,
    ) -> Result<Response<pb::ListHelpTopicsResponse>, Status> {
        let viewer = viewer(&request)?;
        let r = request.into_inner();
        let (topics, next_page_token) = self
            .topics
            .list(
                viewer,
                r.show_inactive,
                &r.order_by,
                r.page_size,
                &r.page_token,
            )
            .await?;
        Ok(Response::new(pb::ListHelpTopicsResponse {
            help_topics: topics.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_help_topic(
        &self,
        request: Request<pb::UpdateHelpTopicRequest>,
    ) -> Result<Response<pb::UpdateHelpTopicResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &UPDATE_PATHS)?;
        let t = r.help_topic.unwrap_or_default();
        let fields = TopicFields {
            name: t.name,
            description: t.description,
            department_code: t.department_code,
            category: t.category,
            sub_category: t.sub_category,
            active: t.active,
        };
        let topic = self.topics.update(&t.id, &t.etag, &paths, fields).await?;
        Ok(Response::new(pb::UpdateHelpTopicResponse {
            help_topic: Some(to_proto(&topic)),
        }))
    }
}
