//! The reads of ProposalService: one proposal, listings of proposals, of a
//! proposal's comments and of its history, each page a keyset.

use map_contracts::{bms::v1 as pb, common::v1::Money};
use map_kit::{
    Violations,
    authn::Principal,
    counters::Number,
    paging::{Direction, PageSize, Sort, number_values},
    wire::time::timestamp,
};
use sea_orm::{
    ColumnTrait as _, Condition, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
};
use serde::{Deserialize, Serialize};

use super::{Full, Kind, Proposals, chain, department_of, find, status, status_stored};
use crate::{
    BmsError,
    entity::{proposal_comments, proposal_events, proposals},
};

/// A comment on the wire.
pub fn comment_to_proto(c: &proposal_comments::Model) -> pb::ProposalComment {
    pb::ProposalComment {
        id: c.id.clone(),
        proposal_id: c.proposal_id.clone(),
        author_user_id: c.author_user_id.clone(),
        body: c.body.clone(),
        create_time: Some(timestamp(c.created_at)),
    }
}

fn event_type_to_proto(t: &str) -> pb::ProposalEventType {
    match t {
        "created" => pb::ProposalEventType::Created,
        "updated" => pb::ProposalEventType::Updated,
        "submitted" => pb::ProposalEventType::Submitted,
        "approved" => pb::ProposalEventType::Approved,
        "rejected" => pb::ProposalEventType::Rejected,
        "returned" => pb::ProposalEventType::Returned,
        "withdrawn" => pb::ProposalEventType::Withdrawn,
        "closed" => pb::ProposalEventType::Closed,
        "commented" => pb::ProposalEventType::Commented,
        _ => pb::ProposalEventType::Unspecified,
    }
}

fn event_type_stored(t: pb::ProposalEventType) -> Option<&'static str> {
    Some(match t {
        pb::ProposalEventType::Created => "created",
        pb::ProposalEventType::Updated => "updated",
        pb::ProposalEventType::Submitted => "submitted",
        pb::ProposalEventType::Approved => "approved",
        pb::ProposalEventType::Rejected => "rejected",
        pb::ProposalEventType::Returned => "returned",
        pb::ProposalEventType::Withdrawn => "withdrawn",
        pb::ProposalEventType::Closed => "closed",
        pb::ProposalEventType::Commented => "commented",
        pb::ProposalEventType::Unspecified => return None,
    })
}

fn event_to_proto(e: &proposal_events::Model) -> pb::ProposalEvent {
    pb::ProposalEvent {
        id: e.id.clone(),
        proposal_id: e.proposal_id.clone(),
        r#type: event_type_to_proto(&e.event_type).into(),
        actor_user_id: e.actor_user_id.clone(),
        time: Some(timestamp(e.at)),
        proposal_version: e.proposal_version,
        from_status: super::status_to_proto(&e.from_status).into(),
        to_status: super::status_to_proto(&e.to_status).into(),
        level: e.level,
        approver_role: e.approver_role.clone(),
        comment: e.comment.clone(),
        comment_id: e.comment_id.clone(),
        amount: e.amount_minor.map(|amount_minor| Money {
            amount_minor,
            currency_code: e.currency.clone(),
        }),
        updated_fields: e
            .updated_fields
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect(),
    }
}

/// The orders of ListProposals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Order {
    Newest,
    Oldest,
    SubmittedNewest,
    Number,
    LargestTotal,
}

/// Where a page of proposals ended: create time, submit time, total,
/// number.
#[derive(Debug, Serialize, Deserialize)]
struct After(
    chrono::DateTime<chrono::Utc>,
    Option<chrono::DateTime<chrono::Utc>>,
    i64,
    String,
);

/// Where a page of comments or history entries ended.
#[derive(Debug, Serialize, Deserialize)]
struct AfterEntry(chrono::DateTime<chrono::Utc>, String);

impl Proposals {
    /// GetProposal, by id or number.
    pub async fn get(
        &self,
        r: &pb::GetProposalRequest,
    ) -> Result<pb::GetProposalResponse, BmsError> {
        use pb::get_proposal_request::Lookup;
        let conn = self.db.conn();
        let p = match &r.lookup {
            Some(Lookup::Id(id)) => {
                let mut v = Violations::default();
                v.uuid("id", id);
                v.finish()?;
                find(conn, id).await?
            }
            Some(Lookup::Number(number)) => {
                if Number::parse(number).is_none_or(|n| n.prefix != "BP") {
                    return Err(BmsError::invalid(
                        "number",
                        "is not a proposal number, e.g. BP-000123",
                    ));
                }
                proposals::Entity::find()
                    .filter(proposals::Column::Number.eq(number.as_str()))
                    .one(conn)
                    .await?
                    .ok_or(BmsError::NotFound("proposal"))?
            }
            None => return Err(BmsError::invalid("lookup", "set id or number")),
        };
        Ok(pb::GetProposalResponse {
            proposal: Some(Full::read(conn, p).await?.to_proto()),
        })
    }

