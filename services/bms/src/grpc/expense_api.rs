//! `map.bms.v1.ExpenseService` over the domain. Who may call what is
//! `policy::EXPENSE_SERVICE`; every command takes its request_id here.

use map_contracts::bms::v1::{self as pb, expense_service_server::ExpenseService};
use map_kit::authn;
use tonic::{Request, Response, Status};

use super::budget_api::key;
use crate::expenses::Expenses;

/// The handlers of ExpenseService.
#[derive(Debug, Clone)]
pub struct ExpenseApi {
    expenses: Expenses,
}

impl ExpenseApi {
    /// Handlers over `expenses`.
    pub fn new(expenses: Expenses) -> Self {
        ExpenseApi { expenses }
    }
}

/// A command: the caller, its key, the domain call.
macro_rules! command {
    ($self:ident, $request:ident, $method:literal, $call:ident) => {{
        let actor = authn::principal(&$request)?;
        let r = $request.into_inner();
        let key = key(
            concat!("map.bms.v1.ExpenseService/", $method),
            &r.request_id,
            &r,
        )?;
        Ok(Response::new($self.expenses.$call(&actor, &key, &r).await?))
    }};
}

#[tonic::async_trait]
impl ExpenseService for ExpenseApi {
    async fn record_expense(
        &self,
        request: Request<pb::RecordExpenseRequest>,
    ) -> Result<Response<pb::RecordExpenseResponse>, Status> {
        command!(self, request, "RecordExpense", record)
    }

    async fn list_expenses(
        &self,
        request: Request<pb::ListExpensesRequest>,
    ) -> Result<Response<pb::ListExpensesResponse>, Status> {
        Ok(Response::new(self.expenses.list(request.get_ref()).await?))
    }

    async fn void_expense(
        &self,
        request: Request<pb::VoidExpenseRequest>,
    ) -> Result<Response<pb::VoidExpenseResponse>, Status> {
        command!(self, request, "VoidExpense", void)
    }

    async fn assign_expense(
        &self,
        request: Request<pb::AssignExpenseRequest>,
    ) -> Result<Response<pb::AssignExpenseResponse>, Status> {
        command!(self, request, "AssignExpense", assign)
    }
}
