#![allow(clippy::unwrap_used)]

use chrono::TimeZone as _;
use map_kit::wire::time::timestamp;

use super::*;

fn at(day: u32, second: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, 0, 0, 0).unwrap() + Duration::seconds(second)
}

fn fields(r: Result<Period, TtsError>) -> Vec<String> {
    match r {
        Err(TtsError::InvalidArgument(v)) => v.into_iter().map(|f| f.field).collect(),
        other => panic!("{other:?}"),
    }
}

const PRIORITY: i32 = pb::SlaReportGrouping::Priority as i32;

#[test]
fn a_period_needs_both_ends_in_order_within_366_days_and_a_grouping() {
    let (s, e) = (timestamp(at(1, 0)), timestamp(at(2, 0)));
    let ok = Period::parse(Some(&s), Some(&e), PRIORITY).unwrap();
    assert_eq!(
        (ok.start, ok.end, ok.grouping),
        (at(1, 0), at(2, 0), Grouping::Priority)
    );
    assert_eq!(
        fields(Period::parse(None, None, 0)),
        ["start_time", "end_time", "group_by"]
    );
    assert_eq!(
        fields(Period::parse(Some(&e), Some(&s), PRIORITY)),
        ["end_time"]
    );
    assert_eq!(
        fields(Period::parse(Some(&s), Some(&s), PRIORITY)),
        ["end_time"]
    );
    assert_eq!(fields(Period::parse(Some(&s), Some(&e), 9)), ["group_by"]);
    let bad = prost_types::Timestamp {
        seconds: 0,
        nanos: -1,
    };
    assert_eq!(
        fields(Period::parse(Some(&bad), Some(&e), PRIORITY)),
        ["start_time"]
    );
    // 366 days exactly is allowed (a leap year), a second more is not.
    let year = timestamp(at(1, 0) + Duration::days(366));
    assert!(Period::parse(Some(&s), Some(&year), PRIORITY).is_ok());
    let longer = timestamp(at(1, 1) + Duration::days(366));
    assert_eq!(
        fields(Period::parse(Some(&s), Some(&longer), PRIORITY)),
        ["end_time"]
    );
}

#[test]
fn p90_is_the_nearest_rank_and_the_mean_rounds_down() {
    assert_eq!(p90(&mut []), None);
    assert_eq!(mean(&[]), None);
    assert_eq!(p90(&mut [7]), Some(7));
    let mut ten: Vec<i64> = (1..=10).rev().collect();
    assert_eq!(p90(&mut ten), Some(9), "⌈0.9·10⌉ = 9th");
    let mut eleven: Vec<i64> = (1..=11).collect();
    assert_eq!(p90(&mut eleven), Some(10), "⌈0.9·11⌉ = 10th");
    let mut twenty: Vec<i64> = (1..=20).map(|v| v * 100).rev().collect();
    assert_eq!(p90(&mut twenty), Some(1800));
    assert_eq!(mean(&[1, 2]), Some(1));
    assert_eq!(mean(&[1000, 2000, 2001]), Some(1667));
    assert_eq!(mean(&[i64::MAX, i64::MAX]), Some(i64::MAX), "no overflow");
    assert_eq!(
        wire(90_250),
        prost_types::Duration {
            seconds: 90,
            nanos: 250_000_000
        }
    );
}

fn tally(met: i64, first_response: &[i64]) -> Tally {
    Tally {
        met,
        first_response: first_response.to_vec(),
        ..Tally::default()
    }
}

#[test]
fn priorities_run_urgent_to_low_and_the_total_sums_the_rows() {
    let groups = BTreeMap::from([
        ("low".to_owned(), tally(1, &[100])),
        ("urgent".to_owned(), tally(2, &[300, 200])),
        ("odd".to_owned(), tally(4, &[])),
        ("high".to_owned(), tally(8, &[400])),
    ]);
    let r = assemble(Grouping::Priority, groups);
    let order: Vec<&str> = r.rows.iter().map(|row| row.group.as_str()).collect();
    assert_eq!(order, ["urgent", "high", "low", "odd"]);
    let total = r.total.unwrap();
    assert_eq!((total.group.as_str(), total.met), ("total", 15));
    assert_eq!(total.mean_first_response, Some(wire(250)));
    assert_eq!(total.p90_first_response, Some(wire(400)));
    assert_eq!(r.rows[0].p90_first_response, Some(wire(300)));
    assert_eq!(r.rows[3].mean_first_response, None);

    let groups = BTreeMap::from([
        ("b".to_owned(), tally(1, &[])),
        (String::new(), tally(1, &[])),
    ]);
    let r = assemble(Grouping::Team, groups);
    let order: Vec<&str> = r.rows.iter().map(|row| row.group.as_str()).collect();
    assert_eq!(order, ["", "b"], "by group, the empty group first");
}

#[test]
fn the_csv_has_a_header_the_rows_and_the_total_with_formulas_neutralised() {
    let row = |group: &str, met: i64, mean: Option<i64>| pb::SlaReportRow {
        group: group.into(),
        met,
        breached: 2,
        open: 3,
        without_policy: 4,
        mean_first_response: mean.map(wire),
        p90_first_response: Some(wire(1)),
        mean_resolution: None,
        p90_resolution: Some(wire(3_600_000)),
    };
    let report = pb::GetSlaReportResponse {
        rows: vec![row("", 1, Some(90_250)), row("=HYPERLINK(1)", 5, None)],
        total: Some(row("total", 6, Some(12))),
    };
    let csv = String::from_utf8(export::write(&report).unwrap()).unwrap();
    assert_eq!(
        csv,
        "group,met,breached,open,without_policy,mean_first_response_seconds,\
         p90_first_response_seconds,mean_resolution_seconds,p90_resolution_seconds\r\n\
         ,1,2,3,4,90.250,0.001,,3600.000\r\n\
         '=HYPERLINK(1),5,2,3,4,,0.001,,3600.000\r\n\
         total,6,2,3,4,0.012,0.001,,3600.000\r\n"
    );
    for (cell, shown) in [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("IT", "IT"),
        ("a=b", "a=b"),
        ("", ""),
    ] {
        assert_eq!(export::neutralise(cell), shown, "{cell:?}");
    }
}
