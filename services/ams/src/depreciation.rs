//! Monthly and yearly depreciation schedules for fixed assets.
//!
//! All amounts are integer minor units (cents); the module uses no floats.
//! Every product or quotient is computed in `i128` and rounded to the
//! nearest integer, halves away from zero (`round` below). All schedule
//! values lie in `0..=cost`, so converting back to `i64` never loses anything,
//! even for a cost of `i64::MAX`.
//!
//! * Salvage: `salvage = round(cost × percent / 100)`.
//! * The schedule has exactly `life_months` full calendar months, starting
//!   with the month of purchase (day 1 to the month's last day, whatever the
//!   purchase day).
//! * Month `i`: `opening = cost` for the first month, else the previous
//!   closing; `closing = opening − depreciation`;
//!   `accumulated = Σ depreciation` so far.
//! * Straight line: `depreciation = min(round((cost − salvage) / life),
//!   opening − salvage)`.
//! * Declining balance (double declining): `depreciation = min(round(opening ×
//!   2 / life), opening − salvage)`.
//! * For both methods the last month takes `opening − salvage`, so the
//!   schedule closes at exactly the salvage value and the charges add up to
//!   exactly `cost − salvage`. This may be larger than a normal month (e.g.
//!   declining balance) or smaller (straight line rounded up).
//!
//! [`yearly`] sums the months of each calendar year. [`book_value_at`] gives
//! the cost before the purchase month, the closing value of the month that
//! contains the date, and the salvage value after the last month.

use std::fmt;

use chrono::{Datelike, Months, NaiveDate};

/// Longest useful life accepted, in months (50 years).
pub const MAX_LIFE_MONTHS: i32 = 600;

/// How an asset loses value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// The same charge each month: `(cost − salvage) / life_months`.
    StraightLine,
    /// Double declining balance: `opening × 2 / life_months` each month.
    DecliningBalance,
}

/// What a schedule is computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Basis {
    /// Acquisition cost in minor units; must be `>= 0`.
    pub cost_minor: i64,
    /// Residual value as a percentage of the cost, `0..=100`.
    pub salvage_percent: i32,
    /// The depreciation method.
    pub method: Method,
    /// Useful life in months, `1..=MAX_LIFE_MONTHS`.
    pub life_months: i32,
    /// Purchase date; the schedule starts on the first day of its month.
    pub purchase_date: NaiveDate,
}

/// One period of a schedule (a month, or a calendar year of months).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Period {
    /// First day of the period.
    pub start: NaiveDate,
    /// Last day of the period (inclusive).
    pub end: NaiveDate,
    /// Book value at the start of the period.
    pub opening: i64,
    /// Depreciation charged in the period.
    pub depreciation: i64,
    /// Book value at the end of the period (`opening − depreciation`).
    pub closing: i64,
    /// Depreciation charged from the start of the schedule to the period's end.
    pub accumulated: i64,
}

/// Why a [`Basis`] was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BasisError {
    /// `cost_minor` is negative.
    NegativeCost,
    /// `salvage_percent` is outside `0..=100`.
    SalvagePercent,
    /// `life_months` is outside `1..=MAX_LIFE_MONTHS`, or the schedule would
    /// run past the last date the calendar can represent.
    LifeMonths,
}

impl fmt::Display for BasisError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NegativeCost => f.write_str("cost must not be negative"),
            Self::SalvagePercent => f.write_str("salvage percent must be between 0 and 100"),
            Self::LifeMonths => write!(f, "life must be between 1 and {MAX_LIFE_MONTHS} months"),
        }
    }
}

impl std::error::Error for BasisError {}

/// `n / d` rounded to the nearest integer, halves away from zero (`d > 0`).
fn div_round(n: i128, d: i128) -> i128 {
    let (q, r) = (n / d, n % d);
    if 2 * r.abs() >= d { q + n.signum() } else { q }
}

/// Saturating conversion; schedule values always fit, so it never saturates there.
fn to_i64(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
}

