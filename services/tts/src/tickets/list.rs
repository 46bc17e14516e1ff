//! ListTickets: the queues agents and managers work from — filtered by
//! status (TRIAGE shows what waits for a manager), assignee, requester,
//! department, category, priority, workflow, help topic, help-desk
//! ticket, tags (all of them) or an asset tag — in a keyset-paged order (newest, oldest, recently updated, most
//! urgent, by number, or soonest SLA due; ties broken by number).

use chrono::{DateTime, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::{
    FieldViolation, Violations, asset_tags,
    paging::{Direction, PageSize, Sort, number_values},
};
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
    sea_query::{CaseStatement, Expr, Func, Query},
};
use serde::{Deserialize, Serialize};

use super::{Tickets, model, tags};
use crate::{
    TtsError,
    entity::{ticket_asset_tags, ticket_tags, tickets},
};

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
    /// "priority desc"; within a priority the oldest number first, so a
    /// queue read top down is worked most urgent, then longest waiting.
    MostUrgent,
    /// "number".
    Number,
    /// "sla.resolution_due_time": soonest due first, tickets without a due
    /// time (no policy, paused, stopped) last; ties oldest number first.
    SoonestDue,
}

const ORDERS: &str = "supported: \"create_time desc\" (the default), \"create_time\", \
                      \"update_time desc\", \"priority desc\", \"number\", \
                      \"sla.resolution_due_time\"";

/// Where a ticket without a due time sorts under [`Order::SoonestDue`]:
/// after every real one (the last second of year 9999, which SQLite's text
/// timestamps also sort last).
fn never() -> DateTime<Utc> {
    DateTime::from_timestamp(253_402_300_799, 0).unwrap_or(DateTime::<Utc>::MAX_UTC)
}

impl Order {
    /// The order `order_by` names; a violation naming `order_by` for one
    /// the contract does not offer (yet).
    fn parse(order_by: &str) -> Result<Order, FieldViolation> {
        let refused = |description: String| FieldViolation {
            field: "order_by".into(),
            description,
        };
        // AIP-132: fields and keywords separated by any whitespace.
        let words: Vec<&str> = order_by.split_whitespace().collect();
        Ok(match words.as_slice() {
            [] | ["create_time", "desc"] => Order::NewestFirst,
            ["create_time"] | ["create_time", "asc"] => Order::OldestFirst,
            ["update_time", "desc"] => Order::RecentlyUpdated,
            ["priority", "desc"] => Order::MostUrgent,
            ["number"] | ["number", "asc"] => Order::Number,
            ["sla.resolution_due_time"] | ["sla.resolution_due_time", "asc"] => Order::SoonestDue,
            _ => return Err(refused(ORDERS.to_owned())),
        })
    }

    /// The keys of the order, most significant first.
    fn sort(self) -> Sort {
        use Direction::{Ascending, Descending};
        let number = tickets::Column::Number;
        let time = |column: tickets::Column| column.into_expr();
        match self {
            Order::NewestFirst => Sort::default()
                .key(time(tickets::Column::CreatedAt), Descending)
                .number(number, Descending),
            Order::OldestFirst => Sort::default()
                .key(time(tickets::Column::CreatedAt), Ascending)
                .number(number, Ascending),
            Order::RecentlyUpdated => Sort::default()
                .key(time(tickets::Column::UpdatedAt), Descending)
                .number(number, Descending),
            Order::MostUrgent => Sort::default()
                .key(rank(), Descending)
                .number(number, Ascending),
            Order::Number => Sort::default().number(number, Ascending),
            Order::SoonestDue => Sort::default()
                .key(
                    Func::coalesce([tickets::Column::SlaDueAt.into_expr(), Expr::val(never())]),
                    Ascending,
                )
                .number(number, Ascending),
        }
    }

    /// The sort key of `t`, as the next page token carries it.
    fn key(self, t: &tickets::Model) -> After {
        let number = t.number.clone();
        match self {
            Order::NewestFirst | Order::OldestFirst => After::Time(t.created_at, number),
            Order::RecentlyUpdated => After::Time(t.updated_at, number),
            Order::MostUrgent => After::Rank(model::priority_rank(&t.priority), number),
            Order::Number => After::Number(number),
            Order::SoonestDue => After::Time(t.sla_due_at.unwrap_or_else(never), number),
        }
    }

