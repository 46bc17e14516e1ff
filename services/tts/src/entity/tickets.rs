//! `tickets`: one row per ticket, as it is now.

use sea_orm::entity::prelude::*;

/// A ticket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "tickets")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// `TT-000123`.
    pub number: String,
    /// The HDTS ticket it serves, if any.
    pub hdts_ticket_id: Option<String>,
    /// Short summary.
    pub subject: String,
    /// Full description.
    pub description: String,
    /// Who asked for help.
    pub requester_user_id: String,
    /// Auth's department code.
    pub department_code: String,
    /// Category.
    pub category: String,
    /// Sub-category.
    pub sub_category: String,
    /// `low`, `medium`, `high` or `urgent`.
    pub priority: String,
    /// The status (`tickets::Status` as stored).
    pub status: String,
    /// The current step; empty in triage or once out of the workflow.
    pub step_id: String,
    /// The assignee; empty when unassigned.
    pub assignee_user_id: String,
    /// The workflow followed; empty in triage.
    pub workflow_id: String,
    /// Its revision; 0 in triage.
    pub workflow_revision: i32,
    /// Which selector matched (`workflows::MatchRule`); empty in triage.
    pub workflow_match: String,
    /// Why a person must sort it; empty otherwise.
    pub triage_reason: String,
    /// Incremented on every change; the etag and the events' version.
    pub version: i64,
    /// When it was opened.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
    /// When it last reached RESOLVED.
    pub resolved_at: Option<ChronoDateTimeUtc>,
    /// When it last reached CLOSED or CANCELLED.
    pub closed_at: Option<ChronoDateTimeUtc>,
    /// The HDTS help topic it was submitted under; empty for agents' tickets.
    pub help_topic_id: String,
    /// HDTS's ticket version of the last requester instruction applied
    /// (withdraw, confirm, reopen); an older one arriving late is ignored.
    pub requester_version: i64,
    /// The files of the HDTS submission it was opened from, by reference
    /// (`map_kit::uploads::attachments`; HDTS holds them); `None` for none.
    pub attachments: Option<Vec<u8>>,
    /// The agents' tags, sorted, separated by spaces (the filter reads
    /// `ticket_tags`).
    pub tags: String,
    /// AMS asset tags as given, separated by spaces (the filter reads
    /// `ticket_asset_tags`).
    pub asset_tags: String,
    /// The SLA policy its clocks follow; empty when none applies.
    pub sla_policy_id: String,
    /// When its resolution clock runs out if it keeps counting; `None`
    /// without a policy, while paused, or once stopped (ListTickets' order).
    pub sla_due_at: Option<ChronoDateTimeUtc>,
    /// Whether any of its SLA clocks breached (ListTickets' filter).
    pub sla_breached: bool,
    /// When an agent first responded (a public comment or a transition).
    pub first_response_at: Option<ChronoDateTimeUtc>,
}

/// Read by id.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
