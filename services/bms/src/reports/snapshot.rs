//! The reads of one report, all in one transaction so they agree with each
//! other (REPEATABLE READ on PostgreSQL; on SQLite a read transaction sees
//! one snapshot of the WAL): the fiscal year, its budgets with their lines
//! and maintained totals, and three aggregates of the expenses — the
//! flagged RECORDED expenses per line, the RECORDED spending per line and
//! day (folded into months by the caller) and the held (UNASSIGNED)
//! expenses per currency. Rows are never summed from expenses here: the
//! lines' totals are the ledger.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use map_kit::{db::Db, directory};
use sea_orm::{
    AccessMode, ColumnTrait as _, DatabaseBackend, DatabaseTransaction, DbErr, EntityTrait as _,
    IsolationLevel, QueryFilter as _, QuerySelect as _, QueryTrait as _, Select,
    TransactionOptions, TransactionTrait as _,
    sea_query::{Expr, SelectStatement},
};

use crate::{
    BmsError,
    budgets::Budget,
    entity::{budget_lines, budgets, expenses},
    expenses::status,
    fiscal_years::{self, FiscalYear},
    lines::{self, Line},
};

/// A sum of `amount_minor` that decodes as a 64-bit integer on both
/// databases (PostgreSQL's SUM of a bigint is a numeric).
const SUM_AMOUNT: &str = "CAST(SUM(amount_minor) AS BIGINT)";

/// What a report covers, its input checked for form.
#[derive(Debug, Clone)]
pub struct Scope {
    /// The fiscal year.
    pub fiscal_year_id: String,
    /// Only this department (upper case).
    pub department_code: Option<String>,
    /// Only this line.
    pub budget_line_id: Option<String>,
    /// Whether the months are read.
    pub months: bool,
}

/// A budget of the report with its department's name and its lines in
/// report order (category lines by code, the unallocated line last).
#[derive(Debug, Clone)]
pub struct BudgetLines {
    /// The budget.
    pub budget: Budget,
    /// Its department's name in the local directory; empty when unknown.
    pub department_name: String,
    /// Its lines in the report.
    pub lines: Vec<Line>,
}

/// Held expenses of one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Held {
    /// Their currency.
    pub currency: String,
    /// How many.
    pub count: i64,
    /// Their sum, in minor units.
    pub amount_minor: i64,
}

/// Everything one report is made of, read at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// The fiscal year.
    pub year: FiscalYear,
    /// Its budgets in the report, by department code.
    pub budgets: Vec<BudgetLines>,
    /// RECORDED expenses with a flag, by line id.
    pub flagged: HashMap<String, i64>,
    /// RECORDED spending dated in the fiscal year: (line id, day, sum);
    /// empty unless months were asked for.
    pub spent_by_day: Vec<(String, NaiveDate, i64)>,
    /// Held expenses dated in the fiscal year, by currency code; empty
    /// with a line filter.
    pub held: Vec<Held>,
    /// When it was read.
    pub read_at: DateTime<Utc>,
}

/// Reads the snapshot of `scope` at `now`. NOT_FOUND for an unknown fiscal
/// year, department (in the local directory) or line (or a line of another
/// fiscal year).
pub async fn read(db: &Db, scope: &Scope, now: DateTime<Utc>) -> Result<Snapshot, BmsError> {
    let txn = begin_read(db).await?;
    let snapshot = read_in(&txn, scope, now).await?;
    txn.commit().await?;
    Ok(snapshot)
}

/// A read transaction whose reads agree with each other.
async fn begin_read(db: &Db) -> Result<DatabaseTransaction, DbErr> {
    let postgres = db.backend() == DatabaseBackend::Postgres;
    db.conn()
        .begin_with_options(TransactionOptions {
            isolation_level: postgres.then_some(IsolationLevel::RepeatableRead),
            access_mode: postgres.then_some(AccessMode::ReadOnly),
            sqlite_transaction_mode: None,
        })
        .await
}

