//! Budgets: one per department (Auth's, from the local directory) and
//! fiscal year, in one currency, made of category lines keyed by AMS
//! category codes and the department's unallocated line (its reserve, and
//! where the worker books what matches no line). Lines are added, never
//! removed; allocation moves between lines of one budget by a finance
//! head's transfer. Every change goes through [`crate::lines`].

use std::{
    cmp::Ordering,
    collections::{BTreeSet, HashMap},
};

use map_contracts::{bms::v1 as pb, common::v1::Money, events::v1 as ev};
use map_kit::{
    FieldViolation, System, Violations,
    authn::Principal,
    clock::Clock,
    db::Db,
    directory,
    idempotency::Idempotent,
    outbox::Outbox,
    paging::{Direction, PageSize, Pager, Sort},
    wire::{
        currency,
        etag::{check_etag, etag},
        time::timestamp,
    },
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, ConnectionTrait,
    DatabaseTransaction, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
};
use serde::{Deserialize, Serialize};

use crate::{
    BmsError,
    entity::{budget_lines, budget_transfers, budgets},
    fiscal_years,
    lines::{self, Applied, Cause, DEFAULT_THRESHOLD, Delta, Guard, Line, Mode},
};

/// Most category lines of a budget.
pub const MAX_LINES: usize = 1000;
/// Longest description or reason.
pub const MAX_TEXT: usize = 2000;
/// Longest account code.
pub const MAX_ACCOUNT_CODE: usize = 40;
/// The account code of every unallocated line.
pub const UNALLOCATED: &str = "UNALLOCATED";

/// A budget as stored.
pub type Budget = budgets::Model;

/// Whether `code` has the form of an AMS category code: 1 to 20 of `A-Z`,
/// `0-9` and `-`.
pub fn is_category_code(code: &str) -> bool {
    !code.is_empty()
        && code.len() <= 20
        && code
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-')
}

/// The budget on the wire, with its lines and totals.
pub fn to_proto(
    b: &Budget,
    fiscal_year_name: &str,
    department_name: &str,
    lines: &[Line],
) -> pb::Budget {
    let money = |amount_minor: i64| {
        Some(Money {
            amount_minor,
            currency_code: b.currency.clone(),
        })
    };
    let sum = |f: fn(&Line) -> i64| lines.iter().map(f).sum::<i64>();
    pb::Budget {
        id: b.id.clone(),
        fiscal_year_id: b.fiscal_year_id.clone(),
        fiscal_year_name: fiscal_year_name.to_owned(),
        department_code: b.department_code.clone(),
        department_name: department_name.to_owned(),
        currency_code: b.currency.clone(),
        lines: lines
            .iter()
            .map(|l| lines::to_proto(l, &b.currency))
            .collect(),
        total_allocated: money(sum(Line::allocated)),
        total_spent: money(sum(|l| l.spent_minor)),
        total_committed: money(sum(|l| l.committed_minor)),
        total_remaining: money(sum(Line::remaining)),
        etag: etag(b.version),
        version: b.version,
        create_time: Some(timestamp(b.created_at)),
        update_time: Some(timestamp(b.updated_at)),
        description: b.description.clone(),
        unallocated_line_id: b.unallocated_line_id.clone(),
        total_pending: money(sum(|l| l.pending_minor)),
    }
}

/// A transfer on the wire.
pub fn transfer_to_proto(
    t: &budget_transfers::Model,
    budget: &Budget,
    from: &Line,
    to: &Line,
) -> pb::BudgetTransfer {
    pb::BudgetTransfer {
        id: t.id.clone(),
        budget_id: t.budget_id.clone(),
        department_code: budget.department_code.clone(),
        fiscal_year_id: budget.fiscal_year_id.clone(),
        from_budget_line_id: t.from_line_id.clone(),
        from_category_code: from.category_code.clone(),
        to_budget_line_id: t.to_line_id.clone(),
        to_category_code: to.category_code.clone(),
        amount: Some(Money {
            amount_minor: t.amount_minor,
            currency_code: t.currency.clone(),
        }),
        reason: t.reason.clone(),
        approved_by_user_id: t.approved_by_user_id.clone(),
        create_time: Some(timestamp(t.created_at)),
    }
}

/// A category line checked: what a new line row is made from.
#[derive(Debug, Clone)]
struct NewLine {
    category_code: String,
    account_code: String,
    description: String,
    allocated_minor: i64,
    threshold: i32,
    mode: Mode,
}

