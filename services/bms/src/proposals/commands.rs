//! The commands of ProposalService. Each is one transaction: the budget is
//! taken first when lines move (the order expenses take them in, so the
//! two never deadlock), then the proposal by a conditional update on its
//! version, then its history and its `bms.proposal.*` event.

use chrono::{DateTime, Utc};
use map_contracts::{bms::v1 as pb, events::v1 as ev};
use map_kit::{
    System, Violations,
    authn::Principal,
    counters,
    idempotency::Idempotent,
    wire::{currency, etag::check_etag, field_mask::update_paths, time::timestamp},
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseTransaction,
    EntityTrait as _, QueryFilter as _,
};

use super::{
    Full, Kind, MAX_COMMENT, MAX_LINES, MAX_TITLE, Proposal, ProposalLine, Proposals, chain,
    department_of, find, lines_of, publish, role_ref, status, status_to_proto, steps_of,
    stored_steps,
};
use crate::{
    BmsError, approval_policies,
    budgets::MAX_TEXT,
    entity::{budgets, proposal_comments, proposal_events, proposal_lines, proposals},
    expenses::actor_ref,
    lines::{self, Cause, Delta, Guard, Taken},
};

/// A line a request asks for, checked.
struct Asked {
    budget_line_id: String,
    description: String,
    amount_minor: i64,
    currency: String,
}

/// The lines of a request, checked on their own (1 to 100, each a budget
/// line once, a positive amount, a description of reasonable length).
fn asked(v: &mut Violations, input: &[pb::ProposalLine], prefix: &str) -> Vec<Asked> {
    if input.is_empty() || input.len() > MAX_LINES {
        v.add(prefix, format!("must hold 1 to {MAX_LINES} lines"));
    }
    let mut out: Vec<Asked> = Vec::with_capacity(input.len());
    for (i, l) in input.iter().enumerate() {
        let field = format!("{prefix}[{i}]");
        v.uuid(&format!("{field}.budget_line_id"), &l.budget_line_id);
        v.optional_text(&format!("{field}.description"), &l.description, MAX_TEXT);
        if out.iter().any(|a| a.budget_line_id == l.budget_line_id) {
            v.add(
                format!("{field}.budget_line_id"),
                "names a budget line a second time",
            );
        }
        match currency::required_amount(&format!("{field}.amount"), l.amount.as_ref()) {
            Ok(m) if m.amount_minor == 0 => {
                v.add(format!("{field}.amount.amount_minor"), "must be positive");
            }
            Ok(m) => out.push(Asked {
                budget_line_id: l.budget_line_id.clone(),
                description: l.description.trim().to_owned(),
                amount_minor: m.amount_minor,
                currency: m.currency.as_str().to_owned(),
            }),
            Err(e) => {
                v.add(e.field, e.description);
            }
        }
    }
    out
}

/// Checks `asked` against `budget`: its currency, its lines.
async fn resolve(
    txn: &DatabaseTransaction,
    budget: &budgets::Model,
    asked: &[Asked],
    prefix: &str,
) -> Result<(), BmsError> {
    let mut v = Violations::default();
    for (i, a) in asked.iter().enumerate() {
        if a.currency != budget.currency {
            v.add(
                format!("{prefix}[{i}].amount.currency_code"),
                format!("must be the budget's currency, {}", budget.currency),
            );
        }
    }
    if !v.is_empty() {
        return Err(BmsError::InvalidArgument(v.into_violations()));
    }
    let of_budget = lines::of_budget(txn, &budget.id).await?;
    if asked
        .iter()
        .any(|a| !of_budget.iter().any(|b| b.id == a.budget_line_id))
    {
        return Err(BmsError::NotFound("budget line"));
    }
    Ok(())
}

