//! Who may call each RPC of BMS that is served: one table per service,
//! enforced by map-kit's authentication layer in front of the handlers.
//! Deny by default: an RPC missing here is refused. Finance heads own
//! fiscal years, budgets, transfers and expenses; every BMS role reads;
//! viewers, approvers and finance heads read the budget reports;
//! requesters propose, approvers and finance heads decide (the domain then
//! checks the requester, the department and the chain); admins set the
//! approval policies.

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
/// Who reads approval policies.
const READ_POLICIES: Access = Access::AnyRole(&[
    (System::Bms, "viewer"),
    (System::Bms, "requester"),
    (System::Bms, "approver"),
    (System::Bms, "finance_head"),
    (System::Bms, "admin"),
]);
/// Who proposes (a finance head proposes for any department).
const PROPOSER: Access =
    Access::AnyRole(&[(System::Bms, "requester"), (System::Bms, "finance_head")]);
/// Who decides a step.
const DECIDER: Access =
    Access::AnyRole(&[(System::Bms, "approver"), (System::Bms, "finance_head")]);
/// Who comments: the requester, an approver, a finance head.
const COMMENTER: Access = Access::AnyRole(&[
    (System::Bms, "requester"),
    (System::Bms, "approver"),
    (System::Bms, "finance_head"),
]);
/// Who sets approval policies.
const ADMIN: Access = Access::AnyRole(&[(System::Bms, "admin")]);
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

/// `map.bms.v1.ProposalService`.
pub static PROPOSAL_SERVICE: Policy = Policy {
    service: "map.bms.v1.ProposalService",
    methods: &[
        ("CreateProposal", PROPOSER),
        ("UpdateProposal", PROPOSER),
        ("SubmitProposal", PROPOSER),
        ("ApproveProposal", DECIDER),
        ("RejectProposal", DECIDER),
        ("ReturnProposal", DECIDER),
        ("WithdrawProposal", PROPOSER),
        ("CloseProposal", PROPOSER),
        ("GetProposal", READ),
        ("ListProposals", READ),
        ("AddProposalComment", COMMENTER),
        ("ListProposalComments", READ),
        ("ListProposalEvents", READ),
    ],
};

/// `map.bms.v1.ApprovalPolicyService`.
pub static APPROVAL_POLICY_SERVICE: Policy = Policy {
    service: "map.bms.v1.ApprovalPolicyService",
    methods: &[
        ("GetApprovalPolicy", READ_POLICIES),
        ("UpdateApprovalPolicy", ADMIN),
    ],
};
