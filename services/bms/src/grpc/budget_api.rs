//! `map.bms.v1.BudgetService` over the domain. Who may call what is
//! `policy::BUDGET_SERVICE`; every command takes its request_id here.

use map_contracts::bms::v1::{self as pb, budget_service_server::BudgetService};
use map_kit::{System, authn, idempotency::Idempotent, wire::field_mask::update_paths};
use tonic::{Request, Response, Status};

use crate::{
    budgets::Budgets,
    fiscal_years::{self, FiscalYears},
};

/// The update_mask paths of UpdateBudget.
const UPDATE_PATHS: [&str; 2] = ["description", "lines"];

/// The handlers of BudgetService.
#[derive(Debug, Clone)]
pub struct BudgetApi {
    fiscal_years: FiscalYears,
    budgets: Budgets,
}

impl BudgetApi {
    /// Handlers over the domain.
    pub fn new(fiscal_years: FiscalYears, budgets: Budgets) -> Self {
        BudgetApi {
            fiscal_years,
            budgets,
        }
    }
}

/// The request's idempotency key for `method` (its full path).
pub(super) fn key<T: prost::Message>(
    method: &'static str,
    request_id: &str,
    r: &T,
) -> Result<Idempotent, Status> {
    Ok(Idempotent::new(
        System::Bms,
        "request_id",
        request_id,
        method,
        r,
    )?)
}

#[tonic::async_trait]
impl BudgetService for BudgetApi {
    async fn create_fiscal_year(
        &self,
        request: Request<pb::CreateFiscalYearRequest>,
    ) -> Result<Response<pb::CreateFiscalYearResponse>, Status> {
        let r = request.into_inner();
        let key = key(
            "map.bms.v1.BudgetService/CreateFiscalYear",
            &r.request_id,
            &r,
        )?;
        Ok(Response::new(self.fiscal_years.create(&key, &r).await?))
    }

    async fn get_fiscal_year(
        &self,
        request: Request<pb::GetFiscalYearRequest>,
    ) -> Result<Response<pb::GetFiscalYearResponse>, Status> {
        let r = request.into_inner();
        let year = self.fiscal_years.get(r.lookup.as_ref()).await?;
        Ok(Response::new(pb::GetFiscalYearResponse {
            fiscal_year: Some(fiscal_years::to_proto(&year)),
        }))
    }

    async fn list_fiscal_years(
        &self,
        request: Request<pb::ListFiscalYearsRequest>,
    ) -> Result<Response<pb::ListFiscalYearsResponse>, Status> {
        let (rows, next_page_token) = self.fiscal_years.list(request.get_ref()).await?;
        Ok(Response::new(pb::ListFiscalYearsResponse {
            fiscal_years: rows.iter().map(fiscal_years::to_proto).collect(),
            next_page_token,
        }))
    }

    async fn create_budget(
        &self,
        request: Request<pb::CreateBudgetRequest>,
    ) -> Result<Response<pb::CreateBudgetResponse>, Status> {
        let r = request.into_inner();
        let key = key("map.bms.v1.BudgetService/CreateBudget", &r.request_id, &r)?;
        Ok(Response::new(self.budgets.create(&key, &r).await?))
    }

    async fn get_budget(
        &self,
        request: Request<pb::GetBudgetRequest>,
    ) -> Result<Response<pb::GetBudgetResponse>, Status> {
        let budget = self.budgets.get(&request.get_ref().budget_id).await?;
        Ok(Response::new(pb::GetBudgetResponse {
            budget: Some(budget),
        }))
    }

    async fn list_budgets(
        &self,
        request: Request<pb::ListBudgetsRequest>,
    ) -> Result<Response<pb::ListBudgetsResponse>, Status> {
        Ok(Response::new(self.budgets.list(request.get_ref()).await?))
    }

    async fn update_budget(
        &self,
        request: Request<pb::UpdateBudgetRequest>,
    ) -> Result<Response<pb::UpdateBudgetResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &UPDATE_PATHS)?;
        let sent = r.budget.unwrap_or_default();
        let budget = self.budgets.update(&sent, &paths).await?;
        Ok(Response::new(pb::UpdateBudgetResponse {
            budget: Some(budget),
        }))
    }

    async fn add_budget_line(
        &self,
        request: Request<pb::AddBudgetLineRequest>,
    ) -> Result<Response<pb::AddBudgetLineResponse>, Status> {
        let r = request.into_inner();
        let key = key("map.bms.v1.BudgetService/AddBudgetLine", &r.request_id, &r)?;
        Ok(Response::new(self.budgets.add_line(&key, &r).await?))
    }

    async fn transfer_budget(
        &self,
        request: Request<pb::TransferBudgetRequest>,
    ) -> Result<Response<pb::TransferBudgetResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let key = key("map.bms.v1.BudgetService/TransferBudget", &r.request_id, &r)?;
        Ok(Response::new(
            self.budgets.transfer(&actor, &key, &r).await?,
        ))
    }

    async fn list_budget_transfers(
        &self,
        request: Request<pb::ListBudgetTransfersRequest>,
    ) -> Result<Response<pb::ListBudgetTransfersResponse>, Status> {
        Ok(Response::new(
            self.budgets.list_transfers(request.get_ref()).await?,
        ))
    }
}
