//! Proposals against a budget: budget increases (once approved, they raise
//! their lines' allocations) and spending requests (once approved, they
//! commit their amounts on their lines until spent by expenses or released
//! by closing them), decided step by step along an approval chain fixed at
//! submission ([`chain`]).
//!
//! Every command is one transaction that takes the proposal's row by a
//! conditional update on its version, moves its budget lines' maintained
//! amounts through [`crate::lines`] (pending while in the chain, committed
//! or increased once approved, released when closed), writes its history
//! and publishes `bms.proposal.*` with the whole proposal and its version.
//!
//! - [`commands`]: create, update, submit, decide, withdraw, close, comment;
//! - [`queries`]: get, list, comments, history;
//! - [`spending`]: what an expense of a spending request takes from its
//!   commitment, and gives back when voided.

pub mod chain;
pub mod commands;
mod queries;
pub mod spending;

use chrono::{DateTime, Utc};
use map_contracts::{bms::v1 as pb, common::v1::Money, events::v1 as ev};
use map_kit::{
    authn::Principal,
    clock::Clock,
    db::Db,
    directory,
    outbox::{NewEvent, Outbox},
    paging::Pager,
    wire::{etag::etag, time::timestamp},
};
use sea_orm::{
    ColumnTrait as _, ConnectionTrait, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
    QueryOrder as _,
};

use crate::{
    BmsError,
    entity::{proposal_lines, proposals},
    fiscal_years, lines,
};

pub use chain::{Decision, Step};

/// A proposal as stored.
pub type Proposal = proposals::Model;
/// A proposal line as stored.
pub type ProposalLine = proposal_lines::Model;

/// At most this many lines per proposal.
pub const MAX_LINES: usize = 100;
/// At most this many characters of a title.
pub const MAX_TITLE: usize = 200;
/// At most this many characters of a justification, comment or reason.
pub const MAX_COMMENT: usize = 20_000;

/// What a proposal asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Spend on existing allocation: commits its amounts once approved.
    SpendingRequest,
    /// Raise allocations: adds its amounts to its lines once approved.
    BudgetIncrease,
}

impl Kind {
    /// The stored name.
    pub fn stored(self) -> &'static str {
        match self {
            Kind::SpendingRequest => "spending_request",
            Kind::BudgetIncrease => "budget_increase",
        }
    }

    /// The kind of a stored name.
    pub fn of(stored: &str) -> Kind {
        if stored == "budget_increase" {
            Kind::BudgetIncrease
        } else {
            Kind::SpendingRequest
        }
    }

    /// From the wire; `None` for UNSPECIFIED or an unknown number.
    pub fn from_proto(k: i32) -> Option<Kind> {
        match pb::ProposalKind::try_from(k).ok()? {
            pb::ProposalKind::SpendingRequest => Some(Kind::SpendingRequest),
            pb::ProposalKind::BudgetIncrease => Some(Kind::BudgetIncrease),
            pb::ProposalKind::Unspecified => None,
        }
    }

    /// On the wire.
    pub fn to_proto(self) -> pb::ProposalKind {
        match self {
            Kind::SpendingRequest => pb::ProposalKind::SpendingRequest,
            Kind::BudgetIncrease => pb::ProposalKind::BudgetIncrease,
        }
    }
}

/// The stored statuses.
pub mod status {
    /// Being written.
    pub const DRAFT: &str = "draft";
    /// In its approval chain.
    pub const SUBMITTED: &str = "submitted";
    /// Approved by every step.
    pub const APPROVED: &str = "approved";
    /// Rejected at a step; final.
    pub const REJECTED: &str = "rejected";
    /// Sent back for revision.
    pub const RETURNED: &str = "returned";
    /// Withdrawn by its requester; final.
    pub const WITHDRAWN: &str = "withdrawn";
    /// An approved spending request closed; final.
    pub const CLOSED: &str = "closed";
}

/// The status on the wire.
pub fn status_to_proto(s: &str) -> pb::ProposalStatus {
    match s {
        status::DRAFT => pb::ProposalStatus::Draft,
        status::SUBMITTED => pb::ProposalStatus::Submitted,
        status::APPROVED => pb::ProposalStatus::Approved,
        status::REJECTED => pb::ProposalStatus::Rejected,
        status::RETURNED => pb::ProposalStatus::Returned,
        status::WITHDRAWN => pb::ProposalStatus::Withdrawn,
        status::CLOSED => pb::ProposalStatus::Closed,
        _ => pb::ProposalStatus::Unspecified,
    }
}

/// A wire status as stored; `None` for UNSPECIFIED.
pub fn status_stored(s: pb::ProposalStatus) -> Option<&'static str> {
    Some(match s {
        pb::ProposalStatus::Draft => status::DRAFT,
        pb::ProposalStatus::Submitted => status::SUBMITTED,
        pb::ProposalStatus::Approved => status::APPROVED,
        pb::ProposalStatus::Rejected => status::REJECTED,
        pb::ProposalStatus::Returned => status::RETURNED,
        pb::ProposalStatus::Withdrawn => status::WITHDRAWN,
        pb::ProposalStatus::Closed => status::CLOSED,
        pb::ProposalStatus::Unspecified => return None,
    })
}

