//! Expenses: money spent, booked on a budget line through
//! [`crate::lines`] (a STOP line refuses what would overspend it, in the
//! same conditional update that books it), voided with a reason, listed.
//! Every creation and change publishes `bms.expense.*` with the whole
//! expense and its version in the same transaction (AMS mirrors the ones
//! of its assets to show the line that paid).

use map_contracts::{bms::v1 as pb, common::v1::Money, events::v1 as ev};
use map_kit::{
    FieldViolation, System, Violations,
    authn::Principal,
    clock::Clock,
    db::Db,
    directory,
    idempotency::Idempotent,
    outbox::{NewEvent, Outbox},
    paging::{Direction, PageSize, Pager, Sort},
    wire::{
        currency,
        date::{date, from_date, required_date},
        etag::{check_etag, etag},
        time::timestamp,
    },
};
use sea_orm::{
    ActiveModelTrait as _, ActiveValue::Set, ColumnTrait as _, Condition, ConnectionTrait,
    DatabaseTransaction, EntityTrait as _, QueryFilter as _, QuerySelect as _, Value,
};
use serde::{Deserialize, Serialize};

use crate::{
    BmsError,
    budgets::MAX_TEXT,
    entity::{budgets, expenses},
    fiscal_years,
    lines::{self, Applied, Cause, Delta, Guard, Mode, Taken},
    proposals::spending,
};

/// An expense as stored.
pub type Expense = expenses::Model;

/// The stored statuses.
pub mod status {
    /// Booked on a line.
    pub const RECORDED: &str = "recorded";
    /// Held on no line.
    pub const UNASSIGNED: &str = "unassigned";
    /// Cancelled.
    pub const VOIDED: &str = "voided";
}

/// The status on the wire.
pub fn status_to_proto(s: &str) -> pb::ExpenseStatus {
    match s {
        status::RECORDED => pb::ExpenseStatus::Recorded,
        status::UNASSIGNED => pb::ExpenseStatus::Unassigned,
        _ => pb::ExpenseStatus::Voided,
    }
}

fn status_stored(s: pb::ExpenseStatus) -> Option<&'static str> {
    match s {
        pb::ExpenseStatus::Recorded => Some(status::RECORDED),
        pb::ExpenseStatus::Unassigned => Some(status::UNASSIGNED),
        pb::ExpenseStatus::Voided => Some(status::VOIDED),
        pb::ExpenseStatus::Unspecified => None,
    }
}

/// A flag's stored name: the wire name without its prefix
/// (`NO_MATCHING_LINE`).
pub fn flag_stored(f: pb::ExpenseFlag) -> &'static str {
    f.as_str_name()
        .strip_prefix("EXPENSE_FLAG_")
        .unwrap_or_default()
}

/// The stored flags of `e`, on the wire.
pub fn flags(e: &Expense) -> Vec<pb::ExpenseFlag> {
    e.flags
        .split(',')
        .filter(|f| !f.is_empty())
        .filter_map(|f| pb::ExpenseFlag::from_str_name(&format!("EXPENSE_FLAG_{f}")))
        .collect()
}

/// `flags` as stored.
pub fn stored_flags(flags: &[pb::ExpenseFlag]) -> String {
    flags
        .iter()
        .map(|f| flag_stored(*f))
        .collect::<Vec<_>>()
        .join(",")
}

fn money(amount_minor: i64, currency: &str) -> Option<Money> {
    Some(Money {
        amount_minor,
        currency_code: currency.to_owned(),
    })
}

/// Where an expense is booked, as its wire form and its events name it:
/// its line's category, account code and description, and its fiscal
/// year's name (all empty while it is held on no line). A command builds it
/// from the line and budget it holds; a listing reads it ([`Placement::read`]).
#[derive(Debug, Clone, Default)]
pub struct Placement {
    /// The line's category code; empty on the unallocated line.
    pub category_code: String,
    /// Whether it is the unallocated line.
    pub unallocated: bool,
    /// The line's description.
    pub description: String,
    /// The line's account code.
    pub account_code: String,
    /// The name of the line's budget's fiscal year.
    pub fiscal_year_name: String,
}

impl Placement {
    /// On `line` of a budget of `fiscal_year_name`.
    pub fn on(line: &lines::Line, fiscal_year_name: &str) -> Placement {
        Placement {
            category_code: line.category_code.clone(),
            unallocated: line.unallocated,
            description: line.description.clone(),
            account_code: line.account_code.clone(),
            fiscal_year_name: fiscal_year_name.to_owned(),
        }
    }