/// Writes `asked` as the lines of `proposal_id`, replacing any.
async fn write_lines(
    txn: &DatabaseTransaction,
    proposal_id: &str,
    asked: &[Asked],
) -> Result<(), BmsError> {
    proposal_lines::Entity::delete_many()
        .filter(proposal_lines::Column::ProposalId.eq(proposal_id))
        .exec(txn)
        .await?;
    let rows = asked
        .iter()
        .enumerate()
        .map(|(i, a)| proposal_lines::ActiveModel {
            proposal_id: Set(proposal_id.to_owned()),
            position: Set(i32::try_from(i).unwrap_or(i32::MAX)),
            budget_line_id: Set(a.budget_line_id.clone()),
            description: Set(a.description.clone()),
            amount_minor: Set(a.amount_minor),
            committed_minor: Set(0),
            spent_minor: Set(0),
            released_minor: Set(0),
        });
    proposal_lines::Entity::insert_many(rows)
        .exec_without_returning(txn)
        .await?;
    Ok(())
}

/// One entry of a proposal's history.
#[derive(Default)]
struct Entry<'a> {
    kind: &'static str,
    from: &'a str,
    level: i32,
    role: &'a str,
    comment: &'a str,
    comment_id: &'a str,
    amount: Option<i64>,
    fields: Vec<&'a str>,
}

/// Records `entry` by `actor` in the history of `p` (as it is after).
async fn history(
    txn: &DatabaseTransaction,
    p: &Proposal,
    actor: &str,
    entry: Entry<'_>,
    now: DateTime<Utc>,
) -> Result<(), BmsError> {
    proposal_events::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        proposal_id: Set(p.id.clone()),
        event_type: Set(entry.kind.to_owned()),
        actor_user_id: Set(actor.to_owned()),
        at: Set(now),
        proposal_version: Set(p.version),
        from_status: Set(entry.from.to_owned()),
        to_status: Set(p.status.clone()),
        level: Set(entry.level),
        approver_role: Set(entry.role.to_owned()),
        comment: Set(entry.comment.to_owned()),
        comment_id: Set(entry.comment_id.to_owned()),
        amount_minor: Set(entry.amount),
        currency: Set(if entry.amount.is_some() {
            p.currency.clone()
        } else {
            String::new()
        }),
        updated_fields: Set(entry.fields.join(",")),
    }
    .insert(txn)
    .await?;
    Ok(())
}

/// Changes `p` by `changes` if its version is still `p.version`: the
/// version grows by one and the update time is `now`. ABORTED
/// (ETAG_MISMATCH) when another change came first.
async fn save(
    txn: &DatabaseTransaction,
    p: &Proposal,
    mut changes: proposals::ActiveModel,
    now: DateTime<Utc>,
) -> Result<Proposal, BmsError> {
    changes.version = Set(p.version + 1);
    changes.updated_at = Set(now);
    proposals::Entity::update_many()
        .set(changes)
        .filter(proposals::Column::Id.eq(p.id.clone()))
        .filter(proposals::Column::Version.eq(p.version))
        .exec_with_returning(txn)
        .await?
        .pop()
        .ok_or(BmsError::EtagMismatch)
}

/// FAILED_PRECONDITION INVALID_STATUS unless `p` is in one of `allowed`.
fn require_status(p: &Proposal, allowed: &[&str], doing: &str) -> Result<(), BmsError> {
    if allowed.contains(&p.status.as_str()) {
        return Ok(());
    }
    Err(BmsError::precondition(
        "INVALID_STATUS",
        format!("a {} proposal cannot be {doing}", p.status),
    ))
}

/// PERMISSION_DENIED NOT_REQUESTER unless `actor` is `p`'s requester (or,
/// with `finance_head_too`, a finance head).
fn require_requester(
    p: &Proposal,
    actor: &Principal,
    finance_head_too: bool,
) -> Result<(), BmsError> {
    if actor.id == p.requester_user_id
        || (finance_head_too && chain::holds(actor, chain::FINANCE_HEAD))
    {
        return Ok(());
    }
    Err(BmsError::PermissionDenied {
        reason: "NOT_REQUESTER",
        message: "only the proposal's requester may do this".into(),
    })
}