/// Checks one line input (`at` is its field prefix, e.g. `lines[2].`)
/// against the budget's `currency` (when known).
fn check_line(
    v: &mut Vec<FieldViolation>,
    at: &str,
    l: &pb::BudgetLineInput,
    currency: Option<&str>,
) -> Option<NewLine> {
    let before = v.len();
    let mut push = |field: &str, description: &str| {
        v.push(FieldViolation {
            field: format!("{at}{field}"),
            description: description.to_owned(),
        });
    };
    let code = l.category_code.trim().to_owned();
    if !is_category_code(&code) {
        push(
            "category_code",
            "must be an AMS category code: 1 to 20 upper-case letters, digits and hyphens",
        );
    }
    let account = l.account_code.trim().to_owned();
    if account.eq_ignore_ascii_case(UNALLOCATED) {
        push(
            "account_code",
            "\"UNALLOCATED\" is reserved for the unallocated line",
        );
    } else if account.chars().count() > MAX_ACCOUNT_CODE {
        push("account_code", "must be at most 40 characters");
    }
    if l.description.chars().count() > MAX_TEXT {
        push("description", "must be at most 2000 characters");
    }
    if !(0..=100).contains(&l.warning_threshold_percent) {
        push(
            "warning_threshold_percent",
            "must be 1 to 100 (0 means the default, 90)",
        );
    }
    let mode = Mode::from_proto(l.control_mode());
    if mode.is_none() {
        push("control_mode", "is required: STOP, WARN or IGNORE");
    }
    let allocated = match currency::required_amount(&format!("{at}allocated"), l.allocated.as_ref())
    {
        Ok(m) => {
            if currency.is_some_and(|c| c != m.currency.as_str()) {
                v.push(FieldViolation {
                    field: format!("{at}allocated.currency_code"),
                    description: "must be the budget's currency".into(),
                });
            }
            Some(m.amount_minor)
        }
        Err(e) => {
            v.push(e);
            None
        }
    };
    if v.len() != before {
        return None;
    }
    Some(NewLine {
        category_code: code,
        account_code: account,
        description: l.description.clone(),
        allocated_minor: allocated.unwrap_or_default(),
        threshold: threshold(l.warning_threshold_percent),
        mode: mode.unwrap_or(Mode::Warn),
    })
}

fn threshold(percent: i32) -> i32 {
    if percent == 0 {
        DEFAULT_THRESHOLD
    } else {
        percent
    }
}

fn line_row(
    budget_id: &str,
    l: &NewLine,
    now: chrono::DateTime<chrono::Utc>,
) -> budget_lines::ActiveModel {
    budget_lines::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        budget_id: Set(budget_id.to_owned()),
        category_code: Set(l.category_code.clone()),
        unallocated: Set(false),
        account_code: Set(l.account_code.clone()),
        description: Set(l.description.clone()),
        control_mode: Set(l.mode.stored().to_owned()),
        warning_threshold_percent: Set(l.threshold),
        base_allocated_minor: Set(l.allocated_minor),
        increased_minor: Set(0),
        transferred_in_minor: Set(0),
        transferred_out_minor: Set(0),
        spent_minor: Set(0),
        committed_minor: Set(0),
        pending_minor: Set(0),
        pending_increase_minor: Set(0),
        over_threshold: Set(false),
        overspent: Set(false),
        created_at: Set(now),
    }
}

/// The orders of ListBudgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum BudgetOrder {
    YearThenDepartment,
    DepartmentThenYear,
    Newest,
}

#[derive(Debug, Serialize)]
struct BudgetFilters<'a> {
    order: BudgetOrder,
    fiscal_year_id: &'a str,
    department_code: &'a str,
}

/// Where a page of budgets ended: the fiscal year's start, the
/// department, the creation time, the id.
#[derive(Debug, Serialize, Deserialize)]
struct BudgetAfter(
    Option<chrono::NaiveDate>,
    String,
    Option<chrono::DateTime<chrono::Utc>>,
    String,
);

/// The orders of ListBudgetTransfers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum TransferOrder {
    Newest,
    Oldest,
    Largest,
}

#[derive(Debug, Serialize)]
struct TransferFilters<'a> {
    order: TransferOrder,
    budget_id: &'a str,
    budget_line_id: &'a str,
    fiscal_year_id: &'a str,
    department_code: &'a str,
}

#[derive(Debug, Serialize, Deserialize)]
struct TransferAfter(Option<chrono::DateTime<chrono::Utc>>, i64, String);

