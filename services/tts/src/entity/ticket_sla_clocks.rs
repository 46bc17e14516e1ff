//! `ticket_sla_clocks`: the SLA clocks of each ticket.

use sea_orm::entity::prelude::*;

/// One clock of one ticket.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "ticket_sla_clocks")]
pub struct Model {
    /// The ticket.
    #[sea_orm(primary_key, auto_increment = false)]
    pub ticket_id: String,
    /// `first_response`, `resolution`, or `step:<step id>`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub clock: String,
    /// For a step clock, the step; empty otherwise.
    pub step_id: String,
    /// The policy whose targets it follows.
    pub policy_id: String,
    /// Business milliseconds allowed.
    pub target_ms: i64,
    /// Business milliseconds after which it warns.
    pub warn_ms: i64,
    /// Business milliseconds counted up to `counted_at`.
    pub elapsed_ms: i64,
    /// Whether it counts from `counted_at` on.
    pub counting: bool,
    /// When `elapsed_ms` was last brought up to date.
    pub counted_at: ChronoDateTimeUtc,
    /// Since when it is paused (the ticket in a pause status).
    pub paused_since: Option<ChronoDateTimeUtc>,
    /// When it warns, while counting and not yet warned.
    pub warn_at: Option<ChronoDateTimeUtc>,
    /// When it runs out, while counting.
    pub due_at: Option<ChronoDateTimeUtc>,
    /// When it warned.
    pub warned_at: Option<ChronoDateTimeUtc>,
    /// When it breached.
    pub breached_at: Option<ChronoDateTimeUtc>,
    /// When it stopped (met or not).
    pub stopped_at: Option<ChronoDateTimeUtc>,
    /// The indexes of the policy's escalation levels that acted, separated
    /// by spaces.
    pub levels_done: String,
}

/// Read by ticket.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
