//! The calendar months of a fiscal year and the straight-line plan a
//! report compares spending with: the allocation times the year's days up
//! to a month's last day (at most the year's end), divided by the year's
//! days, rounded down. Amounts only add here, so a total's months are the
//! exact sums of its rows' months.

use chrono::{Datelike as _, NaiveDate};
use map_contracts::{bms::v1 as pb, common::v1::Money, google::r#type::Date};

/// One calendar month a fiscal year overlaps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Month {
    /// The calendar year.
    pub year: i32,
    /// The calendar month, 1 to 12.
    pub month: u32,
    /// The fiscal year's days from its start to this month's last day (or
    /// to the year's end, when that comes first).
    pub days_to_end: i64,
}

impl Month {
    /// On the wire: year and month set, day 0.
    pub fn to_date(self) -> Date {
        Date {
            year: self.year,
            month: i32::try_from(self.month).unwrap_or_default(),
            day: 0,
        }
    }
}

/// The calendar months of the fiscal year `start..=end`, in order.
#[derive(Debug, Clone)]
pub struct Calendar {
    start: NaiveDate,
    end: NaiveDate,
    months: Vec<Month>,
}

impl Calendar {
    /// The months `start..=end` overlaps (none when it is empty).
    pub fn new(start: NaiveDate, end: NaiveDate) -> Calendar {
        let mut months = Vec::new();
        let mut first = start.with_day(1).unwrap_or(start);
        while first <= end {
            let next = first
                .checked_add_months(chrono::Months::new(1))
                .unwrap_or(NaiveDate::MAX);
            let last = next.pred_opt().unwrap_or(next).min(end);
            months.push(Month {
                year: first.year(),
                month: first.month(),
                days_to_end: (last - start).num_days() + 1,
            });
            if next == NaiveDate::MAX {
                break;
            }
            first = next;
        }
        Calendar { start, end, months }
    }

    /// The months, in order.
    pub fn months(&self) -> &[Month] {
        &self.months
    }

    /// The fiscal year's days.
    pub fn days(&self) -> i64 {
        (self.end - self.start).num_days() + 1
    }

    /// The index of the month holding `day`; `None` outside the year.
    pub fn index(&self, day: NaiveDate) -> Option<usize> {
        if day < self.start || day > self.end {
            return None;
        }
        let months = (day.year() - self.start.year()) * 12 + day.month0() as i32
            - self.start.month0() as i32;
        usize::try_from(months).ok()
    }

    /// The plan up to `month`'s end for `allocated`: allocated × days to
    /// the month's end ÷ the year's days, rounded down (toward minus
    /// infinity), saturating.
    pub fn planned(&self, allocated: i64, month: &Month) -> i64 {
        let days = i128::from(self.days().max(1));
        let planned = (i128::from(allocated) * i128::from(month.days_to_end)).div_euclid(days);
        i64::try_from(planned).unwrap_or(if planned < 0 { i64::MIN } else { i64::MAX })
    }

    /// A line's months: `spent` holds the month's spending by index (as
    /// long as [`Calendar::months`]), the plan comes from `allocated`.
    pub fn figures(&self, allocated: i64, spent: &[i64]) -> Vec<Figures> {
        let mut cumulative = 0i64;
        self.months
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let spent = spent.get(i).copied().unwrap_or_default();
                cumulative += spent;
                let planned = self.planned(allocated, m);
                Figures {
                    spent,
                    cumulative_spent: cumulative,
                    planned_cumulative: planned,
                    variance: planned - cumulative,
                }
            })
            .collect()
    }
}

/// The figures of one month of a row or total, in minor units.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Figures {
    /// Spent in the month.
    pub spent: i64,
    /// Spent from the year's start to the month's end.
    pub cumulative_spent: i64,
    /// The plan to the month's end.
    pub planned_cumulative: i64,
    /// Plan minus cumulative spending.
    pub variance: i64,
}

impl Figures {
    /// Adds `other`'s figures (a total's months are its rows' sums).
    pub fn add(&mut self, other: &Figures) {
        self.spent += other.spent;
        self.cumulative_spent += other.cumulative_spent;
        self.planned_cumulative += other.planned_cumulative;
        self.variance += other.variance;
    }
}

