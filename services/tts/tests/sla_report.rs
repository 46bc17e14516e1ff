//! SLA reports on both databases, as a read model: tickets and their clock
//! rows written directly (the engine that keeps them is tested elsewhere)
//! under one around-the-clock policy, then read back per priority, team and
//! workflow — counts, means and p90s checked exactly, the total against
//! the rows, the CSV parsed back against the report, a formula-looking
//! department neutralised, the period's bounds, the pages' seams, and bad
//! requests refused naming their fields.
#![allow(clippy::unwrap_used)]

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use map_contracts::tts::v1 as pb;
use map_kit::{ApiError, testing::TestDb, wire::time::timestamp};
use map_tts::{
    TtsError,
    entity::{sla_calendars, sla_policies, ticket_sla_clocks, tickets},
    sla::report::{self, PAGE},
};
use sea_orm::{ActiveModelTrait as _, ConnectionTrait, EntityTrait as _, IntoActiveModel as _};
use tonic::Code;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const POLICY: &str = "0190a000-0000-7000-8000-00000000aaaa";
const WF_A: &str = "0190a000-0000-7000-8000-0000000000a1";
const WF_B: &str = "0190a000-0000-7000-8000-0000000000b2";
const FORMULA: &str = "=HYPERLINK(1)";

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 1, 0, 0, 0).unwrap()
}

fn end() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 8, 0, 0, 0).unwrap()
}

/// When every report of these tests is made.
fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, 10, 0, 0, 0).unwrap()
}

fn request(group_by: pb::SlaReportGrouping) -> pb::GetSlaReportRequest {
    pb::GetSlaReportRequest {
        start_time: Some(timestamp(start())),
        end_time: Some(timestamp(end())),
        group_by: group_by.into(),
    }
}

async fn policy<C: ConnectionTrait>(conn: &C) {
    sla_policies::Model {
        id: POLICY.into(),
        name: "Around the clock".into(),
        priority: "high".into(),
        first_response_ms: HOUR,
        resolution_ms: 4 * HOUR,
        warning_percent: 80,
        calendar_id: String::new(),
        active: true,
        pause_statuses: "waiting_on_requester".into(),
        help_topic_id: String::new(),
        workflow_id: String::new(),
        department_code: String::new(),
        escalation_levels: "[]".into(),
        version: 1,
        created_at: start(),
        updated_at: start(),
    }
    .into_active_model()
    .reset_all()
    .insert(conn)
    .await
    .unwrap();
}

/// A ticket as the tests write it; the rest of its columns are defaults.
fn ticket(
    n: usize,
    priority: &str,
    department: &str,
    workflow: &str,
    created: DateTime<Utc>,
) -> tickets::Model {
    tickets::Model {
        id: uuid::Uuid::now_v7().to_string(),
        number: format!("TT-{n:06}"),
        hdts_ticket_id: None,
        subject: format!("ticket {n}"),
        description: String::new(),
        requester_user_id: "requester".into(),
        department_code: department.into(),
        category: String::new(),
        sub_category: String::new(),
        priority: priority.into(),
        status: "open".into(),
        step_id: String::new(),
        assignee_user_id: String::new(),
        workflow_id: workflow.into(),
        workflow_revision: i32::from(!workflow.is_empty()),
        workflow_match: String::new(),
        triage_reason: String::new(),
        version: 1,
        created_at: created,
        updated_at: created,
        resolved_at: None,
        closed_at: None,
        help_topic_id: String::new(),
        requester_version: 0,
        attachments: None,
        tags: String::new(),
        asset_tags: String::new(),
        sla_policy_id: String::new(),
        sla_due_at: None,
        sla_breached: false,
        first_response_at: None,
    }
}

/// A clock of `ticket` under [`POLICY`], as the engine stores it.
struct Clock {
    name: &'static str,
    target_ms: i64,
    elapsed_ms: i64,
    counting: bool,
    counted_at: DateTime<Utc>,
    paused_since: Option<DateTime<Utc>>,
    breached_at: Option<DateTime<Utc>>,
    stopped_at: Option<DateTime<Utc>>,
}

