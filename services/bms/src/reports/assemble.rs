//! A snapshot made into GetBudgetReport's answer: a row per line from its
//! maintained totals, each department's total the sum of its rows, each
//! currency's total the sum of its departments' totals — integer sums in
//! minor units, so every level reconciles exactly.

use std::collections::{BTreeMap, HashMap};

use map_contracts::{bms::v1 as pb, common::v1::Money};
use map_kit::wire::time::timestamp;

use super::{
    months::{self, Calendar, Figures},
    snapshot::{BudgetLines, Snapshot},
};
use crate::lines::{self, Line, Mode, utilization_basis_points};

/// Sums of rows: a department's or a currency's.
#[derive(Debug, Clone, Default)]
struct Sums {
    base_allocated: i64,
    increased: i64,
    transferred_in: i64,
    transferred_out: i64,
    allocated: i64,
    spent: i64,
    committed: i64,
    remaining: i64,
    pending: i64,
    pending_increase: i64,
    overspent_lines: i64,
    over_threshold_lines: i64,
    flagged: i64,
    months: Vec<Figures>,
}

impl Sums {
    fn add_line(&mut self, line: &Line, flagged: i64, months: &[Figures]) {
        let (over_threshold, overspent) = lines::states(line);
        self.base_allocated += line.base_allocated_minor;
        self.increased += line.increased_minor;
        self.transferred_in += line.transferred_in_minor;
        self.transferred_out += line.transferred_out_minor;
        self.allocated += line.allocated();
        self.spent += line.spent_minor;
        self.committed += line.committed_minor;
        self.remaining += line.remaining();
        self.pending += line.pending_minor;
        self.pending_increase += line.pending_increase_minor;
        self.overspent_lines += i64::from(overspent);
        self.over_threshold_lines += i64::from(over_threshold);
        self.flagged += flagged;
        months::add_all(&mut self.months, months);
    }

    fn add(&mut self, other: &Sums) {
        self.base_allocated += other.base_allocated;
        self.increased += other.increased;
        self.transferred_in += other.transferred_in;
        self.transferred_out += other.transferred_out;
        self.allocated += other.allocated;
        self.spent += other.spent;
        self.committed += other.committed;
        self.remaining += other.remaining;
        self.pending += other.pending;
        self.pending_increase += other.pending_increase;
        self.overspent_lines += other.overspent_lines;
        self.over_threshold_lines += other.over_threshold_lines;
        self.flagged += other.flagged;
        months::add_all(&mut self.months, &other.months);
    }

    /// The total on the wire; `of` is (department code, name, budget id),
    /// empty for a fiscal-year total.
    fn to_proto(
        &self,
        currency: &str,
        of: (&str, &str, &str),
        calendar: Option<&Calendar>,
    ) -> pb::BudgetReportTotal {
        let money = money_in(currency);
        let used = self.spent + self.committed;
        pb::BudgetReportTotal {
            currency_code: currency.to_owned(),
            allocated: money(self.allocated),
            spent: money(self.spent),
            committed: money(self.committed),
            remaining: money(self.remaining),
            utilization_basis_points: utilization_basis_points(used, self.allocated),
            department_code: of.0.to_owned(),
            department_name: of.1.to_owned(),
            budget_id: of.2.to_owned(),
            base_allocated: money(self.base_allocated),
            increased: money(self.increased),
            transferred_in: money(self.transferred_in),
            transferred_out: money(self.transferred_out),
            pending: money(self.pending),
            pending_increase: money(self.pending_increase),
            overspent: used > self.allocated,
            overspent_line_count: self.overspent_lines,
            over_threshold_line_count: self.over_threshold_lines,
            flagged_expense_count: self.flagged,
            months: calendar
                .map(|c| months::to_proto(c, &self.months, currency))
                .unwrap_or_default(),
        }
    }
}

fn money_in(currency: &str) -> impl Fn(i64) -> Option<Money> + '_ {
    move |amount_minor| {
        Some(Money {
            amount_minor,
            currency_code: currency.to_owned(),
        })
    }
}

/// One line's row.
fn row(
    b: &BudgetLines,
    line: &Line,
    flagged: i64,
    months: &[Figures],
    calendar: Option<&Calendar>,
) -> pb::BudgetReportRow {
    let currency = b.budget.currency.as_str();
    let money = money_in(currency);
    let (over_threshold, overspent) = lines::states(line);
    pb::BudgetReportRow {
        budget_id: b.budget.id.clone(),
        department_code: b.budget.department_code.clone(),
        department_name: b.department_name.clone(),
        budget_line_id: line.id.clone(),
        account_code: line.account_code.clone(),
        description: line.description.clone(),
        allocated: money(line.allocated()),
        spent: money(line.spent_minor),
        committed: money(line.committed_minor),
        remaining: money(line.remaining()),
        utilization_basis_points: utilization_basis_points(
            line.spent_minor + line.committed_minor,
            line.allocated(),
        ),
        warning_threshold_percent: line.warning_threshold_percent,
        over_threshold,
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
        flagged_expense_count: flagged,
        months: calendar
            .map(|c| months::to_proto(c, months, currency))
            .unwrap_or_default(),
    }
}

/// The report of `snapshot`, with months when `with_months`.
pub fn report(snapshot: &Snapshot, with_months: bool) -> pb::GetBudgetReportResponse {
    let calendar =
        with_months.then(|| Calendar::new(snapshot.year.start_date, snapshot.year.end_date));
    // Each line's spending by month, from its daily sums.
    let mut spent: HashMap<&str, Vec<i64>> = HashMap::new();
    if let Some(c) = &calendar {
        for (line_id, day, amount) in &snapshot.spent_by_day {
            if let Some(i) = c.index(*day) {
                let months = spent
                    .entry(line_id.as_str())
                    .or_insert_with(|| vec![0; c.months().len()]);
                months[i] += amount;
            }
        }
    }
    let mut rows = Vec::new();
    let mut department_totals = Vec::new();
    let mut by_currency: BTreeMap<&str, Sums> = BTreeMap::new();
    for b in &snapshot.budgets {
        let mut sums = Sums::default();
        for line in &b.lines {
            let flagged = snapshot.flagged.get(&line.id).copied().unwrap_or_default();
            let figures = calendar
                .as_ref()
                .map(|c| {
                    let spent = spent.get(line.id.as_str()).map(Vec::as_slice);
                    c.figures(line.allocated(), spent.unwrap_or_default())
                })
                .unwrap_or_default();
            sums.add_line(line, flagged, &figures);
            rows.push(row(b, line, flagged, &figures, calendar.as_ref()));
        }
        department_totals.push(sums.to_proto(
            &b.budget.currency,
            (
                b.budget.department_code.as_str(),
                b.department_name.as_str(),
                b.budget.id.as_str(),
            ),
            calendar.as_ref(),
        ));
        by_currency
            .entry(b.budget.currency.as_str())
            .or_default()
            .add(&sums);
    }
    let totals = by_currency
        .iter()
        .map(|(currency, sums)| sums.to_proto(currency, ("", "", ""), calendar.as_ref()))
        .collect();
    pb::GetBudgetReportResponse {
        fiscal_year_id: snapshot.year.id.clone(),
        fiscal_year_name: snapshot.year.name.clone(),
        rows,
        totals,
        generate_time: Some(timestamp(snapshot.read_at)),
        department_totals,
        unassigned_totals: snapshot
            .held
            .iter()
            .map(|h| Money {
                amount_minor: h.amount_minor,
                currency_code: h.currency.clone(),
            })
            .collect(),
        unassigned_expense_count: snapshot.held.iter().map(|h| h.count).sum(),
    }
}
