//! `map.tts.v1.TicketService` over the domain. Who may call what is
//! `policy::TICKET_SERVICE`, enforced before the handlers; who may move a
//! ticket (its assignee, or a manager) and whom an agent may assign (only
//! themselves) are the domain's checks. The live streams are in
//! [`super::watch`].

use std::pin::Pin;

use futures::{Stream, StreamExt as _};
use map_contracts::tts::v1::{self as pb, ticket_service_server::TicketService};
use map_kit::{
    System, authn, authz::Access, idempotency::Idempotent, wire::field_mask::update_paths,
};
use tonic::{Request, Response, Status};

use super::watch::{Streaming, Watchers};
use crate::tickets::{NewTicket, Tickets, update::UPDATE_PATHS};

const CREATE: &str = "map.tts.v1.TicketService/CreateTicket";
const TRANSITION: &str = "map.tts.v1.TicketService/TransitionTicket";
const COMMENT: &str = "map.tts.v1.TicketService/AddComment";
const ASSIGN: &str = "map.tts.v1.TicketService/AssignTicket";

/// The handlers of TicketService.
#[derive(Debug, Clone)]
pub struct TicketApi {
    tickets: Tickets,
    watchers: Watchers,
}

impl TicketApi {
    /// Handlers over `tickets`, streams through `watchers`.
    pub fn new(tickets: Tickets, watchers: Watchers) -> Self {
        TicketApi { tickets, watchers }
    }
}

/// Who may call `method` of TicketService, as its policy says (streams
/// check it again while they run).
fn access_of(method: &str) -> Result<Access, Status> {
    super::policy::TICKET_SERVICE
        .access(&format!("/map.tts.v1.TicketService/{method}"))
        .copied()
        .ok_or_else(|| Status::internal("a stream without a policy entry"))
}

#[tonic::async_trait]
impl TicketService for TicketApi {
    type WatchTicketStream = Streaming<pb::WatchTicketResponse>;
    type WatchTicketsStream = Streaming<pb::WatchTicketsResponse>;

    async fn create_ticket(
        &self,
        request: Request<pb::CreateTicketRequest>,
    ) -> Result<Response<pb::CreateTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, CREATE, &r)?;
        let ticket = NewTicket {
            subject: r.subject,
            description: r.description,
            requester_user_id: r.requester_user_id,
            department_code: r.department_code,
            category: r.category,
            sub_category: r.sub_category,
            priority: r.priority,
            hdts_ticket_id: r.hdts_ticket_id,
            asset_tags: r.asset_tags,
            ..NewTicket::default()
        };
        Ok(Response::new(
            self.tickets
                .create(&actor, &key, &r.request_id, ticket)
                .await?,
        ))
    }

    async fn get_ticket(
        &self,
        request: Request<pb::GetTicketRequest>,
    ) -> Result<Response<pb::GetTicketResponse>, Status> {
        let (id, number) = match request.into_inner().lookup {
            Some(pb::get_ticket_request::Lookup::Id(id)) => (id, String::new()),
            Some(pb::get_ticket_request::Lookup::Number(n)) => (String::new(), n),
            None => (String::new(), String::new()),
        };
        Ok(Response::new(pb::GetTicketResponse {
            ticket: Some(self.tickets.get(&id, &number).await?),
        }))
    }

    async fn list_tickets(
        &self,
        request: Request<pb::ListTicketsRequest>,
    ) -> Result<Response<pb::ListTicketsResponse>, Status> {
        let (tickets, next_page_token) = self.tickets.list(request.get_ref()).await?;
        Ok(Response::new(pb::ListTicketsResponse {
            tickets,
            next_page_token,
        }))
    }

    async fn assign_ticket(
        &self,
        request: Request<pb::AssignTicketRequest>,
    ) -> Result<Response<pb::AssignTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, ASSIGN, &r)?;
        Ok(Response::new(self.tickets.assign(&actor, &key, r).await?))
    }

    async fn transition_ticket(
        &self,
        request: Request<pb::TransitionTicketRequest>,
    ) -> Result<Response<pb::TransitionTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, TRANSITION, &r)?;
        Ok(Response::new(
            self.tickets.transition(&actor, &key, r).await?,
        ))
    }

    async fn add_comment(
        &self,
        request: Request<pb::AddCommentRequest>,
    ) -> Result<Response<pb::AddCommentResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = Idempotent::new(System::Tts, "request_id", &r.request_id, COMMENT, &r)?;
        Ok(Response::new(
            self.tickets.add_comment(&actor, &key, r).await?,
        ))
    }

    async fn list_comments(
        &self,
        request: Request<pb::ListCommentsRequest>,
    ) -> Result<Response<pb::ListCommentsResponse>, Status> {
        let (comments, next_page_token) = self.tickets.comments(request.get_ref()).await?;
        Ok(Response::new(pb::ListCommentsResponse {
            comments,
            next_page_token,
        }))
    }

    async fn list_ticket_events(
        &self,
        request: Request<pb::ListTicketEventsRequest>,
    ) -> Result<Response<pb::ListTicketEventsResponse>, Status> {
        let (events, next_page_token) = self.tickets.events(request.get_ref()).await?;
        Ok(Response::new(pb::ListTicketEventsResponse {
            events,
            next_page_token,
        }))
    }

    async fn update_ticket(
        &self,
        request: Request<pb::UpdateTicketRequest>,
    ) -> Result<Response<pb::UpdateTicketResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &UPDATE_PATHS)?;
        let ticket = self
            .tickets
            .update(&actor, &paths, r.ticket.unwrap_or_default())
            .await?;
        Ok(Response::new(pb::UpdateTicketResponse {
            ticket: Some(ticket),
        }))
    }

    type GetAttachmentStream =
        Pin<Box<dyn Stream<Item = Result<pb::GetAttachmentResponse, Status>> + Send>>;

    async fn get_attachment(
        &self,
        request: Request<pb::GetAttachmentRequest>,
    ) -> Result<Response<Self::GetAttachmentStream>, Status> {
        let download = self
            .tickets
            .attachment(request.get_ref().file.as_ref())
            .await?;
        // The metadata rides on the first message.
        let mut attachment = Some(download.attachment);
        let stream = download.content.map(move |chunk| match chunk {
            Ok(c) => Ok(pb::GetAttachmentResponse {
                attachment: attachment.take(),
                offset: c.offset,
                data: c.data,
            }),
            Err(e) => Err(Status::from(e.into_api(System::Tts))),
        });
        Ok(Response::new(Box::pin(stream)))
    }

    async fn watch_ticket(
        &self,
        request: Request<pb::WatchTicketRequest>,
    ) -> Result<Response<Self::WatchTicketStream>, Status> {
        let access = access_of("WatchTicket")?;
        Ok(Response::new(
            self.watchers
                .ticket(self.tickets.clone(), request, access)
                .await?,
        ))
    }

    async fn search_tickets(
        &self,
        request: Request<pb::SearchTicketsRequest>,
    ) -> Result<Response<pb::SearchTicketsResponse>, Status> {
        let (tickets, next_page_token) = self.tickets.search(request.get_ref()).await?;
        Ok(Response::new(pb::SearchTicketsResponse {
            tickets,
            next_page_token,
        }))
    }

    async fn watch_tickets(
        &self,
        request: Request<pb::WatchTicketsRequest>,
    ) -> Result<Response<Self::WatchTicketsStream>, Status> {
        let access = access_of("WatchTickets")?;
        Ok(Response::new(
            self.watchers
                .queue(self.tickets.clone(), request, access)
                .await?,
        ))
    }
}
