//! GetDepreciationSchedule: the asset's schedule from its cost, purchase
//! date and category, by month or by calendar year (see
//! [`crate::depreciation`]).

use map_contracts::{ams::v1 as pb, common::v1::Money};
use map_kit::{Violations, wire::date::date};

use super::{Assets, find, ledger::basis};
use crate::{
    AmsError, categories,
    depreciation::{self, BasisError, Period},
};

impl Assets {
    /// GetDepreciationSchedule.
    pub async fn schedule(
        &self,
        r: &pb::GetDepreciationScheduleRequest,
    ) -> Result<pb::GetDepreciationScheduleResponse, AmsError> {
        let mut v = Violations::default();
        v.uuid("asset_id", &r.asset_id);
        let period = pb::DepreciationPeriod::try_from(r.period).ok();
        if period.is_none() {
            v.add("period", "is not a period");
        }
        v.finish()?;
        let asset = find(self.db.conn(), &r.asset_id).await?;
        let category = categories::by_code(self.db.conn(), &asset.category_code).await?;
        let basis = basis(&asset, &category);
        let months = depreciation::monthly(&basis).map_err(basis_error)?;
        let periods = match period {
            Some(pb::DepreciationPeriod::Year) => depreciation::yearly(&months),
            _ => months,
        };
        let today = self.clock.now().date_naive();
        let money = |amount_minor| Money {
            amount_minor,
            currency_code: asset.currency.clone(),
        };
        let row = |p: &Period| pb::DepreciationPeriodRow {
            start_date: Some(date(p.start)),
            end_date: Some(date(p.end)),
            opening_value: Some(money(p.opening)),
            depreciation: Some(money(p.depreciation)),
            closing_value: Some(money(p.closing)),
            accumulated_depreciation: Some(money(p.accumulated)),
        };
        Ok(pb::GetDepreciationScheduleResponse {
            asset_id: asset.id.clone(),
            method: categories::to_proto(&category).depreciation_method,
            useful_life_months: category.useful_life_months,
            purchase_cost: Some(money(asset.cost_minor)),
            salvage_value: Some(money(depreciation::salvage_value(
                asset.cost_minor,
                category.salvage_percent,
            ))),
            current_book_value: Some(money(
                depreciation::book_value_at(&basis, today).map_err(basis_error)?,
            )),
            periods: periods.iter().map(row).collect(),
        })
    }
}

/// A stored asset whose basis the schedule refuses (a category edited
/// outside the API): FAILED_PRECONDITION, as the data, not the request, is
/// wrong.
fn basis_error(e: BasisError) -> AmsError {
    AmsError::precondition("INVALID_DEPRECIATION_BASIS", e.to_string())
}