    /// ListProposals.
    pub async fn list(
        &self,
        actor: &Principal,
        r: &pb::ListProposalsRequest,
    ) -> Result<pb::ListProposalsResponse, BmsError> {
        let size = PageSize::parse(r.page_size)?;
        let words: Vec<&str> = r.order_by.split_whitespace().collect();
        let order = match words.as_slice() {
            [] | ["create_time", "desc"] => Order::Newest,
            ["create_time"] | ["create_time", "asc"] => Order::Oldest,
            ["submit_time", "desc"] => Order::SubmittedNewest,
            ["number"] | ["number", "asc"] => Order::Number,
            ["requested_total", "desc"] => Order::LargestTotal,
            _ => {
                return Err(BmsError::invalid(
                    "order_by",
                    "supported: \"create_time desc\" (the default), \"create_time\", \
                     \"submit_time desc\", \"number\", \"requested_total desc\"",
                ));
            }
        };
        let mut v = Violations::default();
        let mut statuses = Vec::new();
        for (i, s) in r.statuses.iter().enumerate() {
            match pb::ProposalStatus::try_from(*s)
                .ok()
                .and_then(status_stored)
            {
                Some(s) => statuses.push(s),
                None => {
                    v.add(format!("statuses[{i}]"), "is not a status");
                }
            }
        }
        let mut kinds = Vec::new();
        for (i, k) in r.kinds.iter().enumerate() {
            match Kind::from_proto(*k) {
                Some(k) => kinds.push(k.stored()),
                None => {
                    v.add(format!("kinds[{i}]"), "is not a proposal kind");
                }
            }
        }
        if !r.budget_id.is_empty() {
            v.uuid("budget_id", &r.budget_id);
        }
        if !r.pending_approver_role.is_empty()
            && ![chain::APPROVER, chain::FINANCE_HEAD].contains(&r.pending_approver_role.as_str())
        {
            v.add(
                "pending_approver_role",
                format!("must be {} or {}", chain::APPROVER, chain::FINANCE_HEAD),
            );
        }
        v.finish()?;
        use proposals::Column as P;
        let direction = match order {
            Order::Oldest | Order::Number => Direction::Ascending,
            _ => Direction::Descending,
        };
        let sort = match order {
            Order::Newest | Order::Oldest => {
                Sort::default().key(P::CreatedAt.into_expr(), direction)
            }
            Order::SubmittedNewest => Sort::default().key(P::SubmittedAt.into_expr(), direction),
            Order::LargestTotal => {
                Sort::default().key(P::RequestedTotalMinor.into_expr(), direction)
            }
            Order::Number => Sort::default(),
        }
        .number(P::Number, direction);
        let conn = self.db.conn();
        // The caller's inbox: submitted, a pending step they may decide.
        let inbox = if r.awaiting_caller {
            let finance_head = chain::holds(actor, chain::FINANCE_HEAD);
            let approver = chain::holds(actor, chain::APPROVER);
            Some((finance_head, approver, department_of(conn, actor).await?))
        } else {
            None
        };
        let filters = (
            order,
            &statuses,
            &r.budget_id,
            &r.requester_user_id,
            &r.pending_approver_role,
            r.department_code.to_uppercase(),
            &kinds,
            r.awaiting_caller.then(|| actor.id.clone()),
        );
        let cursor: Option<After> = self.pager.open("proposals", &filters, &r.page_token)?;
        let mut q = sort.order(proposals::Entity::find());
        if !statuses.is_empty() {
            q = q.filter(P::Status.is_in(statuses.iter().copied()));
        }
        if !kinds.is_empty() {
            q = q.filter(P::Kind.is_in(kinds.iter().copied()));
        }
        for (column, value) in [
            (P::BudgetId, r.budget_id.clone()),
            (P::RequesterUserId, r.requester_user_id.clone()),
            (P::DepartmentCode, r.department_code.to_uppercase()),
        ] {
            if !value.is_empty() {
                q = q.filter(column.eq(value));
            }
        }
        if !r.pending_approver_role.is_empty() {
            q = q
                .filter(P::Status.eq(status::SUBMITTED))
                .filter(P::PendingRole.eq(r.pending_approver_role.as_str()));
        }
        if order == Order::SubmittedNewest {
            // Never-submitted drafts have no submit time to order by.
            q = q.filter(P::SubmittedAt.is_not_null());
        }
        if let Some((finance_head, approver, department)) = &inbox {
            q = q
                .filter(P::Status.eq(status::SUBMITTED))
                .filter(P::RequesterUserId.ne(actor.id.as_str()));
            if !finance_head {
                q = if *approver {
                    q.filter(P::PendingRole.eq(chain::APPROVER))
                        .filter(P::DepartmentCode.eq(department.to_uppercase()))
                } else {
                    q.filter(Condition::all().add(P::Id.is_null()))
                };
            }
        }
        if let Some(After(created, submitted, total, number)) = cursor {
            let [length, text] = number_values(&number);
            let mut values: Vec<Value> = match order {
                Order::Newest | Order::Oldest => vec![created.into()],
                Order::SubmittedNewest => vec![submitted.into()],
                Order::LargestTotal => vec![total.into()],
                Order::Number => vec![],
            };
            values.push(length);
            values.push(text);
            q = q.filter(sort.after(values));
        }
        let rows = q.limit(size.fetch()).all(conn).await?;
        let (rows, next_page_token) = self.pager.page("proposals", &filters, rows, size, |p| {
            After(
                p.created_at,
                p.submitted_at,
                p.requested_total_minor,
                p.number.clone(),
            )
        });
        let mut proposals = Vec::with_capacity(rows.len());
        for p in rows {
            proposals.push(Full::read(conn, p).await?.to_proto());
        }
        Ok(pb::ListProposalsResponse {
            proposals,
            next_page_token,
        })
    }

