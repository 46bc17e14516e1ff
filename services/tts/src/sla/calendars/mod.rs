//! Business-hours calendars as records (`map.tts.v1.SlaService`'s
//! CreateCalendar, GetCalendar, ListCalendars, UpdateCalendar): a name
//! unique among calendars, an IANA time zone, weekly hours and holidays,
//! checked whole by [`input`] before anything is written. Creates are
//! idempotent per `request_id`; updates are etag-checked and re-target, in
//! the same transaction, the clocks counting on the calendar — settled on
//! the old hours first ([`SlaClocks::before_calendar_edit`]), then projected
//! on the new ones ([`SlaClocks::refollow`]). The business-time arithmetic is
//! [`crate::sla::calendar`]'s; the clocks read calendars themselves
//! (`clocks::Calendars`).

pub mod input;
mod list;

use std::collections::BTreeSet;

use map_contracts::tts::v1 as pb;
use map_kit::{
    System, Violations, clock::Clock, db::Db, idempotency::Idempotent, paging::Pager,
    wire::etag::check_etag,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait, EntityTrait as _,
    QueryFilter as _,
};

use self::input::{Wire, to_proto};
use crate::{
    TtsError,
    entity::sla_calendars,
    error::is_unique_violation,
    sla::{clocks::SlaClocks, stored},
    tickets::Tickets,
};

/// The update_mask paths of UpdateCalendar.
pub const UPDATE_PATHS: [&str; 4] = ["name", "time_zone", "business_hours", "holidays"];

/// The calendars' domain.
#[derive(Debug, Clone)]
pub struct CalendarRecords {
    db: Db,
    clock: Clock,
    pager: Pager,
}

impl CalendarRecords {
    /// Over `db`, stamped by `clock`, paged with `pager`.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> CalendarRecords {
        CalendarRecords { db, clock, pager }
    }

    /// Beside the tickets of one server: their database, clock and page
    /// tokens.
    pub fn beside(tickets: &Tickets) -> CalendarRecords {
        let (db, clock, pager) = tickets.parts();
        CalendarRecords::new(db, clock, pager)
    }

    /// CreateCalendar.
    pub async fn create(
        &self,
        key: &Idempotent,
        r: &pb::CreateCalendarRequest,
    ) -> Result<pb::CreateCalendarResponse, TtsError> {
        let fields = input::check("", Wire::from(r))?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let now = self.clock.now();
        let row = sla_calendars::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            name: Set(fields.name.clone()),
            time_zone: Set(fields.time_zone.clone()),
            business_hours: Set(fields.hours_json()?),
            holidays: Set(fields.holidays_json()?),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await
        .map_err(|e| name_taken_or(e, &fields.name))?;
        let response = pb::CreateCalendarResponse {
            calendar: Some(to_proto(&row)?),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(calendar_id = %row.id, "sla calendar created");
        Ok(response)
    }

    /// GetCalendar.
    pub async fn get(&self, id: &str) -> Result<pb::Calendar, TtsError> {
        let mut v = Violations::default();
        v.uuid("id", id);
        v.finish()?;
        to_proto(&find(self.db.conn(), id).await?)
    }

    /// UpdateCalendar: the fields of `c` named by `paths` replace the
    /// calendar's if `c.etag` is current; the whole result is checked as a
    /// create is. Nothing changes (not even the version) when they equal
    /// what is stored.
    pub async fn update(
        &self,
        paths: &BTreeSet<&'static str>,
        c: pb::Calendar,
    ) -> Result<pb::Calendar, TtsError> {
        let mut v = Violations::default();
        v.uuid("calendar.id", &c.id);
        if c.etag.is_empty() {
            v.add("calendar.etag", "is required (the etag you read)");
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        let row = find(&txn, &c.id).await?;
        check_etag(System::Tts, "calendar.etag", &c.etag, row.version)?;
        let mut merged = to_proto(&row)?;
        if paths.contains("name") {
            merged.name = c.name;
        }
        if paths.contains("time_zone") {
            merged.time_zone = c.time_zone;
        }
        if paths.contains("business_hours") {
            merged.business_hours = c.business_hours;
        }
        if paths.contains("holidays") {
            merged.holidays = c.holidays;
        }
        let fields = input::check("calendar.", Wire::from(&merged))?;
        if fields.same_as(&row) {
            return to_proto(&row);
        }
        let now = self.clock.now();
        let sla = SlaClocks::new(self.clock.clone());
        let policies = match stored::calendar(&row) {
            Ok(old) => sla.before_calendar_edit(&txn, &row.id, &old, now).await?,
            Err(_) => Vec::new(),
        };
        let update = sla_calendars::ActiveModel {
            name: Set(fields.name.clone()),
            time_zone: Set(fields.time_zone.clone()),
            business_hours: Set(fields.hours_json()?),
            holidays: Set(fields.holidays_json()?),
            version: Set(row.version + 1),
            updated_at: Set(now),
            ..Default::default()
        };
        let done = sla_calendars::Entity::update_many()
            .set(update)
            .filter(sla_calendars::Column::Id.eq(row.id.clone()))
            .filter(sla_calendars::Column::Version.eq(row.version))
            .exec(&txn)
            .await
            .map_err(|e| name_taken_or(e, &fields.name))?;
        if done.rows_affected != 1 {
            return Err(TtsError::EtagMismatch);
        }
        sla.refollow(&txn, &policies, None, now).await?;
        let after = find(&txn, &row.id).await?;
        txn.commit().await?;
        tracing::info!(calendar_id = %after.id, version = after.version, "sla calendar updated");
        to_proto(&after)
    }
}

/// The calendar `id`; NOT_FOUND when there is none.
pub(crate) async fn find<C: ConnectionTrait>(
    conn: &C,
    id: &str,
) -> Result<sla_calendars::Model, TtsError> {
    sla_calendars::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(TtsError::NotFound("calendar"))
}

/// ALREADY_EXISTS when `e` is the unique name's violation.
fn name_taken_or(e: sea_orm::DbErr, name: &str) -> TtsError {
    if is_unique_violation(&e) {
        TtsError::AlreadyExists {
            reason: "CALENDAR_NAME_TAKEN",
            message: format!("a calendar named {name:?} exists"),
        }
    } else {
        TtsError::Db(e)
    }
}
