//! ListSlaPolicies: by priority (least urgent first) then name — the
//! default — by name, or newest first, ties broken by id; filtered by
//! priorities and to active ones; in keyset pages bound to the filters and
//! the order.

use chrono::{DateTime, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::{
    FieldViolation,
    paging::{Direction, PageSize, Sort},
};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
    sea_query::{CaseStatement, Expr},
};
use serde::{Deserialize, Serialize};

use super::{PolicyRecords, input::to_proto};
use crate::{
    TtsError,
    entity::sla_policies,
    sla::order_by,
    tickets::model::{PRIORITIES, priority_from_proto, priority_rank},
};

/// The orders ListSlaPolicies supports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum Order {
    /// "priority, name", the default.
    Priority,
    /// "name".
    Name,
    /// "create_time desc".
    Newest,
}

const ORDERS: &str = "supported: \"priority, name\" (the default), \"name\", \"create_time desc\"";

/// The request's filters and order, as the page token binds them.
#[derive(Debug, Serialize)]
struct Filters {
    order: Order,
    priorities: Vec<&'static str>,
    active_only: bool,
}

/// Where a page ended: the sort key of its last policy.
#[derive(Debug, Serialize, Deserialize)]
enum After {
    Priority(i32, String, String),
    Name(String, String),
    Newest(DateTime<Utc>, String),
}

/// The priority's rank in SQL, the same as [`priority_rank`]: a `CASE`
/// over the stored text (the rows carry no rank column).
fn rank() -> Expr {
    PRIORITIES
        .iter()
        .fold(CaseStatement::new(), |case, p| {
            case.case(
                sla_policies::Column::Priority.eq(*p),
                Expr::val(priority_rank(p)),
            )
        })
        .finally(Expr::val(0))
        .into()
}

impl Order {
    fn parse(order_by: &str) -> Option<Order> {
        match order_by::normalized(order_by).as_str() {
            "" | "priority, name" => Some(Order::Priority),
            "name" => Some(Order::Name),
            "create_time desc" => Some(Order::Newest),
            _ => None,
        }
    }

    fn sort(self) -> Sort {
        use Direction::{Ascending, Descending};
        use sla_policies::Column as P;
        match self {
            Order::Priority => Sort::default()
                .key(rank(), Ascending)
                .key(P::Name.into_expr(), Ascending)
                .key(P::Id.into_expr(), Ascending),
            Order::Name => Sort::default()
                .key(P::Name.into_expr(), Ascending)
                .key(P::Id.into_expr(), Ascending),
            Order::Newest => Sort::default()
                .key(P::CreatedAt.into_expr(), Descending)
                .key(P::Id.into_expr(), Descending),
        }
    }

    fn key(self, p: &sla_policies::Model) -> After {
        match self {
            Order::Priority => {
                After::Priority(priority_rank(&p.priority), p.name.clone(), p.id.clone())
            }
            Order::Name => After::Name(p.name.clone(), p.id.clone()),
            Order::Newest => After::Newest(p.created_at, p.id.clone()),
        }
    }
}

impl After {
    fn values(self) -> Vec<Value> {
        match self {
            After::Priority(rank, name, id) => vec![rank.into(), name.into(), id.into()],
            After::Name(name, id) => vec![name.into(), id.into()],
            After::Newest(at, id) => vec![at.into(), id.into()],
        }
    }
}

impl PolicyRecords {
    /// ListSlaPolicies.
    pub async fn list(
        &self,
        r: &pb::ListSlaPoliciesRequest,
    ) -> Result<(Vec<pb::SlaPolicy>, String), TtsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut bad = Vec::new();
        let order = Order::parse(&r.order_by).unwrap_or_else(|| {
            bad.push(FieldViolation {
                field: "order_by".into(),
                description: ORDERS.into(),
            });
            Order::Priority
        });
        let mut priorities: Vec<&'static str> = r
            .priorities
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let stored = priority_from_proto(*p);
                if stored.is_none() {
                    bad.push(FieldViolation {
                        field: format!("priorities[{i}]"),
                        description: "is not a ticket priority".into(),
                    });
                }
                stored
            })
            .collect();
        if !bad.is_empty() {
            return Err(TtsError::InvalidArgument(bad));
        }
        priorities.sort_unstable();
        priorities.dedup();
        let f = Filters {
            order,
            priorities,
            active_only: r.active_only,
        };
        let cursor: Option<After> = self.pager.open("sla_policies", &f, &r.page_token)?;
        let sort = order.sort();
        let mut q = sla_policies::Entity::find();
        if !f.priorities.is_empty() {
            q = q.filter(sla_policies::Column::Priority.is_in(f.priorities.iter().copied()));
        }
        if f.active_only {
            q = q.filter(sla_policies::Column::Active.eq(true));
        }
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
            .page("sla_policies", &f, rows, size, |p| order.key(p));
        let policies = rows.iter().map(to_proto).collect::<Result<_, _>>()?;
        Ok((policies, token))
    }
}