    /// The placement of `e`, read in `conn`.
    pub async fn read<C: ConnectionTrait>(conn: &C, e: &Expense) -> Result<Placement, BmsError> {
        if e.budget_line_id.is_empty() {
            return Ok(Placement::default());
        }
        let line = lines::find(conn, &e.budget_line_id).await?;
        let year = fiscal_years::find(conn, &e.fiscal_year_id).await?;
        Ok(Placement::on(&line, &year.name))
    }
}

/// The expense on the wire.
pub fn to_proto(e: &Expense, line: &Placement) -> pb::Expense {
    pb::Expense {
        id: e.id.clone(),
        budget_id: e.budget_id.clone(),
        budget_line_id: e.budget_line_id.clone(),
        account_code: line.account_code.clone(),
        amount: money(e.amount_minor, &e.currency),
        description: e.description.clone(),
        source: e.source.clone(),
        source_ref: e.source_ref.clone(),
        proposal_id: e.proposal_id.clone(),
        released_commitment: money(e.released_commitment_minor, &e.currency),
        status: status_to_proto(&e.status).into(),
        recorded_by_user_id: e.recorded_by_user_id.clone(),
        record_time: Some(timestamp(e.recorded_at)),
        voided_by_user_id: e.voided_by_user_id.clone(),
        void_time: e.voided_at.map(timestamp),
        void_reason: e.void_reason.clone(),
        etag: etag(e.version),
        version: e.version,
        expense_date: Some(date(e.expense_date)),
        department_code: e.department_code.clone(),
        fiscal_year_id: e.fiscal_year_id.clone(),
        category_code: line.category_code.clone(),
        unallocated: line.unallocated,
        source_system: e.source_system.clone(),
        asset_id: e.asset_id.clone(),
        asset_number: e.asset_number.clone(),
        source_amount: money(e.source_amount_minor, &e.source_currency),
        asset_category_code: e.asset_category_code.clone(),
        flags: flags(e).into_iter().map(Into::into).collect(),
        flag_detail: e.flag_detail.clone(),
        diverted_from_budget_line_id: e.diverted_from_budget_line_id.clone(),
        adjusted_expense_id: e.adjusted_expense_id.clone(),
        assigned_by_user_id: e.assigned_by_user_id.clone(),
        assign_time: e.assigned_at.map(timestamp),
        assign_note: e.assign_note.clone(),
    }
}

/// `e` on the wire, where it is booked read in `conn`.
pub async fn wire<C: ConnectionTrait>(conn: &C, e: &Expense) -> Result<pb::Expense, BmsError> {
    Ok(to_proto(e, &Placement::read(conn, e).await?))
}

/// The person or key who did something, as events name them.
pub fn actor_ref(p: &Principal) -> ev::UserRef {
    ev::UserRef {
        user_id: p.id.clone(),
        display_name: p.display_name.clone(),
        email: p.email.clone(),
    }
}

