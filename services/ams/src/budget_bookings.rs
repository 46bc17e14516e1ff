//! What BMS booked for AMS's assets (ARCHITECTURE.md flow 5): the consumer
//! of [`QUEUE`] keeps, per BMS expense of an asset, the line that paid (or
//! that BMS holds it for review), from `bms.expense.recorded`, `.assigned`
//! and `.voided`. Each carries the whole expense and its version: a copy
//! is replaced only by a newer version, so order and redelivery do not
//! matter. Manual BMS expenses (no asset) and other event types are
//! ignored. GetAsset shows the copy.

use map_contracts::{ams::v1 as pb, common::v1::Money, events::v1 as ev};
use map_kit::{
    bus::{Event, Handler, HandlerError, mirror::Freshness},
    wire::time::from_timestamp,
};
use sea_orm::{
    ActiveValue::Set, ColumnTrait as _, ConnectionTrait, DatabaseTransaction, DbErr,
    EntityTrait as _, QueryFilter as _, QueryOrder as _, sea_query::OnConflict,
};

use crate::entity::budget_bookings;

/// The queue it consumes.
pub const QUEUE: &str = "ams.budget-bookings";

/// Keeps the copy.
#[derive(Debug, Clone, Copy, Default)]
pub struct BudgetBookings;

#[async_trait::async_trait]
impl Handler for BudgetBookings {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let expense = match event.event_type() {
            "bms.expense.recorded" => event.payload::<ev::BmsExpenseRecorded>()?.expense,
            "bms.expense.assigned" => event.payload::<ev::BmsExpenseAssigned>()?.expense,
            "bms.expense.voided" => event.payload::<ev::BmsExpenseVoided>()?.expense,
            _ => return Ok(()),
        };
        let expense = expense.ok_or_else(|| {
            HandlerError::Permanent(format!("{} without its expense", event.event_type()))
        })?;
        if expense.asset_id.is_empty() {
            return Ok(());
        }
        apply(txn, &expense).await?;
        Ok(())
    }
}

/// The stored status of an expense's status.
fn status(s: ev::ExpenseStatus) -> &'static str {
    match s {
        ev::ExpenseStatus::Recorded => "recorded",
        ev::ExpenseStatus::Unassigned => "unassigned",
        _ => "voided",
    }
}

/// Writes `e` unless the copy holds its version or a newer one; whether it
/// was written.
pub async fn apply(
    txn: &DatabaseTransaction,
    e: &ev::ExpenseSnapshot,
) -> Result<bool, HandlerError> {
    let held = budget_bookings::Entity::find_by_id(e.id.clone())
        .one(txn)
        .await?;
    if !Freshness::of(held.as_ref().map(|h| h.version), e.version).should_apply() {
        return Ok(false);
    }
    let recorded_at = match e.record_time.as_ref() {
        Some(t) => from_timestamp("record_time", t)
            .map_err(|_| HandlerError::Permanent("an expense with a bad record time".into()))?,
        None => {
            return Err(HandlerError::Permanent(
                "an expense without its record time".into(),
            ));
        }
    };
    let amount = e.amount.clone().unwrap_or_default();
    let flags: Vec<&str> = e
        .flags()
        .map(|f| {
            f.as_str_name()
                .strip_prefix("EXPENSE_FLAG_")
                .unwrap_or_default()
        })
        .collect();
    let row = budget_bookings::ActiveModel {
        expense_id: Set(e.id.clone()),
        asset_id: Set(e.asset_id.clone()),
        status: Set(status(e.status()).to_owned()),
        source: Set(e.source.clone()),
        transaction_id: Set(e.source_ref.clone()),
        amount_minor: Set(amount.amount_minor),
        currency: Set(amount.currency_code),
        budget_id: Set(e.budget_id.clone()),
        budget_line_id: Set(e.budget_line_id.clone()),
        account_code: Set(e.account_code.clone()),
        line_category_code: Set(e.category_code.clone()),
        unallocated: Set(e.unallocated),
        department_code: Set(e.department_code.clone()),
        fiscal_year_name: Set(e.fiscal_year_name.clone()),
        flags: Set(flags.join(",")),
        version: Set(e.version),
        recorded_at: Set(recorded_at),
    };
    use budget_bookings::Column as B;
    budget_bookings::Entity::insert(row)
        .on_conflict(
            OnConflict::column(B::ExpenseId)
                .update_columns([
                    B::Status,
                    B::AmountMinor,
                    B::Currency,
                    B::BudgetId,
                    B::BudgetLineId,
                    B::AccountCode,
                    B::LineCategoryCode,
                    B::Unallocated,
                    B::DepartmentCode,
                    B::FiscalYearName,
                    B::Flags,
                    B::Version,
                ])
                .to_owned(),
        )
        .exec(txn)
        .await?;
    Ok(true)
}

/// The bookings of `asset_id` on the wire, oldest first.
pub async fn of_asset<C: ConnectionTrait>(
    conn: &C,
    asset_id: &str,
) -> Result<Vec<pb::AssetBudgetBooking>, DbErr> {
    let rows = budget_bookings::Entity::find()
        .filter(budget_bookings::Column::AssetId.eq(asset_id))
        .order_by_asc(budget_bookings::Column::RecordedAt)
        .order_by_asc(budget_bookings::Column::ExpenseId)
        .all(conn)
        .await?;
    Ok(rows.iter().map(to_proto).collect())
}

/// A booking on the wire.
pub fn to_proto(b: &budget_bookings::Model) -> pb::AssetBudgetBooking {
    pb::AssetBudgetBooking {
        expense_id: b.expense_id.clone(),
        status: match b.status.as_str() {
            "recorded" => pb::BudgetBookingStatus::Recorded,
            "unassigned" => pb::BudgetBookingStatus::Unassigned,
            _ => pb::BudgetBookingStatus::Voided,
        }
        .into(),
        source: b.source.clone(),
        transaction_id: b.transaction_id.clone(),
        amount: Some(Money {
            amount_minor: b.amount_minor,
            currency_code: b.currency.clone(),
        }),
        budget_id: b.budget_id.clone(),
        budget_line_id: b.budget_line_id.clone(),
        account_code: b.account_code.clone(),
        line_category_code: b.line_category_code.clone(),
        unallocated: b.unallocated,
        department_code: b.department_code.clone(),
        fiscal_year_name: b.fiscal_year_name.clone(),
        flags: b
            .flags
            .split(',')
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect(),
        version: b.version,
    }
}
