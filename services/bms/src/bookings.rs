//! The worker's bookings of AMS's money events (queue [`QUEUE`]):
//! `ams.asset.purchased` (the purchase cost, on the purchase date),
//! `ams.asset.maintained` (the maintenance cost, on its start date) and
//! `ams.asset.cost_corrected` (the signed difference, on the purchase
//! date). Each is booked once, by its AMS ledger transaction (source the
//! event type, source_ref the transaction id): a redelivered or replayed
//! event books nothing, even after its expense was voided. Other event
//! types are ignored.
//!
//! An AMS expense has already happened, so it is never refused, retried
//! for a business reason or dead-lettered. In order: no fiscal year holds
//! its date → held (UNASSIGNED, NO_FISCAL_YEAR); the department has no
//! budget that year → held (NO_BUDGET); another currency than the
//! budget's → held (CURRENCY_MISMATCH); a cost correction goes to the line
//! of its purchase's recorded expense (or, when there is none, by the
//! category, flagged ORIGINAL_NOT_BOOKED); no line has the category → the
//! unallocated line (NO_MATCHING_LINE); a STOP line it would overspend →
//! the unallocated line (LINE_WOULD_OVERSPEND); otherwise the category's
//! line. Wherever it lands, leaving a WARN line overspent flags it
//! OVERSPENT.

use chrono::NaiveDate;
use map_contracts::{bms::v1 as pb, events::v1 as ev};
use map_kit::{
    System,
    bus::{Event, Handler, HandlerError},
    clock::Clock,
    outbox::Outbox,
    wire::date::from_date,
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, DatabaseTransaction,
    EntityTrait as _, QueryFilter as _,
};

use crate::{
    BmsError,
    entity::{budget_lines, budgets, expenses},
    expenses::{Expense, Placement, by_source, new_row, publish, status, stored_flags},
    fiscal_years,
    lines::{self, Cause, Delta, Guard, Mode},
};

/// The queue it consumes.
pub const QUEUE: &str = "bms.asset-expenses";

/// An AMS money event, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AmsExpense {
    /// The event type: the expense's source.
    pub source: &'static str,
    /// The AMS ledger transaction: the expense's source_ref.
    pub transaction_id: String,
    /// Signed amount in minor units.
    pub amount_minor: i64,
    /// Its currency.
    pub currency: String,
    /// When spent.
    pub expense_date: NaiveDate,
    /// What it was.
    pub description: String,
    /// The asset.
    pub asset_id: String,
    /// Its number.
    pub asset_number: String,
    /// Its category code.
    pub category_code: String,
    /// Its owning department.
    pub department_code: String,
}

fn permanent(e: impl std::fmt::Display) -> HandlerError {
    HandlerError::Permanent(e.to_string())
}

/// The expense `event` asks for; `None` for an event type it does not
/// book, or an amount of zero (nothing to book).
pub fn read(event: &Event) -> Result<Option<AmsExpense>, HandlerError> {
    let (source, asset, transaction_id, money, day, description) = match event.event_type() {
        "ams.asset.purchased" => {
            let p: ev::AmsAssetPurchased = event.payload()?;
            let asset = p
                .asset
                .ok_or_else(|| permanent("a purchase without its asset"))?;
            if asset.opening_balance {
                return Ok(None);
            }
            let money = asset.purchase_cost.clone();
            let day = asset.purchase_date;
            let description = format!("Purchase of {} {}", asset.number, asset.name);
            (
                "ams.asset.purchased",
                asset,
                p.transaction_id,
                money,
                day,
                description,
            )
        }
        "ams.asset.maintained" => {
            let m: ev::AmsAssetMaintained = event.payload()?;
            let asset = m
                .asset
                .ok_or_else(|| permanent("maintenance without its asset"))?;
            let description = format!("Maintenance of {}: {}", asset.number, m.title);
            (
                "ams.asset.maintained",
                asset,
                m.transaction_id,
                m.cost,
                m.start_date,
                description,
            )
        }
        "ams.asset.cost_corrected" => {
            let c: ev::AmsAssetCostCorrected = event.payload()?;
            let asset = c
                .asset
                .ok_or_else(|| permanent("a correction without its asset"))?;
            let day = asset.purchase_date;
            let description = format!("Cost correction of {}: {}", asset.number, c.reason);
            (
                "ams.asset.cost_corrected",
                asset,
                c.transaction_id,
                c.delta,
                day,
                description,
            )
        }
        _ => return Ok(None),
    };
    let Some(money) = money.filter(|m| m.amount_minor != 0) else {
        return Ok(None);
    };
    let day = day.ok_or_else(|| permanent("an AMS expense without its date"))?;
    let expense_date = from_date("date", &day).map_err(permanent)?;
    if transaction_id.is_empty() {
        return Err(permanent("an AMS expense without its transaction id"));
    }
    Ok(Some(AmsExpense {
        source,
        transaction_id,
        amount_minor: money.amount_minor,
        currency: money.currency_code,
        expense_date,
        description: description.chars().take(2000).collect(),
        asset_id: asset.id,
        asset_number: asset.number,
        category_code: asset.category_code,
        department_code: asset.department_code,
    }))
}

