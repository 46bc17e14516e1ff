//! The tonic adapter: BudgetService, ExpenseService, ReportService,
//! ProposalService and ApprovalPolicyService behind map-kit's
//! authentication layer and their access policies ([`policy`]).

mod approval_api;
mod budget_api;
mod expense_api;
pub mod policy;
mod proposal_api;
mod report_api;

use std::sync::Arc;

use map_contracts::bms::v1::{
    approval_policy_service_server::ApprovalPolicyServiceServer,
    budget_service_server::BudgetServiceServer, expense_service_server::ExpenseServiceServer,
    proposal_service_server::ProposalServiceServer, report_service_server::ReportServiceServer,
};
use map_kit::{
    authn::{Authenticated, Validator},
    clock::Clock,
    db::Db,
    paging::Pager,
    server::GrpcServer,
};

pub use approval_api::ApprovalPolicyApi;
pub use budget_api::BudgetApi;
pub use expense_api::ExpenseApi;
pub use proposal_api::ProposalApi;
pub use report_api::{DOWNLOAD_CHUNK, ReportApi};

use crate::{
    approval_policies::ApprovalPolicies, budgets::Budgets, expenses::Expenses,
    fiscal_years::FiscalYears, proposals::Proposals, reports::Reports,
};

/// BMS's domain services, over one database, clock and pager.
#[derive(Debug, Clone)]
pub struct Domain {
    /// Fiscal years.
    pub fiscal_years: FiscalYears,
    /// Budgets, their lines and transfers.
    pub budgets: Budgets,
    /// Expenses.
    pub expenses: Expenses,
    /// Budget reports.
    pub reports: Reports,
    /// Proposals.
    pub proposals: Proposals,
    /// Approval policies.
    pub approval_policies: ApprovalPolicies,
}

impl Domain {
    /// Every service over `db`, telling time by `clock`, paging with `pager`.
    pub fn new(db: &Db, clock: &Clock, pager: &Pager) -> Domain {
        Domain {
            fiscal_years: FiscalYears::new(db.clone(), clock.clone(), pager.clone()),
            budgets: Budgets::new(db.clone(), clock.clone(), pager.clone()),
            expenses: Expenses::new(db.clone(), clock.clone(), pager.clone()),
            reports: Reports::new(db.clone(), clock.clone()),
            proposals: Proposals::new(db.clone(), clock.clone(), pager.clone()),
            approval_policies: ApprovalPolicies::new(db.clone(), clock.clone()),
        }
    }
}

/// BMS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
pub fn grpc_server(domain: Domain, validator: Arc<dyn Validator>) -> GrpcServer {
    GrpcServer::new("bms")
        .add_service(Authenticated::new(
            BudgetServiceServer::new(BudgetApi::new(domain.fiscal_years, domain.budgets)),
            &policy::BUDGET_SERVICE,
            validator.clone(),
        ))
        .add_service(Authenticated::new(
            ExpenseServiceServer::new(ExpenseApi::new(domain.expenses)),
            &policy::EXPENSE_SERVICE,
            validator.clone(),
        ))
        .add_service(Authenticated::new(
            ReportServiceServer::new(ReportApi::new(domain.reports)),
            &policy::REPORT_SERVICE,
            validator.clone(),
        ))
        .add_service(Authenticated::new(
            ProposalServiceServer::new(ProposalApi::new(domain.proposals)),
            &policy::PROPOSAL_SERVICE,
            validator.clone(),
        ))
        .add_service(Authenticated::new(
            ApprovalPolicyServiceServer::new(ApprovalPolicyApi::new(domain.approval_policies)),
            &policy::APPROVAL_POLICY_SERVICE,
            validator,
        ))
}