/// Adds `from`'s months to `into`'s, month by month.
pub fn add_all(into: &mut Vec<Figures>, from: &[Figures]) {
    if into.len() < from.len() {
        into.resize(from.len(), Figures::default());
    }
    for (sum, f) in into.iter_mut().zip(from) {
        sum.add(f);
    }
}

/// `figures` on the wire, in `currency`.
pub fn to_proto(
    calendar: &Calendar,
    figures: &[Figures],
    currency: &str,
) -> Vec<pb::BudgetReportMonth> {
    let money = |amount_minor: i64| {
        Some(Money {
            amount_minor,
            currency_code: currency.to_owned(),
        })
    };
    calendar
        .months()
        .iter()
        .zip(figures)
        .map(|(m, f)| pb::BudgetReportMonth {
            month: Some(m.to_date()),
            spent: money(f.spent),
            cumulative_spent: money(f.cumulative_spent),
            planned_cumulative: money(f.planned_cumulative),
            variance: money(f.variance),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn day(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn a_calendar_year_has_twelve_months_ending_on_its_days() {
        let c = Calendar::new(day(2026, 1, 1), day(2026, 12, 31));
        assert_eq!(c.days(), 365);
        let months: Vec<_> = c.months().iter().map(|m| (m.year, m.month)).collect();
        assert_eq!(months.len(), 12);
        assert_eq!((months[0], months[11]), ((2026, 1), (2026, 12)));
        assert_eq!(c.months()[0].days_to_end, 31);
        assert_eq!(c.months()[1].days_to_end, 59);
        assert_eq!(c.months()[11].days_to_end, 365);
        assert_eq!(c.index(day(2026, 6, 15)), Some(5));
        assert_eq!(c.index(day(2025, 12, 31)), None);
        assert_eq!(c.index(day(2027, 1, 1)), None);
    }

    #[test]
    fn a_year_across_calendar_years_has_partial_first_and_last_months() {
        let c = Calendar::new(day(2025, 7, 15), day(2026, 7, 14));
        let months: Vec<_> = c.months().iter().map(|m| (m.year, m.month)).collect();
        assert_eq!(months.len(), 13);
        assert_eq!((months[0], months[12]), ((2025, 7), (2026, 7)));
        assert_eq!(c.months()[0].days_to_end, 17, "15 to 31 July");
        assert_eq!(
            c.months()[12].days_to_end,
            c.days(),
            "the last month ends with the year"
        );
        assert_eq!(c.index(day(2026, 1, 1)), Some(6));
        assert_eq!(
            c.months()[6].to_date(),
            Date {
                year: 2026,
                month: 1,
                day: 0
            }
        );
    }

    #[test]
    fn the_plan_rounds_down_and_reaches_the_allocation_at_the_end() {
        let c = Calendar::new(day(2026, 1, 1), day(2026, 12, 31));
        // 1000 × 31 / 365 = 84.93…
        assert_eq!(c.planned(1000, &c.months()[0]), 84);
        assert_eq!(c.planned(1000, &c.months()[11]), 1000);
        assert_eq!(
            c.planned(-1000, &c.months()[0]),
            -85,
            "floor, not truncation"
        );
        assert_eq!(c.planned(i64::MAX, &c.months()[11]), i64::MAX);
        let f = c.figures(365, &[10, 0, 5]);
        assert_eq!(f.len(), 12);
        assert_eq!(
            f[0],
            Figures {
                spent: 10,
                cumulative_spent: 10,
                planned_cumulative: 31,
                variance: 21
            }
        );
        assert_eq!(f[2].cumulative_spent, 15);
        assert_eq!(f[11].cumulative_spent, 15);
        assert_eq!(f[11].variance, 350);
        let mut total = Vec::new();
        add_all(&mut total, &f);
        add_all(&mut total, &f);
        assert_eq!(total[0].planned_cumulative, 62);
        assert_eq!(total[11].variance, 700);
    }
}