async fn read_in(
    txn: &DatabaseTransaction,
    scope: &Scope,
    now: DateTime<Utc>,
) -> Result<Snapshot, BmsError> {
    let year = fiscal_years::find(txn, &scope.fiscal_year_id).await?;
    if let Some(code) = &scope.department_code
        && directory::read::department(txn, code).await?.is_none()
    {
        return Err(BmsError::NotFound("department"));
    }
    let line_budget = match &scope.budget_line_id {
        None => None,
        Some(id) => {
            let line = lines::find(txn, id).await?;
            let budget = budgets::Entity::find_by_id(line.budget_id.clone())
                .one(txn)
                .await?
                .filter(|b| b.fiscal_year_id == year.id)
                .ok_or(BmsError::NotFound("budget line"))?;
            Some(budget.id)
        }
    };
    let of_scope = || budget_ids(scope, line_budget.as_deref());

    let names: HashMap<String, String> = directory::read::departments(txn)
        .await?
        .into_iter()
        .map(|d| (d.code, d.name))
        .collect();
    let mut lines_q =
        budget_lines::Entity::find().filter(budget_lines::Column::BudgetId.in_subquery(of_scope()));
    if let Some(id) = &scope.budget_line_id {
        lines_q = lines_q.filter(budget_lines::Column::Id.eq(id.as_str()));
    }
    let mut by_budget: HashMap<String, Vec<Line>> = HashMap::new();
    for line in lines_q.all(txn).await? {
        by_budget
            .entry(line.budget_id.clone())
            .or_default()
            .push(line);
    }
    let mut budgets: Vec<BudgetLines> = budgets_of(scope, line_budget.as_deref())
        .all(txn)
        .await?
        .into_iter()
        .map(|budget| {
            let mut lines = by_budget.remove(&budget.id).unwrap_or_default();
            lines.sort_by(|a, b| {
                (a.unallocated, &a.category_code, &a.id).cmp(&(
                    b.unallocated,
                    &b.category_code,
                    &b.id,
                ))
            });
            BudgetLines {
                department_name: names
                    .get(&budget.department_code)
                    .cloned()
                    .unwrap_or_default(),
                budget,
                lines,
            }
        })
        .filter(|b| !b.lines.is_empty())
        .collect();
    budgets.sort_by(|a, b| a.budget.department_code.cmp(&b.budget.department_code));

    let recorded = |q: Select<expenses::Entity>| {
        let q = q
            .filter(expenses::Column::Status.eq(status::RECORDED))
            .filter(expenses::Column::BudgetId.in_subquery(of_scope()));
        match &scope.budget_line_id {
            Some(id) => q.filter(expenses::Column::BudgetLineId.eq(id.as_str())),
            None => q,
        }
    };
    // The partial index `expenses_flagged_by_budget`'s predicate, as a
    // literal: a cached (generic) plan cannot prove it from bound values.
    let flagged: HashMap<String, i64> = recorded(expenses::Entity::find())
        .filter(Expr::cust("status = 'recorded' AND flags <> ''"))
        .select_only()
        .column(expenses::Column::BudgetLineId)
        .column_as(Expr::cust("COUNT(*)"), "flagged")
        .group_by(expenses::Column::BudgetLineId)
        .into_tuple::<(String, i64)>()
        .all(txn)
        .await?
        .into_iter()
        .collect();
    let spent_by_day = if scope.months {
        recorded(expenses::Entity::find())
            .filter(expenses::Column::ExpenseDate.between(year.start_date, year.end_date))
            .select_only()
            .column(expenses::Column::BudgetLineId)
            .column(expenses::Column::ExpenseDate)
            .column_as(Expr::cust(SUM_AMOUNT), "spent")
            .group_by(expenses::Column::BudgetLineId)
            .group_by(expenses::Column::ExpenseDate)
            .into_tuple::<(String, NaiveDate, i64)>()
            .all(txn)
            .await?
    } else {
        Vec::new()
    };
    let held = if scope.budget_line_id.is_some() {
        Vec::new()
    } else {
        // The status as a literal too: a cached (generic) plan would not
        // know it is a rare one and scan every expense.
        let mut q = expenses::Entity::find()
            .filter(expenses::Column::Status.eq(status::UNASSIGNED))
            .filter(Expr::cust("status = 'unassigned'"))
            .filter(expenses::Column::ExpenseDate.between(year.start_date, year.end_date));
        if let Some(code) = &scope.department_code {
            q = q.filter(expenses::Column::DepartmentCode.eq(code.as_str()));
        }
        let mut held: Vec<Held> = q
            .select_only()
            .column(expenses::Column::Currency)
            .column_as(Expr::cust("COUNT(*)"), "held")
            .column_as(Expr::cust(SUM_AMOUNT), "amount")
            .group_by(expenses::Column::Currency)
            .into_tuple::<(String, i64, i64)>()
            .all(txn)
            .await?
            .into_iter()
            .map(|(currency, count, amount_minor)| Held {
                currency,
                count,
                amount_minor,
            })
            .collect();
        held.sort_by(|a, b| a.currency.cmp(&b.currency));
        held
    };
    Ok(Snapshot {
        year,
        budgets,
        flagged,
        spent_by_day,
        held,
        read_at: now,
    })
}

/// The budgets of `scope`: of its fiscal year, of its department when set,
/// only `budget_id` (the filtered line's) when set.
fn budgets_of(scope: &Scope, budget_id: Option<&str>) -> Select<budgets::Entity> {
    let mut q = budgets::Entity::find()
        .filter(budgets::Column::FiscalYearId.eq(scope.fiscal_year_id.as_str()));
    if let Some(code) = &scope.department_code {
        q = q.filter(budgets::Column::DepartmentCode.eq(code.as_str()));
    }
    if let Some(id) = budget_id {
        q = q.filter(budgets::Column::Id.eq(id));
    }
    q
}

/// The ids of [`budgets_of`], as a subquery.
fn budget_ids(scope: &Scope, budget_id: Option<&str>) -> SelectStatement {
    budgets_of(scope, budget_id)
        .select_only()
        .column(budgets::Column::Id)
        .into_query()
}
