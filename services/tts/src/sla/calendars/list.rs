//! ListCalendars: by name (the default) or newest first, ties broken by id,
//! in keyset pages bound to the order.

use chrono::{DateTime, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::paging::{Direction, PageSize, Sort};
use sea_orm::{ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value};
use serde::{Deserialize, Serialize};

use super::{CalendarRecords, input::to_proto};
use crate::{TtsError, entity::sla_calendars, sla::order_by};

/// The orders ListCalendars supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum Order {
    /// "name", the default.
    Name,
    /// "create_time desc".
    Newest,
}

/// Where a page ended: the sort key of its last calendar.
#[derive(Debug, Serialize, Deserialize)]
enum After {
    Name(String, String),
    Newest(DateTime<Utc>, String),
}

impl Order {
    fn sort(self) -> Sort {
        use Direction::{Ascending, Descending};
        use sla_calendars::Column as C;
        match self {
            Order::Name => Sort::default()
                .key(C::Name.into_expr(), Ascending)
                .key(C::Id.into_expr(), Ascending),
            Order::Newest => Sort::default()
                .key(C::CreatedAt.into_expr(), Descending)
                .key(C::Id.into_expr(), Descending),
        }
    }

    fn key(self, c: &sla_calendars::Model) -> After {
        match self {
            Order::Name => After::Name(c.name.clone(), c.id.clone()),
            Order::Newest => After::Newest(c.created_at, c.id.clone()),
        }
    }
}

impl After {
    fn values(self) -> Vec<Value> {
        match self {
            After::Name(name, id) => vec![name.into(), id.into()],
            After::Newest(at, id) => vec![at.into(), id.into()],
        }
    }
}

impl CalendarRecords {
    /// ListCalendars.
    pub async fn list(
        &self,
        r: &pb::ListCalendarsRequest,
    ) -> Result<(Vec<pb::Calendar>, String), TtsError> {
        let size = PageSize::parse(r.page_size)?;
        let order = match order_by::normalized(&r.order_by).as_str() {
            "" | "name" => Order::Name,
            "create_time desc" => Order::Newest,
            _ => {
                return Err(TtsError::invalid(
                    "order_by",
                    "supported: \"name\" (the default), \"create_time desc\"",
                ));
            }
        };
        let cursor: Option<After> = self.pager.open("sla_calendars", &order, &r.page_token)?;
        let sort = order.sort();
        let mut q = sla_calendars::Entity::find();
        // The token is bound to the order, so its cursor is of this order's keys.
        if let Some(after) = cursor {
            q = q.filter(sort.after(after.values()));
        }
        let rows = sort
            .order(q)
            .limit(size.fetch())
            .all(self.db.conn())
            .await?;
        let (rows, token) = self
            .pager
            .page("sla_calendars", &order, rows, size, |c| order.key(c));
        let calendars = rows.iter().map(to_proto).collect::<Result<_, _>>()?;
        Ok((calendars, token))
    }
}