/// Publishes `e` (the whole expense, its version) booked at `placement`
/// as `event_type`, with the event's extra fields from `wrap`. The people
/// it names are looked up in the directory unless `actor` is one of them.
pub async fn publish<M: prost::Name>(
    txn: &DatabaseTransaction,
    outbox: &Outbox,
    e: &Expense,
    placement: &Placement,
    actor: Option<&ev::UserRef>,
    event_type: &'static str,
    wrap: impl FnOnce(ev::ExpenseSnapshot) -> M,
) -> Result<(), BmsError> {
    let user = |id: &str| {
        let id = id.to_owned();
        let known = actor.filter(|a| a.user_id == id).cloned();
        async move {
            if id.is_empty() {
                Ok::<_, BmsError>(None)
            } else if known.is_some() {
                Ok(known)
            } else {
                Ok(Some(directory::read::user_ref(txn, &id).await?))
            }
        }
    };
    let snapshot = ev::ExpenseSnapshot {
        id: e.id.clone(),
        status: match status_to_proto(&e.status) {
            pb::ExpenseStatus::Recorded => ev::ExpenseStatus::Recorded,
            pb::ExpenseStatus::Unassigned => ev::ExpenseStatus::Unassigned,
            _ => ev::ExpenseStatus::Voided,
        }
        .into(),
        amount: money(e.amount_minor, &e.currency),
        source_amount: money(e.source_amount_minor, &e.source_currency),
        expense_date: Some(date(e.expense_date)),
        description: e.description.clone(),
        budget_id: e.budget_id.clone(),
        budget_line_id: e.budget_line_id.clone(),
        account_code: placement.account_code.clone(),
        category_code: placement.category_code.clone(),
        line_description: placement.description.clone(),
        unallocated: placement.unallocated,
        department_code: e.department_code.clone(),
        fiscal_year_id: e.fiscal_year_id.clone(),
        fiscal_year_name: placement.fiscal_year_name.clone(),
        source_system: e.source_system.clone(),
        source: e.source.clone(),
        source_ref: e.source_ref.clone(),
        asset_id: e.asset_id.clone(),
        asset_number: e.asset_number.clone(),
        asset_category_code: e.asset_category_code.clone(),
        proposal_id: e.proposal_id.clone(),
        released_commitment: money(e.released_commitment_minor, &e.currency),
        // The numbers of map.events.v1.ExpenseFlag equal map.bms.v1's.
        flags: flags(e).into_iter().map(|f| f as i32).collect(),
        flag_detail: e.flag_detail.clone(),
        diverted_from_budget_line_id: e.diverted_from_budget_line_id.clone(),
        adjusted_expense_id: e.adjusted_expense_id.clone(),
        recorded_by: user(&e.recorded_by_user_id).await?,
        record_time: Some(timestamp(e.recorded_at)),
        assigned_by: user(&e.assigned_by_user_id).await?,
        assign_time: e.assigned_at.map(timestamp),
        voided_by: user(&e.voided_by_user_id).await?,
        void_time: e.voided_at.map(timestamp),
        void_reason: e.void_reason.clone(),
        version: e.version,
    };
    outbox
        .enqueue(
            txn,
            NewEvent::new(event_type, e.id.clone(), e.version, &wrap(snapshot)),
        )
        .await
        .map_err(|err| BmsError::from(map_kit::ApiError::from(err)))?;
    Ok(())
}

/// FAILED_PRECONDITION BUDGET_EXCEEDED for a STOP line that has
/// `remaining` minor units of `currency` left, its ErrorInfo metadata
/// holding `remaining_minor` (what a client may still spend).
fn exceeded(remaining: i64, currency: &str) -> BmsError {
    BmsError::Api(Box::new(map_kit::ApiError::FailedPrecondition(
        map_kit::Reason::new(
            System::Bms,
            "BUDGET_EXCEEDED",
            format!("the line would be overspent: {remaining} {currency} remaining"),
        )
        .with_metadata("remaining_minor", remaining.to_string()),
    )))
}

/// The existing expense of `source` and `source_ref` (when a reference is
/// given): the idempotency of bookings by their origin.
pub async fn by_source<C: ConnectionTrait>(
    conn: &C,
    source: &str,
    source_ref: &str,
) -> Result<Option<Expense>, BmsError> {
    if source_ref.is_empty() {
        return Ok(None);
    }
    Ok(expenses::Entity::find()
        .filter(expenses::Column::Source.eq(source))
        .filter(expenses::Column::SourceRef.eq(source_ref))
        .one(conn)
        .await?)
}

/// The expense `id`.
pub async fn find<C: ConnectionTrait>(conn: &C, id: &str) -> Result<Expense, BmsError> {
    expenses::Entity::find_by_id(id.to_owned())
        .one(conn)
        .await?
        .ok_or(BmsError::NotFound("expense"))
}

/// A new expense row with the fields every expense has; the caller sets
/// the rest.
pub fn new_row(
    id: String,
    amount_minor: i64,
    currency: &str,
    expense_date: chrono::NaiveDate,
    now: chrono::DateTime<chrono::Utc>,
) -> expenses::ActiveModel {
    expenses::ActiveModel {
        id: Set(id),
        status: Set(status::RECORDED.into()),
        budget_id: Set(String::new()),
        budget_line_id: Set(String::new()),
        department_code: Set(String::new()),
        fiscal_year_id: Set(String::new()),
        amount_minor: Set(amount_minor),
        currency: Set(currency.to_owned()),
        source_amount_minor: Set(amount_minor),
        source_currency: Set(currency.to_owned()),
        expense_date: Set(expense_date),
        description: Set(String::new()),
        source_system: Set("bms".into()),
        source: Set("manual".into()),
        source_ref: Set(String::new()),
        proposal_id: Set(String::new()),
        released_commitment_minor: Set(0),
        asset_id: Set(String::new()),
        asset_number: Set(String::new()),
        asset_category_code: Set(String::new()),
        flags: Set(String::new()),
        flag_detail: Set(String::new()),
        diverted_from_budget_line_id: Set(String::new()),
        adjusted_expense_id: Set(String::new()),
        recorded_by_user_id: Set(String::new()),
        recorded_at: Set(now),
        voided_by_user_id: Set(String::new()),
        voided_at: Set(None),
        void_reason: Set(String::new()),
        assigned_by_user_id: Set(String::new()),
        assigned_at: Set(None),
        assign_note: Set(String::new()),
        version: Set(1),
    }
}