/// The salvage value `cost × percent / 100`, rounded half away from zero.
///
/// Accepts any inputs (the result saturates at the `i64` range); a valid
/// basis always gives a value in `0..=cost`.
#[must_use]
pub fn salvage_value(cost_minor: i64, salvage_percent: i32) -> i64 {
    to_i64(div_round(
        i128::from(cost_minor) * i128::from(salvage_percent),
        100,
    ))
}

fn validate(basis: &Basis) -> Result<(), BasisError> {
    if basis.cost_minor < 0 {
        Err(BasisError::NegativeCost)
    } else if !(0..=100).contains(&basis.salvage_percent) {
        Err(BasisError::SalvagePercent)
    } else if !(1..=MAX_LIFE_MONTHS).contains(&basis.life_months) {
        Err(BasisError::LifeMonths)
    } else {
        Ok(())
    }
}

/// First day of the month containing `date`.
fn month_start(date: NaiveDate) -> NaiveDate {
    date.with_day(1).unwrap_or(date)
}

/// The monthly schedule: `life_months` consecutive calendar months starting
/// with the month of purchase; the last closing equals the salvage value.
///
/// # Errors
///
/// The [`BasisError`] for the first invalid field (cost, then percent, then
/// life); [`BasisError::LifeMonths`] also if the schedule would end after
/// [`NaiveDate::MAX`].
pub fn monthly(basis: &Basis) -> Result<Vec<Period>, BasisError> {
    validate(basis)?;
    let cost = i128::from(basis.cost_minor);
    let salvage = i128::from(salvage_value(basis.cost_minor, basis.salvage_percent));
    let life = i128::from(basis.life_months);
    let straight = div_round(cost - salvage, life);

    let mut periods = Vec::with_capacity(usize::try_from(basis.life_months).unwrap_or(0));
    let mut start = month_start(basis.purchase_date);
    let (mut opening, mut accumulated) = (cost, 0_i128);
    for month in 1..=basis.life_months {
        let next = start
            .checked_add_months(Months::new(1))
            .ok_or(BasisError::LifeMonths)?;
        let end = next.pred_opt().ok_or(BasisError::LifeMonths)?;
        let headroom = opening - salvage;
        let depreciation = if month == basis.life_months {
            headroom
        } else {
            match basis.method {
                Method::StraightLine => straight,
                Method::DecliningBalance => div_round(opening * 2, life),
            }
            .min(headroom)
        };
        let closing = opening - depreciation;
        accumulated += depreciation;
        periods.push(Period {
            start,
            end,
            opening: to_i64(opening),
            depreciation: to_i64(depreciation),
            closing: to_i64(closing),
            accumulated: to_i64(accumulated),
        });
        opening = closing;
        start = next;
    }
    Ok(periods)
}

/// Groups consecutive months of the same calendar year into one period each.
#[must_use]
pub fn yearly(months: &[Period]) -> Vec<Period> {
    let mut years: Vec<Period> = Vec::new();
    for m in months {
        match years.last_mut() {
            Some(y) if y.start.year() == m.start.year() => {
                y.end = m.end;
                y.depreciation = y.depreciation.saturating_add(m.depreciation);
                y.closing = m.closing;
                y.accumulated = m.accumulated;
            }
            _ => years.push(*m),
        }
    }
    years
}

