//! The tonic adapter: BudgetService and ExpenseService behind map-kit's
//! authentication layer and their access policies ([`policy`]).
//! ProposalService, ApprovalPolicyService and ReportService are listed as
//! scaffolds (UNIMPLEMENTED naming BMS) until they land.

mod budget_api;
mod expense_api;
pub mod policy;

use std::sync::Arc;

use map_contracts::bms::v1::{
    budget_service_server::BudgetServiceServer, expense_service_server::ExpenseServiceServer,
};
use map_kit::{
    System,
    authn::{Authenticated, Validator},
    server::GrpcServer,
};

pub use budget_api::BudgetApi;
pub use expense_api::ExpenseApi;

use crate::{budgets::Budgets, expenses::Expenses, fiscal_years::FiscalYears};

/// BMS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
pub fn grpc_server(
    fiscal_years: FiscalYears,
    budgets: Budgets,
    expenses: Expenses,
    validator: Arc<dyn Validator>,
) -> GrpcServer {
    GrpcServer::new("bms")
        .add_service(Authenticated::new(
            BudgetServiceServer::new(BudgetApi::new(fiscal_years, budgets)),
            &policy::BUDGET_SERVICE,
            validator.clone(),
        ))
        .add_service(Authenticated::new(
            ExpenseServiceServer::new(ExpenseApi::new(expenses)),
            &policy::EXPENSE_SERVICE,
            validator,
        ))
        .scaffold(System::Bms)
}