/// Books AMS's money events.
#[derive(Debug, Clone)]
pub struct Bookings {
    outbox: Outbox,
    clock: Clock,
}

impl Bookings {
    /// With `clock`.
    pub fn new(clock: Clock) -> Bookings {
        Bookings {
            outbox: Outbox::new(System::Bms).with_clock(clock.clone()),
            clock,
        }
    }

    /// Books `x` in `txn`, once: the expense (the existing one when its
    /// transaction was booked before).
    pub async fn book(
        &self,
        txn: &DatabaseTransaction,
        x: &AmsExpense,
    ) -> Result<Expense, BmsError> {
        if let Some(existing) = by_source(txn, x.source, &x.transaction_id).await? {
            return Ok(existing);
        }
        let now = self.clock.now();
        let id = uuid::Uuid::now_v7().to_string();
        let mut row = new_row(id.clone(), x.amount_minor, &x.currency, x.expense_date, now);
        row.department_code = Set(x.department_code.clone());
        row.description = Set(x.description.clone());
        row.source_system = Set("ams".into());
        row.source = Set(x.source.into());
        row.source_ref = Set(x.transaction_id.clone());
        row.asset_id = Set(x.asset_id.clone());
        row.asset_number = Set(x.asset_number.clone());
        row.asset_category_code = Set(x.category_code.clone());
        let mut flags = Vec::new();
        let mut detail = Vec::new();
        let held = |row: &mut expenses::ActiveModel| row.status = Set(status::UNASSIGNED.into());
        let Some(year) = fiscal_years::containing(txn, x.expense_date).await? else {
            held(&mut row);
            flags.push(pb::ExpenseFlag::NoFiscalYear);
            detail.push(format!("no fiscal year holds {}", x.expense_date));
            return self
                .insert(txn, row, &flags, &detail, &Placement::default())
                .await;
        };
        let Some(budget) = budgets::Entity::find()
            .filter(budgets::Column::FiscalYearId.eq(year.id.clone()))
            .filter(budgets::Column::DepartmentCode.eq(x.department_code.clone()))
            .one(txn)
            .await?
        else {
            held(&mut row);
            flags.push(pb::ExpenseFlag::NoBudget);
            detail.push(format!("no {} budget for {}", year.name, x.department_code));
            return self
                .insert(txn, row, &flags, &detail, &Placement::default())
                .await;
        };
        if budget.currency != x.currency {
            held(&mut row);
            flags.push(pb::ExpenseFlag::CurrencyMismatch);
            detail.push(format!(
                "the amount is in {}, the {} budget of {} in {}",
                x.currency, year.name, x.department_code, budget.currency
            ));
            return self
                .insert(txn, row, &flags, &detail, &Placement::default())
                .await;
        }
        let taken = lines::take_budget(txn, &budget.id, "budget_etag", "", now).await?;
        // Where it should go: a correction to its purchase's line, anything
        // else to its category's line.
        let mut target = None;
        if x.source == "ams.asset.cost_corrected" {
            let purchase = expenses::Entity::find()
                .filter(expenses::Column::AssetId.eq(x.asset_id.clone()))
                .filter(expenses::Column::Source.eq("ams.asset.purchased"))
                .filter(expenses::Column::Status.eq(status::RECORDED))
                .one(txn)
                .await?;
            match purchase {
                Some(p) if p.budget_id == budget.id => {
                    row.adjusted_expense_id = Set(p.id.clone());
                    target = Some(lines::find(txn, &p.budget_line_id).await?);
                }
                Some(p) => {
                    row.adjusted_expense_id = Set(p.id.clone());
                }
                None => {
                    flags.push(pb::ExpenseFlag::OriginalNotBooked);
                    detail.push("its purchase is booked nowhere".to_owned());
                }
            }
        }
        if target.is_none() {
            target = budget_lines::Entity::find()
                .filter(budget_lines::Column::BudgetId.eq(budget.id.clone()))
                .filter(budget_lines::Column::CategoryCode.eq(x.category_code.clone()))
                .filter(budget_lines::Column::Unallocated.eq(false))
                .one(txn)
                .await?;
            if target.is_none() {
                flags.push(pb::ExpenseFlag::NoMatchingLine);
                detail.push(format!(
                    "no line of the {} budget of {} is for {}",
                    year.name, x.department_code, x.category_code
                ));
            }
        }
        let cause = Cause {
            kind: ev::ThresholdCause::Expense,
            id: id.clone(),
        };
        let delta = Delta {
            spent: x.amount_minor,
            ..Delta::default()
        };
        let mut applied = None;
        if let Some(line) = &target {
            applied = lines::apply(
                txn,
                &self.outbox,
                &taken,
                &line.id,
                delta,
                Guard::IfStop,
                &cause,
            )
            .await?;
            if applied.is_none() {
                flags.push(pb::ExpenseFlag::LineWouldOverspend);
                detail.push(format!(
                    "the {} line would have been overspent",
                    line.category_code
                ));
                row.diverted_from_budget_line_id = Set(line.id.clone());
            }
        }
        let applied = match applied {
            Some(a) => a,
            None => lines::apply(
                txn,
                &self.outbox,
                &taken,
                &budget.unallocated_line_id,
                delta,
                Guard::None,
                &cause,
            )
            .await?
            .ok_or(BmsError::NotFound("budget line"))?,
        };
        if applied.line.overspent && Mode::of(&applied.line) == Mode::Warn {
            flags.push(pb::ExpenseFlag::Overspent);
            detail.push("it left its line overspent".to_owned());
        }
        row.budget_id = Set(budget.id.clone());
        row.budget_line_id = Set(applied.line.id.clone());
        row.fiscal_year_id = Set(year.id.clone());
        let placement = Placement::on(&applied.line, &year.name);
        self.insert(txn, row, &flags, &detail, &placement).await
    }