/// Book value on `date`: the cost before the purchase month, the closing
/// value of the month containing `date`, the salvage value after the schedule.
///
/// # Errors
///
/// As [`monthly`]: the basis is validated even for dates outside the schedule.
pub fn book_value_at(basis: &Basis, date: NaiveDate) -> Result<i64, BasisError> {
    let schedule = monthly(basis)?;
    if date < month_start(basis.purchase_date) {
        return Ok(basis.cost_minor);
    }
    Ok(schedule.iter().find(|p| date <= p.end).map_or_else(
        || salvage_value(basis.cost_minor, basis.salvage_percent),
        |p| p.closing,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use Method::{DecliningBalance as Db, StraightLine as Sl};
    use chrono::Days;
    use proptest::prelude::*;

    fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).expect("valid test date")
    }

    fn basis(cost_minor: i64, salvage_percent: i32, method: Method, life: i32) -> Basis {
        let purchase_date = d(2024, 1, 10);
        Basis {
            cost_minor,
            salvage_percent,
            method,
            life_months: life,
            purchase_date,
        }
    }

    fn on(date: NaiveDate, mut b: Basis) -> Vec<Period> {
        b.purchase_date = date;
        monthly(&b).expect("valid basis")
    }

    fn deps(b: Basis) -> Vec<i64> {
        let s = monthly(&b).expect("valid basis");
        s.iter().map(|p| p.depreciation).collect()
    }

    /// `[opening, depreciation, closing, accumulated]`
    fn amounts(p: &Period) -> [i64; 4] {
        [p.opening, p.depreciation, p.closing, p.accumulated]
    }

    fn span(p: &Period) -> (NaiveDate, NaiveDate) {
        (p.start, p.end)
    }

    #[test]
    fn straight_line_even() {
        let s = on(d(2024, 3, 15), basis(120_000, 10, Sl, 12));
        assert_eq!(s.len(), 12);
        assert!(s.iter().all(|p| p.depreciation == 9_000));
        assert_eq!(amounts(&s[0]), [120_000, 9_000, 111_000, 9_000]);
        assert_eq!(amounts(&s[11]), [21_000, 9_000, 12_000, 108_000]);
        assert_eq!(span(&s[0]), (d(2024, 3, 1), d(2024, 3, 31)));
        assert_eq!(span(&s[11]), (d(2025, 2, 1), d(2025, 2, 28)));
    }

    #[test]
    fn straight_line_rounding_remainder() {
        // 100000 / 3 = 33333.33 -> 33333; the last month takes 33334.
        assert_eq!(deps(basis(100_000, 0, Sl, 3)), [33_333, 33_333, 33_334]);
        // 1000 / 6 = 166.67 -> 167; five months take 835, the last 165.
        assert_eq!(deps(basis(1_000, 0, Sl, 6)), [167, 167, 167, 167, 167, 165]);
        // 11 / 12 = 0.92 -> 1; at salvage after 11 months, the last takes 0.
        assert_eq!(deps(basis(11, 0, Sl, 12))[9..], [1, 1, 0]);
    }

    #[test]
    fn declining_balance_clamp_and_last_month() {
        // Salvage 2000, 2/4 = 50% a month: 5000, 2500, then 1250 clamped to 500.
        let s = monthly(&basis(10_000, 20, Db, 4)).expect("valid");
        let closing: Vec<_> = s.iter().map(|p| p.closing).collect();
        assert_eq!(closing, [5_000, 2_500, 2_000, 2_000]);
        assert_eq!(deps(basis(10_000, 20, Db, 4)), [5_000, 2_500, 500, 0]);
        // Salvage 0: the formula gives 625 in month 4; the last month takes 1250.
        assert_eq!(deps(basis(10_000, 0, Db, 4)), [5_000, 2_500, 1_250, 1_250]);
        // 1000 × 2/3 = 666.67 -> 667; 333 × 2/3 = 222; the last month 111.
        assert_eq!(deps(basis(1_000, 0, Db, 3)), [667, 222, 111]);
        // A one-month life is just the last month.
        assert_eq!(deps(basis(1_000, 10, Db, 1)), [900]);
    }

    #[test]
    fn zero_cost_and_full_salvage() {
        for m in [Sl, Db] {
            let zero = monthly(&basis(0, 10, m, 12)).expect("valid");
            assert!(zero.iter().all(|p| amounts(p) == [0; 4]));
            let full = monthly(&basis(5_000, 100, m, 12)).expect("valid");
            assert!(full.iter().all(|p| amounts(p) == [5_000, 0, 5_000, 0]));
        }
    }

    #[test]
    fn month_end_purchases() {
        let s = on(d(2023, 1, 31), basis(1_200, 0, Sl, 2));
        assert_eq!(span(&s[0]), (d(2023, 1, 1), d(2023, 1, 31)));
        assert_eq!(span(&s[1]), (d(2023, 2, 1), d(2023, 2, 28)));
        let s = on(d(2024, 2, 29), basis(1_200, 0, Sl, 12));
        assert_eq!(span(&s[0]), (d(2024, 2, 1), d(2024, 2, 29)));
        assert_eq!(span(&s[1]), (d(2024, 3, 1), d(2024, 3, 31)));
        assert_eq!(span(&s[11]), (d(2025, 1, 1), d(2025, 1, 31)));
    }

    #[test]
    fn yearly_across_years() {
        let y = yearly(&on(d(2023, 11, 15), basis(120_000, 10, Sl, 12)));
        assert_eq!(y.len(), 2);
        assert_eq!(span(&y[0]), (d(2023, 11, 1), d(2023, 12, 31)));
        assert_eq!(amounts(&y[0]), [120_000, 18_000, 102_000, 18_000]);
        assert_eq!(span(&y[1]), (d(2024, 1, 1), d(2024, 10, 31)));
        assert_eq!(amounts(&y[1]), [102_000, 90_000, 12_000, 108_000]);
        assert!(yearly(&[]).is_empty());
    }

    #[test]
    fn book_value_examples() {
        let mut b = basis(120_000, 10, Sl, 12);
        b.purchase_date = d(2024, 3, 15);
        let bv = |date| book_value_at(&b, date);
        assert_eq!(bv(d(2024, 2, 29)), Ok(120_000));
        assert_eq!(bv(d(2024, 3, 1)), Ok(111_000));
        assert_eq!(bv(d(2024, 4, 30)), Ok(102_000));
        assert_eq!(bv(d(2025, 2, 28)), Ok(12_000));
        assert_eq!(bv(d(2030, 1, 1)), Ok(12_000));
    }

    #[test]
    fn validation_and_salvage_rounding() {
        use BasisError::{LifeMonths, NegativeCost, SalvagePercent};
        let mut late = basis(1, 0, Sl, 1);
        late.purchase_date = NaiveDate::MAX;
        let cases = [
            (basis(-1, 101, Sl, 0), NegativeCost),
            (basis(1_000, 101, Sl, 0), SalvagePercent),
            (basis(1_000, -1, Db, 12), SalvagePercent),
            (basis(1_000, 10, Sl, 0), LifeMonths),
            (basis(1_000, 10, Db, 601), LifeMonths),
            (late, LifeMonths),
        ];
        for (b, e) in cases {
            assert_eq!(monthly(&b), Err(e.clone()));
            assert_eq!(book_value_at(&b, d(1900, 1, 1)), Err(e));
        }
        assert_eq!(
            LifeMonths.to_string(),
            "life must be between 1 and 600 months"
        );
        assert_eq!(salvage_value(1_050, 5), 53); // 52.5
        assert_eq!(salvage_value(1_049, 5), 52); // 52.45
        assert_eq!(salvage_value(-1_050, 5), -53);
        assert_eq!(salvage_value(i64::MAX, 100), i64::MAX);
        assert_eq!(salvage_value(i64::MAX, i32::MAX), i64::MAX);
    }

    #[test]
    fn huge_cost_does_not_overflow() {
        for m in [Sl, Db] {
            let s = monthly(&basis(i64::MAX, 0, m, 600)).expect("valid");
            assert_eq!((s.len(), s[599].closing), (600, 0));
            assert_eq!(s[599].accumulated, i64::MAX);
        }
    }

    fn arb_basis() -> impl Strategy<Value = Basis> {
        let cost = prop_oneof![
            0..=10_000_000_000_000_i64,
            (i64::MAX - 1_000_000)..=i64::MAX
        ];
        let method = prop_oneof![Just(Sl), Just(Db)];
        let days = 0..40_177_u64; // purchase 1990-01-01 ..= 2099-12-31
        (cost, 0..=100, method, 1..=MAX_LIFE_MONTHS, days).prop_map(|(c, pct, m, life, n)| {
            let mut b = basis(c, pct, m, life);
            b.purchase_date = d(1990, 1, 1) + Days::new(n);
            b
        })
    }

    proptest! {
        #[test]
        fn prop_sums_to_depreciable_amount(b in arb_basis()) {
            let s = monthly(&b).expect("valid");
            let total: i128 = s.iter().map(|p| i128::from(p.depreciation)).sum();
            let salvage = salvage_value(b.cost_minor, b.salvage_percent);
            prop_assert_eq!(total, i128::from(b.cost_minor) - i128::from(salvage));
            prop_assert_eq!(s[s.len() - 1].closing, salvage);
        }

        #[test]
        fn prop_chain_and_monotone(b in arb_basis()) {
            let s = monthly(&b).expect("valid");
            let (mut prev, mut acc) = (b.cost_minor, 0_i64);
            for p in &s {
                acc += p.depreciation;
                prop_assert_eq!(p.opening, prev);
                prop_assert_eq!(p.closing, p.opening - p.depreciation);
                prop_assert!(p.closing <= p.opening);
                prop_assert_eq!(p.accumulated, acc);
                prev = p.closing;
            }
        }

        #[test]
        fn prop_never_below_salvage(b in arb_basis()) {
            let salvage = salvage_value(b.cost_minor, b.salvage_percent);
            prop_assert!((0..=b.cost_minor).contains(&salvage));
            for p in monthly(&b).expect("valid") {
                prop_assert!(p.closing >= salvage);
                prop_assert!(p.depreciation >= 0);
            }
        }

        #[test]
        fn prop_consecutive_months(b in arb_basis()) {
            let s = monthly(&b).expect("valid");
            prop_assert_eq!(s.len(), usize::try_from(b.life_months).expect("positive"));
            prop_assert_eq!(s[0].start, month_start(b.purchase_date));
            for p in &s {
                prop_assert_eq!(p.start.day(), 1);
                prop_assert_eq!((p.end.year(), p.end.month()), (p.start.year(), p.start.month()));
                prop_assert_eq!(p.end.succ_opt().map(|n| n.day()), Some(1));
            }
            for w in s.windows(2) {
                prop_assert_eq!(w[0].end.succ_opt(), Some(w[1].start));
            }
        }

        #[test]
        fn prop_yearly_matches_monthly(b in arb_basis()) {
            let s = monthly(&b).expect("valid");
            let y = yearly(&s);
            let sum = |ps: &[Period]| ps.iter().map(|p| i128::from(p.depreciation)).sum::<i128>();
            prop_assert_eq!(sum(&y), sum(&s));
            let last = y[y.len() - 1];
            prop_assert_eq!(last.closing, salvage_value(b.cost_minor, b.salvage_percent));
            prop_assert_eq!(last.accumulated, s[s.len() - 1].accumulated);
            prop_assert_eq!((y[0].start, y[0].opening), (s[0].start, b.cost_minor));
            for w in y.windows(2) {
                prop_assert_eq!(w[0].closing, w[1].opening);
                prop_assert_eq!(w[0].end.succ_opt(), Some(w[1].start));
                prop_assert!(w[0].start.year() < w[1].start.year());
            }
        }

        #[test]
        fn prop_book_value_agrees(b in arb_basis(), x in 0..30_000_u64, y in 0..30_000_u64) {
            let s = monthly(&b).expect("valid");
            let bv = |date| book_value_at(&b, date).expect("valid");
            let mid = s[s.len() / 2];
            prop_assert_eq!((bv(s[0].start), bv(mid.start)), (s[0].closing, mid.closing));
            let origin = s[0].start - Days::new(1_000);
            prop_assert_eq!(bv(origin), b.cost_minor);
            let (early, late) = (origin + Days::new(x.min(y)), origin + Days::new(x.max(y)));
            prop_assert!(bv(early) >= bv(late));
            let mut prev = b.cost_minor;
            for p in &s {
                let v = bv(p.end);
                prop_assert_eq!(v, p.closing);
                prop_assert!(v <= prev);
                prev = v;
            }
            prop_assert_eq!(bv(s[s.len() - 1].end + Days::new(1)), s[s.len() - 1].closing);
        }
    }
}
