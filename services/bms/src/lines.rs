//! The lines' ledger: every change of a budget line's amounts.
//!
//! A change first takes its budget ([`take_budget`]: the budget's version
//! grows by one in a conditional update, which also checks the caller's
//! etag), so changes of one budget are serialised on its row and never
//! deadlock on its lines. The line's amounts then move in one conditional
//! update ([`apply`]) whose guard, when asked for, keeps spent + committed
//! within the allocation *after* the change: of two racing expenses on a
//! STOP line, the second sees the first's amount and is refused if both
//! would not fit. Never read-then-write.
//!
//! After the update, the line's two states — over its warning threshold,
//! overspent — are compared with the ones last announced; each that became
//! true is announced once (`bms.budget.threshold_crossed`, its own
//! occurrence id) and stored, each that became false is stored (re-armed)
//! silently. The line's row is locked by the update until commit, so two
//! changes never announce one crossing twice.

use chrono::{DateTime, Utc};
use map_contracts::{bms::v1 as pb, common::v1::Money, events::v1 as ev};
use map_kit::{
    System,
    outbox::{NewEvent, Outbox},
    wire::{etag::check_etag, time::timestamp},
};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait as _, ConnectionTrait, DatabaseTransaction, EntityTrait as _, QueryFilter as _,
    sea_query::{Expr, ExprTrait as _},
};

use crate::{
    BmsError,
    entity::{budget_lines, budgets, fiscal_years},
};

/// A line as stored.
pub type Line = budget_lines::Model;

/// The default warning threshold, in percent.
pub const DEFAULT_THRESHOLD: i32 = 90;

/// What happens to an expense that would overspend a line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Refused.
    Stop,
    /// Recorded and flagged.
    Warn,
    /// Recorded silently.
    Ignore,
}

impl Mode {
    /// The stored name.
    pub fn stored(self) -> &'static str {
        match self {
            Mode::Stop => "stop",
            Mode::Warn => "warn",
            Mode::Ignore => "ignore",
        }
    }

    /// The mode of a stored line.
    pub fn of(line: &Line) -> Mode {
        match line.control_mode.as_str() {
            "stop" => Mode::Stop,
            "ignore" => Mode::Ignore,
            _ => Mode::Warn,
        }
    }

    /// From the wire; `None` for UNSPECIFIED.
    pub fn from_proto(m: pb::BudgetControlMode) -> Option<Mode> {
        match m {
            pb::BudgetControlMode::Stop => Some(Mode::Stop),
            pb::BudgetControlMode::Warn => Some(Mode::Warn),
            pb::BudgetControlMode::Ignore => Some(Mode::Ignore),
            pb::BudgetControlMode::Unspecified => None,
        }
    }

    /// On the wire.
    pub fn to_proto(self) -> pb::BudgetControlMode {
        match self {
            Mode::Stop => pb::BudgetControlMode::Stop,
            Mode::Warn => pb::BudgetControlMode::Warn,
            Mode::Ignore => pb::BudgetControlMode::Ignore,
        }
    }
}

/// (Spent + committed) × 10000 / allocated, rounded down, saturating: 0
/// when nothing is used, the int32 maximum when something is used of
/// nothing.
pub fn utilization_basis_points(used: i64, allocated: i64) -> i32 {
    if used <= 0 {
        return 0;
    }
    if allocated <= 0 {
        return i32::MAX;
    }
    let bp = i128::from(used) * 10_000 / i128::from(allocated);
    i32::try_from(bp).unwrap_or(i32::MAX)
}

/// The line's states now: (over its threshold, overspent).
pub fn states(line: &Line) -> (bool, bool) {
    let used = line.spent_minor + line.committed_minor;
    let allocated = line.allocated();
    let bp = utilization_basis_points(used, allocated);
    (
        used > 0 && bp >= line.warning_threshold_percent.saturating_mul(100),
        used > allocated,
    )
}

