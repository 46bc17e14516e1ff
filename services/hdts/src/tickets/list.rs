//! ListTickets: an employee's own tickets, or (agents) every ticket,
//! filtered by status, requester, department, priority or help topic, in a
//! keyset-paged order — newest, oldest, recently updated, most urgent, or by
//! number — with ties broken by number. The page token binds the caller's
//! scope, the filters and the order.

use chrono::{DateTime, Utc};
use map_contracts::hdts::v1 as pb;
use map_kit::{
    FieldViolation, Violations,
    authn::Principal,
    paging::{Direction, PageSize, Sort, number_values},
};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
    sea_query::{CaseStatement, Expr},
};
use serde::{Deserialize, Serialize};

use super::{HelpDesk, is_agent, priority_to_proto, to_proto};
use crate::{HdtsError, entity::tickets};

/// The stored priorities.
const PRIORITIES: [&str; 4] = ["low", "medium", "high", "urgent"];

/// The orders ListTickets supports (its order_by), each ending with the
/// ticket number as the contract's tie-breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum Order {
    /// "create_time desc", the default; ties newest number first.
    NewestFirst,
    /// "create_time"; ties oldest number first.
    OldestFirst,
    /// "update_time desc"; ties newest number first.
    RecentlyUpdated,
    /// "priority desc"; within a priority the oldest number first (the
    /// longest waiting).
    MostUrgent,
    /// "number".
    Number,
}

impl Order {
    /// The order `order_by` names; a violation naming `order_by` otherwise.
    fn parse(order_by: &str) -> Result<Order, FieldViolation> {
        // AIP-132: fields and keywords separated by any whitespace.
        let words: Vec<&str> = order_by.split_whitespace().collect();
        Ok(match words.as_slice() {
            [] | ["create_time", "desc"] => Order::NewestFirst,
            ["create_time"] | ["create_time", "asc"] => Order::OldestFirst,
            ["update_time", "desc"] => Order::RecentlyUpdated,
            ["priority", "desc"] => Order::MostUrgent,
            ["number"] | ["number", "asc"] => Order::Number,
            _ => {
                return Err(FieldViolation {
                    field: "order_by".into(),
                    description: "supported: \"create_time desc\" (the default), \
                                  \"create_time\", \"update_time desc\", \"priority desc\", \
                                  \"number\""
                        .into(),
                });
            }
        })
    }

    /// The keys of the order, most significant first.
    fn sort(self) -> Sort {
        use Direction::{Ascending, Descending};
        let number = tickets::Column::Number;
        match self {
            Order::NewestFirst => Sort::default()
                .key(tickets::Column::CreatedAt.into_expr(), Descending)
                .number(number, Descending),
            Order::OldestFirst => Sort::default()
                .key(tickets::Column::CreatedAt.into_expr(), Ascending)
                .number(number, Ascending),
            Order::RecentlyUpdated => Sort::default()
                .key(tickets::Column::UpdatedAt.into_expr(), Descending)
                .number(number, Descending),
            Order::MostUrgent => Sort::default()
                .key(rank(), Descending)
                .number(number, Ascending),
            Order::Number => Sort::default().number(number, Ascending),
        }
    }

    /// The sort key of `t`, as the next page token carries it.
    fn key(self, t: &tickets::Model) -> After {
        let number = t.number.clone();
        match self {
            Order::NewestFirst | Order::OldestFirst => After::Time(t.created_at, number),
            Order::RecentlyUpdated => After::Time(t.updated_at, number),
            Order::MostUrgent => After::Rank(priority_rank(&t.priority), number),
            Order::Number => After::Number(number),
        }
    }

    /// The values of [`Order::sort`]'s keys at `after`; a key of another
    /// order is a token not issued for this listing.
    fn values(self, after: After) -> Result<Vec<Value>, HdtsError> {
        let (first, number) = match (self, after) {
            (
                Order::NewestFirst | Order::OldestFirst | Order::RecentlyUpdated,
                After::Time(at, number),
            ) => (Some(Value::from(at)), number),
            (Order::MostUrgent, After::Rank(rank, number)) => (Some(Value::from(rank)), number),
            (Order::Number, After::Number(number)) => (None, number),
            _ => {
                return Err(HdtsError::invalid(
                    "page_token",
                    "is not a token issued for this listing",
                ));
            }
        };
        Ok(first.into_iter().chain(number_values(&number)).collect())
    }
}

/// Where a page ended: the sort key of its last ticket.
#[derive(Debug, Serialize, Deserialize)]
enum After {
    /// Creation or update time, and number.
    Time(DateTime<Utc>, String),
    /// Priority rank, and number.
    Rank(i32, String),
    /// Number alone.
    Number(String),
}

/// How urgent a stored priority is: its wire number, LOW 1 to URGENT 4 (an
/// unknown value reads as MEDIUM, as on the wire).
fn priority_rank(s: &str) -> i32 {
    priority_to_proto(s).into()
}

