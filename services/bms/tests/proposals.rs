//! BMS's proposals and approval policies through its gRPC API on port 0,
//! on both databases:
//!
//! - a spending request through a two-level chain (an approver of the
//!   department, then a finance head): pending on its line while in the
//!   chain, committed once approved, spent by an expense of the request,
//!   released by closing it; each step published with the whole proposal
//!   and its version; its history and comments;
//! - a return for revision, an update and a resubmission with a new chain;
//! - self-approval, another department's approver, the same person twice
//!   and a caller without the step's role are refused, nothing written;
//! - a spending request a STOP line cannot hold is refused at submission
//!   and at final approval (the line spent meanwhile), nothing written;
//! - a budget increase raises its line's allocation once approved;
//!   withdrawing releases what was pending;
//! - approval policies: thresholds per currency decide the chain, a stale
//!   etag is refused, only admins change them;
//! - the policy tables, RPC by RPC, for every kind of caller.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    bms::v1::{
        self as pb, approval_policy_service_client::ApprovalPolicyServiceClient,
        proposal_service_client::ProposalServiceClient,
    },
    events::v1 as ev,
};
use map_kit::testing::{Caller, check_policy_matrix, expect_err};
use support::{Fixture, amount, date, fields, line, line_of, reason, usd};
use tonic::{Code, transport::Channel};

use pb::BudgetControlMode::{Stop, Warn};

/// The people of a proposal's life.
struct People {
    /// bms:requester of IT.
    requester: Caller,
    /// bms:approver of IT.
    approver: Caller,
    /// bms:approver of HR.
    hr_approver: Caller,
    /// bms:admin.
    admin: Caller,
}

async fn people(fx: &Fixture) -> People {
    let add = |roles: &'static [(&'static str, &'static str)], dept: &'static str, name| {
        let c = fx.auth.person(roles);
        let db = fx.db.db.clone();
        async move {
            map_kit::testing::directory::add_person(&db, &c, dept, name).await;
            c
        }
    };
    People {
        requester: add(&[("bms", "requester")], "IT", "Rita Requester").await,
        approver: add(&[("bms", "approver")], "IT", "Alan Approver").await,
        hr_approver: add(&[("bms", "approver")], "HR", "Hana Approver").await,
        admin: add(&[("bms", "admin")], "IT", "Ada Admin").await,
    }
}

async fn proposals(fx: &Fixture) -> ProposalServiceClient<Channel> {
    ProposalServiceClient::new(fx.server.channel().await)
}

async fn policies(fx: &Fixture) -> ApprovalPolicyServiceClient<Channel> {
    ApprovalPolicyServiceClient::new(fx.server.channel().await)
}

fn id(c: &Caller) -> String {
    c.principal.as_ref().unwrap().id.clone()
}

fn request_id() -> String {
    uuid::Uuid::now_v7().to_string()
}

fn ask(line: &str, amount_minor: i64) -> pb::ProposalLine {
    pb::ProposalLine {
        budget_line_id: line.into(),
        description: "Laptops for the new hires".into(),
        amount: Some(usd(amount_minor)),
        ..Default::default()
    }
}

async fn create(
    fx: &Fixture,
    who: &Caller,
    budget: &str,
    kind: pb::ProposalKind,
    lines: Vec<pb::ProposalLine>,
) -> Result<pb::Proposal, tonic::Status> {
    Ok(proposals(fx)
        .await
        .create_proposal(who.request(pb::CreateProposalRequest {
            budget_id: budget.into(),
            title: "New hires".into(),
            justification: "Three engineers start in July".into(),
            lines,
            request_id: request_id(),
            kind: kind.into(),
        }))
        .await?
        .into_inner()
        .proposal
        .unwrap())
}

async fn submit(fx: &Fixture, who: &Caller, id: &str) -> Result<pb::Proposal, tonic::Status> {
    Ok(proposals(fx)
        .await
        .submit_proposal(who.request(pb::SubmitProposalRequest {
            proposal_id: id.into(),
            etag: String::new(),
            request_id: request_id(),
        }))
        .await?
        .into_inner()
        .proposal
        .unwrap())
}