/// The line on the wire, its amounts in `currency`.
pub fn to_proto(line: &Line, currency: &str) -> pb::BudgetLine {
    let money = |amount_minor: i64| {
        Some(Money {
            amount_minor,
            currency_code: currency.to_owned(),
        })
    };
    let (over_threshold, overspent) = states(line);
    pb::BudgetLine {
        id: line.id.clone(),
        account_code: line.account_code.clone(),
        description: line.description.clone(),
        allocated: money(line.allocated()),
        spent: money(line.spent_minor),
        committed: money(line.committed_minor),
        remaining: money(line.remaining()),
        warning_threshold_percent: line.warning_threshold_percent,
        utilization_basis_points: utilization_basis_points(
            line.spent_minor + line.committed_minor,
            line.allocated(),
        ),
        category_code: line.category_code.clone(),
        unallocated: line.unallocated,
        control_mode: Mode::of(line).to_proto().into(),
        base_allocated: money(line.base_allocated_minor),
        increased: money(line.increased_minor),
        transferred_in: money(line.transferred_in_minor),
        transferred_out: money(line.transferred_out_minor),
        pending: money(line.pending_minor),
        pending_increase: money(line.pending_increase_minor),
        overspent,
        over_threshold,
        budget_id: line.budget_id.clone(),
    }
}

/// A budget taken for a change: its row after the version bump, and what
/// the threshold notices name.
#[derive(Debug, Clone)]
pub struct Taken {
    /// The budget after the bump.
    pub budget: budgets::Model,
    /// Its fiscal year.
    pub fiscal_year: fiscal_years::Model,
    /// The time of the change.
    pub now: DateTime<Utc>,
}

/// Takes `budget_id` for a change: its version grows by one (and its
/// update time is `now`) if `etag` is empty or names its current version.
/// NOT_FOUND when it does not exist; ABORTED (ETAG_MISMATCH) when the etag
/// is stale; INVALID_ARGUMENT naming `etag_field` when it is no etag.
pub async fn take_budget(
    txn: &DatabaseTransaction,
    budget_id: &str,
    etag_field: &str,
    etag: &str,
    now: DateTime<Utc>,
) -> Result<Taken, BmsError> {
    let mut update = budgets::Entity::update_many()
        .col_expr(
            budgets::Column::Version,
            Expr::col(budgets::Column::Version).add(1),
        )
        .col_expr(budgets::Column::UpdatedAt, Expr::value(now))
        .filter(budgets::Column::Id.eq(budget_id));
    if !etag.is_empty() {
        let budget = budgets::Entity::find_by_id(budget_id.to_owned())
            .one(txn)
            .await?
            .ok_or(BmsError::NotFound("budget"))?;
        check_etag(System::Bms, etag_field, etag, budget.version)?;
        update = update.filter(budgets::Column::Version.eq(budget.version));
    }
    // The budget as updated, in the same statement (`RETURNING`).
    let Some(budget) = update.exec_with_returning(txn).await?.pop() else {
        return Err(if etag.is_empty() {
            BmsError::NotFound("budget")
        } else {
            BmsError::EtagMismatch
        });
    };
    let fiscal_year = fiscal_years::Entity::find_by_id(budget.fiscal_year_id.clone())
        .one(txn)
        .await?
        .ok_or(BmsError::NotFound("fiscal year"))?;
    Ok(Taken {
        budget,
        fiscal_year,
        now,
    })
}

/// A change of a line's amounts, in minor units (signed).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Delta {
    /// Added to spent.
    pub spent: i64,
    /// Added to committed.
    pub committed: i64,
    /// Added to transferred in.
    pub transferred_in: i64,
    /// Added to transferred out.
    pub transferred_out: i64,
    /// Added to approved increases.
    pub increased: i64,
    /// Added to spending requests in their approval chain.
    pub pending: i64,
    /// Added to budget increases in their approval chain.
    pub pending_increase: i64,
}

/// When a change is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Guard {
    /// Never.
    None,
    /// When the line is STOP and the change leaves spent + committed above
    /// the allocation.
    IfStop,
    /// When the change leaves spent + committed above the allocation,
    /// whatever the mode (a transfer never leaves its source overspent).
    Always,
    /// When the line is STOP and committing this much more after the
    /// change would leave spent + committed above the allocation (a
    /// spending request submitted for more than a STOP line has left).
    IfStopCould(i64),
}

