//! Who may call each RPC of BMS that is served: one table per service,
//! enforced by map-kit's authentication layer in front of the handlers.
//! Deny by default: an RPC missing here is refused. Finance heads own
//! fiscal years, budgets, transfers and expenses; every BMS role reads;
//! viewers, approvers and finance heads read the budget reports.

use map_kit::{
    System,
    authz::{Access, Policy},
};

/// Who reads budgets and expenses.
const READ: Access = Access::AnyRole(&[
    (System::Bms, "viewer"),
    (System::Bms, "requester"),
    (System::Bms, "approver"),
    (System::Bms, "finance_head"),
]);
/// Who reads budget reports.
const REPORTS: Access = Access::AnyRole(&[
    (System::Bms, "viewer"),
    (System::Bms, "approver"),
    (System::Bms, "finance_head"),
]);
/// Who changes them.
const FINANCE_HEAD: Access = Access::AnyRole(&[(System::Bms, "finance_head")]);

/// `map.bms.v1.BudgetService`.
pub static BUDGET_SERVICE: Policy = Policy {
    service: "map.bms.v1.BudgetService",
    methods: &[
        ("CreateFiscalYear", FINANCE_HEAD),
        ("GetFiscalYear", READ),
        ("ListFiscalYears", READ),
        ("CreateBudget", FINANCE_HEAD),
        ("GetBudget", READ),
        ("ListBudgets", READ),
        ("UpdateBudget", FINANCE_HEAD),
        ("AddBudgetLine", FINANCE_HEAD),
        ("TransferBudget", FINANCE_HEAD),
        ("ListBudgetTransfers", READ),
    ],
};

/// `map.bms.v1.ExpenseService`.
pub static EXPENSE_SERVICE: Policy = Policy {
    service: "map.bms.v1.ExpenseService",
    methods: &[
        ("RecordExpense", FINANCE_HEAD),
        ("ListExpenses", READ),
        ("VoidExpense", FINANCE_HEAD),
        ("AssignExpense", FINANCE_HEAD),
    ],
};

/// `map.bms.v1.ReportService`.
pub static REPORT_SERVICE: Policy = Policy {
    service: "map.bms.v1.ReportService",
    methods: &[
        ("GetBudgetReport", REPORTS),
        ("ExportBudgetReport", REPORTS),
        ("DownloadBudgetReport", REPORTS),
    ],
};