impl Clock {
    /// Stopped at `at` with `elapsed_ms` counted.
    fn stopped(name: &'static str, target_ms: i64, elapsed_ms: i64, at: DateTime<Utc>) -> Clock {
        Clock {
            name,
            target_ms,
            elapsed_ms,
            counting: false,
            counted_at: at,
            paused_since: None,
            breached_at: None,
            stopped_at: Some(at),
        }
    }

    /// Counting since `at`, with `elapsed_ms` counted by then.
    fn counting(name: &'static str, target_ms: i64, elapsed_ms: i64, at: DateTime<Utc>) -> Clock {
        Clock {
            counting: true,
            stopped_at: None,
            ..Clock::stopped(name, target_ms, elapsed_ms, at)
        }
    }
}

/// Writes `t` (with `policy` as its SLA policy id) and its `clocks`,
/// counted under [`POLICY`].
async fn write<C: ConnectionTrait>(
    conn: &C,
    t: tickets::Model,
    policy: &str,
    clocks: Vec<Clock>,
) -> tickets::Model {
    write_on(conn, t, policy, POLICY, clocks).await
}

/// Writes `t` (with `policy` as its SLA policy id) and its `clocks`,
/// counted under `clock_policy`.
async fn write_on<C: ConnectionTrait>(
    conn: &C,
    mut t: tickets::Model,
    policy: &str,
    clock_policy: &str,
    clocks: Vec<Clock>,
) -> tickets::Model {
    t.sla_policy_id = policy.into();
    let t = t
        .into_active_model()
        .reset_all()
        .insert(conn)
        .await
        .unwrap();
    for c in clocks {
        ticket_sla_clocks::Model {
            ticket_id: t.id.clone(),
            clock: c.name.into(),
            step_id: String::new(),
            policy_id: clock_policy.into(),
            target_ms: c.target_ms,
            warn_ms: c.target_ms * 8 / 10,
            elapsed_ms: c.elapsed_ms,
            counting: c.counting,
            counted_at: c.counted_at,
            paused_since: c.paused_since,
            warn_at: None,
            due_at: None,
            warned_at: None,
            breached_at: c.breached_at,
            stopped_at: c.stopped_at,
            levels_done: String::new(),
        }
        .into_active_model()
        .reset_all()
        .insert(conn)
        .await
        .unwrap();
    }
    t
}