/// Why a line changed, for its threshold notices.
#[derive(Debug, Clone)]
pub struct Cause {
    /// What kind of change.
    pub kind: ev::ThresholdCause,
    /// The expense, proposal or transfer; empty for a line update.
    pub id: String,
}

/// A line after a change.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The line after the change.
    pub line: Line,
    /// Whether a state became true (and was announced).
    pub crossed: bool,
}

/// Applies `delta` to `line_id` of the taken budget in one conditional
/// update; `None` when `guard` refused it (nothing changed). Announces the
/// crossings it caused.
pub async fn apply(
    txn: &DatabaseTransaction,
    outbox: &Outbox,
    taken: &Taken,
    line_id: &str,
    delta: Delta,
    guard: Guard,
    cause: &Cause,
) -> Result<Option<Applied>, BmsError> {
    use budget_lines::Column as L;
    let mut update = budget_lines::Entity::update_many()
        .filter(L::Id.eq(line_id))
        .filter(L::BudgetId.eq(taken.budget.id.clone()));
    for (column, by) in [
        (L::SpentMinor, delta.spent),
        (L::CommittedMinor, delta.committed),
        (L::TransferredInMinor, delta.transferred_in),
        (L::TransferredOutMinor, delta.transferred_out),
        (L::IncreasedMinor, delta.increased),
        (L::PendingMinor, delta.pending),
        (L::PendingIncreaseMinor, delta.pending_increase),
    ] {
        if by != 0 {
            update = update.col_expr(column, Expr::col(column).add(by));
        }
    }
    if guard != Guard::None {
        // used after (and what it could commit) <= allocated after
        let could = match guard {
            Guard::IfStopCould(more) => more,
            _ => 0,
        };
        let used_after = Expr::col(L::SpentMinor)
            .add(Expr::col(L::CommittedMinor))
            .add(delta.spent + delta.committed + could);
        let allocated_after = Expr::col(L::BaseAllocatedMinor)
            .add(Expr::col(L::IncreasedMinor))
            .add(Expr::col(L::TransferredInMinor))
            .sub(Expr::col(L::TransferredOutMinor))
            .add(delta.transferred_in - delta.transferred_out + delta.increased);
        let fits = used_after.lte(allocated_after);
        update = match guard {
            Guard::IfStop | Guard::IfStopCould(_) => update.filter(
                sea_orm::Condition::any()
                    .add(L::ControlMode.ne(Mode::Stop.stored()))
                    .add(fits),
            ),
            _ => update.filter(fits),
        };
    }
    // The line as updated, in the same statement (`RETURNING`).
    let Some(line) = update.exec_with_returning(txn).await?.pop() else {
        return Ok(None);
    };
    Ok(Some(announce(txn, outbox, taken, line, cause).await?))
}

/// Compares `line`'s states with the ones last announced, announces each
/// that became true, and stores them.
pub async fn announce(
    txn: &DatabaseTransaction,
    outbox: &Outbox,
    taken: &Taken,
    mut line: Line,
    cause: &Cause,
) -> Result<Applied, BmsError> {
    let (over_threshold, overspent) = states(&line);
    let mut crossed = false;
    if over_threshold && !line.over_threshold {
        notice(txn, outbox, taken, &line, ev::ThresholdKind::Warning, cause).await?;
        crossed = true;
    }
    if overspent && !line.overspent {
        notice(
            txn,
            outbox,
            taken,
            &line,
            ev::ThresholdKind::Overspend,
            cause,
        )
        .await?;
        crossed = true;
    }
    if (over_threshold, overspent) != (line.over_threshold, line.overspent) {
        budget_lines::Entity::update_many()
            .set(budget_lines::ActiveModel {
                over_threshold: Set(over_threshold),
                overspent: Set(overspent),
                ..Default::default()
            })
            .filter(budget_lines::Column::Id.eq(line.id.clone()))
            .exec(txn)
            .await?;
        line.over_threshold = over_threshold;
        line.overspent = overspent;
    }
    Ok(Applied { line, crossed })
}

