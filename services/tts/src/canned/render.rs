//! RenderCannedResponse: a response's body for one ticket, its
//! placeholders filled from the ticket and TTS's local directory of Auth's
//! users (the requester's and the caller's display names), a name the
//! directory does not know replaced by its fallback.

use map_contracts::tts::v1 as pb;
use map_kit::{Violations, authn::Principal, directory};
use sea_orm::EntityTrait as _;

use super::{
    CannedResponses, archived,
    template::{self, Placeholder},
    visible,
};
use crate::{TtsError, entity::tickets};

impl CannedResponses {
    /// RenderCannedResponse.
    pub async fn render(
        &self,
        actor: &Principal,
        r: &pb::RenderCannedResponseRequest,
    ) -> Result<pb::RenderCannedResponseResponse, TtsError> {
        let mut v = Violations::default();
        v.uuid("ticket_id", &r.ticket_id)
            .uuid("canned_response_id", &r.canned_response_id);
        v.finish()?;
        let conn = self.db.conn();
        let response = visible(conn, actor, &r.canned_response_id).await?;
        if response.archived_at.is_some() {
            return Err(archived(&response));
        }
        let ticket = tickets::Entity::find_by_id(r.ticket_id.clone())
            .one(conn)
            .await?
            .ok_or(TtsError::NotFound("ticket"))?;
        let name = |user: Option<directory::DirectoryUser>| {
            user.map(|u| u.display_name)
                .filter(|n| !n.trim().is_empty())
        };
        let requester = name(directory::read::user(conn, &ticket.requester_user_id).await?);
        let agent = name(directory::read::user(conn, &actor.id).await?)
            .or_else(|| Some(actor.display_name.clone()));
        let parts = template::parse(&response.body).map_err(|problems| {
            TtsError::precondition(
                "CANNED_RESPONSE_INVALID",
                format!("the stored body does not parse: {}", problems.join("; ")),
            )
        })?;
        let (body, fallbacks) = template::fill(&parts, |p| match p {
            Placeholder::RequesterName => requester.clone(),
            Placeholder::TicketNumber => Some(ticket.number.clone()),
            Placeholder::AgentName => agent.clone(),
        });
        Ok(pb::RenderCannedResponseResponse { body, fallbacks })
    }
}