/// The orders of ListExpenses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Order {
    Newest,
    Oldest,
    DateDesc,
    DateAsc,
    AmountDesc,
    AmountAsc,
}

/// Where a page of expenses ended.
#[derive(Debug, Serialize, Deserialize)]
struct After(
    Option<chrono::DateTime<chrono::Utc>>,
    Option<chrono::NaiveDate>,
    i64,
    String,
);

/// The expenses' domain.
#[derive(Debug, Clone)]
pub struct Expenses {
    db: Db,
    outbox: Outbox,
    clock: Clock,
    pager: Pager,
}

impl Expenses {
    /// Over `db`.
    pub fn new(db: Db, clock: Clock, pager: Pager) -> Expenses {
        Expenses {
            db,
            outbox: Outbox::new(System::Bms).with_clock(clock.clone()),
            clock,
            pager,
        }
    }

    /// RecordExpense: a manual expense on a line, refused when it would
    /// overspend a STOP line.
    pub async fn record(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::RecordExpenseRequest,
    ) -> Result<pb::RecordExpenseResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("budget_line_id", &r.budget_line_id);
        v.text("description", &r.description, MAX_TEXT);
        if r.source.starts_with("ams.") {
            v.add("source", "\"ams.\" sources are the worker's");
        }
        if !r.proposal_id.is_empty() {
            v.uuid("proposal_id", &r.proposal_id);
        }
        let mut violations = v.into_violations();
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
        let today = self.clock.now().date_naive();
        let day = match required_date("expense_date", r.expense_date.as_ref()) {
            Ok(d) if d > today => {
                violations.push(FieldViolation {
                    field: "expense_date".into(),
                    description: "must not be in the future".into(),
                });
                None
            }
            Ok(d) => Some(d),
            Err(map_kit::ApiError::InvalidArgument(v)) => {
                violations.extend(v);
                None
            }
            Err(e) => return Err(e.into()),
        };
        let (Some(amount), Some(day), true) = (amount, day, violations.is_empty()) else {
            return Err(BmsError::InvalidArgument(violations));
        };
        let source = if r.source.trim().is_empty() {
            "manual".to_owned()
        } else {
            r.source.trim().to_owned()
        };
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        if let Some(existing) = by_source(&txn, &source, &r.source_ref).await? {
            let line = if existing.budget_line_id.is_empty() {
                None
            } else {
                let line = lines::find(&txn, &existing.budget_line_id).await?;
                let currency = existing.currency.clone();
                Some(lines::to_proto(&line, &currency))
            };
            return Ok(pb::RecordExpenseResponse {
                expense: Some(wire(&txn, &existing).await?),
                duplicate: true,
                budget_line: line,
                threshold_crossed: false,
            });
        }
        let line = lines::find(&txn, &r.budget_line_id).await?;
        let now = self.clock.now();
        let taken =
            lines::take_budget(&txn, &line.budget_id, "budget_etag", &r.budget_etag, now).await?;
        if amount.currency.as_str() != taken.budget.currency {
            return Err(BmsError::invalid(
                "amount.currency_code",
                "must be the budget's currency",
            ));
        }
        if day < taken.fiscal_year.start_date || day > taken.fiscal_year.end_date {
            return Err(BmsError::invalid(
                "expense_date",
                format!(
                    "must be within the budget's fiscal year {}",
                    taken.fiscal_year.name
                ),
            ));
        }
        // An expense of a spending request takes what it can of the
        // request's commitment on the line (the budget is taken, so no
        // racing expense takes it too).
        let commitment = if r.proposal_id.is_empty() {
            None
        } else {
            Some(spending::commitment(&txn, &r.proposal_id, &line.id, amount.amount_minor).await?)
        };
        let covered = commitment.as_ref().map_or(0, |c| c.covered);
        let id = uuid::Uuid::now_v7().to_string();
        let cause = Cause {
            kind: ev::ThresholdCause::Expense,
            id: id.clone(),
        };
        let delta = Delta {
            spent: amount.amount_minor,
            committed: -covered,
            ..Delta::default()
        };
        let Some(Applied { line, crossed }) = lines::apply(
            &txn,
            &self.outbox,
            &taken,
            &line.id,
            delta,
            Guard::IfStop,
            &cause,
        )
        .await?
        else {
            return Err(exceeded(
                lines::find(&txn, &line.id).await?.remaining(),
                &taken.budget.currency,
            ));
        };
        if let Some(c) = &commitment {
            spending::take(&txn, &c.proposal_id, c.position, covered, now).await?;
        }
        let mut row = new_row(id, amount.amount_minor, &taken.budget.currency, day, now);
        row.proposal_id = Set(r.proposal_id.clone());
        row.released_commitment_minor = Set(covered);
        row.budget_id = Set(taken.budget.id.clone());
        row.budget_line_id = Set(line.id.clone());
        row.department_code = Set(taken.budget.department_code.clone());
        row.fiscal_year_id = Set(taken.fiscal_year.id.clone());
        row.description = Set(r.description.trim().to_owned());
        row.source = Set(source);
        row.source_ref = Set(r.source_ref.clone());
        row.recorded_by_user_id = Set(actor.id.clone());
        if line.overspent && Mode::of(&line) == Mode::Warn {
            row.flags = Set(stored_flags(&[pb::ExpenseFlag::Overspent]));
            row.flag_detail = Set("it left its line overspent".into());
        }
        let expense = row.insert(&txn).await?;
        let placement = Placement::on(&line, &taken.fiscal_year.name);
        let actor_ref = actor_ref(actor);
        publish(
            &txn,
            &self.outbox,
            &expense,
            &placement,
            Some(&actor_ref),
            "bms.expense.recorded",
            |s| ev::BmsExpenseRecorded { expense: Some(s) },
        )
        .await?;
        let response = pb::RecordExpenseResponse {
            expense: Some(to_proto(&expense, &placement)),
            duplicate: false,
            budget_line: Some(lines::to_proto(&line, &taken.budget.currency)),
            threshold_crossed: crossed,
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(expense = %expense.id, line = %line.id, "expense recorded");
        Ok(response)
    }

