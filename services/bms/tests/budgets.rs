//! BMS's fiscal years, budgets, transfers and expenses through its gRPC
//! API on port 0, on both databases:
//!
//! - a fiscal year, then a department's budget with category lines and
//!   its unallocated line; overlapping years, a second budget for the
//!   department and bad input are refused with the field named, nothing
//!   written;
//! - an expense on a STOP line that would overspend it is refused
//!   (BUDGET_EXCEEDED), nothing written; on a WARN line it is recorded and
//!   flagged OVERSPENT; each records `bms.expense.recorded` with the whole
//!   expense and its version;
//! - 100 racing expenses on one STOP line never together overspend it, and
//!   the line's spent amount equals the sum of its recorded expenses;
//! - `bms.budget.threshold_crossed` once per crossing: a void falls back
//!   below and the next crossing announces again;
//! - transfers move allocation and never leave their source overspent;
//! - the policy table, RPC by RPC, for every kind of caller.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{bms::v1 as pb, events::v1 as ev};
use map_kit::testing::{Caller, check_policy_matrix, expect_err};
use sea_orm::{EntityTrait as _, PaginatorTrait as _};
use support::{Fixture, amount, date, fields, flags_of, line, line_of, reason, usd};
use tonic::Code;
use tonic_types::StatusExt as _;

use pb::BudgetControlMode::{Ignore, Stop, Warn};