    async fn insert(
        &self,
        txn: &DatabaseTransaction,
        mut row: expenses::ActiveModel,
        flags: &[pb::ExpenseFlag],
        detail: &[String],
        placement: &Placement,
    ) -> Result<Expense, BmsError> {
        row.flags = Set(stored_flags(flags));
        row.flag_detail = Set(detail.join("; "));
        let expense = row.insert(txn).await?;
        publish(
            txn,
            &self.outbox,
            &expense,
            placement,
            None,
            "bms.expense.recorded",
            |s| ev::BmsExpenseRecorded { expense: Some(s) },
        )
        .await?;
        tracing::info!(
            expense = %expense.id,
            source = %expense.source,
            status = %expense.status,
            flags = %expense.flags,
            "AMS expense booked"
        );
        Ok(expense)
    }
}

#[async_trait::async_trait]
impl Handler for Bookings {
    async fn handle(&self, event: &Event, txn: &DatabaseTransaction) -> Result<(), HandlerError> {
        let Some(x) = read(event)? else {
            return Ok(());
        };
        self.book(txn, &x).await.map_err(|e| match e {
            BmsError::Db(e) => HandlerError::Transient(e.to_string()),
            other => HandlerError::Transient(other.to_string()),
        })?;
        Ok(())
    }
}
