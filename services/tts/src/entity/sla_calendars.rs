//! `sla_calendars`: business-hours calendars.

use sea_orm::entity::prelude::*;

/// A calendar.
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sla_calendars")]
pub struct Model {
    /// UUIDv7.
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    /// Unique display name.
    pub name: String,
    /// IANA time zone.
    pub time_zone: String,
    /// The weekly intervals, as JSON (`sla::calendars`).
    pub business_hours: String,
    /// The holidays, as JSON (`sla::calendars`).
    pub holidays: String,
    /// Incremented on every change; the etag.
    pub version: i64,
    /// When it was created.
    pub created_at: ChronoDateTimeUtc,
    /// When it last changed.
    pub updated_at: ChronoDateTimeUtc,
}

/// Read by id or name.
#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