/// The period's tickets, one per case, and two just outside it.
///
/// | # | priority | team | workflow | resolution clock | first response | resolution |
/// |---|---|---|---|---|---|---|
/// | 1 | high | IT | A | met (created at the start) | 10 min | 2 h |
/// | 2 | high | IT | A | breached, recorded | 30 min | 5 h |
/// | 3 | high | HR | A | open, counting: 2 h at now | 20 min | — |
/// | 4 | low | HR | B | breached, not recorded: 5 h at now | — (counting) | — |
/// | 5 | low | IT | B | met | 40 min | 1 h |
/// | 6 | low | =HYPERLINK(1) | — | no policy, no clocks | — | — |
/// | 7 | high | — | — | open, paused at 3 h 59 min | 5 min | — |
/// | 8 | urgent | HR | — | met: cancelled unresolved after 1 h | — (no response) | — |
/// | 9 | medium | HR | — | no policy any more, clocks left suspended | — | — |
/// | 10 | medium | IT | B | stopped exactly at its target: breached | 40 min 1 ms | 4 h |
async fn seed<C: ConnectionTrait>(conn: &C) {
    use report_clocks::*;
    policy(conn).await;
    let day = |d: i64| start() + Duration::days(d);
    let responded = |mut t: tickets::Model, at: DateTime<Utc>| {
        t.first_response_at = Some(at);
        t
    };
    let resolved = |mut t: tickets::Model, at: DateTime<Utc>| {
        t.status = "resolved".into();
        t.resolved_at = Some(at);
        t
    };
    let t = ticket(1, "high", "IT", WF_A, start());
    write(
        conn,
        resolved(responded(t, day(1)), day(1)),
        POLICY,
        vec![
            fr_stopped(10 * MINUTE, day(1)),
            res_stopped(2 * HOUR, day(1)),
        ],
    )
    .await;
    let t = ticket(2, "high", "IT", WF_A, day(1));
    let mut breach = res_stopped(5 * HOUR, day(2));
    breach.breached_at = Some(day(1) + Duration::hours(4));
    write(
        conn,
        resolved(responded(t, day(1)), day(2)),
        POLICY,
        vec![fr_stopped(30 * MINUTE, day(1)), breach],
    )
    .await;
    let t = ticket(3, "high", "HR", WF_A, day(2));
    write(
        conn,
        responded(t, day(2)),
        POLICY,
        vec![
            fr_stopped(20 * MINUTE, day(2)),
            res_counting(HOUR, now() - Duration::hours(1)),
        ],
    )
    .await;
    let t = ticket(4, "low", "HR", WF_B, day(3));
    write(
        conn,
        t,
        POLICY,
        vec![
            fr_counting(HOUR, now() - Duration::hours(2)),
            res_counting(3 * HOUR, now() - Duration::hours(2)),
        ],
    )
    .await;
    let t = ticket(5, "low", "IT", WF_B, day(3));
    write(
        conn,
        resolved(responded(t, day(3)), day(4)),
        POLICY,
        vec![fr_stopped(40 * MINUTE, day(3)), res_stopped(HOUR, day(4))],
    )
    .await;
    let t = ticket(6, "low", FORMULA, "", day(4));
    write(conn, t, "", vec![]).await;
    let mut t = ticket(7, "high", "", "", day(4));
    t.status = "waiting_on_requester".into();
    let mut paused = res_counting(3 * HOUR + 59 * MINUTE, day(5));
    paused.counting = false;
    paused.paused_since = Some(day(5));
    write(
        conn,
        responded(t, day(4)),
        POLICY,
        vec![fr_stopped(5 * MINUTE, day(4)), paused],
    )
    .await;
    let mut t = ticket(8, "urgent", "HR", "", day(5));
    t.status = "cancelled".into();
    t.closed_at = Some(day(5));
    write(
        conn,
        t,
        POLICY,
        vec![fr_stopped(15 * MINUTE, day(5)), res_stopped(HOUR, day(5))],
    )
    .await;
    let t = ticket(9, "medium", "HR", "", day(6));
    let mut suspended = res_counting(HOUR, day(6));
    suspended.counting = false;
    write(conn, t, "", vec![suspended]).await;
    let t = ticket(10, "medium", "IT", WF_B, end() - Duration::milliseconds(1));
    write(
        conn,
        resolved(responded(t, day(6)), day(7)),
        POLICY,
        vec![
            fr_stopped(40 * MINUTE + 1, day(6)),
            res_stopped(4 * HOUR, day(7)),
        ],
    )
    .await;

    // Outside the period: created a millisecond before its start, and at
    // its (exclusive) end.
    let t = ticket(11, "high", "IT", WF_A, start() - Duration::milliseconds(1));
    write(
        conn,
        resolved(responded(t, day(0)), day(0)),
        POLICY,
        vec![fr_stopped(MINUTE, day(0)), res_stopped(HOUR, day(0))],
    )
    .await;
    let t = ticket(12, "low", "IT", WF_A, end());
    write(conn, t, "", vec![]).await;
}

/// Shorthands for the two clocks under the policy's targets.
mod report_clocks {
    use super::*;

    pub fn fr_stopped(elapsed_ms: i64, at: DateTime<Utc>) -> Clock {
        Clock::stopped("first_response", HOUR, elapsed_ms, at)
    }
    pub fn fr_counting(elapsed_ms: i64, at: DateTime<Utc>) -> Clock {
        Clock::counting("first_response", HOUR, elapsed_ms, at)
    }
    pub fn res_stopped(elapsed_ms: i64, at: DateTime<Utc>) -> Clock {
        Clock::stopped("resolution", 4 * HOUR, elapsed_ms, at)
    }
    pub fn res_counting(elapsed_ms: i64, at: DateTime<Utc>) -> Clock {
        Clock::counting("resolution", 4 * HOUR, elapsed_ms, at)
    }
}

fn ms(d: Option<&prost_types::Duration>) -> Option<i64> {
    d.map(|d| d.seconds * 1000 + i64::from(d.nanos) / 1_000_000)
}

/// A row as `(group, [met, breached, open, without_policy], [mean fr, p90 fr, mean res, p90 res])`.
type Flat = (String, [i64; 4], [Option<i64>; 4]);