/// The chain of `p`'s current (or last) submission.
pub fn steps_of(p: &Proposal) -> Vec<Step> {
    if p.approval_steps.is_empty() {
        return Vec::new();
    }
    // Written by this crate only; an unreadable value is an empty chain
    // rather than a failed read.
    serde_json::from_str(&p.approval_steps).unwrap_or_default()
}

/// `steps` as stored.
pub fn stored_steps(steps: &[Step]) -> String {
    serde_json::to_string(steps).unwrap_or_default()
}

/// The proposal `id`.
pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Proposal, BmsError> {
    proposals::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(BmsError::NotFound("proposal"))
}

/// The lines of `proposal_id`, in order.
pub async fn lines_of<C: ConnectionTrait>(
    conn: &C,
    proposal_id: &str,
) -> Result<Vec<ProposalLine>, BmsError> {
    Ok(proposal_lines::Entity::find()
        .filter(proposal_lines::Column::ProposalId.eq(proposal_id))
        .order_by_asc(proposal_lines::Column::Position)
        .all(conn)
        .await?)
}

/// The department of `who`: Auth's, as the token said, else the local
/// directory's copy.
pub async fn department_of<C: ConnectionTrait>(
    conn: &C,
    who: &Principal,
) -> Result<String, BmsError> {
    if !who.department.is_empty() {
        return Ok(who.department.clone());
    }
    Ok(directory::read::user(conn, &who.id)
        .await?
        .map(|u| u.department_code)
        .unwrap_or_default())
}

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: currency.to_owned(),
    })
}

/// A proposal with what its wire form and events name: its lines, the
/// budget lines they draw on and its fiscal year's name.
#[derive(Debug, Clone)]
pub struct Full {
    /// The proposal.
    pub proposal: Proposal,
    /// Its lines, in order.
    pub lines: Vec<ProposalLine>,
    /// The budget line of each of its lines.
    pub budget_lines: Vec<lines::Line>,
    /// Its fiscal year's name.
    pub fiscal_year_name: String,
}

impl Full {
    /// `p` read with its lines in `conn`.
    pub async fn read<C: ConnectionTrait>(conn: &C, p: Proposal) -> Result<Full, BmsError> {
        let lines = lines_of(conn, &p.id).await?;
        let of_budget = lines::of_budget(conn, &p.budget_id).await?;
        let budget_lines = lines
            .iter()
            .filter_map(|l| of_budget.iter().find(|b| b.id == l.budget_line_id).cloned())
            .collect();
        let fiscal_year_name = fiscal_years::find(conn, &p.fiscal_year_id).await?.name;
        Ok(Full {
            proposal: p,
            lines,
            budget_lines,
            fiscal_year_name,
        })
    }

    fn budget_line(&self, id: &str) -> Option<&lines::Line> {
        self.budget_lines.iter().find(|b| b.id == id)
    }

    /// On the wire.
    pub fn to_proto(&self) -> pb::Proposal {
        let p = &self.proposal;
        let c = p.currency.as_str();
        let spending = Kind::of(&p.kind) == Kind::SpendingRequest;
        pb::Proposal {
            id: p.id.clone(),
            number: p.number.clone(),
            budget_id: p.budget_id.clone(),
            department_code: p.department_code.clone(),
            fiscal_year_name: self.fiscal_year_name.clone(),
            requester_user_id: p.requester_user_id.clone(),
            title: p.title.clone(),
            justification: p.justification.clone(),
            lines: self
                .lines
                .iter()
                .map(|l| {
                    let b = self.budget_line(&l.budget_line_id);
                    pb::ProposalLine {
                        budget_line_id: l.budget_line_id.clone(),
                        account_code: b.map(|b| b.account_code.clone()).unwrap_or_default(),
                        description: l.description.clone(),
                        amount: money(l.amount_minor, c),
                        category_code: b.map(|b| b.category_code.clone()).unwrap_or_default(),
                        committed: money(l.committed_minor, c),
                        spent: money(l.spent_minor, c),
                        released: money(l.released_minor, c),
                    }
                })
                .collect(),
            requested_total: money(p.requested_total_minor, c),
            status: status_to_proto(&p.status).into(),
            approval_steps: steps_of(p)
                .iter()
                .map(|s| pb::ApprovalStep {
                    approver_role: s.role.clone(),
                    decision: decision_to_proto(s.decision).into(),
                    decided_by_user_id: s.decided_by.clone(),
                    decide_time: s.decided_at.map(timestamp),
                    comment: s.comment.clone(),
                    level: s.level,
                    threshold: s.threshold_minor.and_then(|t| money(t, c)),
                })
                .collect(),
            etag: etag(p.version),
            version: p.version,
            create_time: Some(timestamp(p.created_at)),
            update_time: Some(timestamp(p.updated_at)),
            submit_time: p.submitted_at.map(timestamp),
            decide_time: p.decided_at.map(timestamp),
            kind: Kind::of(&p.kind).to_proto().into(),
            committed_total: money(if spending { p.committed_total_minor } else { 0 }, c),
            spent_total: money(p.spent_total_minor, c),
            released_total: money(p.released_total_minor, c),
            approval_policy_version: p.approval_policy_version,
            return_count: p.return_count,
            withdraw_time: p.withdrawn_at.map(timestamp),
            close_time: p.closed_at.map(timestamp),
        }
    }

