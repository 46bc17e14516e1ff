//! ListTickets: the queues agents and managers work from — filtered by
//! status (TRIAGE shows what waits for a manager), assignee, requester,
//! department, category, priority, workflow, help topic or help-desk
//! ticket — in a keyset-paged order.

use chrono::{DateTime, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::{FieldViolation, paging::PageSize};
use sea_orm::{
    ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _, QueryOrder as _,
    QuerySelect as _,
};
use serde::Serialize;

use super::{Tickets, model};
use crate::{TtsError, entity::tickets};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
enum Order {
    NewestFirst,
    OldestFirst,
    RecentlyUpdated,
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
}

impl Tickets {
    /// ListTickets.
    pub async fn list(
        &self,
        r: &pb::ListTicketsRequest,
    ) -> Result<(Vec<pb::Ticket>, String), TtsError> {
        let size = PageSize::parse(r.page_size)?;
        let mut bad = Vec::new();
        let order = match r.order_by.trim() {
            "" | "create_time desc" => Order::NewestFirst,
            "create_time" | "create_time asc" => Order::OldestFirst,
            "update_time desc" => Order::RecentlyUpdated,
            _ => {
                bad.push(FieldViolation {
                    field: "order_by".into(),
                    description: "supported: \"create_time desc\" (the default), \"create_time\", \"update_time desc\"".into(),
                });
                Order::NewestFirst
            }
        };
        let statuses = r
            .statuses
            .iter()
            .enumerate()
            .filter_map(|(i, s)| match pb::TicketStatus::try_from(*s) {
                Ok(pb::TicketStatus::Unspecified) | Err(_) => {
                    bad.push(FieldViolation {
                        field: format!("statuses[{i}]"),
                        description: "is not a ticket status".into(),
                    });
                    None
                }
                Ok(s) => Some(stored_status(s)),
            })
            .collect();
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
        };
        let cursor: Option<(DateTime<Utc>, String)> =
            self.pager.open("tickets", &f, &r.page_token)?;
        // No SLA clocks run yet (the SLA issue): no ticket has breached.
        if f.breached_only {
            return Ok((Vec::new(), String::new()));
        }
        let mut q = tickets::Entity::find();
        if !f.statuses.is_empty() {
            q = q.filter(tickets::Column::Status.is_in(f.statuses.iter().copied()));
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
        let (time, descending) = match order {
            Order::NewestFirst => (tickets::Column::CreatedAt, true),
            Order::OldestFirst => (tickets::Column::CreatedAt, false),
            Order::RecentlyUpdated => (tickets::Column::UpdatedAt, true),
        };
        if let Some((at, id)) = cursor {
            q = q.filter(if descending {
                Condition::any().add(time.lt(at)).add(
                    Condition::all()
                        .add(time.eq(at))
                        .add(tickets::Column::Id.lt(id)),
                )
            } else {
                Condition::any().add(time.gt(at)).add(
                    Condition::all()
                        .add(time.eq(at))
                        .add(tickets::Column::Id.gt(id)),
                )
            });
        }
        q = if descending {
            q.order_by_desc(time).order_by_desc(tickets::Column::Id)
        } else {
            q.order_by_asc(time).order_by_asc(tickets::Column::Id)
        };
        let rows = q.limit(size.fetch()).all(self.db.conn()).await?;
        let (rows, token) = self.pager.page("tickets", &f, rows, size, |t| {
            let at = if order == Order::RecentlyUpdated {
                t.updated_at
            } else {
                t.created_at
            };
            (at, t.id.clone())
        });
        // Step names come with GetTicket; a list shows ids (one query per page).
        Ok((
            rows.iter().map(|t| model::to_proto(t, None)).collect(),
            token,
        ))
    }
}

fn stored_status(s: pb::TicketStatus) -> &'static str {
    use crate::workflows::definition::StepStatus as S;
    use model::Status;
    match s {
        pb::TicketStatus::Open => Status::Step(S::Open),
        pb::TicketStatus::InProgress => Status::Step(S::InProgress),
        pb::TicketStatus::WaitingOnRequester => Status::Step(S::WaitingOnRequester),
        pb::TicketStatus::OnHold => Status::Step(S::OnHold),
        pb::TicketStatus::Resolved => Status::Step(S::Resolved),
        pb::TicketStatus::Closed => Status::Step(S::Closed),
        pb::TicketStatus::Cancelled => Status::Cancelled,
        pb::TicketStatus::Triage | pb::TicketStatus::Unspecified => Status::Triage,
    }
    .as_str()
}