    /// The values of [`Order::sort`]'s keys at `after`; a key of another
    /// order is a token not issued for this listing.
    fn values(self, after: After) -> Result<Vec<Value>, TtsError> {
        let (first, number) = match (self, after) {
            (
                Order::NewestFirst
                | Order::OldestFirst
                | Order::RecentlyUpdated
                | Order::SoonestDue,
                After::Time(at, number),
            ) => (Some(Value::from(at)), number),
            (Order::MostUrgent, After::Rank(rank, number)) => (Some(Value::from(rank)), number),
            (Order::Number, After::Number(number)) => (None, number),
            _ => {
                return Err(TtsError::invalid(
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

/// The priority's rank in SQL, the same as [`model::priority_rank`]: a
/// `CASE` over the stored text (the rows carry no rank column).
fn rank() -> Expr {
    model::PRIORITIES
        .iter()
        .fold(CaseStatement::new(), |case, p| {
            case.case(
                tickets::Column::Priority.eq(*p),
                Expr::val(model::priority_rank(p)),
            )
        })
        .finally(Expr::val(0))
        .into()
}

/// The predicate of the open-queue index (migration m0008), as a literal:
/// added beside a filter on open statuses only, it lets the database prove
/// the index applies, which bound parameters alone cannot.
const OPEN_PREDICATE: &str =
    "status IN ('open', 'in_progress', 'waiting_on_requester', 'on_hold', 'triage')";

/// The stored forms of the open statuses.
fn open_statuses() -> impl Iterator<Item = &'static str> {
    model::Status::OPEN.iter().map(|s| s.as_str())
}

/// The request's filters, as the page token binds them.
#[derive(Debug, Serialize)]
struct Filters<'a> {
    order: Order,
    statuses: Vec<&'static str>,
    priorities: Vec<&'static str>,
    assignee: &'a str,
    requester: &'a str,
    department: &'a str,
    category: &'a str,
    workflow: &'a str,
    hdts_ticket: &'a str,
    help_topic: &'a str,
    breached_only: bool,
    tags: Vec<String>,
    asset_tag: String,
}

impl Tickets {
    /// ListTickets.
    pub async fn list(
        &self,
        r: &pb::ListTicketsRequest,
    ) -> Result<(Vec<pb::Ticket>, String), TtsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut bad = Vec::new();
        let order = Order::parse(&r.order_by).unwrap_or_else(|v| {
            bad.push(v);
            Order::NewestFirst
        });
        let (statuses, wrong) = model::stored_statuses(&r.statuses);
        bad.extend(wrong);
        let priorities = r
            .priorities
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let stored = model::priority_from_proto(*p);
                if stored.is_none() {
                    bad.push(FieldViolation {
                        field: format!("priorities[{i}]"),
                        description: "is not a priority".into(),
                    });
                }
                stored
            })
            .collect();
        let mut v = Violations::default();
        tags::check_tags(&mut v, "tags", &r.tags);
        if !r.asset_tag.is_empty() && !asset_tags::is_valid(&r.asset_tag) {
            v.add("asset_tag", "is not an asset tag");
        }
        bad.extend(v.into_violations());
        if !bad.is_empty() {
            return Err(TtsError::InvalidArgument(bad));
        }
        let f = Filters {
            order,
            statuses,
            priorities,
            assignee: &r.assignee_user_id,
            requester: &r.requester_user_id,
            department: &r.department_code,
            category: &r.category,
            workflow: &r.workflow_id,
            hdts_ticket: &r.hdts_ticket_id,
            help_topic: &r.help_topic_id,
            breached_only: r.breached_only,
            tags: tags::sorted(&r.tags),
            asset_tag: asset_tags::key(&r.asset_tag),
        };
        let cursor: Option<After> = self.pager.open("tickets", &f, &r.page_token)?;
        let mut q = tickets::Entity::find();
        if f.breached_only {
            q = q.filter(tickets::Column::SlaBreached.eq(true));
        }
        if !f.statuses.is_empty() {
            q = q.filter(tickets::Column::Status.is_in(f.statuses.iter().copied()));
            if f.statuses.iter().all(|s| open_statuses().any(|o| o == *s)) {
                q = q.filter(Expr::cust(OPEN_PREDICATE));
            }
        }
        if !f.priorities.is_empty() {
            q = q.filter(tickets::Column::Priority.is_in(f.priorities.iter().copied()));
        }
        for (column, value) in [
            (tickets::Column::AssigneeUserId, f.assignee),
            (tickets::Column::RequesterUserId, f.requester),
            (tickets::Column::DepartmentCode, f.department),
            (tickets::Column::Category, f.category),
            (tickets::Column::WorkflowId, f.workflow),
            (tickets::Column::HelpTopicId, f.help_topic),
        ] {
            if !value.is_empty() {
                q = q.filter(column.eq(value.to_owned()));
            }
        }
        if !f.hdts_ticket.is_empty() {
            q = q.filter(tickets::Column::HdtsTicketId.eq(f.hdts_ticket.to_owned()));
        }
        // One index probe per tag: (tag, ticket_id) gives the tickets that
        // have it.
        for tag in &f.tags {
            let tagged = Query::select()
                .column(ticket_tags::Column::TicketId)
                .from(ticket_tags::Entity)
                .and_where(ticket_tags::Column::Tag.eq(tag.clone()))
                .to_owned();
            q = q.filter(tickets::Column::Id.in_subquery(tagged));
        }
        if !f.asset_tag.is_empty() {
            let about = Query::select()
                .column(ticket_asset_tags::Column::TicketId)
                .from(ticket_asset_tags::Entity)
                .and_where(ticket_asset_tags::Column::AssetTag.eq(f.asset_tag.clone()))
                .to_owned();
            q = q.filter(tickets::Column::Id.in_subquery(about));
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
        let (rows, token) = self.pager.page("tickets", &f, rows, size, |t| order.key(t));
        // Step names come with GetTicket; a list shows ids (one query per page).
        Ok((
            rows.iter().map(|t| model::to_proto(t, None)).collect(),
            token,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_open_predicate_names_exactly_the_open_statuses() {
        let listed: Vec<String> = open_statuses().map(|s| format!("'{s}'")).collect();
        assert_eq!(OPEN_PREDICATE, format!("status IN ({})", listed.join(", ")));
    }
}