async fn approve(fx: &Fixture, who: &Caller, id: &str) -> Result<pb::Proposal, tonic::Status> {
    Ok(proposals(fx)
        .await
        .approve_proposal(who.request(pb::ApproveProposalRequest {
            proposal_id: id.into(),
            comment: "fine".into(),
            etag: String::new(),
            request_id: request_id(),
        }))
        .await?
        .into_inner()
        .proposal
        .unwrap())
}

/// An expense of `amount` USD cents on `line` for the spending request
/// `proposal`, dated 2026-06-15.
async fn spend_for(
    fx: &Fixture,
    line: &str,
    amount: i64,
    proposal: &str,
) -> Result<tonic::Response<pb::RecordExpenseResponse>, tonic::Status> {
    fx.expenses()
        .await
        .record_expense(fx.finance.request(pb::RecordExpenseRequest {
            budget_line_id: line.into(),
            amount: Some(usd(amount)),
            description: "Laptops".into(),
            request_id: request_id(),
            expense_date: Some(date(2026, 6, 15)),
            proposal_id: proposal.into(),
            ..Default::default()
        }))
        .await
}

async fn get(fx: &Fixture, id: &str) -> pb::Proposal {
    proposals(fx)
        .await
        .get_proposal(fx.viewer.request(pb::GetProposalRequest {
            lookup: Some(pb::get_proposal_request::Lookup::Id(id.into())),
        }))
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap()
}

/// (pending, committed, spent, allocated) of the budget's `code` line.
async fn amounts(fx: &Fixture, budget: &str, code: &str) -> (i64, i64, i64, i64) {
    let b = fx.get_budget(budget).await;
    let l = line_of(&b, code);
    (
        amount(&l.pending),
        amount(&l.committed),
        amount(&l.spent),
        amount(&l.allocated),
    )
}