    /// As events carry it: every field of the wire form but the etag, the
    /// people it names looked up in `conn`'s directory.
    pub async fn snapshot<C: ConnectionTrait>(
        &self,
        conn: &C,
    ) -> Result<ev::ProposalSnapshot, BmsError> {
        let w = self.to_proto();
        let mut steps = Vec::with_capacity(w.approval_steps.len());
        for s in w.approval_steps {
            steps.push(ev::ApprovalStep {
                approver_role: Some(role_ref(&s.approver_role)),
                // The numbers of map.events.v1.ApprovalDecision equal map.bms.v1's.
                decision: s.decision,
                decided_by: if s.decided_by_user_id.is_empty() {
                    None
                } else {
                    Some(directory::read::user_ref(conn, &s.decided_by_user_id).await?)
                },
                decide_time: s.decide_time,
                comment: s.comment,
                level: s.level,
                threshold: s.threshold,
            });
        }
        Ok(ev::ProposalSnapshot {
            id: w.id,
            number: w.number,
            budget_id: w.budget_id,
            department_code: w.department_code,
            fiscal_year_name: w.fiscal_year_name,
            requester: Some(directory::read::user_ref(conn, &w.requester_user_id).await?),
            title: w.title,
            justification: w.justification,
            lines: w
                .lines
                .into_iter()
                .map(|l| ev::ProposalLine {
                    budget_line_id: l.budget_line_id,
                    account_code: l.account_code,
                    description: l.description,
                    amount: l.amount,
                    category_code: l.category_code,
                    committed: l.committed,
                    spent: l.spent,
                    released: l.released,
                })
                .collect(),
            requested_total: w.requested_total,
            // The numbers of map.events.v1.ProposalStatus and ProposalKind
            // equal map.bms.v1's.
            status: w.status,
            approval_steps: steps,
            version: w.version,
            create_time: w.create_time,
            update_time: w.update_time,
            submit_time: w.submit_time,
            decide_time: w.decide_time,
            kind: w.kind,
            committed_total: w.committed_total,
            spent_total: w.spent_total,
            released_total: w.released_total,
            approval_policy_version: w.approval_policy_version,
            return_count: w.return_count,
            withdraw_time: w.withdraw_time,
            close_time: w.close_time,
        })
    }
}

/// A decision on the wire.
pub fn decision_to_proto(d: Decision) -> pb::ApprovalDecision {
    match d {
        Decision::Pending => pb::ApprovalDecision::Pending,
        Decision::Approved => pb::ApprovalDecision::Approved,
        Decision::Rejected => pb::ApprovalDecision::Rejected,
        Decision::Returned => pb::ApprovalDecision::Returned,
    }
}

/// `"bms:approver"` as events name a role.
pub fn role_ref(role: &str) -> ev::RoleRef {
    let (system, role) = role.split_once(':').unwrap_or(("bms", role));
    ev::RoleRef {
        system: system.to_owned(),
        role: role.to_owned(),
    }
}

/// Publishes `full` (the whole proposal, its version) as `event_type`,
/// with the event's extra fields from `wrap`.
pub async fn publish<M: prost::Name>(
    txn: &DatabaseTransaction,
    outbox: &Outbox,
    full: &Full,
    event_type: &'static str,
    wrap: impl FnOnce(ev::ProposalSnapshot) -> M,
) -> Result<(), BmsError> {
    let snapshot = full.snapshot(txn).await?;
    outbox
        .enqueue(
            txn,
            NewEvent::new(
                event_type,
                full.proposal.id.clone(),
                full.proposal.version,
                &wrap(snapshot),
            ),
        )
        .await
        .map_err(|e| BmsError::from(map_kit::ApiError::from(e)))?;
    Ok(())
}

/// The proposals' service: commands in [`commands`], reads in [`queries`].
#[derive(Debug, Clone)]
pub struct Proposals {
    db: Db,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
}

impl Proposals {
    /// Over `db`.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> Proposals {
        Proposals {
            db,
            outbox: Outbox::new(map_kit::System::Bms).with_clock(clock.clone()),
            clock,
            pager,
        }
    }

    fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }
}
