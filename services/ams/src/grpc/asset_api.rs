//! `map.ams.v1.AssetService` over the domain. Who may call what is
//! `policy::ASSET_SERVICE`; every command takes its request_id here.

use map_contracts::ams::v1::{self as pb, asset_service_server::AssetService};
use map_kit::{System, authn, idempotency::Idempotent, wire::field_mask::update_paths};
use tonic::{Request, Response, Status};

use crate::{
    assets::{Assets, changes::UPDATE_PATHS, to_proto, transaction_to_proto},
    budget_bookings,
};

/// The handlers of AssetService.
#[derive(Debug, Clone)]
pub struct AssetApi {
    assets: Assets,
}

impl AssetApi {
    /// Handlers over `assets`.
    pub fn new(assets: Assets) -> Self {
        AssetApi { assets }
    }
}

/// The request's idempotency key for `method` (its full path).
fn key<T: prost::Message>(
    method: &'static str,
    request_id: &str,
    r: &T,
) -> Result<Idempotent, Status> {
    Ok(Idempotent::new(
        System::Ams,
        "request_id",
        request_id,
        method,
        r,
    )?)
}

/// A command: the caller, its key, the domain call.
macro_rules! command {
    ($self:ident, $request:ident, $method:literal, $call:ident) => {{
        let actor = authn::principal(&$request)?;
        let r = $request.into_inner();
        let key = key(
            concat!("map.ams.v1.AssetService/", $method),
            &r.request_id,
            &r,
        )?;
        Ok(Response::new($self.assets.$call(&actor, &key, &r).await?))
    }};
}

#[tonic::async_trait]
impl AssetService for AssetApi {
    async fn create_asset(
        &self,
        request: Request<pb::CreateAssetRequest>,
    ) -> Result<Response<pb::CreateAssetResponse>, Status> {
        command!(self, request, "CreateAsset", create)
    }

    async fn get_asset(
        &self,
        request: Request<pb::GetAssetRequest>,
    ) -> Result<Response<pb::GetAssetResponse>, Status> {
        let (id, number) = match request.into_inner().lookup {
            Some(pb::get_asset_request::Lookup::Id(id)) => (id, String::new()),
            Some(pb::get_asset_request::Lookup::Number(n)) => (String::new(), n),
            None => (String::new(), String::new()),
        };
        let asset = self.assets.get(&id, &number).await?;
        let budget_bookings = budget_bookings::of_asset(self.assets.db().conn(), &asset.id)
            .await
            .map_err(crate::AmsError::from)?;
        Ok(Response::new(pb::GetAssetResponse {
            asset: Some(to_proto(&asset)),
            budget_bookings,
        }))
    }

    async fn list_my_assets(
        &self,
        request: Request<pb::ListMyAssetsRequest>,
    ) -> Result<Response<pb::ListMyAssetsResponse>, Status> {
        let actor = authn::principal(&request)?;
        let r = request.into_inner();
        let (rows, next_page_token) = self
            .assets
            .list_mine(&actor.id, r.page_size, &r.page_token)
            .await?;
        Ok(Response::new(pb::ListMyAssetsResponse {
            assets: rows.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn list_assets(
        &self,
        request: Request<pb::ListAssetsRequest>,
    ) -> Result<Response<pb::ListAssetsResponse>, Status> {
        let (rows, next_page_token) = self.assets.list(request.get_ref()).await?;
        Ok(Response::new(pb::ListAssetsResponse {
            assets: rows.iter().map(to_proto).collect(),
            next_page_token,
        }))
    }

    async fn update_asset(
        &self,
        request: Request<pb::UpdateAssetRequest>,
    ) -> Result<Response<pb::UpdateAssetResponse>, Status> {
        let r = request.into_inner();
        let paths = update_paths(r.update_mask.as_ref(), &UPDATE_PATHS)?;
        let asset = self
            .assets
            .update(&r.asset.unwrap_or_default(), &paths)
            .await?;
        Ok(Response::new(pb::UpdateAssetResponse {
            asset: Some(to_proto(&asset)),
        }))
    }

    async fn check_out_asset(
        &self,
        request: Request<pb::CheckOutAssetRequest>,
    ) -> Result<Response<pb::CheckOutAssetResponse>, Status> {
        command!(self, request, "CheckOutAsset", check_out)
    }

    async fn check_in_asset(
        &self,
        request: Request<pb::CheckInAssetRequest>,
    ) -> Result<Response<pb::CheckInAssetResponse>, Status> {
        command!(self, request, "CheckInAsset", check_in)
    }

    async fn transfer_asset(
        &self,
        request: Request<pb::TransferAssetRequest>,
    ) -> Result<Response<pb::TransferAssetResponse>, Status> {
        command!(self, request, "TransferAsset", transfer)
    }

    async fn send_to_repair(
        &self,
        request: Request<pb::SendToRepairRequest>,
    ) -> Result<Response<pb::SendToRepairResponse>, Status> {
        command!(self, request, "SendToRepair", send_to_repair)
    }

    async fn dispose_asset(
        &self,
        request: Request<pb::DisposeAssetRequest>,
    ) -> Result<Response<pb::DisposeAssetResponse>, Status> {
        command!(self, request, "DisposeAsset", dispose)
    }

    async fn retire_asset(
        &self,
        request: Request<pb::RetireAssetRequest>,
    ) -> Result<Response<pb::RetireAssetResponse>, Status> {
        command!(self, request, "RetireAsset", retire)
    }

    async fn report_asset_lost(
        &self,
        request: Request<pb::ReportAssetLostRequest>,
    ) -> Result<Response<pb::ReportAssetLostResponse>, Status> {
        command!(self, request, "ReportAssetLost", report_lost)
    }

    async fn correct_asset_cost(
        &self,
        request: Request<pb::CorrectAssetCostRequest>,
    ) -> Result<Response<pb::CorrectAssetCostResponse>, Status> {
        command!(self, request, "CorrectAssetCost", correct_cost)
    }

    async fn add_maintenance_record(
        &self,
        request: Request<pb::AddMaintenanceRecordRequest>,
    ) -> Result<Response<pb::AddMaintenanceRecordResponse>, Status> {
        command!(self, request, "AddMaintenanceRecord", add_maintenance)
    }

    async fn list_maintenance_records(
        &self,
        request: Request<pb::ListMaintenanceRecordsRequest>,
    ) -> Result<Response<pb::ListMaintenanceRecordsResponse>, Status> {
        let (records, next_page_token) = self.assets.maintenance(request.get_ref()).await?;
        Ok(Response::new(pb::ListMaintenanceRecordsResponse {
            records,
            next_page_token,
        }))
    }

    async fn list_asset_transactions(
        &self,
        request: Request<pb::ListAssetTransactionsRequest>,
    ) -> Result<Response<pb::ListAssetTransactionsResponse>, Status> {
        let (rows, next_page_token) = self.assets.transactions(request.get_ref()).await?;
        Ok(Response::new(pb::ListAssetTransactionsResponse {
            transactions: rows.iter().map(transaction_to_proto).collect(),
            next_page_token,
        }))
    }

    async fn get_depreciation_schedule(
        &self,
        request: Request<pb::GetDepreciationScheduleRequest>,
    ) -> Result<Response<pb::GetDepreciationScheduleResponse>, Status> {
        Ok(Response::new(
            self.assets.schedule(request.get_ref()).await?,
        ))
    }

    async fn import_assets(
        &self,
        request: Request<pb::ImportAssetsRequest>,
    ) -> Result<Response<pb::ImportAssetsResponse>, Status> {
        command!(self, request, "ImportAssets", import)
    }
}