/// Moves the lines of `p` by `delta` (each line's amount in, its delta out,
/// with its guard) on the taken budget; FAILED_PRECONDITION
/// INSUFFICIENT_BUDGET when a STOP line refuses.
async fn move_lines(
    proposals: &Proposals,
    txn: &DatabaseTransaction,
    taken: &Taken,
    p: &Proposal,
    lines: &[ProposalLine],
    delta: impl Fn(&ProposalLine) -> (Delta, Guard),
) -> Result<(), BmsError> {
    let cause = Cause {
        kind: ev::ThresholdCause::ProposalApproved,
        id: p.id.clone(),
    };
    for l in lines {
        let (d, guard) = delta(l);
        if d == Delta::default() {
            continue;
        }
        let applied = lines::apply(
            txn,
            &proposals.outbox,
            taken,
            &l.budget_line_id,
            d,
            guard,
            &cause,
        )
        .await?;
        if applied.is_none() {
            let line = lines::find(txn, &l.budget_line_id).await?;
            return Err(BmsError::precondition(
                "INSUFFICIENT_BUDGET",
                format!(
                    "line {} has {} {} left of its allocation",
                    if line.category_code.is_empty() {
                        "UNALLOCATED"
                    } else {
                        &line.category_code
                    },
                    line.remaining(),
                    taken.budget.currency
                ),
            ));
        }
    }
    Ok(())
}

/// What leaves the lines' pending amounts when a submission ends without
/// approval (rejected, returned, withdrawn).
fn release_pending(kind: Kind) -> impl Fn(&ProposalLine) -> (Delta, Guard) {
    move |l| {
        let d = match kind {
            Kind::SpendingRequest => Delta {
                pending: -l.amount_minor,
                ..Delta::default()
            },
            Kind::BudgetIncrease => Delta {
                pending_increase: -l.amount_minor,
                ..Delta::default()
            },
        };
        (d, Guard::None)
    }
}

/// The decisions of a step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deciding {
    /// ApproveProposal.
    Approve,
    /// RejectProposal.
    Reject,
    /// ReturnProposal.
    Return,
}

impl Proposals {
    /// The end of a change of a proposal: `entry` by `actor` in its
    /// history, and the proposal as it is `after` published as
    /// `event_type` with the event's fields from `wrap`.
    #[allow(clippy::too_many_arguments)]
    async fn conclude<M: prost::Name>(
        &self,
        txn: &DatabaseTransaction,
        after: Proposal,
        actor: &str,
        entry: Entry<'_>,
        now: DateTime<Utc>,
        event_type: &'static str,
        wrap: impl FnOnce(ev::ProposalSnapshot) -> M,
    ) -> Result<Full, BmsError> {
        history(txn, &after, actor, entry, now).await?;
        let full = Full::read(txn, after).await?;
        publish(txn, &self.outbox, &full, event_type, wrap).await?;
        Ok(full)
    }