fn flat(r: &pb::SlaReportRow) -> Flat {
    (
        r.group.clone(),
        [r.met, r.breached, r.open, r.without_policy],
        [
            ms(r.mean_first_response.as_ref()),
            ms(r.p90_first_response.as_ref()),
            ms(r.mean_resolution.as_ref()),
            ms(r.p90_resolution.as_ref()),
        ],
    )
}

fn row(group: &str, counts: [i64; 4], durations: [Option<i64>; 4]) -> Flat {
    (group.to_owned(), counts, durations)
}

/// Asserts the total's counts are the sums of the rows'.
fn assert_sums(r: &pb::GetSlaReportResponse) {
    let total = r.total.as_ref().unwrap();
    let sum = |f: fn(&pb::SlaReportRow) -> i64| r.rows.iter().map(f).sum::<i64>();
    assert_eq!(
        [total.met, total.breached, total.open, total.without_policy],
        [
            sum(|r| r.met),
            sum(|r| r.breached),
            sum(|r| r.open),
            sum(|r| r.without_policy)
        ],
        "the total sums the rows"
    );
}

/// The total of the seeded period, whatever the grouping: durations over
/// all tickets — first responses 10, 30, 20, 40, 5 min and 40 min 1 ms
/// (mean 1,450,000.166… ms, rounded down); resolutions 2, 5, 1 and 4 h.
fn seeded_total() -> Flat {
    row(
        "total",
        [3, 3, 2, 2],
        [
            Some(1_450_000),
            Some(40 * MINUTE + 1),
            Some(3 * HOUR),
            Some(5 * HOUR),
        ],
    )
}

fn code(e: TtsError) -> tonic::Status {
    tonic::Status::from(ApiError::from(e))
}

