//! The tts database's own tables: workflows and their revisions; tickets,
//! their history and comments (with their attachments); the help topics
//! TTS knows from HDTS; text search; agents' tools (tags, asset tags,
//! canned responses); the open-queue index; SLA calendars, policies
//! and clocks.

mod m0001_workflows;
mod m0002_tickets;
mod m0003_ticket_ratings;
mod m0004_help_topics;
mod m0005_ticket_search;
mod m0006_attachments;
mod m0007_agent_tools;
mod m0008_open_queue;
mod m0009_sla;

pub(crate) use m0001_workflows::Migration as Workflows;
pub(crate) use m0002_tickets::Migration as Tickets;
pub(crate) use m0003_ticket_ratings::Migration as TicketRatings;
pub(crate) use m0004_help_topics::Migration as HelpTopics;
pub(crate) use m0005_ticket_search::Migration as TicketSearch;
pub(crate) use m0006_attachments::Migration as Attachments;
pub(crate) use m0007_agent_tools::Migration as AgentTools;
pub(crate) use m0008_open_queue::Migration as OpenQueue;
pub(crate) use m0009_sla::Migration as Sla;