    /// ListProposalComments.
    pub async fn list_comments(
        &self,
        r: &pb::ListProposalCommentsRequest,
    ) -> Result<pb::ListProposalCommentsResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("proposal_id", &r.proposal_id);
        v.finish()?;
        let size = PageSize::parse(r.page_size)?;
        let direction = Direction::of_one_field(&r.order_by, "create_time")
            .map_err(|e| BmsError::InvalidArgument(vec![e]))?;
        let conn = self.db.conn();
        find(conn, &r.proposal_id).await?;
        use proposal_comments::Column as C;
        let sort = Sort::default()
            .key(C::CreatedAt.into_expr(), direction)
            .key(C::Id.into_expr(), direction);
        let filters = (&r.proposal_id, direction == Direction::Descending);
        let cursor: Option<AfterEntry> =
            self.pager
                .open("proposal_comments", &filters, &r.page_token)?;
        let mut q = sort
            .order(proposal_comments::Entity::find())
            .filter(C::ProposalId.eq(r.proposal_id.as_str()));
        if let Some(AfterEntry(at, id)) = cursor {
            q = q.filter(sort.after(vec![at.into(), id.into()]));
        }
        let rows = q.limit(size.fetch()).all(conn).await?;
        let (rows, next_page_token) =
            self.pager
                .page("proposal_comments", &filters, rows, size, |c| {
                    AfterEntry(c.created_at, c.id.clone())
                });
        Ok(pb::ListProposalCommentsResponse {
            comments: rows.iter().map(comment_to_proto).collect(),
            next_page_token,
        })
    }

    /// ListProposalEvents: the proposal's history.
    pub async fn list_events(
        &self,
        r: &pb::ListProposalEventsRequest,
    ) -> Result<pb::ListProposalEventsResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("proposal_id", &r.proposal_id);
        let mut types = Vec::new();
        for (i, t) in r.types.iter().enumerate() {
            match pb::ProposalEventType::try_from(*t)
                .ok()
                .and_then(event_type_stored)
            {
                Some(t) => types.push(t),
                None => {
                    v.add(format!("types[{i}]"), "is not a history entry type");
                }
            }
        }
        v.finish()?;
        let size = PageSize::parse(r.page_size)?;
        let direction = Direction::of_one_field(&r.order_by, "time")
            .map_err(|e| BmsError::InvalidArgument(vec![e]))?;
        let conn = self.db.conn();
        find(conn, &r.proposal_id).await?;
        use proposal_events::Column as E;
        let sort = Sort::default()
            .key(E::At.into_expr(), direction)
            .key(E::Id.into_expr(), direction);
        let filters = (&r.proposal_id, &types, direction == Direction::Descending);
        let cursor: Option<AfterEntry> =
            self.pager
                .open("proposal_events", &filters, &r.page_token)?;
        let mut q = sort
            .order(proposal_events::Entity::find())
            .filter(E::ProposalId.eq(r.proposal_id.as_str()));
        if !types.is_empty() {
            q = q.filter(E::EventType.is_in(types.iter().copied()));
        }
        if let Some(AfterEntry(at, id)) = cursor {
            q = q.filter(sort.after(vec![at.into(), id.into()]));
        }
        let rows = q.limit(size.fetch()).all(conn).await?;
        let (rows, next_page_token) =
            self.pager
                .page("proposal_events", &filters, rows, size, |e| {
                    AfterEntry(e.at, e.id.clone())
                });
        Ok(pb::ListProposalEventsResponse {
            events: rows.iter().map(event_to_proto).collect(),
            next_page_token,
        })
    }
}