    /// VoidExpense: a recorded or held expense cancelled; a recorded one's
    /// amount leaves its line.
    pub async fn void(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::VoidExpenseRequest,
    ) -> Result<pb::VoidExpenseResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("expense_id", &r.expense_id);
        v.text("reason", &r.reason, MAX_TEXT);
        v.finish()?;
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let expense = find(&txn, &r.expense_id).await?;
        if !r.etag.is_empty() {
            check_etag(System::Bms, "etag", &r.etag, expense.version)?;
        }
        if expense.status == status::VOIDED {
            return Err(BmsError::precondition(
                "ALREADY_VOIDED",
                "the expense is voided",
            ));
        }
        let now = self.clock.now();
        let mut line_after = None;
        let mut placement = Placement::default();
        if expense.status == status::RECORDED {
            let taken = lines::take_budget(&txn, &expense.budget_id, "etag", "", now).await?;
            let cause = Cause {
                kind: ev::ThresholdCause::ExpenseVoided,
                id: expense.id.clone(),
            };
            // What it took of a spending request's commitment returns
            // while the request is approved; after closing it stays
            // released.
            let returned = spending::give_back(&txn, &expense, now).await?;
            let delta = Delta {
                spent: -expense.amount_minor,
                committed: returned,
                ..Delta::default()
            };
            let applied = lines::apply(
                &txn,
                &self.outbox,
                &taken,
                &expense.budget_line_id,
                delta,
                Guard::None,
                &cause,
            )
            .await?
            .ok_or(BmsError::NotFound("budget line"))?;
            line_after = Some(lines::to_proto(&applied.line, &taken.budget.currency));
            placement = Placement::on(&applied.line, &taken.fiscal_year.name);
        }
        let done = expenses::Entity::update_many()
            .set(expenses::ActiveModel {
                status: Set(status::VOIDED.into()),
                voided_by_user_id: Set(actor.id.clone()),
                voided_at: Set(Some(now)),
                void_reason: Set(r.reason.trim().to_owned()),
                version: Set(expense.version + 1),
                ..Default::default()
            })
            .filter(expenses::Column::Id.eq(expense.id.clone()))
            .filter(expenses::Column::Version.eq(expense.version))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(BmsError::EtagMismatch);
        }
        let voided = find(&txn, &expense.id).await?;
        let previous = status_to_proto(&expense.status);
        let actor_ref = actor_ref(actor);
        publish(
            &txn,
            &self.outbox,
            &voided,
            &placement,
            Some(&actor_ref),
            "bms.expense.voided",
            |s| ev::BmsExpenseVoided {
                expense: Some(s),
                actor: Some(actor_ref.clone()),
                previous_status: previous as i32,
            },
        )
        .await?;
        let response = pb::VoidExpenseResponse {
            expense: Some(to_proto(&voided, &placement)),
            budget_line: line_after,
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        tracing::info!(expense = %voided.id, "expense voided");
        Ok(response)
    }

    /// AssignExpense: a held expense booked on a line, or a recorded one
    /// moved to another line, in one transaction.
    pub async fn assign(
        &self,
        actor: &Principal,
        key: &Idempotent,
        r: &pb::AssignExpenseRequest,
    ) -> Result<pb::AssignExpenseResponse, BmsError> {
        let mut v = Violations::default();
        v.uuid("expense_id", &r.expense_id);
        v.uuid("budget_line_id", &r.budget_line_id);
        v.text("note", &r.note, MAX_TEXT);
        let mut violations = v.into_violations();
        let amount = match r.amount.as_ref() {
            None => None,
            Some(m) => match currency::amount("amount", m) {
                Ok(m) => Some(m),
                Err(e) => {
                    violations.push(e);
                    None
                }
            },
        };
        if !violations.is_empty() {
            return Err(BmsError::InvalidArgument(violations));
        }
        let txn = self.db.begin_write().await?;
        if let Some(first) = key.replay(&txn).await? {
            return Ok(first);
        }
        let expense = find(&txn, &r.expense_id).await?;
        if !r.etag.is_empty() {
            check_etag(System::Bms, "etag", &r.etag, expense.version)?;
        }
        if expense.status == status::VOIDED {
            return Err(BmsError::precondition(
                "ALREADY_VOIDED",
                "the expense is voided",
            ));
        }
        if !expense.proposal_id.is_empty() {
            return Err(BmsError::precondition(
                "PROPOSAL_EXPENSE",
                "it spends a proposal: void it and record it again instead",
            ));
        }
        if expense.budget_line_id == r.budget_line_id {
            return Err(BmsError::invalid(
                "budget_line_id",
                "is the expense's current line",
            ));
        }
        let target = lines::find(&txn, &r.budget_line_id).await?;
        let target_budget = budgets::Entity::find_by_id(target.budget_id.clone())
            .one(&txn)
            .await?
            .ok_or(BmsError::NotFound("budget"))?;
        let booked = match amount {
            Some(m) if m.currency.as_str() != target_budget.currency => {
                return Err(BmsError::invalid(
                    "amount.currency_code",
                    "must be the target budget's currency",
                ));
            }
            Some(m) if expense.amount_minor < 0 => -m.amount_minor,
            Some(m) => m.amount_minor,
            None if expense.currency != target_budget.currency => {
                return Err(BmsError::invalid(
                    "amount",
                    "is required: the expense is in another currency than the target budget",
                ));
            }
            None => expense.amount_minor,
        };
        let now = self.clock.now();
        let mut previous_line = None;
        // Budgets are taken in id order, so two moves between the same two
        // budgets never wait on each other crosswise.
        let mut budget_ids = vec![target.budget_id.clone()];
        if expense.status == status::RECORDED && expense.budget_id != target.budget_id {
            budget_ids.push(expense.budget_id.clone());
        }
        budget_ids.sort();
        let mut taken: Vec<Taken> = Vec::new();
        for id in &budget_ids {
            taken.push(lines::take_budget(&txn, id, "etag", "", now).await?);
        }
        let taken_of = |id: &str| taken.iter().find(|t| t.budget.id == id).cloned();
        let target_taken = taken_of(&target.budget_id).ok_or(BmsError::NotFound("budget"))?;
        if expense.expense_date < target_taken.fiscal_year.start_date
            || expense.expense_date > target_taken.fiscal_year.end_date
        {
            return Err(BmsError::precondition(
                "DATE_OUTSIDE_FISCAL_YEAR",
                format!(
                    "the expense's date is outside {}",
                    target_taken.fiscal_year.name
                ),
            ));
        }
        let cause = Cause {
            kind: ev::ThresholdCause::ExpenseAssigned,
            id: expense.id.clone(),
        };
        if expense.status == status::RECORDED {
            let old = taken_of(&expense.budget_id).ok_or(BmsError::NotFound("budget"))?;
            let delta = Delta {
                spent: -expense.amount_minor,
                ..Delta::default()
            };
            let applied = lines::apply(
                &txn,
                &self.outbox,
                &old,
                &expense.budget_line_id,
                delta,
                Guard::None,
                &cause,
            )
            .await?
            .ok_or(BmsError::NotFound("budget line"))?;
            previous_line = Some(lines::to_proto(&applied.line, &old.budget.currency));
        }
        let delta = Delta {
            spent: booked,
            ..Delta::default()
        };
        let Some(applied) = lines::apply(
            &txn,
            &self.outbox,
            &target_taken,
            &target.id,
            delta,
            Guard::IfStop,
            &cause,
        )
        .await?
        else {
            return Err(BmsError::precondition(
                "BUDGET_EXCEEDED",
                "the target line would be overspent",
            ));
        };
        let done = expenses::Entity::update_many()
            .set(expenses::ActiveModel {
                status: Set(status::RECORDED.into()),
                budget_id: Set(target_budget.id.clone()),
                budget_line_id: Set(target.id.clone()),
                department_code: Set(target_budget.department_code.clone()),
                fiscal_year_id: Set(target_budget.fiscal_year_id.clone()),
                amount_minor: Set(booked),
                currency: Set(target_budget.currency.clone()),
                assigned_by_user_id: Set(actor.id.clone()),
                assigned_at: Set(Some(now)),
                assign_note: Set(r.note.trim().to_owned()),
                version: Set(expense.version + 1),
                ..Default::default()
            })
            .filter(expenses::Column::Id.eq(expense.id.clone()))
            .filter(expenses::Column::Version.eq(expense.version))
            .exec(&txn)
            .await?;
        if done.rows_affected != 1 {
            return Err(BmsError::EtagMismatch);
        }
        let assigned = find(&txn, &expense.id).await?;
        let previous_line_id = expense.budget_line_id.clone();
        let placement = Placement::on(&applied.line, &target_taken.fiscal_year.name);
        let actor_ref = actor_ref(actor);
        publish(
            &txn,
            &self.outbox,
            &assigned,
            &placement,
            Some(&actor_ref),
            "bms.expense.assigned",
            |s| ev::BmsExpenseAssigned {
                expense: Some(s),
                previous_budget_line_id: previous_line_id,
                actor: Some(actor_ref.clone()),
                note: r.note.trim().to_owned(),
            },
        )
        .await?;
        let response = pb::AssignExpenseResponse {
            expense: Some(to_proto(&assigned, &placement)),
            budget_line: Some(lines::to_proto(&applied.line, &target_budget.currency)),
            previous_budget_line: previous_line,
        };
        key.record(&txn, &response, now).await?;
        txn.commit().await?;
        Ok(response)
    }

    /// ListExpenses.
    pub async fn list(
        &self,
        r: &pb::ListExpensesRequest,
    ) -> Result<pb::ListExpensesResponse, BmsError> {
        let size = PageSize::parse(r.page_size)?;
        let words: Vec<&str> = r.order_by.split_whitespace().collect();
        let order = match words.as_slice() {
            [] | ["record_time", "desc"] => Order::Newest,
            ["record_time"] | ["record_time", "asc"] => Order::Oldest,
            ["expense_date", "desc"] => Order::DateDesc,
            ["expense_date"] | ["expense_date", "asc"] => Order::DateAsc,
            ["amount", "desc"] => Order::AmountDesc,
            ["amount"] | ["amount", "asc"] => Order::AmountAsc,
            _ => {
                return Err(BmsError::invalid(
                    "order_by",
                    "supported: \"record_time desc\" (the default), \"record_time\", \
                     \"expense_date desc\", \"expense_date\", \"amount desc\", \"amount\"",
                ));
            }
        };
        let mut statuses = Vec::new();
        for (i, s) in r.statuses.iter().enumerate() {
            match pb::ExpenseStatus::try_from(*s).ok().and_then(status_stored) {
                Some(s) => statuses.push(s),
                None => {
                    return Err(BmsError::invalid(
                        format!("statuses[{i}]"),
                        "is not a status",
                    ));
                }
            }
        }
        let mut flag_names = Vec::new();
        for (i, f) in r.flags.iter().enumerate() {
            match pb::ExpenseFlag::try_from(*f) {
                Ok(pb::ExpenseFlag::Unspecified) | Err(_) => {
                    return Err(BmsError::invalid(format!("flags[{i}]"), "is not a flag"));
                }
                Ok(f) => flag_names.push(flag_stored(f)),
            }
        }
        let start = match r.start_date.as_ref() {
            Some(d) => Some(from_date("start_date", d)?),
            None => None,
        };
        let end = match r.end_date.as_ref() {
            Some(d) => Some(from_date("end_date", d)?),
            None => None,
        };
        use expenses::Column as E;
        // Every order is one key and the id, both in one direction.
        let (key, direction) = match order {
            Order::Newest => (E::RecordedAt, Direction::Descending),
            Order::Oldest => (E::RecordedAt, Direction::Ascending),
            Order::DateDesc => (E::ExpenseDate, Direction::Descending),
            Order::DateAsc => (E::ExpenseDate, Direction::Ascending),
            Order::AmountDesc => (E::AmountMinor, Direction::Descending),
            Order::AmountAsc => (E::AmountMinor, Direction::Ascending),
        };
        let sort = Sort::default()
            .key(key.into_expr(), direction)
            .key(E::Id.into_expr(), direction);
        let filters = (
            order,
            &r.budget_id,
            &r.budget_line_id,
            &statuses,
            &r.source,
            &r.source_ref,
            &r.proposal_id,
            &flag_names,
            r.flagged_only,
            &r.source_system,
            &r.asset_id,
            &r.department_code,
            &r.fiscal_year_id,
            (start, end),
        );
        let cursor: Option<After> = self.pager.open("expenses", &filters, &r.page_token)?;
        let mut q = sort.order(expenses::Entity::find());
        for (column, value) in [
            (E::BudgetId, &r.budget_id),
            (E::BudgetLineId, &r.budget_line_id),
            (E::Source, &r.source),
            (E::SourceRef, &r.source_ref),
            (E::ProposalId, &r.proposal_id),
            (E::SourceSystem, &r.source_system),
            (E::AssetId, &r.asset_id),
            (E::FiscalYearId, &r.fiscal_year_id),
        ] {
            if !value.is_empty() {
                q = q.filter(column.eq(value.as_str()));
            }
        }
        if !r.department_code.is_empty() {
            q = q.filter(E::DepartmentCode.eq(r.department_code.to_uppercase()));
        }
        if !statuses.is_empty() {
            q = q.filter(E::Status.is_in(statuses.iter().copied()));
        }
        if r.flagged_only {
            q = q.filter(E::Flags.ne(""));
        }
        if !flag_names.is_empty() {
            let mut any = Condition::any();
            for f in &flag_names {
                // Flags are stored comma-separated: match a whole name.
                any = any
                    .add(E::Flags.eq(*f))
                    .add(E::Flags.like(format!("{f},%")))
                    .add(E::Flags.like(format!("%,{f}")))
                    .add(E::Flags.like(format!("%,{f},%")));
            }
            q = q.filter(any);
        }
        if let Some(d) = start {
            q = q.filter(E::ExpenseDate.gte(d));
        }
        if let Some(d) = end {
            q = q.filter(E::ExpenseDate.lte(d));
        }
        if let Some(After(at, day, amount, id)) = cursor {
            let values: Vec<Value> = match order {
                Order::Newest | Order::Oldest => vec![at.into(), id.into()],
                Order::DateDesc | Order::DateAsc => vec![day.into(), id.into()],
                Order::AmountDesc | Order::AmountAsc => vec![amount.into(), id.into()],
            };
            q = q.filter(sort.after(values));
        }
        let conn = self.db.conn();
        let rows = q.limit(size.fetch()).all(conn).await?;
        let (rows, next_page_token) = self.pager.page("expenses", &filters, rows, size, |e| {
            After(
                Some(e.recorded_at),
                Some(e.expense_date),
                e.amount_minor,
                e.id.clone(),
            )
        });
        let mut expenses = Vec::with_capacity(rows.len());
        for e in &rows {
            expenses.push(wire(conn, e).await?);
        }
        Ok(pb::ListExpensesResponse {
            expenses,
            next_page_token,
        })
    }
}