/// The budgets' domain.
#[derive(Debug, Clone)]
pub struct Budgets {
    db: Db,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
}

impl Budgets {
    /// Over `db`.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> Budgets {
        Budgets {
            db,
            outbox: Outbox::new(System::Bms).with_clock(clock.clone()),
            clock,
            pager,
        }
    }

    /// The budget `b` on the wire, read in `conn`.
    pub async fn wire<C: ConnectionTrait>(
        &self,
        conn: &C,
        b: &Budget,
    ) -> Result<pb::Budget, BmsError> {
        let year = fiscal_years::find(conn, &b.fiscal_year_id).await?;
        let department = directory::read::department(conn, &b.department_code)
            .await?
            .map(|d| d.name)
            .unwrap_or_default();
        let lines = lines::of_budget(conn, &b.id).await?;
        Ok(to_proto(b, &year.name, &department, &lines))
    }

    /// CreateBudget.
    pub async fn create(
        &self,
        key: &Idempotent,
        r: &pb::CreateBudgetRequest,
    ) -> Result<pb::CreateBudgetResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("fiscal_year_id", &r.fiscal_year_id);
        if r.department_code.trim().is_empty() {
            v.add("department_code", "is required");
        }
        v.optional_text("description", &r.description, MAX_TEXT);
        let mut violations = v.into_violations();
        let currency_code = r.currency_code.trim();
        if currency::minor_digits(currency_code).is_none() {
            violations.push(FieldViolation {
                field: "currency_code".into(),
                description: "must be an ISO-4217 currency code, e.g. PHP".into(),
            });
        }
        let currency_known = violations.iter().all(|f| f.field != "currency_code");
        if r.lines.len() > MAX_LINES {
            violations.push(FieldViolation {
                field: "lines".into(),
                description: "at most 1000 category lines".into(),
            });
        }
        let mut new_lines = Vec::with_capacity(r.lines.len());
        let mut codes = BTreeSet::new();
        let mut accounts = BTreeSet::new();
        for (i, l) in r.lines.iter().enumerate() {
            let at = format!("lines[{i}].");
            if let Some(line) = check_line(
                &mut violations,
                &at,
                l,
                currency_known.then_some(currency_code),
            ) {
                if !codes.insert(line.category_code.clone()) {
                    violations.push(FieldViolation {
                        field: format!("{at}category_code"),
                        description: "is repeated".into(),
                    });
                }
                if !line.account_code.is_empty() && !accounts.insert(line.account_code.clone()) {
                    violations.push(FieldViolation {
                        field: format!("{at}account_code"),
                        description: "is repeated".into(),
                    });
                }
                new_lines.push(line);
            }
        }
        let reserve = match r.unallocated_allocated.as_ref() {
            None => 0,
            Some(m) => match currency::amount("unallocated_allocated", m) {
                Ok(m) if currency_known && m.currency.as_str() != currency_code => {
                    violations.push(FieldViolation {
                        field: "unallocated_allocated.currency_code".into(),
                        description: "must be the budget's currency".into(),
                    });
                    0
                }
                Ok(m) => m.amount_minor,
                Err(e) => {
                    violations.push(e);
                    0
                }
            },
        };
        if !(0..=100).contains(&r.unallocated_warning_threshold_percent) {
            violations.push(FieldViolation {
                field: "unallocated_warning_threshold_percent".into(),
                description: "must be 1 to 100 (0 means the default, 90)".into(),
            });
        }
        if !violations.is_empty() {
            return Err(BmsError::InvalidArgument(violations));
        }
        let department_code = r.department_code.trim().to_uppercase();
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let year = fiscal_years::find(&txn, &r.fiscal_year_id).await?;
        let Some(department) = directory::read::department(&txn, &department_code)
            .await?
            .filter(|d| d.active)
        else {
            return Err(BmsError::NotFound("department"));
        };
        if budgets::Entity::find()
            .filter(budgets::Column::FiscalYearId.eq(year.id.clone()))
            .filter(budgets::Column::DepartmentCode.eq(department_code.clone()))
            .one(&txn)
            .await?
            .is_some()
        {
            return Err(BmsError::AlreadyExists {
                reason: "DUPLICATE_BUDGET",
                message: format!("{department_code} already has a budget for {}", year.name),
            });
        }
        let now = self.clock.now();
        let budget_id = uuid::Uuid::now_v7().to_string();
        let unallocated_id = uuid::Uuid::now_v7().to_string();
        let budget = budgets::ActiveModel {
            id: Set(budget_id.clone()),
            fiscal_year_id: Set(year.id.clone()),
            department_code: Set(department_code),
            currency: Set(currency_code.to_owned()),
            description: Set(r.description.clone()),
            unallocated_line_id: Set(unallocated_id.clone()),
            version: Set(1),
            created_at: Set(now),
            updated_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let mut rows: Vec<budget_lines::ActiveModel> = new_lines
            .iter()
            .map(|l| line_row(&budget_id, l, now))
            .collect();
        let mut reserve_row = line_row(
            &budget_id,
            &NewLine {
                category_code: String::new(),
                account_code: UNALLOCATED.into(),
                description: "Unallocated".into(),
                allocated_minor: reserve,
                threshold: threshold(r.unallocated_warning_threshold_percent),
                mode: Mode::Warn,
            },
            now,
        );
        reserve_row.id = Set(unallocated_id);
        reserve_row.unallocated = Set(true);
        rows.push(reserve_row);
        for chunk in rows.chunks(200) {
            budget_lines::Entity::insert_many(chunk.to_vec())
                .exec(&txn)
                .await?;
        }
        let lines = lines::of_budget(&txn, &budget_id).await?;
        let response = pb::CreateBudgetResponse {
            budget: Some(to_proto(&budget, &year.name, &department.name, &lines)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(budget = %budget.id, department = %budget.department_code, "budget created");
        Ok(response)
    }

    /// GetBudget.
    pub async fn get(&self, id: &str) -> Result<pb::Budget, BmsError> {
        let mut v = Violations::default();
        v.uuid("budget_id", id);
        v.finish()?;
        let budget = budgets::Entity::find_by_id(id.to_owned())
            .one(self.db.conn())
            .await?
            .ok_or(BmsError::NotFound("budget"))?;
        self.wire(self.db.conn(), &budget).await
    }

    /// ListBudgets.
    pub async fn list(
        &self,
        r: &pb::ListBudgetsRequest,
    ) -> Result<pb::ListBudgetsResponse, BmsError> {
        let size = PageSize::parse(r.page_size)?;
        let order_by: Vec<String> = r
            .order_by
            .split(',')
            .map(|k| k.split_whitespace().collect::<Vec<_>>().join(" "))
            .filter(|k| !k.is_empty())
            .collect();
        let order_by: Vec<&str> = order_by.iter().map(String::as_str).collect();
        let order = match order_by.as_slice() {
            [] | ["fiscal_year desc", "department_code"] => BudgetOrder::YearThenDepartment,
            ["department_code", "fiscal_year desc"] => BudgetOrder::DepartmentThenYear,
            ["create_time desc"] => BudgetOrder::Newest,
            _ => {
                return Err(BmsError::invalid(
                    "order_by",
                    "supported: \"fiscal_year desc, department_code\" (the default), \
                     \"department_code, fiscal_year desc\", \"create_time desc\"",
                ));
            }
        };
        let filters = BudgetFilters {
            order,
            fiscal_year_id: &r.fiscal_year_id,
            department_code: &r.department_code,
        };
        let cursor: Option<BudgetAfter> = self.pager.open("budgets", &filters, &r.page_token)?;
        // Budgets are few (departments × fiscal years): the page is ordered
        // in memory over the filtered set, read with the fiscal years.
        let mut q = budgets::Entity::find();
        if !r.fiscal_year_id.is_empty() {
            q = q.filter(budgets::Column::FiscalYearId.eq(r.fiscal_year_id.as_str()));
        }
        if !r.department_code.is_empty() {
            q = q.filter(budgets::Column::DepartmentCode.eq(r.department_code.to_uppercase()));
        }
        let conn = self.db.conn();
        let all = q.all(conn).await?;
        let years: HashMap<String, fiscal_years::FiscalYear> =
            crate::entity::fiscal_years::Entity::find()
                .all(conn)
                .await?
                .into_iter()
                .map(|y| (y.id.clone(), y))
                .collect();
        let start = |b: &Budget| years.get(&b.fiscal_year_id).map(|y| y.start_date);
        let key = |b: &Budget| {
            BudgetAfter(
                start(b),
                b.department_code.clone(),
                Some(b.created_at),
                b.id.clone(),
            )
        };
        let ordering = |a: &BudgetAfter, b: &BudgetAfter| -> Ordering {
            match order {
                BudgetOrder::YearThenDepartment => {
                    b.0.cmp(&a.0).then(a.1.cmp(&b.1)).then(a.3.cmp(&b.3))
                }
                BudgetOrder::DepartmentThenYear => {
                    a.1.cmp(&b.1).then(b.0.cmp(&a.0)).then(a.3.cmp(&b.3))
                }
                BudgetOrder::Newest => b.2.cmp(&a.2).then(b.3.cmp(&a.3)),
            }
        };
        let mut rows: Vec<Budget> = all;
        rows.sort_by(|a, b| ordering(&key(a), &key(b)));
        if let Some(after) = cursor {
            rows.retain(|b| ordering(&key(b), &after) == Ordering::Greater);
        }
        rows.truncate(usize::try_from(size.fetch()).unwrap_or(usize::MAX));
        let (rows, next_page_token) = self.pager.page("budgets", &filters, rows, size, key);
        let mut budgets = Vec::with_capacity(rows.len());
        let departments: HashMap<String, String> = directory::read::departments(conn)
            .await?
            .into_iter()
            .map(|d| (d.code, d.name))
            .collect();
        for b in &rows {
            let lines = lines::of_budget(conn, &b.id).await?;
            budgets.push(to_proto(
                b,
                years.get(&b.fiscal_year_id).map_or("", |y| y.name.as_str()),
                departments
                    .get(&b.department_code)
                    .map_or("", String::as_str),
                &lines,
            ));
        }
        Ok(pb::ListBudgetsResponse {
            budgets,
            next_page_token,
        })
    }

    /// AddBudgetLine.
    pub async fn add_line(
        &self,
        key: &Idempotent,
        r: &pb::AddBudgetLineRequest,
    ) -> Result<pb::AddBudgetLineResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("budget_id", &r.budget_id);
        let mut violations = v.into_violations();
        let Some(input) = r.line.as_ref() else {
            violations.push(FieldViolation {
                field: "line".into(),
                description: "is required".into(),
            });
            return Err(BmsError::InvalidArgument(violations));
        };
        let checked = check_line(&mut violations, "line.", input, None);
        if !violations.is_empty() {
            return Err(BmsError::InvalidArgument(violations));
        }
        let Some(new_line) = checked else {
            return Err(BmsError::invalid("line", "is invalid"));
        };
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let now = self.clock.now();
        let taken =
            lines::take_budget(&txn, &r.budget_id, "budget_etag", &r.budget_etag, now).await?;
        if input
            .allocated
            .as_ref()
            .is_some_and(|m| m.currency_code != taken.budget.currency)
        {
            return Err(BmsError::invalid(
                "line.allocated.currency_code",
                "must be the budget's currency",
            ));
        }
        let existing = lines::of_budget(&txn, &taken.budget.id).await?;
        if existing.len() > MAX_LINES {
            return Err(BmsError::invalid(
                "line",
                "the budget has 1000 category lines already",
            ));
        }
        if existing
            .iter()
            .any(|l| l.category_code == new_line.category_code)
        {
            return Err(BmsError::AlreadyExists {
                reason: "DUPLICATE_CATEGORY_CODE",
                message: format!("the budget has a line for {}", new_line.category_code),
            });
        }
        if !new_line.account_code.is_empty()
            && existing
                .iter()
                .any(|l| l.account_code == new_line.account_code)
        {
            return Err(BmsError::AlreadyExists {
                reason: "DUPLICATE_ACCOUNT_CODE",
                message: format!(
                    "the budget has a line with account code {}",
                    new_line.account_code
                ),
            });
        }
        let line = line_row(&taken.budget.id, &new_line, now)
            .insert(&txn)
            .await?;
        let budget = self.wire(&txn, &taken.budget).await?;
        let response = pb::AddBudgetLineResponse {
            budget_line: Some(lines::to_proto(&line, &taken.budget.currency)),
            budget: Some(budget),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// TransferBudget: by a finance head, who approves it by making it.
    pub async fn transfer(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::TransferBudgetRequest,
    ) -> Result<pb::TransferBudgetResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("from_budget_line_id", &r.from_budget_line_id);
        v.uuid("to_budget_line_id", &r.to_budget_line_id);
        v.text("reason", &r.reason, MAX_TEXT);
        let mut violations = v.into_violations();
        if r.from_budget_line_id == r.to_budget_line_id && !r.from_budget_line_id.is_empty() {
            violations.push(FieldViolation {
                field: "to_budget_line_id".into(),
                description: "must be another line than from_budget_line_id".into(),
            });
        }
        let amount = match currency::required_amount("amount", r.amount.as_ref()) {
            Ok(m) if m.amount_minor == 0 => {
                violations.push(FieldViolation {
                    field: "amount.amount_minor".into(),
                    description: "must be positive".into(),
                });
                None
            }
            Ok(m) => Some(m),
            Err(e) => {
                violations.push(e);
                None
            }
        };
        let (Some(amount), true) = (amount, violations.is_empty()) else {
            return Err(BmsError::InvalidArgument(violations));
        };
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let from = lines::find(&txn, &r.from_budget_line_id).await?;
        let to = lines::find(&txn, &r.to_budget_line_id).await?;
        if from.budget_id != to.budget_id {
            return Err(BmsError::precondition(
                "LINES_OF_DIFFERENT_BUDGETS",
                "a transfer moves allocation within one budget",
            ));
        }
        let now = self.clock.now();
        let taken =
            lines::take_budget(&txn, &from.budget_id, "budget_etag", &r.budget_etag, now).await?;
        if amount.currency.as_str() != taken.budget.currency {
            return Err(BmsError::invalid(
                "amount.currency_code",
                "must be the budget's currency",
            ));
        }
        let transfer_id = uuid::Uuid::now_v7().to_string();
        let cause = Cause {
            kind: ev::ThresholdCause::Transfer,
            id: transfer_id.clone(),
        };
        let out = Delta {
            transferred_out: amount.amount_minor,
            ..Delta::default()
        };
        let Some(Applied {
            line: from_after, ..
        }) = lines::apply(
            &txn,
            &self.outbox,
            &taken,
            &from.id,
            out,
            Guard::Always,
            &cause,
        )
        .await?
        else {
            return Err(BmsError::precondition(
                "INSUFFICIENT_BUDGET",
                format!("the source line has {} remaining", from.remaining()),
            ));
        };
        let into = Delta {
            transferred_in: amount.amount_minor,
            ..Delta::default()
        };
        let to_after = lines::apply(
            &txn,
            &self.outbox,
            &taken,
            &to.id,
            into,
            Guard::None,
            &cause,
        )
        .await?
        .ok_or(BmsError::NotFound("budget line"))?
        .line;
        let transfer = budget_transfers::ActiveModel {
            id: Set(transfer_id),
            budget_id: Set(taken.budget.id.clone()),
            from_line_id: Set(from.id.clone()),
            to_line_id: Set(to.id.clone()),
            amount_minor: Set(amount.amount_minor),
            currency: Set(taken.budget.currency.clone()),
            reason: Set(r.reason.trim().to_owned()),
            approved_by_user_id: Set(actor.id.clone()),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
        let response = pb::TransferBudgetResponse {
            transfer: Some(transfer_to_proto(
                &transfer,
                &taken.budget,
                &from_after,
                &to_after,
            )),
            from_budget_line: Some(lines::to_proto(&from_after, &taken.budget.currency)),
            to_budget_line: Some(lines::to_proto(&to_after, &taken.budget.currency)),
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(budget = %taken.budget.id, amount = amount.amount_minor, "allocation transferred");
        Ok(response)
    }

    /// ListBudgetTransfers.
    pub async fn list_transfers(
        &self,
        r: &pb::ListBudgetTransfersRequest,
    ) -> Result<pb::ListBudgetTransfersResponse, BmsError> {
        let size = PageSize::parse(r.page_size)?;
        let words: Vec<&str> = r.order_by.split_whitespace().collect();
        let order = match words.as_slice() {
            [] | ["create_time", "desc"] => TransferOrder::Newest,
            ["create_time"] | ["create_time", "asc"] => TransferOrder::Oldest,
            ["amount", "desc"] => TransferOrder::Largest,
            _ => {
                return Err(BmsError::invalid(
                    "order_by",
                    "supported: \"create_time desc\" (the default), \"create_time\", \"amount desc\"",
                ));
            }
        };
        let filters = TransferFilters {
            order,
            budget_id: &r.budget_id,
            budget_line_id: &r.budget_line_id,
            fiscal_year_id: &r.fiscal_year_id,
            department_code: &r.department_code,
        };
        let cursor: Option<TransferAfter> =
            self.pager.open("transfers", &filters, &r.page_token)?;
        use budget_transfers::Column as T;
        // Every order is one key and the id, both in one direction.
        let (key, direction) = match order {
            TransferOrder::Newest => (T::CreatedAt, Direction::Descending),
            TransferOrder::Oldest => (T::CreatedAt, Direction::Ascending),
            TransferOrder::Largest => (T::AmountMinor, Direction::Descending),
        };
        let sort = Sort::default()
            .key(key.into_expr(), direction)
            .key(T::Id.into_expr(), direction);
        let conn = self.db.conn();
        let mut q = sort.order(budget_transfers::Entity::find());
        if !r.budget_id.is_empty() {
            q = q.filter(T::BudgetId.eq(r.budget_id.as_str()));
        }
        if !r.budget_line_id.is_empty() {
            q = q.filter(
                sea_orm::Condition::any()
                    .add(T::FromLineId.eq(r.budget_line_id.as_str()))
                    .add(T::ToLineId.eq(r.budget_line_id.as_str())),
            );
        }
        if !r.fiscal_year_id.is_empty() || !r.department_code.is_empty() {
            let mut budgets_q = budgets::Entity::find()
                .select_only()
                .column(budgets::Column::Id);
            if !r.fiscal_year_id.is_empty() {
                budgets_q =
                    budgets_q.filter(budgets::Column::FiscalYearId.eq(r.fiscal_year_id.as_str()));
            }
            if !r.department_code.is_empty() {
                budgets_q = budgets_q
                    .filter(budgets::Column::DepartmentCode.eq(r.department_code.to_uppercase()));
            }
            q = q.filter(T::BudgetId.in_subquery(sea_orm::QueryTrait::into_query(budgets_q)));
        }
        if let Some(TransferAfter(at, amount, id)) = cursor {
            let values: Vec<Value> = match order {
                TransferOrder::Largest => vec![amount.into(), id.into()],
                _ => vec![at.into(), id.into()],
            };
            q = q.filter(sort.after(values));
        }
        let rows = q.limit(size.fetch()).all(conn).await?;
        let (rows, next_page_token) = self.pager.page("transfers", &filters, rows, size, |t| {
            TransferAfter(Some(t.created_at), t.amount_minor, t.id.clone())
        });
        let mut transfers = Vec::with_capacity(rows.len());
        let mut budgets_seen: HashMap<String, Budget> = HashMap::new();
        for t in &rows {
            if !budgets_seen.contains_key(&t.budget_id)
                && let Some(b) = budgets::Entity::find_by_id(t.budget_id.clone())
                    .one(conn)
                    .await?
            {
                budgets_seen.insert(b.id.clone(), b);
            }
            let Some(budget) = budgets_seen.get(&t.budget_id) else {
                continue;
            };
            let from = lines::find(conn, &t.from_line_id).await?;
            let to = lines::find(conn, &t.to_line_id).await?;
            transfers.push(transfer_to_proto(t, budget, &from, &to));
        }
        Ok(pb::ListBudgetTransfersResponse {
            transfers,
            next_page_token,
        })
    }

    /// UpdateBudget: its description, and (path `lines`) every line's
    /// account code, description, base allocation, control mode and
    /// warning threshold, if `budget.etag` is current.
    pub async fn update(
        &self,
        sent: &pb::Budget,
        paths: &BTreeSet<&'static str>,
    ) -> Result<pb::Budget, BmsError> {
        let mut v = Violations::default();
        v.uuid("budget.id", &sent.id);
        if sent.etag.is_empty() {
            v.add("budget.etag", "is required (the etag you read)");
        }
        if paths.contains("description") {
            v.optional_text("budget.description", &sent.description, MAX_TEXT);
        }
        v.finish()?;
        let txn = self.db.begin_write().await?;
        let current = budgets::Entity::find_by_id(sent.id.clone())
            .one(&txn)
            .await?
            .ok_or(BmsError::NotFound("budget"))?;
        check_etag(System::Bms, "budget.etag", &sent.etag, current.version)?;
        let now = self.clock.now();
        let taken = lines::take_budget(&txn, &sent.id, "budget.etag", &sent.etag, now).await?;
        if paths.contains("description") {
            budgets::Entity::update_many()
                .set(budgets::ActiveModel {
                    description: Set(sent.description.clone()),
                    ..Default::default()
                })
                .filter(budgets::Column::Id.eq(sent.id.clone()))
                .exec(&txn)
                .await?;
        }
        if paths.contains("lines") {
            self.update_lines(&txn, &taken, &sent.lines).await?;
        }
        let budget = budgets::Entity::find_by_id(sent.id.clone())
            .one(&txn)
            .await?
            .ok_or(BmsError::NotFound("budget"))?;
        let wire = self.wire(&txn, &budget).await?;
        txn.commit().await?;
        Ok(wire)
    }

    async fn update_lines(
        &self,
        txn: &DatabaseTransaction,
        taken: &lines::Taken,
        sent: &[pb::BudgetLine],
    ) -> Result<(), BmsError> {
        let current = lines::of_budget(txn, &taken.budget.id).await?;
        let mut violations = Vec::new();
        let mut seen = BTreeSet::new();
        let mut accounts = BTreeSet::new();
        let mut changes = Vec::new();
        for (i, l) in sent.iter().enumerate() {
            let at = |f: &str| format!("budget.lines[{i}].{f}");
            let mut bad = |f: &str, d: &str| {
                violations.push(FieldViolation {
                    field: at(f),
                    description: d.to_owned(),
                });
            };
            let Some(line) = current.iter().find(|c| c.id == l.id) else {
                bad("id", "is not a line of this budget");
                continue;
            };
            if !seen.insert(l.id.clone()) {
                bad("id", "is repeated");
                continue;
            }
            if l.category_code != line.category_code || l.unallocated != line.unallocated {
                bad("category_code", "is immutable");
            }
            let mode = Mode::from_proto(l.control_mode());
            match mode {
                None => bad("control_mode", "is required: STOP, WARN or IGNORE"),
                Some(m) if line.unallocated && m != Mode::Warn => {
                    bad("control_mode", "is always WARN on the unallocated line");
                }
                _ => {}
            }
            let account = l.account_code.trim().to_owned();
            if line.unallocated && account != UNALLOCATED {
                bad(
                    "account_code",
                    "is always \"UNALLOCATED\" on the unallocated line",
                );
            } else if !line.unallocated && account.eq_ignore_ascii_case(UNALLOCATED) {
                bad(
                    "account_code",
                    "\"UNALLOCATED\" is reserved for the unallocated line",
                );
            }
            if !account.is_empty() && !accounts.insert(account.clone()) {
                bad("account_code", "is repeated");
            }
            if l.description.chars().count() > MAX_TEXT {
                bad("description", "must be at most 2000 characters");
            }
            if !(0..=100).contains(&l.warning_threshold_percent) {
                bad(
                    "warning_threshold_percent",
                    "must be 1 to 100 (0 means the default, 90)",
                );
            }
            let base =
                match currency::required_amount(&at("base_allocated"), l.base_allocated.as_ref()) {
                    Ok(m) if m.currency.as_str() != taken.budget.currency => {
                        bad(
                            "base_allocated.currency_code",
                            "must be the budget's currency",
                        );
                        0
                    }
                    Ok(m) => m.amount_minor,
                    Err(e) => {
                        violations.push(e);
                        0
                    }
                };
            changes.push((
                line.clone(),
                account,
                l.description.clone(),
                base,
                mode.unwrap_or(Mode::Warn),
                threshold(l.warning_threshold_percent),
            ));
        }
        if seen.len() != current.len() && violations.is_empty() {
            violations.push(FieldViolation {
                field: "budget.lines".into(),
                description: "must name every line of the budget once".into(),
            });
        }
        if !violations.is_empty() {
            return Err(BmsError::InvalidArgument(violations));
        }
        let cause = Cause {
            kind: ev::ThresholdCause::LineUpdated,
            id: String::new(),
        };
        for (line, account, description, base, mode, threshold) in changes {
            let allocated_after = line.allocated() - line.base_allocated_minor + base;
            if mode == Mode::Stop && line.spent_minor + line.committed_minor > allocated_after {
                return Err(BmsError::precondition(
                    "ALLOCATION_BELOW_USED",
                    format!(
                        "line {} would be allocated less than it has spent and committed",
                        line.id
                    ),
                ));
            }
            budget_lines::Entity::update_many()
                .set(budget_lines::ActiveModel {
                    account_code: Set(account),
                    description: Set(description),
                    base_allocated_minor: Set(base),
                    control_mode: Set(mode.stored().to_owned()),
                    warning_threshold_percent: Set(threshold),
                    ..Default::default()
                })
                .filter(budget_lines::Column::Id.eq(line.id.clone()))
                .exec(txn)
                .await
                .map_err(|e| {
                    if map_kit::db::is_unique_violation(&e) {
                        BmsError::invalid(
                            "budget.lines",
                            "account codes must be unique within the budget",
                        )
                    } else {
                        BmsError::Db(e)
                    }
                })?;
            let after = lines::find(txn, &line.id).await?;
            lines::announce(txn, &self.outbox, taken, after, &cause).await?;
        }
        Ok(())
    }
}