    /// CreateProposal: a DRAFT of the caller against a budget.
    pub async fn create(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::CreateProposalRequest,
    ) -> Result<pb::CreateProposalResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("budget_id", &r.budget_id);
        v.text("title", &r.title, MAX_TITLE);
        v.text("justification", &r.justification, MAX_COMMENT);
        let kind = Kind::from_proto(r.kind);
        if kind.is_none() {
            v.add("kind", "is required");
        }
        let asked = asked(&mut v, &r.lines, "lines");
        let (Some(kind), true) = (kind, v.is_empty()) else {
            return Err(BmsError::InvalidArgument(v.into_violations()));
        };
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let budget = budgets::Entity::find_by_id(r.budget_id.clone())
            .one(&txn)
            .await?
            .ok_or(BmsError::NotFound("budget"))?;
        if !chain::holds(actor, chain::FINANCE_HEAD)
            && !department_of(&txn, actor)
                .await?
                .eq_ignore_ascii_case(&budget.department_code)
        {
            return Err(BmsError::PermissionDenied {
                reason: "OTHER_DEPARTMENT",
                message: "a requester proposes for their own department's budget".into(),
            });
        }
        resolve(&txn, &budget, &asked, "lines").await?;
        let now = self.now();
        let id = uuid::Uuid::now_v7().to_string();
        let number = counters::next_number(&txn, "BP").await?.to_string();
        let p = proposals::ActiveModel {
            id: Set(id.clone()),
            number: Set(number),
            kind: Set(kind.stored().to_owned()),
            budget_id: Set(budget.id.clone()),
            department_code: Set(budget.department_code.clone()),
            fiscal_year_id: Set(budget.fiscal_year_id.clone()),
            requester_user_id: Set(actor.id.clone()),
            title: Set(r.title.trim().to_owned()),
            justification: Set(r.justification.trim().to_owned()),
            status: Set(status::DRAFT.to_owned()),
            currency: Set(budget.currency.clone()),
            requested_total_minor: Set(asked.iter().map(|a| a.amount_minor).sum()),
            committed_total_minor: Set(0),
            spent_total_minor: Set(0),
            released_total_minor: Set(0),
            approval_policy_version: Set(0),
            approval_steps: Set(String::new()),
            pending_role: Set(String::new()),
            return_count: Set(0),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
            submitted_at: Set(None),
            decided_at: Set(None),
            withdrawn_at: Set(None),
            closed_at: Set(None),
        }
        .insert(&txn)
        .await?;
        write_lines(&txn, &id, &asked).await?;
        history(
            &txn,
            &p,
            &actor.id,
            Entry {
                kind: "created",
                ..Entry::default()
            },
            now,
        )
        .await?;
        let response = pb::CreateProposalResponse {
            proposal: Some(Full::read(&txn, p).await?.to_proto()),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// UpdateProposal: a DRAFT or RETURNED proposal's fields named by the
    /// mask, if the etag is current.
    pub async fn update(
        &self,
        actor: &Principal,
        r: &pb::UpdateProposalRequest,
    ) -> Result<pb::UpdateProposalResponse, BmsError> {
        let input = r
            .proposal
            .as_ref()
            .ok_or_else(|| BmsError::invalid("proposal", "is required"))?;
        let mut v = Violations::default();
        v.uuid("proposal.id", &input.id);
        if input.etag.is_empty() {
            v.add("proposal.etag", "is required");
        }
        let paths = update_paths(r.update_mask.as_ref(), &["title", "justification", "lines"])?;
        if paths.contains("title") {
            v.text("proposal.title", &input.title, MAX_TITLE);
        }
        if paths.contains("justification") {
            v.text("proposal.justification", &input.justification, MAX_COMMENT);
        }
        let asked = if paths.contains("lines") {
            Some(asked(&mut v, &input.lines, "proposal.lines"))
        } else {
            None
        };
        if !v.is_empty() {
            return Err(BmsError::InvalidArgument(v.into_violations()));
        }
        let txn = self.db.begin_write().await?;
        let p = find(&txn, &input.id).await?;
        require_requester(&p, actor, false)?;
        require_status(&p, &[status::DRAFT, status::RETURNED], "updated")?;
        check_etag(System::Bms, "proposal.etag", &input.etag, p.version)?;
        let now = self.now();
        let mut changes = proposals::ActiveModel {
            ..Default::default()
        };
        if paths.contains("title") {
            changes.title = Set(input.title.trim().to_owned());
        }
        if paths.contains("justification") {
            changes.justification = Set(input.justification.trim().to_owned());
        }
        if let Some(asked) = &asked {
            let budget = budgets::Entity::find_by_id(p.budget_id.clone())
                .one(&txn)
                .await?
                .ok_or(BmsError::NotFound("budget"))?;
            resolve(&txn, &budget, asked, "proposal.lines").await?;
            write_lines(&txn, &p.id, asked).await?;
            changes.requested_total_minor = Set(asked.iter().map(|a| a.amount_minor).sum());
        }
        let after = save(&txn, &p, changes, now).await?;
        history(
            &txn,
            &after,
            &actor.id,
            Entry {
                kind: "updated",
                from: &p.status,
                fields: paths.iter().copied().collect(),
                ..Entry::default()
            },
            now,
        )
        .await?;
        let response = pb::UpdateProposalResponse {
            proposal: Some(Full::read(&txn, after).await?.to_proto()),
        };
        txn.commit().await?;
        Ok(response)
    }

    /// SubmitProposal: the chain fixed from the kind's policy and the
    /// total; the amounts become pending on their lines.
    pub async fn submit(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::SubmitProposalRequest,
    ) -> Result<pb::SubmitProposalResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("proposal_id", &r.proposal_id);
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let p = find(&txn, &r.proposal_id).await?;
        require_requester(&p, actor, false)?;
        require_status(&p, &[status::DRAFT, status::RETURNED], "submitted")?;
        if !r.etag.is_empty() {
            check_etag(System::Bms, "etag", &r.etag, p.version)?;
        }
        let kind = Kind::of(&p.kind);
        let policy = approval_policies::current(&txn, kind).await?;
        let steps = chain::steps(&policy.levels, &p.currency, p.requested_total_minor);
        let now = self.now();
        let taken = lines::take_budget(&txn, &p.budget_id, "etag", "", now).await?;
        let lines = lines_of(&txn, &p.id).await?;
        move_lines(self, &txn, &taken, &p, &lines, |l| match kind {
            Kind::SpendingRequest => (
                Delta {
                    pending: l.amount_minor,
                    ..Delta::default()
                },
                Guard::IfStopCould(l.amount_minor),
            ),
            Kind::BudgetIncrease => (
                Delta {
                    pending_increase: l.amount_minor,
                    ..Delta::default()
                },
                Guard::None,
            ),
        })
        .await?;
        let first_role = steps.first().map(|s| s.role.clone()).unwrap_or_default();
        let after = save(
            &txn,
            &p,
            proposals::ActiveModel {
                status: Set(status::SUBMITTED.to_owned()),
                approval_steps: Set(stored_steps(&steps)),
                pending_role: Set(first_role.clone()),
                approval_policy_version: Set(policy.version),
                submitted_at: Set(Some(now)),
                decided_at: Set(None),
                ..Default::default()
            },
            now,
        )
        .await?;
        let entry = Entry {
            kind: "submitted",
            from: &p.status,
            amount: Some(p.requested_total_minor),
            ..Entry::default()
        };
        let full = self
            .conclude(
                &txn,
                after,
                &actor.id,
                entry,
                now,
                "bms.proposal.submitted",
                |s| ev::BmsProposalSubmitted {
                    proposal: Some(s),
                    next_approver_role: Some(role_ref(&first_role)),
                },
            )
            .await?;
        let response = pb::SubmitProposalResponse {
            proposal: Some(full.to_proto()),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(proposal = %full.proposal.number, "proposal submitted");
        Ok(response)
    }

    /// ApproveProposal, RejectProposal, ReturnProposal: the pending step
    /// decided by a caller who may decide it.
    pub async fn decide(
        &self,
        actor: &Principal,
        key: &Idempotent,
        deciding: Deciding,
        proposal_id: &str,
        comment: &str,
        etag: &str,
    ) -> Result<pb::Proposal, BmsError> {
        let mut v = Violations::default();
        v.uuid("proposal_id", proposal_id);
        match deciding {
            Deciding::Approve => v.optional_text("comment", comment, MAX_COMMENT),
            Deciding::Reject | Deciding::Return => v.text("comment", comment, MAX_COMMENT),
        };
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay::<pb::Proposal, _>(&txn).await? {
            return Ok(first);
        }
        let p = find(&txn, proposal_id).await?;
        if !etag.is_empty() {
            check_etag(System::Bms, "etag", etag, p.version)?;
        }
        require_status(
            &p,
            &[status::SUBMITTED],
            match deciding {
                Deciding::Approve => "approved",
                Deciding::Reject => "rejected",
                Deciding::Return => "returned",
            },
        )?;
        let mut steps = steps_of(&p);
        let Some((at, step)) = chain::pending(&steps).map(|(i, s)| (i, s.clone())) else {
            return Err(BmsError::precondition(
                "INVALID_STATUS",
                "the proposal has no pending step",
            ));
        };
        let department = department_of(&txn, actor).await?;
        chain::may_decide(
            actor,
            &department,
            &p.requester_user_id,
            &p.department_code,
            &steps,
            &step,
        )
        .map_err(|refusal| BmsError::PermissionDenied {
            reason: refusal.reason(),
            message: refusal.message().into(),
        })?;
        let now = self.now();
        let comment = comment.trim();
        steps[at].decision = match deciding {
            Deciding::Approve => chain::Decision::Approved,
            Deciding::Reject => chain::Decision::Rejected,
            Deciding::Return => chain::Decision::Returned,
        };
        steps[at].decided_by = actor.id.clone();
        steps[at].decided_at = Some(now);
        steps[at].comment = comment.to_owned();
        let next = steps.get(at + 1).map(|s| s.role.clone());
        let last = deciding == Deciding::Approve && next.is_none();
        let kind = Kind::of(&p.kind);
        let lines = lines_of(&txn, &p.id).await?;
        let mut changes = proposals::ActiveModel {
            approval_steps: Set(stored_steps(&steps)),
            pending_role: Set(next
                .clone()
                .filter(|_| deciding == Deciding::Approve)
                .unwrap_or_default()),
            ..Default::default()
        };
        match deciding {
            Deciding::Approve if !last => {}
            Deciding::Approve => {
                let taken = lines::take_budget(&txn, &p.budget_id, "etag", "", now).await?;
                move_lines(self, &txn, &taken, &p, &lines, |l| match kind {
                    Kind::SpendingRequest => (
                        Delta {
                            pending: -l.amount_minor,
                            committed: l.amount_minor,
                            ..Delta::default()
                        },
                        Guard::IfStop,
                    ),
                    Kind::BudgetIncrease => (
                        Delta {
                            pending_increase: -l.amount_minor,
                            increased: l.amount_minor,
                            ..Delta::default()
                        },
                        Guard::None,
                    ),
                })
                .await?;
                if kind == Kind::SpendingRequest {
                    proposal_lines::Entity::update_many()
                        .col_expr(
                            proposal_lines::Column::CommittedMinor,
                            sea_orm::sea_query::Expr::col(proposal_lines::Column::AmountMinor),
                        )
                        .filter(proposal_lines::Column::ProposalId.eq(p.id.clone()))
                        .exec(&txn)
                        .await?;
                    changes.committed_total_minor = Set(p.requested_total_minor);
                }
                changes.status = Set(status::APPROVED.to_owned());
                changes.decided_at = Set(Some(now));
            }
            Deciding::Reject | Deciding::Return => {
                let taken = lines::take_budget(&txn, &p.budget_id, "etag", "", now).await?;
                move_lines(self, &txn, &taken, &p, &lines, release_pending(kind)).await?;
                if deciding == Deciding::Reject {
                    changes.status = Set(status::REJECTED.to_owned());
                    changes.decided_at = Set(Some(now));
                } else {
                    changes.status = Set(status::RETURNED.to_owned());
                    changes.return_count = Set(p.return_count + 1);
                }
            }
        }
        let after = save(&txn, &p, changes, now).await?;
        let entry = Entry {
            kind: match deciding {
                Deciding::Approve => "approved",
                Deciding::Reject => "rejected",
                Deciding::Return => "returned",
            },
            from: &p.status,
            level: step.level,
            role: &step.role,
            comment,
            amount: last.then_some(p.requested_total_minor),
            ..Entry::default()
        };
        let who = Some(actor_ref(actor));
        let role = Some(role_ref(&step.role));
        let at_time = Some(timestamp(now));
        let full = match deciding {
            Deciding::Approve => {
                self.conclude(
                    &txn,
                    after,
                    &actor.id,
                    entry,
                    now,
                    "bms.proposal.approved",
                    |s| ev::BmsProposalApproved {
                        proposal: Some(s),
                        approver: who,
                        approver_role: role,
                        final_approval: last,
                        next_approver_role: next.as_deref().map(role_ref),
                        comment: comment.to_owned(),
                        approve_time: at_time,
                        level: step.level,
                    },
                )
                .await?
            }
            Deciding::Reject => {
                self.conclude(
                    &txn,
                    after,
                    &actor.id,
                    entry,
                    now,
                    "bms.proposal.rejected",
                    |s| ev::BmsProposalRejected {
                        proposal: Some(s),
                        rejecter: who,
                        rejecter_role: role,
                        reason: comment.to_owned(),
                        reject_time: at_time,
                        level: step.level,
                    },
                )
                .await?
            }
            Deciding::Return => {
                self.conclude(
                    &txn,
                    after,
                    &actor.id,
                    entry,
                    now,
                    "bms.proposal.returned",
                    |s| ev::BmsProposalReturned {
                        proposal: Some(s),
                        returned_by: who,
                        returned_by_role: role,
                        level: step.level,
                        comment: comment.to_owned(),
                        return_time: at_time,
                    },
                )
                .await?
            }
        };
        let proposal = full.to_proto();
        key.record(&txn, &proposal, now).await?;
        txn.commit().await?;
        tracing::info!(
            proposal = %full.proposal.number,
            decision = ?deciding,
            level = step.level,
            "proposal step decided"
        );
        Ok(proposal)
    }

    /// WithdrawProposal: a DRAFT, SUBMITTED or RETURNED proposal withdrawn
    /// by its requester; a submitted one's pending amounts leave its lines.
    pub async fn withdraw(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::WithdrawProposalRequest,
    ) -> Result<pb::WithdrawProposalResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("proposal_id", &r.proposal_id);
        v.optional_text("comment", &r.comment, MAX_COMMENT);
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let p = find(&txn, &r.proposal_id).await?;
        require_requester(&p, actor, false)?;
        require_status(
            &p,
            &[status::DRAFT, status::SUBMITTED, status::RETURNED],
            "withdrawn",
        )?;
        if !r.etag.is_empty() {
            check_etag(System::Bms, "etag", &r.etag, p.version)?;
        }
        let now = self.now();
        if p.status == status::SUBMITTED {
            let taken = lines::take_budget(&txn, &p.budget_id, "etag", "", now).await?;
            let lines = lines_of(&txn, &p.id).await?;
            move_lines(
                self,
                &txn,
                &taken,
                &p,
                &lines,
                release_pending(Kind::of(&p.kind)),
            )
            .await?;
        }
        let after = save(
            &txn,
            &p,
            proposals::ActiveModel {
                status: Set(status::WITHDRAWN.to_owned()),
                pending_role: Set(String::new()),
                withdrawn_at: Set(Some(now)),
                ..Default::default()
            },
            now,
        )
        .await?;
        let comment = r.comment.trim();
        let entry = Entry {
            kind: "withdrawn",
            from: &p.status,
            comment,
            ..Entry::default()
        };
        let full = self
            .conclude(
                &txn,
                after,
                &actor.id,
                entry,
                now,
                "bms.proposal.withdrawn",
                |s| ev::BmsProposalWithdrawn {
                    proposal: Some(s),
                    actor: Some(actor_ref(actor)),
                    previous_status: status_to_proto(&p.status) as i32,
                    comment: comment.to_owned(),
                    withdraw_time: Some(timestamp(now)),
                },
            )
            .await?;
        let response = pb::WithdrawProposalResponse {
            proposal: Some(full.to_proto()),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// CloseProposal: an APPROVED spending request closed; what it still
    /// commits is released from its lines.
    pub async fn close(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::CloseProposalRequest,
    ) -> Result<pb::CloseProposalResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("proposal_id", &r.proposal_id);
        v.optional_text("comment", &r.comment, MAX_COMMENT);
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let p = find(&txn, &r.proposal_id).await?;
        require_requester(&p, actor, true)?;
        require_status(&p, &[status::APPROVED], "closed")?;
        if Kind::of(&p.kind) != Kind::SpendingRequest {
            return Err(BmsError::precondition(
                "NOT_SPENDING_REQUEST",
                "a budget increase has nothing to close",
            ));
        }
        if !r.etag.is_empty() {
            check_etag(System::Bms, "etag", &r.etag, p.version)?;
        }
        let now = self.now();
        // The budget first, as expenses take it, then the commitments as
        // they are now (an expense may have taken some a moment ago).
        let taken = lines::take_budget(&txn, &p.budget_id, "etag", "", now).await?;
        let lines = lines_of(&txn, &p.id).await?;
        move_lines(self, &txn, &taken, &p, &lines, |l| {
            (
                Delta {
                    committed: -l.committed_minor,
                    ..Delta::default()
                },
                Guard::None,
            )
        })
        .await?;
        let released: i64 = lines.iter().map(|l| l.committed_minor).sum();
        proposal_lines::Entity::update_many()
            .col_expr(
                proposal_lines::Column::ReleasedMinor,
                sea_orm::sea_query::Expr::col(proposal_lines::Column::CommittedMinor),
            )
            .col_expr(
                proposal_lines::Column::CommittedMinor,
                sea_orm::sea_query::Expr::value(0i64),
            )
            .filter(proposal_lines::Column::ProposalId.eq(p.id.clone()))
            .exec(&txn)
            .await?;
        let after = save(
            &txn,
            &p,
            proposals::ActiveModel {
                status: Set(status::CLOSED.to_owned()),
                committed_total_minor: Set(0),
                released_total_minor: Set(released),
                closed_at: Set(Some(now)),
                ..Default::default()
            },
            now,
        )
        .await?;
        let comment = r.comment.trim();
        let entry = Entry {
            kind: "closed",
            from: &p.status,
            comment,
            amount: Some(released),
            ..Entry::default()
        };
        let full = self
            .conclude(
                &txn,
                after,
                &actor.id,
                entry,
                now,
                "bms.proposal.closed",
                |s| ev::BmsProposalClosed {
                    proposal: Some(s),
                    actor: Some(actor_ref(actor)),
                    released: Some(map_contracts::common::v1::Money {
                        amount_minor: released,
                        currency_code: p.currency.clone(),
                    }),
                    comment: comment.to_owned(),
                    close_time: Some(timestamp(now)),
                },
            )
            .await?;
        let response = pb::CloseProposalResponse {
            proposal: Some(full.to_proto()),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// AddProposalComment: by the requester, an approver of the proposal's
    /// department or a finance head; the proposal itself does not change.
    pub async fn comment(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::AddProposalCommentRequest,
    ) -> Result<pb::AddProposalCommentResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("proposal_id", &r.proposal_id);
        v.text("body", &r.body, MAX_COMMENT);
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let p = find(&txn, &r.proposal_id).await?;
        let allowed = actor.id == p.requester_user_id
            || chain::holds(actor, chain::FINANCE_HEAD)
            || (chain::holds(actor, chain::APPROVER)
                && department_of(&txn, actor)
                    .await?
                    .eq_ignore_ascii_case(&p.department_code));
        if !allowed {
            return Err(BmsError::PermissionDenied {
                reason: "OTHER_DEPARTMENT",
                message: "comments come from the requester, an approver of the \
                          proposal's department or a finance head"
                    .into(),
            });
        }
        let now = self.now();
        let comment = proposal_comments::ActiveModel {
            id: Set(uuid::Uuid::now_v7().to_string()),
            proposal_id: Set(p.id.clone()),
            author_user_id: Set(actor.id.clone()),
            body: Set(r.body.trim().to_owned()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        history(
            &txn,
            &p,
            &actor.id,
            Entry {
                kind: "commented",
                from: &p.status,
                comment_id: &comment.id,
                ..Entry::default()
            },
            now,
        )
        .await?;
        let response = pb::AddProposalCommentResponse {
            comment: Some(super::queries::comment_to_proto(&comment)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }
}