fn decisions(p: &pb::Proposal) -> Vec<(String, pb::ApprovalDecision)> {
    p.approval_steps
        .iter()
        .map(|s| (s.approver_role.clone(), s.decision()))
        .collect()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_spending_request_goes_through_two_levels_then_is_spent_and_closed() {
    let fx = Fixture::start().await;
    let p = people(&fx).await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 1_000_000, Stop)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let draft = create(&fx, &p.requester, &budget.id, pb::ProposalKind::SpendingRequest, vec![ask(&laptop, 300_000)]).await.unwrap();
    assert_eq!(draft.status(), pb::ProposalStatus::Draft);
    assert!(draft.number.starts_with("BP-"), "{}", draft.number);
    assert_eq!(amount(&draft.requested_total), 300_000);
    assert_eq!(draft.lines[0].category_code, "LAPTOP");
    assert_eq!(draft.version, 1);

    let submitted = submit(&fx, &p.requester, &draft.id).await.unwrap();
    assert_eq!(submitted.status(), pb::ProposalStatus::Submitted);
    use pb::ApprovalDecision::{Approved, Pending};
    assert_eq!(decisions(&submitted), [("bms:approver".to_owned(), Pending), ("bms:finance_head".to_owned(), Pending)]);
    assert_eq!(submitted.approval_policy_version, 1);
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (300_000, 0, 0, 1_000_000), "pending, reserving nothing");

    // The approver of IT decides the first step; nothing is committed yet.
    let first = approve(&fx, &p.approver, &draft.id).await.unwrap();
    assert_eq!(first.status(), pb::ProposalStatus::Submitted);
    assert_eq!(decisions(&first)[0].1, Approved);
    assert_eq!(first.approval_steps[0].decided_by_user_id, id(&p.approver));
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (300_000, 0, 0, 1_000_000));

    // The finance head decides the last: committed on the line.
    let approved = approve(&fx, &fx.finance, &draft.id).await.unwrap();
    assert_eq!(approved.status(), pb::ProposalStatus::Approved);
    assert_eq!(amount(&approved.committed_total), 300_000);
    assert!(approved.decide_time.is_some());
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 300_000, 0, 1_000_000));

    // An expense of the request takes from its commitment.
    let spent = spend_for(&fx, &laptop, 120_000, &draft.id)
        .await
        .unwrap()
        .into_inner();
    let expense = spent.expense.unwrap();
    assert_eq!(expense.proposal_id, draft.id);
    assert_eq!(amount(&expense.released_commitment), 120_000);
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 180_000, 120_000, 1_000_000));
    let after_expense = get(&fx, &draft.id).await;
    assert_eq!(amount(&after_expense.committed_total), 180_000);
    assert_eq!(amount(&after_expense.spent_total), 120_000);

    // Closing releases what is left.
    let closed = proposals(&fx)
        .await
        .close_proposal(p.requester.request(pb::CloseProposalRequest {
            proposal_id: draft.id.clone(),
            comment: "done, under budget".into(),
            etag: after_expense.etag.clone(),
            request_id: request_id(),
        }))
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(closed.status(), pb::ProposalStatus::Closed);
    assert_eq!(amount(&closed.released_total), 180_000);
    assert_eq!(amount(&closed.committed_total), 0);
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 0, 120_000, 1_000_000));

    // A closed request spends nothing more.
    let refused = spend_for(&fx, &laptop, 1, &draft.id)
        .await;
    assert_eq!(reason(&expect_err(refused, Code::FailedPrecondition)), "PROPOSAL_NOT_APPROVED");

    // Every step published with the whole proposal and its version.
    let events = fx.events("bms.proposal.").await;
    let kinds: Vec<_> = events.iter().map(|(t, s, v, _)| (t.as_str(), s == &draft.id, *v)).collect();
    assert_eq!(
        kinds,
        [
            ("bms.proposal.submitted", true, 2),
            ("bms.proposal.approved", true, 3),
            ("bms.proposal.approved", true, 4),
            ("bms.proposal.closed", true, closed.version),
        ]
    );
    let last_approval: ev::BmsProposalApproved = events[2].3.to_msg().unwrap();
    assert!(last_approval.final_approval);
    let snapshot = last_approval.proposal.unwrap();
    assert_eq!(snapshot.status, ev::ProposalStatus::Approved as i32);
    assert_eq!(snapshot.requester.unwrap().display_name, "Rita Requester");
    assert_eq!(snapshot.lines[0].committed.as_ref().unwrap().amount_minor, 300_000);
    let closed_event: ev::BmsProposalClosed = events[3].3.to_msg().unwrap();
    assert_eq!(closed_event.released.unwrap().amount_minor, 180_000);

    // The history, oldest first.
    let history = proposals(&fx)
        .await
        .list_proposal_events(fx.viewer.request(pb::ListProposalEventsRequest {
            proposal_id: draft.id.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .events;
    use pb::ProposalEventType as T;
    let types: Vec<_> = history.iter().map(|e| e.r#type()).collect();
    assert_eq!(types, [T::Created, T::Submitted, T::Approved, T::Approved, T::Closed]);
    assert_eq!(history[2].level, 1);
    assert_eq!(history[3].approver_role, "bms:finance_head");
    assert_eq!(amount(&history[3].amount), 300_000);
}

#[tokio::test]
async fn a_returned_proposal_is_revised_and_gets_a_new_chain() {
    let fx = Fixture::start().await;
    let p = people(&fx).await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 1_000_000, Warn)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let draft = create(&fx, &p.requester, &budget.id, pb::ProposalKind::SpendingRequest, vec![ask(&laptop, 500_000)]).await.unwrap();
    submit(&fx, &p.requester, &draft.id).await.unwrap();
    approve(&fx, &p.approver, &draft.id).await.unwrap();
    // A return needs a comment.
    let bare = proposals(&fx)
        .await
        .return_proposal(fx.finance.request(pb::ReturnProposalRequest {
            proposal_id: draft.id.clone(),
            request_id: request_id(),
            ..Default::default()
        }))
        .await;
    assert_eq!(fields(&expect_err(bare, Code::InvalidArgument)), ["comment"]);
    let returned = proposals(&fx)
        .await
        .return_proposal(fx.finance.request(pb::ReturnProposalRequest {
            proposal_id: draft.id.clone(),
            comment: "Two laptops are enough".into(),
            request_id: request_id(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(returned.status(), pb::ProposalStatus::Returned);
    assert_eq!(returned.return_count, 1);
    assert_eq!(returned.approval_steps[1].decision(), pb::ApprovalDecision::Returned);
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await.0, 0, "nothing pending once returned");

    // Only the requester revises it (not even a finance head), with the
    // current etag.
    let mut revised = returned.clone();
    revised.lines = vec![ask(&laptop, 200_000)];
    let mask = prost_types::FieldMask { paths: vec!["lines".into()] };
    let not_theirs = proposals(&fx)
        .await
        .update_proposal(fx.finance.request(pb::UpdateProposalRequest {
            proposal: Some(revised.clone()),
            update_mask: Some(mask.clone()),
        }))
        .await;
    assert_eq!(reason(&expect_err(not_theirs, Code::PermissionDenied)), "NOT_REQUESTER");
    let mut stale = revised.clone();
    stale.etag = draft.etag.clone();
    let stale = proposals(&fx)
        .await
        .update_proposal(p.requester.request(pb::UpdateProposalRequest {
            proposal: Some(stale),
            update_mask: Some(mask.clone()),
        }))
        .await;
    expect_err(stale, Code::Aborted);
    let updated = proposals(&fx)
        .await
        .update_proposal(p.requester.request(pb::UpdateProposalRequest {
            proposal: Some(revised),
            update_mask: Some(mask),
        }))
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(amount(&updated.requested_total), 200_000);

    let again = submit(&fx, &p.requester, &draft.id).await.unwrap();
    assert!(again.approval_steps.iter().all(|s| s.decision() == pb::ApprovalDecision::Pending), "a new chain");
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await.0, 200_000);
    approve(&fx, &p.approver, &draft.id).await.unwrap();
    let approved = approve(&fx, &fx.finance, &draft.id).await.unwrap();
    assert_eq!(approved.status(), pb::ProposalStatus::Approved);
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 200_000, 0, 1_000_000));

    // An expense of the request, voided: its commitment returns while the
    // request is approved.
    let spent = spend_for(&fx, &laptop, 250_000, &draft.id)
        .await
        .unwrap()
        .into_inner()
        .expense
        .unwrap();
    assert_eq!(amount(&spent.released_commitment), 200_000, "at most what is committed");
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 0, 250_000, 1_000_000));
    fx.expenses()
        .await
        .void_expense(fx.finance.request(pb::VoidExpenseRequest {
            expense_id: spent.id.clone(),
            reason: "entered twice".into(),
            request_id: request_id(),
            ..Default::default()
        }))
        .await
        .unwrap();
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 200_000, 0, 1_000_000));
    let back = get(&fx, &draft.id).await;
    assert_eq!((amount(&back.committed_total), amount(&back.spent_total)), (200_000, 0));

    // Comments, from the requester and the department's approver.
    for (who, body) in [(&p.requester, "Thanks"), (&p.approver, "Order this week")] {
        proposals(&fx)
            .await
            .add_proposal_comment(who.request(pb::AddProposalCommentRequest {
                proposal_id: draft.id.clone(),
                body: body.into(),
                request_id: request_id(),
            }))
            .await
            .unwrap();
    }
    let other = proposals(&fx)
        .await
        .add_proposal_comment(p.hr_approver.request(pb::AddProposalCommentRequest {
            proposal_id: draft.id.clone(),
            body: "Not mine".into(),
            request_id: request_id(),
        }))
        .await;
    assert_eq!(reason(&expect_err(other, Code::PermissionDenied)), "OTHER_DEPARTMENT");
    let comments = proposals(&fx)
        .await
        .list_proposal_comments(fx.viewer.request(pb::ListProposalCommentsRequest {
            proposal_id: draft.id.clone(),
            page_size: 1,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(comments.comments[0].body, "Thanks");
    assert!(!comments.next_page_token.is_empty());
}

#[tokio::test]
async fn deciders_are_checked_and_a_refusal_changes_nothing() {
    let fx = Fixture::start().await;
    let p = people(&fx).await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 1_000_000, Stop)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    // A requester who is also an approver.
    let both = fx.auth.person(&[("bms", "requester"), ("bms", "approver")]);
    map_kit::testing::directory::add_person(&fx.db.db, &both, "IT", "Bo Both").await;
    let draft = create(&fx, &both, &budget.id, pb::ProposalKind::SpendingRequest, vec![ask(&laptop, 100_000)]).await.unwrap();
    let submitted = submit(&fx, &both, &draft.id).await.unwrap();

    let own = approve(&fx, &both, &draft.id).await;
    assert_eq!(reason(&expect_err(own, Code::PermissionDenied)), "SELF_APPROVAL");
    let other_department = approve(&fx, &p.hr_approver, &draft.id).await;
    assert_eq!(reason(&expect_err(other_department, Code::PermissionDenied)), "OTHER_DEPARTMENT");
    approve(&fx, &p.approver, &draft.id).await.unwrap();
    // The second step is a finance head's: the approver lacks it, and an
    // approver who is also a finance head decided the first already.
    let lacks = approve(&fx, &p.approver, &draft.id).await;
    assert_eq!(reason(&expect_err(lacks, Code::PermissionDenied)), "NOT_APPROVER");
    let head_too = fx.auth.person(&[("bms", "approver"), ("bms", "finance_head")]);
    map_kit::testing::directory::add_person(&fx.db.db, &head_too, "IT", "Hal Head").await;
    let draft2 = create(&fx, &p.requester, &budget.id, pb::ProposalKind::SpendingRequest, vec![ask(&laptop, 100_000)]).await.unwrap();
    submit(&fx, &p.requester, &draft2.id).await.unwrap();
    approve(&fx, &head_too, &draft2.id).await.unwrap();
    let twice = approve(&fx, &head_too, &draft2.id).await;
    assert_eq!(reason(&expect_err(twice, Code::PermissionDenied)), "DUPLICATE_APPROVER");

    // The refusals wrote nothing: one approval on the first proposal.
    let now = get(&fx, &draft.id).await;
    assert_eq!(now.version, submitted.version + 1);
    assert_eq!(fx.events("bms.proposal.approved").await.len(), 2);

    // A retried approval (same request_id) approves no second step.
    let retry_id = request_id();
    let approve_once = |id: String| {
        let fx = &fx;
        let retry_id = retry_id.clone();
        async move {
            proposals(fx)
                .await
                .approve_proposal(fx.finance.request(pb::ApproveProposalRequest {
                    proposal_id: id,
                    comment: String::new(),
                    etag: String::new(),
                    request_id: retry_id,
                }))
                .await
                .unwrap()
                .into_inner()
                .proposal
                .unwrap()
        }
    };
    let first = approve_once(draft.id.clone()).await;
    let second = approve_once(draft.id.clone()).await;
    assert_eq!(first, second);
    assert_eq!(first.status(), pb::ProposalStatus::Approved);

    // Illegal moves: an approved proposal is not withdrawn or resubmitted.
    let withdraw = proposals(&fx)
        .await
        .withdraw_proposal(both.request(pb::WithdrawProposalRequest {
            proposal_id: draft.id.clone(),
            request_id: request_id(),
            ..Default::default()
        }))
        .await;
    assert_eq!(reason(&expect_err(withdraw, Code::FailedPrecondition)), "INVALID_STATUS");
    let resubmit = submit(&fx, &both, &draft.id).await;
    assert_eq!(reason(&expect_err(resubmit, Code::FailedPrecondition)), "INVALID_STATUS");
}

#[tokio::test]
async fn a_stop_line_refuses_a_spending_request_it_cannot_hold() {
    let fx = Fixture::start().await;
    let p = people(&fx).await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 100_000, Stop)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let too_big = create(&fx, &p.requester, &budget.id, pb::ProposalKind::SpendingRequest, vec![ask(&laptop, 100_001)]).await.unwrap();
    let refused = submit(&fx, &p.requester, &too_big.id).await;
    assert_eq!(reason(&expect_err(refused, Code::FailedPrecondition)), "INSUFFICIENT_BUDGET");
    assert_eq!(get(&fx, &too_big.id).await.status(), pb::ProposalStatus::Draft, "nothing written");
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 0, 0, 100_000));

    // It fits at submission; an expense then takes the room before the
    // final approval, which is refused and changes nothing.
    let fits = create(&fx, &p.requester, &budget.id, pb::ProposalKind::SpendingRequest, vec![ask(&laptop, 80_000)]).await.unwrap();
    submit(&fx, &p.requester, &fits.id).await.unwrap();
    approve(&fx, &p.approver, &fits.id).await.unwrap();
    fx.spend(&laptop, 50_000).await.unwrap();
    let before = get(&fx, &fits.id).await;
    let last = approve(&fx, &fx.finance, &fits.id).await;
    assert_eq!(reason(&expect_err(last, Code::FailedPrecondition)), "INSUFFICIENT_BUDGET");
    assert_eq!(get(&fx, &fits.id).await, before);
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (80_000, 0, 50_000, 100_000));

    // Withdrawn, its pending amount leaves the line.
    let withdrawn = proposals(&fx)
        .await
        .withdraw_proposal(p.requester.request(pb::WithdrawProposalRequest {
            proposal_id: fits.id.clone(),
            comment: "bought elsewhere".into(),
            request_id: request_id(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .proposal
        .unwrap();
    assert_eq!(withdrawn.status(), pb::ProposalStatus::Withdrawn);
    assert_eq!(amounts(&fx, &budget.id, "LAPTOP").await, (0, 0, 50_000, 100_000));

    // Bad input names its field and writes nothing.
    let bad = proposals(&fx)
        .await
        .create_proposal(p.requester.request(pb::CreateProposalRequest {
            budget_id: budget.id.clone(),
            title: String::new(),
            justification: "x".into(),
            lines: vec![
                ask(&laptop, 0),
                pb::ProposalLine {
                    amount: Some(map_contracts::common::v1::Money { amount_minor: 5, currency_code: "EUR".into() }),
                    ..ask(&line_of(&budget, "").id, 5)
                },
            ],
            request_id: request_id(),
            kind: pb::ProposalKind::Unspecified.into(),
        }))
        .await;
    assert_eq!(
        fields(&expect_err(bad, Code::InvalidArgument)),
        ["title", "kind", "lines[0].amount.amount_minor"]
    );
    let wrong_currency = create(&fx, &p.requester, &budget.id, pb::ProposalKind::SpendingRequest, vec![pb::ProposalLine {
        amount: Some(map_contracts::common::v1::Money { amount_minor: 5, currency_code: "EUR".into() }),
        ..ask(&laptop, 5)
    }]).await;
    assert_eq!(fields(&expect_err(wrong_currency, Code::InvalidArgument)), ["lines[0].amount.currency_code"]);
    // Another department's budget is not the requester's to propose on.
    let hr = fx.budget("HR", vec![line("LAPTOP", 100_000, Stop)]).await.unwrap();
    let hr_line = line_of(&hr, "LAPTOP").id.clone();
    let other = create(&fx, &p.requester, &hr.id, pb::ProposalKind::SpendingRequest, vec![ask(&hr_line, 5)]).await;
    assert_eq!(reason(&expect_err(other, Code::PermissionDenied)), "OTHER_DEPARTMENT");
    let listed = proposals(&fx)
        .await
        .list_proposals(fx.viewer.request(pb::ListProposalsRequest::default()))
        .await
        .unwrap()
        .into_inner()
        .proposals;
    assert_eq!(listed.len(), 2, "the two created above, nothing else");
}

#[tokio::test]
async fn a_budget_increase_raises_its_line_once_approved() {
    let fx = Fixture::start().await;
    let p = people(&fx).await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 100_000, Stop)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let increase = create(&fx, &p.requester, &budget.id, pb::ProposalKind::BudgetIncrease, vec![ask(&laptop, 40_000)]).await.unwrap();
    submit(&fx, &p.requester, &increase.id).await.unwrap();
    let b = fx.get_budget(&budget.id).await;
    assert_eq!(amount(&line_of(&b, "LAPTOP").pending_increase), 40_000);
    approve(&fx, &p.approver, &increase.id).await.unwrap();
    let approved = approve(&fx, &fx.finance, &increase.id).await.unwrap();
    assert_eq!(approved.status(), pb::ProposalStatus::Approved);
    assert_eq!(amount(&approved.committed_total), 0, "an increase commits nothing");
    let b = fx.get_budget(&budget.id).await;
    let l = line_of(&b, "LAPTOP");
    assert_eq!((amount(&l.allocated), amount(&l.increased), amount(&l.pending_increase)), (140_000, 40_000, 0));
    // A budget increase is not closed, nor spent.
    let close = proposals(&fx)
        .await
        .close_proposal(p.requester.request(pb::CloseProposalRequest {
            proposal_id: increase.id.clone(),
            request_id: request_id(),
            ..Default::default()
        }))
        .await;
    assert_eq!(reason(&expect_err(close, Code::FailedPrecondition)), "NOT_SPENDING_REQUEST");
}

#[tokio::test]
async fn approval_policies_decide_the_chain_by_amount() {
    let fx = Fixture::start().await;
    let p = people(&fx).await;
    let kind = pb::ProposalKind::SpendingRequest;
    let current = policies(&fx)
        .await
        .get_approval_policy(p.requester.request(pb::GetApprovalPolicyRequest { kind: kind.into() }))
        .await
        .unwrap()
        .into_inner()
        .approval_policy
        .unwrap();
    assert_eq!(current.version, 1);
    let roles: Vec<_> = current.levels.iter().map(|l| l.approver_role.as_str()).collect();
    assert_eq!(roles, ["bms:approver", "bms:finance_head"]);

    let mut changed = current.clone();
    changed.levels[1].thresholds = vec![usd(1_000_000)];
    let update = |who: &Caller, policy: pb::ApprovalPolicy| {
        let request = who.request(pb::UpdateApprovalPolicyRequest {
            approval_policy: Some(policy),
            update_mask: Some(prost_types::FieldMask { paths: vec!["levels".into()] }),
        });
        let fx = &fx;
        async move { policies(fx).await.update_approval_policy(request).await }
    };
    expect_err(update(&fx.finance, changed.clone()).await, Code::PermissionDenied);
    let mut bad = changed.clone();
    bad.levels[0].thresholds = vec![usd(5)];
    assert_eq!(
        fields(&expect_err(update(&p.admin, bad).await, Code::InvalidArgument)),
        ["approval_policy.levels[0].thresholds"]
    );
    let after = update(&p.admin, changed.clone()).await.unwrap().into_inner().approval_policy.unwrap();
    assert_eq!(after.version, 2);
    assert_eq!(after.updated_by_user_id, id(&p.admin));
    expect_err(update(&p.admin, changed).await, Code::Aborted);

    let budget = fx.budget("IT", vec![line("LAPTOP", 100_000_000, Warn)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let small = create(&fx, &p.requester, &budget.id, kind, vec![ask(&laptop, 800_000)]).await.unwrap();
    let small = submit(&fx, &p.requester, &small.id).await.unwrap();
    assert_eq!(small.approval_steps.len(), 1);
    assert_eq!(small.approval_policy_version, 2);
    let approved = approve(&fx, &p.approver, &small.id).await.unwrap();
    assert_eq!(approved.status(), pb::ProposalStatus::Approved, "one step below the threshold");
    let large = create(&fx, &p.requester, &budget.id, kind, vec![ask(&laptop, 1_000_001)]).await.unwrap();
    let large = submit(&fx, &p.requester, &large.id).await.unwrap();
    assert_eq!(large.approval_steps.len(), 2);
    assert_eq!(amount(&large.approval_steps[1].threshold), 1_000_000);

    // The finance head's inbox holds the large one once its first step is
    // decided; the approver's holds it before.
    let inbox = |who: &Caller| {
        let request = who.request(pb::ListProposalsRequest { awaiting_caller: true, ..Default::default() });
        let fx = &fx;
        async move {
            proposals(fx).await.list_proposals(request).await.unwrap().into_inner().proposals
                .into_iter().map(|p| p.id).collect::<Vec<_>>()
        }
    };
    assert_eq!(inbox(&p.approver).await, std::slice::from_ref(&large.id));
    assert!(inbox(&p.hr_approver).await.is_empty(), "another department's");
    assert!(inbox(&p.requester).await.is_empty());
    approve(&fx, &p.approver, &large.id).await.unwrap();
    assert!(inbox(&p.approver).await.is_empty());
    assert_eq!(inbox(&fx.finance).await, std::slice::from_ref(&large.id));
}

#[tokio::test]
async fn the_proposal_policy_tables_hold_for_every_caller() {
    let fx = Fixture::start().await;
    let callers: Vec<Caller> = vec![
        Caller::anonymous(),
        fx.employee.clone(),
        fx.viewer.clone(),
        fx.auth.person(&[("bms", "requester")]),
        fx.auth.person(&[("bms", "approver")]),
        fx.auth.person(&[("bms", "admin")]),
        fx.finance.clone(),
        fx.auth.api_key(&[("bms", "finance_head")]),
    ];
    let channel = fx.server.channel().await;
    check_policy_matrix(channel.clone(), &map_bms::grpc::policy::PROPOSAL_SERVICE, &callers).await;
    check_policy_matrix(channel, &map_bms::grpc::policy::APPROVAL_POLICY_SERVICE, &callers).await;
}
}
