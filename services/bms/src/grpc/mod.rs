//! The tonic adapter: BudgetService, ExpenseService and ReportService
//! behind map-kit's authentication layer and their access policies
//! ([`policy`]). ProposalService and ApprovalPolicyService are listed as
//! scaffolds (UNIMPLEMENTED naming BMS) until they land.

mod budget_api;
mod expense_api;
pub mod policy;
mod report_api;

use std::sync::Arc;

use map_contracts::bms::v1::{
    budget_service_server::BudgetServiceServer, expense_service_server::ExpenseServiceServer,
    report_service_server::ReportServiceServer,
};
use map_kit::{
    System,
    authn::{Authenticated, Validator},
    server::GrpcServer,
};

pub use budget_api::BudgetApi;
pub use expense_api::ExpenseApi;
pub use report_api::{DOWNLOAD_CHUNK, ReportApi};

use crate::{budgets::Budgets, expenses::Expenses, fiscal_years::FiscalYears, reports::Reports};

/// BMS's gRPC server, its callers validated by `validator` (Auth's
/// ValidateToken, cached). The binary adds TLS, readiness and the drain.
pub fn grpc_server(
    fiscal_years: FiscalYears,
    budgets: Budgets,
    expenses: Expenses,
    reports: Reports,
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
            validator.clone(),
        ))
        .add_service(Authenticated::new(
            ReportServiceServer::new(ReportApi::new(reports)),
            &policy::REPORT_SERVICE,
            validator,
        ))
        .scaffold(System::Bms)
}