async fn notice(
    txn: &DatabaseTransaction,
    outbox: &Outbox,
    taken: &Taken,
    line: &Line,
    kind: ev::ThresholdKind,
    cause: &Cause,
) -> Result<(), BmsError> {
    let currency = &taken.budget.currency;
    let money = |amount_minor: i64| {
        Some(Money {
            amount_minor,
            currency_code: currency.clone(),
        })
    };
    let payload = ev::BmsBudgetThresholdCrossed {
        occurrence_id: uuid::Uuid::now_v7().to_string(),
        budget_id: taken.budget.id.clone(),
        budget_line_id: line.id.clone(),
        department_code: taken.budget.department_code.clone(),
        fiscal_year_name: taken.fiscal_year.name.clone(),
        account_code: line.account_code.clone(),
        category_code: line.category_code.clone(),
        allocated: money(line.allocated()),
        spent: money(line.spent_minor),
        threshold_percent: match kind {
            ev::ThresholdKind::Warning => line.warning_threshold_percent,
            _ => 100,
        },
        utilization_basis_points: utilization_basis_points(
            line.spent_minor + line.committed_minor,
            line.allocated(),
        ),
        expense_id: match cause.kind {
            ev::ThresholdCause::Expense
            | ev::ThresholdCause::ExpenseVoided
            | ev::ThresholdCause::ExpenseAssigned => cause.id.clone(),
            _ => String::new(),
        },
        cross_time: Some(timestamp(taken.now)),
        kind: kind.into(),
        committed: money(line.committed_minor),
        remaining: money(line.remaining()),
        control_mode: match Mode::of(line) {
            Mode::Stop => ev::BudgetControlMode::Stop,
            Mode::Warn => ev::BudgetControlMode::Warn,
            Mode::Ignore => ev::BudgetControlMode::Ignore,
        }
        .into(),
        cause: cause.kind.into(),
        cause_id: cause.id.clone(),
        fiscal_year_id: taken.fiscal_year.id.clone(),
        unallocated: line.unallocated,
        line_description: line.description.clone(),
    };
    // An occurrence: its version is the budget's, which grows with every
    // change of its lines.
    outbox
        .enqueue(
            txn,
            NewEvent::new(
                "bms.budget.threshold_crossed",
                line.id.clone(),
                taken.budget.version,
                &payload,
            ),
        )
        .await
        .map_err(|e| BmsError::from(map_kit::ApiError::from(e)))?;
    tracing::info!(
        line = %line.id,
        department = %taken.budget.department_code,
        kind = ?kind,
        "budget line crossed a threshold"
    );
    Ok(())
}

/// The line `id`.
pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Line, BmsError> {
    budget_lines::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(BmsError::NotFound("budget line"))
}

/// The lines of `budget_id`: its category lines by category code, then
/// its unallocated line.
pub async fn of_budget<C: ConnectionTrait>(
    conn: &C,
    budget_id: &str,
) -> Result<Vec<Line>, BmsError> {
    use sea_orm::QueryOrder as _;
    let mut lines = budget_lines::Entity::find()
        .filter(budget_lines::Column::BudgetId.eq(budget_id))
        .order_by_asc(budget_lines::Column::CategoryCode)
        .all(conn)
        .await?;
    // The unallocated line's code is empty, so it sorts first: move it last.
    if let Some(i) = lines.iter().position(|l| l.unallocated) {
        let unallocated = lines.remove(i);
        lines.push(unallocated);
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utilization_rounds_down_and_saturates() {
        assert_eq!(utilization_basis_points(0, 0), 0);
        assert_eq!(utilization_basis_points(0, 100), 0);
        assert_eq!(utilization_basis_points(1, 0), i32::MAX);
        assert_eq!(utilization_basis_points(1, 3), 3333);
        assert_eq!(utilization_basis_points(9, 10), 9000);
        assert_eq!(utilization_basis_points(11, 10), 11000);
        assert_eq!(utilization_basis_points(i64::MAX, 1), i32::MAX);
    }
}