map_kit::db_tests! {
#[tokio::test]
async fn a_report_per_priority_counts_each_case_and_its_durations_exactly() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    seed(db.db.conn()).await;
    let r = report::report(&db.db, &request(pb::SlaReportGrouping::Priority), now()).await.unwrap();
    let rows: Vec<Flat> = r.rows.iter().map(flat).collect();
    assert_eq!(rows, [
        // Cancelled within its target: met, without a resolution time.
        row("urgent", [1, 0, 0, 0], [None, None, None, None]),
        // 10, 30, 20, 5 min to respond; 2 h and 5 h to resolve.
        row("high", [1, 1, 2, 0], [Some(16 * MINUTE + 15_000), Some(30 * MINUTE), Some(3 * HOUR + 30 * MINUTE), Some(5 * HOUR)]),
        row("medium", [0, 1, 0, 1], [Some(40 * MINUTE + 1), Some(40 * MINUTE + 1), Some(4 * HOUR), Some(4 * HOUR)]),
        row("low", [1, 1, 0, 1], [Some(40 * MINUTE), Some(40 * MINUTE), Some(HOUR), Some(HOUR)]),
    ]);
    assert_eq!(flat(r.total.as_ref().unwrap()), seeded_total());
    assert_sums(&r);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_report_per_team_and_per_workflow_sums_to_the_same_total() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    seed(db.db.conn()).await;
    let r = report::report(&db.db, &request(pb::SlaReportGrouping::Team), now()).await.unwrap();
    let rows: Vec<Flat> = r.rows.iter().map(flat).collect();
    assert_eq!(rows, [
        row("", [0, 0, 1, 0], [Some(5 * MINUTE), Some(5 * MINUTE), None, None]),
        row(FORMULA, [0, 0, 0, 1], [None, None, None, None]),
        row("HR", [1, 1, 1, 1], [Some(20 * MINUTE), Some(20 * MINUTE), None, None]),
        // 10, 30, 40 min and 40 min 1 ms: mean 30 min 0.25 ms, rounded down.
        row("IT", [2, 2, 0, 0], [Some(30 * MINUTE), Some(40 * MINUTE + 1), Some(3 * HOUR), Some(5 * HOUR)]),
    ]);
    assert_eq!(flat(r.total.as_ref().unwrap()), seeded_total());
    assert_sums(&r);

    let r = report::report(&db.db, &request(pb::SlaReportGrouping::Workflow), now()).await.unwrap();
    let rows: Vec<(String, [i64; 4])> = r.rows.iter().map(|r| { let (g, c, _) = flat(r); (g, c) }).collect();
    assert_eq!(rows, [
        (String::new(), [1, 0, 1, 2]),
        (WF_A.to_owned(), [1, 1, 1, 0]),
        (WF_B.to_owned(), [1, 2, 0, 0]),
    ]);
    assert_eq!(flat(r.total.as_ref().unwrap()), seeded_total());
    assert_sums(&r);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn the_csv_export_parses_back_to_the_report_with_formulas_neutralised() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    seed(db.db.conn()).await;
    let asked = request(pb::SlaReportGrouping::Team);
    let r = report::report(&db.db, &asked, now()).await.unwrap();
    let bytes = report::export_csv(&db.db, &pb::ExportSlaReportRequest {
        start_time: asked.start_time,
        end_time: asked.end_time,
        group_by: asked.group_by,
    }, now()).await.unwrap();
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\r\n'=HYPERLINK(1),0,0,0,1,,,,\r\n"), "{text}");

    let mut reader = csv::Reader::from_reader(bytes.as_slice());
    assert_eq!(reader.headers().unwrap(), vec![
        "group", "met", "breached", "open", "without_policy",
        "mean_first_response_seconds", "p90_first_response_seconds",
        "mean_resolution_seconds", "p90_resolution_seconds",
    ]);
    let records: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    let parsed: Vec<Flat> = records.iter().map(|rec| {
        let count = |i: usize| rec[i].parse::<i64>().unwrap();
        // Seconds with exactly three decimals, back to milliseconds.
        let seconds = |i: usize| (!rec[i].is_empty()).then(|| {
            let (s, frac) = rec[i].split_once('.').unwrap();
            assert_eq!(frac.len(), 3, "{}", &rec[i]);
            s.parse::<i64>().unwrap() * 1000 + frac.parse::<i64>().unwrap()
        });
        (rec[0].to_owned(), [count(1), count(2), count(3), count(4)], [seconds(5), seconds(6), seconds(7), seconds(8)])
    }).collect();
    let (total, groups) = parsed.split_last().unwrap();
    let mut expected: Vec<Flat> = r.rows.iter().map(flat).collect();
    expected[1].0 = format!("'{FORMULA}");
    assert_eq!(groups, expected.as_slice(), "each group as the report has it");
    assert_eq!(total, &flat(r.total.as_ref().unwrap()));
    for (i, column) in total.1.iter().enumerate() {
        assert_eq!(*column, groups.iter().map(|g| g.1[i]).sum::<i64>(), "column {i} sums to the total");
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn pages_meet_without_losing_or_repeating_a_ticket() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    // Two pages and one ticket more, created in the opposite order of their
    // ids, among tickets outside the period.
    let n = usize::try_from(PAGE).unwrap() * 2 + 1;
    let mut batch = Vec::new();
    for i in 0..n + 10 {
        let created = if i < n {
            end() - Duration::seconds(i64::try_from(i).unwrap() + 1)
        } else {
            end() + Duration::seconds(i64::try_from(i).unwrap())
        };
        let priority = ["low", "high"][i % 2];
        batch.push(ticket(i, priority, "IT", "", created).into_active_model().reset_all());
        if batch.len() == 400 {
            tickets::Entity::insert_many(std::mem::take(&mut batch)).exec(db.db.conn()).await.unwrap();
        }
    }
    tickets::Entity::insert_many(batch).exec(db.db.conn()).await.unwrap();
    let r = report::report(&db.db, &request(pb::SlaReportGrouping::Priority), now()).await.unwrap();
    let rows: Vec<(String, i64)> = r.rows.iter().map(|r| (r.group.clone(), r.without_policy)).collect();
    let n = i64::try_from(n).unwrap();
    assert_eq!(rows, [("high".to_owned(), n / 2), ("low".to_owned(), n / 2 + 1)]);
    assert_eq!(r.total.as_ref().unwrap().without_policy, n);
    assert_sums(&r);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_period_with_no_tickets_has_no_rows_and_an_empty_total() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let r = report::report(&db.db, &request(pb::SlaReportGrouping::Workflow), now()).await.unwrap();
    assert!(r.rows.is_empty());
    assert_eq!(r.total, Some(pb::SlaReportRow { group: "total".into(), ..Default::default() }));
    let bytes = report::export_csv(&db.db, &pb::ExportSlaReportRequest {
        start_time: Some(timestamp(start())),
        end_time: Some(timestamp(end())),
        group_by: pb::SlaReportGrouping::Team.into(),
    }, now()).await.unwrap();
    assert!(String::from_utf8(bytes).unwrap().ends_with("p90_resolution_seconds\r\ntotal,0,0,0,0,,,,\r\n"));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bad_requests_are_refused_naming_their_fields() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let fields = |e: TtsError| {
        let status = code(e);
        assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
        map_kit::testing::fields(&status)
    };
    let ok = request(pb::SlaReportGrouping::Priority);
    let cases = [
        (pb::GetSlaReportRequest::default(), vec!["start_time", "end_time", "group_by"]),
        (pb::GetSlaReportRequest { start_time: None, ..ok }, vec!["start_time"]),
        (pb::GetSlaReportRequest { end_time: None, ..ok }, vec!["end_time"]),
        (pb::GetSlaReportRequest { start_time: ok.end_time, end_time: ok.start_time, ..ok }, vec!["end_time"]),
        (pb::GetSlaReportRequest { end_time: Some(timestamp(start() + Duration::days(367))), ..ok }, vec!["end_time"]),
        (pb::GetSlaReportRequest { group_by: 0, ..ok }, vec!["group_by"]),
    ];
    for (bad, named) in cases {
        let e = report::report(&db.db, &bad, now()).await.unwrap_err();
        assert_eq!(fields(e), named, "{bad:?}");
        let e = report::export_csv(&db.db, &pb::ExportSlaReportRequest {
            start_time: bad.start_time,
            end_time: bad.end_time,
            group_by: bad.group_by,
        }, now()).await.unwrap_err();
        assert_eq!(fields(e), named, "export of {bad:?}");
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_counting_clock_is_read_on_its_policy_calendar() {
    let db = TestDb::new::<map_migrations::tts::Migrator>().await;
    let conn = db.db.conn();
    policy(conn).await;
    // Weekdays 09:00–17:00 UTC; a second policy counts on it.
    let calendar = "0190a000-0000-7000-8000-0000000ca1e0";
    let hours: Vec<String> = (1..=5).map(|d| format!(r#"{{"weekday":{d},"start":540,"end":1020}}"#)).collect();
    sla_calendars::Model {
        id: calendar.into(),
        name: "Office".into(),
        time_zone: "UTC".into(),
        business_hours: format!("[{}]", hours.join(",")),
        holidays: "[]".into(),
        version: 1,
        created_at: start(),
        updated_at: start(),
    }
    .into_active_model()
    .reset_all()
    .insert(conn)
    .await
    .unwrap();
    let office = "0190a000-0000-7000-8000-00000000bbbb";
    let mut p = sla_policies::Entity::find_by_id(POLICY.to_owned()).one(conn).await.unwrap().unwrap();
    p.id = office.into();
    p.name = "Office hours".into();
    p.department_code = "OPS".into();
    p.calendar_id = calendar.into();
    p.into_active_model().reset_all().insert(conn).await.unwrap();

    // Counting since Saturday 10:00 with 3 h and 3 h 45 min of 4 h counted;
    // by Monday 09:30 half an hour of business time has passed (47.5 h
    // around the clock).
    let saturday = Utc.with_ymd_and_hms(2026, 3, 7, 10, 0, 0).unwrap();
    let monday = Utc.with_ymd_and_hms(2026, 3, 9, 9, 30, 0).unwrap();
    for (n, elapsed) in [(1, 3 * HOUR), (2, 3 * HOUR + 45 * MINUTE)] {
        let t = ticket(n, "high", "OPS", "", start());
        write_on(conn, t, office, office, vec![report_clocks::res_counting(elapsed, saturday)]).await;
    }
    let r = report::report(&db.db, &request(pb::SlaReportGrouping::Team), monday).await.unwrap();
    let rows: Vec<Flat> = r.rows.iter().map(flat).collect();
    assert_eq!(rows, [row("OPS", [0, 1, 1, 0], [None, None, None, None])]);
}
}
