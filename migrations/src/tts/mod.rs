//! The tts database's own tables: workflows and their revisions; tickets,
//! their history and comments.

mod m0001_workflows;
mod m0002_tickets;
mod m0003_ticket_ratings;

pub(crate) use m0001_workflows::Migration as Workflows;
pub(crate) use m0002_tickets::Migration as Tickets;
pub(crate) use m0003_ticket_ratings::Migration as TicketRatings;