async fn expense_count(fx: &Fixture) -> u64 {
    map_bms::entity::expenses::Entity::find()
        .count(fx.db.db.conn())
        .await
        .unwrap()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_budget_has_its_lines_and_its_unallocated_line() {
    let fx = Fixture::start().await;
    let budget = fx
        .budget(
            "it",
            vec![
                line("LAPTOP", 1_000_000, Stop),
                line("MONITOR", 200_000, Warn),
            ],
        )
        .await
        .unwrap();
    assert_eq!(budget.department_code, "IT");
    assert_eq!(budget.fiscal_year_name, "FY2026");
    assert_eq!(budget.version, 1);
    let codes: Vec<_> = budget.lines.iter().map(|l| (l.category_code.as_str(), l.unallocated)).collect();
    assert_eq!(codes, [("LAPTOP", false), ("MONITOR", false), ("", true)]);
    let reserve = line_of(&budget, "");
    assert_eq!(reserve.id, budget.unallocated_line_id);
    assert_eq!(reserve.account_code, "UNALLOCATED");
    assert_eq!(reserve.control_mode(), Warn);
    assert_eq!(reserve.warning_threshold_percent, 90);
    assert_eq!(amount(&budget.total_allocated), 1_200_000);
    assert_eq!(amount(&budget.total_remaining), 1_200_000);
    assert_eq!(fx.get_budget(&budget.id).await, budget);

    // One budget per department and fiscal year.
    let e = expect_err(fx.budget("IT", vec![]).await, Code::AlreadyExists);
    assert_eq!(reason(&e), "DUPLICATE_BUDGET");
    // Fiscal years never overlap.
    let e = expect_err(
        fx.fiscal_year("FY2026b", date(2026, 12, 1), date(2027, 11, 30)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&e), "FISCAL_YEAR_OVERLAP");
    let next = fx.fiscal_year("FY2027", date(2027, 1, 1), date(2027, 12, 31)).await.unwrap();
    let listed = fx
        .budgets()
        .await
        .list_fiscal_years(fx.viewer.request(pb::ListFiscalYearsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<_> = listed.fiscal_years.iter().map(|y| y.name.as_str()).collect();
    assert_eq!(names, ["FY2027", "FY2026"]);
    assert_eq!(next.name, "FY2027");
}

#[tokio::test]
async fn bad_budgets_name_their_fields_and_write_nothing() {
    let fx = Fixture::start().await;
    let mut bad_currency = line("LAPTOP", 100, Stop);
    bad_currency.allocated = Some(map_contracts::common::v1::Money {
        amount_minor: 100,
        currency_code: "EUR".into(),
    });
    let negative = line("MONITOR", -5, Stop);
    let mut unspecified = line("DESK", 5, Stop);
    unspecified.control_mode = 0;
    let e = expect_err(
        fx.budget(
            "IT",
            vec![
                bad_currency,
                negative,
                unspecified,
                line("bad code", 1, Warn),
                line("DESK", 1, Warn),
                line("DESK", 2, Warn),
            ],
        )
        .await,
        Code::InvalidArgument,
    );
    let f = fields(&e);
    for field in [
        "lines[0].allocated.currency_code",
        "lines[1].allocated.amount_minor",
        "lines[2].control_mode",
        "lines[3].category_code",
        "lines[5].category_code",
    ] {
        assert!(f.contains(&field.to_owned()), "{field} missing from {f:?}");
    }
    // An unknown department, and a fiscal year that does not exist.
    expect_err(fx.budget("NOPE", vec![]).await, Code::NotFound);
    let listed = fx
        .budgets()
        .await
        .list_budgets(fx.viewer.request(pb::ListBudgetsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.budgets.is_empty(), "nothing was written");
    let e = expect_err(
        fx.fiscal_year("", date(2028, 1, 1), date(2027, 1, 1)).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&e), ["name", "end_date"]);
}

#[tokio::test]
async fn a_stop_line_refuses_an_overspend_and_a_warn_line_flags_it() {
    let fx = Fixture::start().await;
    let budget = fx
        .budget("IT", vec![line("LAPTOP", 100_000, Stop), line("MONITOR", 50_000, Warn), line("DESK", 10_000, Ignore)])
        .await
        .unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let first = fx.spend(&laptop, 60_000).await.unwrap();
    assert_eq!(amount(&first.budget_line.as_ref().unwrap().remaining), 40_000);
    let e = expect_err(fx.spend(&laptop, 40_001).await, Code::FailedPrecondition);
    assert_eq!(reason(&e), "BUDGET_EXCEEDED");
    let info = e.get_details_error_info().unwrap();
    assert_eq!(info.metadata.get("remaining_minor").map(String::as_str), Some("40000"));
    assert_eq!(expense_count(&fx).await, 1, "the refused expense was not written");
    let exact = fx.spend(&laptop, 40_000).await.unwrap();
    assert_eq!(amount(&exact.budget_line.as_ref().unwrap().remaining), 0);

    let monitor = line_of(&budget, "MONITOR").id.clone();
    let over = fx.spend(&monitor, 50_001).await.unwrap();
    let expense = over.expense.unwrap();
    assert_eq!(flags_of(&expense), [pb::ExpenseFlag::Overspent]);
    assert!(over.budget_line.as_ref().unwrap().overspent);
    assert_eq!(amount(&over.budget_line.unwrap().remaining), -1);
    let desk = line_of(&budget, "DESK").id.clone();
    let ignored = fx.spend(&desk, 20_000).await.unwrap().expense.unwrap();
    assert!(ignored.flags.is_empty(), "IGNORE records without a flag");

    // Each expense was published whole, version 1, naming its line.
    let recorded = fx.events("bms.expense.recorded").await;
    assert_eq!(recorded.len(), 4);
    let (_, subject, version, any) = &recorded[2];
    let snapshot = any.to_msg::<ev::BmsExpenseRecorded>().unwrap().expense.unwrap();
    assert_eq!((subject, *version), (&expense.id, 1));
    assert_eq!(snapshot.budget_line_id, monitor);
    assert_eq!(snapshot.category_code, "MONITOR");
    assert_eq!(snapshot.department_code, "IT");
    assert_eq!(snapshot.fiscal_year_name, "FY2026");
    assert_eq!(snapshot.amount.unwrap().amount_minor, 50_001);
    assert_eq!(snapshot.flags, [ev::ExpenseFlag::Overspent as i32]);
    // The recorder as they signed in.
    let finance = fx.finance.principal.as_ref().unwrap();
    let recorded_by = snapshot.recorded_by.unwrap();
    assert_eq!(
        (recorded_by.user_id.as_str(), recorded_by.display_name.as_str()),
        (finance.id.as_str(), finance.display_name.as_str())
    );

    // The budget's version counted every change of its lines.
    let after = fx.get_budget(&budget.id).await;
    assert_eq!(after.version, 5);
    assert_eq!(amount(&after.total_spent), 170_001);
}

#[tokio::test]
async fn bad_expenses_are_refused_and_write_nothing() {
    let fx = Fixture::start().await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 100_000, Stop)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let mut client = fx.expenses().await;
    let e = expect_err(
        client
            .record_expense(fx.finance.request(pb::RecordExpenseRequest {
                budget_line_id: laptop.clone(),
                amount: Some(usd(-1)),
                description: String::new(),
                source: "ams.asset.purchased".into(),
                request_id: uuid::Uuid::now_v7().to_string(),
                expense_date: Some(date(2099, 1, 1)),
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(
        fields(&e),
        ["description", "source", "amount.amount_minor", "expense_date"]
    );
    let e = expect_err(
        client
            .record_expense(fx.finance.request(pb::RecordExpenseRequest {
                budget_line_id: laptop.clone(),
                amount: Some(map_contracts::common::v1::Money {
                    amount_minor: 5,
                    currency_code: "EUR".into(),
                }),
                description: "x".into(),
                request_id: uuid::Uuid::now_v7().to_string(),
                expense_date: Some(date(2026, 3, 1)),
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&e), ["amount.currency_code"]);
    let e = expect_err(
        client
            .record_expense(fx.finance.request(pb::RecordExpenseRequest {
                budget_line_id: laptop.clone(),
                amount: Some(usd(5)),
                description: "x".into(),
                request_id: uuid::Uuid::now_v7().to_string(),
                expense_date: Some(date(2025, 3, 1)),
                ..Default::default()
            }))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&e), ["expense_date"]);
    assert_eq!(expense_count(&fx).await, 0);
    assert_eq!(fx.get_budget(&budget.id).await.version, 1, "no change reached the budget");
}

#[tokio::test]
async fn racing_expenses_never_together_overspend_a_stop_line() {
    let fx = Fixture::start().await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 1_000, Stop)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let channel = fx.server.channel().await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let channel = channel.clone();
        let finance = fx.finance.clone();
        let laptop = laptop.clone();
        tasks.push(tokio::spawn(async move {
            let mut client = pb::expense_service_client::ExpenseServiceClient::new(channel);
            client
                .record_expense(finance.request(pb::RecordExpenseRequest {
                    budget_line_id: laptop,
                    amount: Some(usd(30)),
                    description: "cable".into(),
                    request_id: uuid::Uuid::now_v7().to_string(),
                    expense_date: Some(date(2026, 6, 15)),
                    ..Default::default()
                }))
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => {
                assert_eq!(e.code(), Code::FailedPrecondition, "{e:?}");
                assert_eq!(reason(&e), "BUDGET_EXCEEDED");
            }
        }
    }
    // 1,000 fits 33 expenses of 30: exactly 33 win.
    assert_eq!(won, 33);
    let after = fx.get_budget(&budget.id).await;
    let laptop_line = line_of(&after, "LAPTOP");
    assert_eq!(amount(&laptop_line.spent), 990);
    let listed = fx
        .expenses()
        .await
        .list_expenses(fx.viewer.request(pb::ListExpensesRequest {
            budget_line_id: laptop.clone(),
            page_size: 500,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    let ledger: i64 = listed.expenses.iter().map(|e| amount(&e.amount)).sum();
    assert_eq!(ledger, 990, "the line's spent amount is its ledger's sum");
}

#[tokio::test]
async fn a_crossing_is_announced_once_and_again_after_falling_back() {
    let fx = Fixture::start().await;
    let budget = fx.budget("IT", vec![line("LAPTOP", 10_000, Warn)]).await.unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let under = fx.spend(&laptop, 8_000).await.unwrap();
    assert!(!under.threshold_crossed);
    let crossing = fx.spend(&laptop, 1_000).await.unwrap();
    assert!(crossing.threshold_crossed, "90% reached");
    let still = fx.spend(&laptop, 500).await.unwrap();
    assert!(!still.threshold_crossed, "already over: not again");
    let crossings = fx.crossings().await;
    assert_eq!(crossings.len(), 1);
    assert_eq!(crossings[0].kind(), ev::ThresholdKind::Warning);
    assert_eq!(crossings[0].utilization_basis_points, 9000);
    assert_eq!(crossings[0].cause(), ev::ThresholdCause::Expense);
    assert_eq!(crossings[0].cause_id, crossing.expense.as_ref().unwrap().id);

    // Voiding the crossing expense falls back below (9,500 → 8,500); the
    // next crossing is announced again, and an overspend is its own.
    let voided = fx
        .expenses()
        .await
        .void_expense(fx.finance.request(pb::VoidExpenseRequest {
            expense_id: crossing.expense.unwrap().id,
            reason: "duplicate invoice".into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(voided.expense.as_ref().unwrap().status(), pb::ExpenseStatus::Voided);
    assert_eq!(amount(&voided.budget_line.unwrap().spent), 8_500);
    let again = fx.spend(&laptop, 2_000).await.unwrap();
    assert!(again.threshold_crossed);
    let kinds: Vec<_> = fx.crossings().await.iter().map(|c| c.kind()).collect();
    assert_eq!(
        kinds,
        [ev::ThresholdKind::Warning, ev::ThresholdKind::Warning, ev::ThresholdKind::Overspend]
    );
    // A second void of the same expense is refused.
    let voided_event = fx.events("bms.expense.voided").await;
    assert_eq!(voided_event.len(), 1);
    assert_eq!(voided_event[0].2, 2, "the void is the expense's version 2");
}

#[tokio::test]
async fn transfers_move_allocation_without_overspending_their_source() {
    let fx = Fixture::start().await;
    let budget = fx
        .budget("IT", vec![line("LAPTOP", 10_000, Stop), line("MONITOR", 0, Stop)])
        .await
        .unwrap();
    let laptop = line_of(&budget, "LAPTOP").id.clone();
    let monitor = line_of(&budget, "MONITOR").id.clone();
    fx.spend(&laptop, 4_000).await.unwrap();
    let transfer = |amount: i64| pb::TransferBudgetRequest {
        from_budget_line_id: laptop.clone(),
        to_budget_line_id: monitor.clone(),
        amount: Some(usd(amount)),
        reason: "monitors for the new hires".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    };
    let e = expect_err(
        fx.budgets().await.transfer_budget(fx.finance.request(transfer(6_001))).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&e), "INSUFFICIENT_BUDGET");
    let done = fx
        .budgets()
        .await
        .transfer_budget(fx.finance.request(transfer(6_000)))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(amount(&done.from_budget_line.as_ref().unwrap().allocated), 4_000);
    assert_eq!(amount(&done.to_budget_line.as_ref().unwrap().transferred_in), 6_000);
    assert_eq!(done.transfer.as_ref().unwrap().approved_by_user_id, support_id(&fx.finance));
    // The monitor line can now be spent, the laptop line no more.
    fx.spend(&monitor, 6_000).await.unwrap();
    expect_err(fx.spend(&laptop, 1).await, Code::FailedPrecondition);
    let listed = fx
        .budgets()
        .await
        .list_budget_transfers(fx.viewer.request(pb::ListBudgetTransfersRequest {
            budget_line_id: monitor.clone(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(listed.transfers.len(), 1);
    assert_eq!(listed.transfers[0].to_category_code, "MONITOR");
}

#[tokio::test]
async fn the_policy_table_holds_for_every_caller() {
    let fx = Fixture::start().await;
    let callers: Vec<Caller> = vec![
        Caller::anonymous(),
        fx.employee.clone(),
        fx.viewer.clone(),
        fx.auth.person(&[("bms", "requester")]),
        fx.auth.person(&[("bms", "approver")]),
        fx.finance.clone(),
        fx.auth.api_key(&[("bms", "finance_head")]),
    ];
    let channel = fx.server.channel().await;
    check_policy_matrix(channel.clone(), &map_bms::grpc::policy::BUDGET_SERVICE, &callers).await;
    check_policy_matrix(channel, &map_bms::grpc::policy::EXPENSE_SERVICE, &callers).await;
    // A viewer reads but never spends.
    let budget = fx.budget("IT", vec![line("LAPTOP", 100, Stop)]).await.unwrap();
    expect_err(
        fx.spend_as(&fx.viewer, &line_of(&budget, "LAPTOP").id, 1).await,
        Code::PermissionDenied,
    );
}
}

fn support_id(caller: &Caller) -> String {
    caller.principal.as_ref().unwrap().id.clone()
}