/// [`priority_rank`] in SQL: a `CASE` over the stored text (the rows carry
/// no rank column); its ELSE is the rank of an unknown value.
fn rank() -> Expr {
    PRIORITIES
        .iter()
        .fold(CaseStatement::new(), |case, p| {
            case.case(
                tickets::Column::Priority.eq(*p),
                Expr::val(priority_rank(p)),
            )
        })
        .finally(Expr::val(priority_rank("")))
        .into()
}

/// The stored status of a wire status; `None` for UNSPECIFIED or unknown.
fn stored_status(n: i32) -> Option<&'static str> {
    Some(match pb::TicketStatus::try_from(n).ok()? {
        pb::TicketStatus::Submitted => "submitted",
        pb::TicketStatus::InProgress => "in_progress",
        pb::TicketStatus::WaitingOnRequester => "waiting_on_requester",
        pb::TicketStatus::Resolved => "resolved",
        pb::TicketStatus::Closed => "closed",
        pb::TicketStatus::Withdrawn => "withdrawn",
        pb::TicketStatus::Unspecified => return None,
    })
}

/// The stored priority of a wire priority; `None` for UNSPECIFIED or unknown.
fn stored_priority(n: i32) -> Option<&'static str> {
    Some(match pb::TicketPriority::try_from(n).ok()? {
        pb::TicketPriority::Low => "low",
        pb::TicketPriority::Medium => "medium",
        pb::TicketPriority::High => "high",
        pb::TicketPriority::Urgent => "urgent",
        pb::TicketPriority::Unspecified => return None,
    })
}

/// The request's filters and the caller's scope, as the page token binds
/// them.
#[derive(Debug, Serialize)]
struct Filters<'a> {
    /// The employee whose tickets these are; empty for an agent (all).
    scope: &'a str,
    order: Order,
    statuses: Vec<&'static str>,
    requester: &'a str,
    department: &'a str,
    priorities: Vec<&'static str>,
    topic: &'a str,
}

impl HelpDesk {
    /// ListTickets: the caller's own (agents: every ticket), filtered and
    /// ordered as asked; a page and the next page's token (empty on the last).
    pub async fn list(
        &self,
        actor: &Principal,
        r: &pb::ListTicketsRequest,
    ) -> Result<(Vec<pb::Ticket>, String), HdtsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut v = Violations::default();
        let order = Order::parse(&r.order_by).unwrap_or_else(|bad| {
            v.add(bad.field, bad.description);
            Order::NewestFirst
        });
        let mut statuses = Vec::with_capacity(r.statuses.len());
        for (i, s) in r.statuses.iter().enumerate() {
            match stored_status(*s) {
                Some(s) => statuses.push(s),
                None => {
                    v.add(format!("statuses[{i}]"), "is not a ticket status");
                }
            }
        }
        let mut priorities = Vec::with_capacity(r.priorities.len());
        for (i, p) in r.priorities.iter().enumerate() {
            match stored_priority(*p) {
                Some(p) => priorities.push(p),
                None => {
                    v.add(format!("priorities[{i}]"), "is not a priority");
                }
            }
        }
        if !r.requester_user_id.is_empty() {
            v.uuid("requester_user_id", &r.requester_user_id);
        }
        if !r.help_topic_id.is_empty() {
            v.uuid("help_topic_id", &r.help_topic_id);
        }
        v.finish()?;
        let agent = is_agent(actor);
        if !agent && !r.requester_user_id.is_empty() && r.requester_user_id != actor.id {
            return Err(HdtsError::PermissionDenied {
                reason: "AGENT_REQUIRED",
                message: "only agents list other people's tickets".into(),
            });
        }
        // The same set in another order is the same listing.
        for set in [&mut statuses, &mut priorities] {
            set.sort_unstable();
            set.dedup();
        }
        let f = Filters {
            scope: if agent { "" } else { &actor.id },
            order,
            statuses,
            requester: &r.requester_user_id,
            department: &r.department_code,
            priorities,
            topic: &r.help_topic_id,
        };
        let cursor: Option<After> = self.pager.open("hdts_tickets", &f, &r.page_token)?;
        let mut q = tickets::Entity::find();
        for (column, value) in [
            (tickets::Column::RequesterUserId, f.scope),
            (tickets::Column::RequesterUserId, f.requester),
            (tickets::Column::DepartmentCode, f.department),
            (tickets::Column::HelpTopicId, f.topic),
        ] {
            if !value.is_empty() {
                q = q.filter(column.eq(value));
            }
        }
        if !f.statuses.is_empty() {
            q = q.filter(tickets::Column::Status.is_in(f.statuses.iter().copied()));
        }
        if !f.priorities.is_empty() {
            q = q.filter(tickets::Column::Priority.is_in(f.priorities.iter().copied()));
        }
        let sort = order.sort();
        if let Some(after) = cursor {
            q = q.filter(sort.after(order.values(after)?));
        }
        let rows = sort
            .order(q)
            .limit(size.fetch())
            .all(self.db.conn())
            .await?;
        let (rows, token) = self
            .pager
            .page("hdts_tickets", &f, rows, size, |t| order.key(t));
        Ok((rows.iter().map(to_proto).collect(), token))
    }
}
