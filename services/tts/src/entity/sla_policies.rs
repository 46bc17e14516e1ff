//! `sla_policies`: SLA targets per priority and scope.

use sea_orm::entity::prelude::*;

/// A policy.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_policies")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Display name.
    pub name: String,
    /// The stored priority it applies to (`tickets::model::PRIORITIES`).
    pub priority: String,
    /// First-response target, business milliseconds.
    pub first_response_ms: i64,
    /// Resolution target, business milliseconds.
    pub resolution_ms: i64,
    /// Warning threshold, percent of a target (1 to 99).
    pub warning_percent: i32,
    /// Its calendar; empty for around the clock.
    pub calendar_id: String,
    /// Whether tickets use it.
    pub active: bool,
    /// The stored statuses it pauses in, separated by spaces.
    pub pause_statuses: String,
    /// The help topic it is narrowed to; empty when not.
    pub help_topic_id: String,
    /// The workflow it is narrowed to; empty when not.
    pub workflow_id: String,
    /// The department it is narrowed to; empty when not.
    pub department_code: String,
    /// Its escalation levels, as JSON (`sla::policies`).
    pub escalation_levels: String,
    /// Incremented on every change; the etag.
    pub version: i64,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
}

/// Read by id, or by scope.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
