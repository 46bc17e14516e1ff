//! SlaService's admin RPCs through a real gRPC server, on both databases:
//! calendars and policies are created (idempotently per request_id), read,
//! listed page by page in each documented order and updated under their
//! etag (stale → ABORTED); every bad field of the contract is refused by
//! name and writes nothing; a calendar's name is unique (ALREADY_EXISTS);
//! one active policy per priority and scope (FAILED_PRECONDITION, also when
//! two creates race), while a policy narrowed to a workflow stands beside
//! the priority's own; a new ticket follows the policy made here. The
//! policy matrix admits exactly the callers the table names.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    google::r#type::Date,
    tts::v1::{self as pb, sla_service_client::SlaServiceClient},
};
use map_kit::testing::{Caller, check_policy_matrix};
use support::{Fixture, fields, reason, support};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt as _;

type Client = SlaServiceClient<Channel>;

const MINUTE: i64 = 60;
const HOUR: i64 = 3600;
const DAY: i64 = 86_400;

async fn client(fx: &Fixture) -> Client {
    SlaServiceClient::new(fx.server.channel().await)
}

fn hours(weekday: pb::Weekday, start: i32, end: i32) -> pb::BusinessHours {
    pb::BusinessHours {
        weekday: weekday.into(),
        start_minute: start,
        end_minute: end,
    }
}

/// Monday to Friday, 09:00 to 17:00.
fn office_hours() -> Vec<pb::BusinessHours> {
    use pb::Weekday::*;
    [Monday, Tuesday, Wednesday, Thursday, Friday]
        .into_iter()
        .map(|d| hours(d, 9 * 60, 17 * 60))
        .collect()
}

fn date(year: i32, month: i32, day: i32) -> Option<Date> {
    Some(Date { year, month, day })
}

fn holiday(date: Option<Date>, name: &str, yearly: bool) -> pb::Holiday {
    pb::Holiday {
        date,
        name: name.into(),
        yearly,
    }
}

fn new_calendar(name: &str) -> pb::CreateCalendarRequest {
    pb::CreateCalendarRequest {
        name: name.into(),
        time_zone: "Asia/Manila".into(),
        business_hours: office_hours(),
        holidays: vec![
            holiday(date(2026, 6, 12), "Independence Day", false),
            holiday(date(0, 12, 25), "Christmas", true),
            // The year of a yearly holiday is ignored, even where it has
            // no such day.
            holiday(date(2025, 2, 29), "Leap day", true),
        ],
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

fn span(seconds: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration { seconds, nanos: 0 })
}

fn new_policy(name: &str, priority: pb::TicketPriority) -> pb::CreateSlaPolicyRequest {
    pb::CreateSlaPolicyRequest {
        name: name.into(),
        priority: priority.into(),
        first_response_target: span(4 * HOUR),
        resolution_target: span(2 * DAY),
        active: true,
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

fn level(
    clock: pb::SlaClock,
    trigger: pb::EscalationTrigger,
    action: pb::EscalationAction,
    role: &str,
) -> pb::EscalationLevel {
    pb::EscalationLevel {
        clock: clock.into(),
        trigger: trigger.into(),
        delay: span(30 * MINUTE),
        action: action.into(),
        role: role.into(),
    }
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn create_calendar(
    c: &mut Client,
    who: &Caller,
    req: pb::CreateCalendarRequest,
) -> pb::Calendar {
    c.create_calendar(who.request(req))
        .await
        .unwrap()
        .into_inner()
        .calendar
        .unwrap()
}

async fn create_policy(
    c: &mut Client,
    who: &Caller,
    req: pb::CreateSlaPolicyRequest,
) -> pb::SlaPolicy {
    c.create_sla_policy(who.request(req))
        .await
        .unwrap()
        .into_inner()
        .sla_policy
        .unwrap()
}

/// Every page of ListCalendars from `req`, as names.
async fn calendar_pages(
    c: &mut Client,
    who: &Caller,
    mut req: pb::ListCalendarsRequest,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    loop {
        let page = c
            .list_calendars(who.request(req.clone()))
            .await
            .unwrap()
            .into_inner();
        pages.push(page.calendars.iter().map(|c| c.name.clone()).collect());
        if page.next_page_token.is_empty() {
            return pages;
        }
        assert!(pages.len() < 50, "paging never ends");
        req.page_token = page.next_page_token;
    }
}

/// Every page of ListSlaPolicies from `req`, as names.
async fn policy_pages(
    c: &mut Client,
    who: &Caller,
    mut req: pb::ListSlaPoliciesRequest,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    loop {
        let page = c
            .list_sla_policies(who.request(req.clone()))
            .await
            .unwrap()
            .into_inner();
        pages.push(page.sla_policies.iter().map(|p| p.name.clone()).collect());
        if page.next_page_token.is_empty() {
            return pages;
        }
        assert!(pages.len() < 50, "paging never ends");
        req.page_token = page.next_page_token;
    }
}

async fn all_calendars(c: &mut Client, who: &Caller) -> Vec<String> {
    calendar_pages(c, who, pb::ListCalendarsRequest::default())
        .await
        .concat()
}

async fn all_policies(c: &mut Client, who: &Caller) -> Vec<String> {
    policy_pages(c, who, pb::ListSlaPoliciesRequest::default())
        .await
        .concat()
}

/// INVALID_ARGUMENT naming exactly `expected`, in order.
#[track_caller]
fn assert_fields(e: &tonic::Status, expected: &[&str], case: &str) {
    assert_eq!(e.code(), Code::InvalidArgument, "{case}: {e:?}");
    assert_eq!(
        fields(e),
        expected,
        "{case}: {:?}",
        e.get_details_bad_request()
    );
}

map_kit::db_tests! {
#[tokio::test]
async fn calendars_are_created_read_listed_and_updated_under_their_etag() {
    let fx = Fixture::start().await;
    let mut c = client(&fx).await;
    let agent = fx.person(&[("tts", "agent")]).await;

    let req = new_calendar("Manila office");
    let manila = create_calendar(&mut c, &fx.admin, req.clone()).await;
    assert_eq!((manila.name.as_str(), manila.time_zone.as_str(), manila.version), ("Manila office", "Asia/Manila", 1));
    assert_eq!(manila.business_hours, office_hours());
    let holidays: Vec<(Option<Date>, bool)> = manila.holidays.iter().map(|h| (h.date, h.yearly)).collect();
    assert_eq!(holidays, [(date(2026, 6, 12), false), (date(0, 12, 25), true), (date(0, 2, 29), true)], "a yearly 29 February is kept in year 0");
    assert!(manila.create_time.is_some() && manila.update_time.is_some() && !manila.etag.is_empty());
    // A retry answers the first result and creates nothing; the same
    // request_id with another request is refused.
    let again = create_calendar(&mut c, &fx.admin, req.clone()).await;
    assert_eq!(again, manila);
    let e = c.create_calendar(fx.admin.request(pb::CreateCalendarRequest { name: "Other".into(), ..req.clone() })).await.unwrap_err();
    assert_fields(&e, &["request_id"], "reused request_id");
    // The name is unique.
    let e = c.create_calendar(fx.admin.request(new_calendar("Manila office"))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::AlreadyExists, "CALENDAR_NAME_TAKEN"));

    let got = c.get_calendar(agent.request(pb::GetCalendarRequest { id: manila.id.clone() })).await.unwrap().into_inner().calendar.unwrap();
    assert_eq!(got, manila);
    let e = c.get_calendar(agent.request(pb::GetCalendarRequest { id: "manila".into() })).await.unwrap_err();
    assert_fields(&e, &["id"], "get by a non-UUID");
    let e = c.get_calendar(agent.request(pb::GetCalendarRequest { id: uuid::Uuid::now_v7().to_string() })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Listed by name (the default) or newest first, page by page.
    create_calendar(&mut c, &fx.admin, new_calendar("Around the clock")).await;
    create_calendar(&mut c, &fx.admin, new_calendar("Cebu office")).await;
    let by_name = ["Around the clock", "Cebu office", "Manila office"].map(str::to_owned);
    let page = |size: i32, order_by: &str| pb::ListCalendarsRequest { page_size: size, order_by: order_by.into(), ..Default::default() };
    assert_eq!(calendar_pages(&mut c, &agent, page(2, "")).await, [by_name[..2].to_vec(), by_name[2..].to_vec()]);
    assert_eq!(calendar_pages(&mut c, &agent, page(1, "name asc")).await.concat(), by_name);
    assert_eq!(calendar_pages(&mut c, &agent, page(1, "create_time desc")).await.concat(), ["Cebu office", "Around the clock", "Manila office"]);
    let e = c.list_calendars(agent.request(page(0, "time_zone"))).await.unwrap_err();
    assert_fields(&e, &["order_by"], "unsupported order");
    let e = c.list_calendars(agent.request(page(-1, ""))).await.unwrap_err();
    assert_fields(&e, &["page_size"], "negative page size");
    let first = c.list_calendars(agent.request(page(1, ""))).await.unwrap().into_inner();
    let e = c.list_calendars(agent.request(pb::ListCalendarsRequest { page_token: first.next_page_token, ..page(1, "create_time desc") })).await.unwrap_err();
    assert_fields(&e, &["page_token"], "a token of another order");

    // Holidays change every year: replaced under the etag.
    let mut change = manila.clone();
    change.holidays = vec![holiday(date(2027, 6, 12), "Independence Day", false)];
    change.name = "ignored: not in the mask".into();
    let updated = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(change.clone()), update_mask: mask(&["holidays"]) })).await.unwrap().into_inner().calendar.unwrap();
    assert_eq!((updated.name.as_str(), updated.version, updated.holidays.len()), ("Manila office", 2, 1));
    assert_ne!(updated.etag, manila.etag);
    assert_eq!(updated.create_time, manila.create_time);
    let stale = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(change), update_mask: mask(&["holidays"]) })).await.unwrap_err();
    assert_eq!((stale.code(), reason(&stale).as_str()), (Code::Aborted, "ETAG_MISMATCH"));
    // Renamed, moved to another zone, new hours; a taken name is refused.
    let mut change = updated.clone();
    change.name = "Makati office".into();
    change.time_zone = "Asia/Singapore".into();
    change.business_hours = vec![hours(pb::Weekday::Saturday, 0, 1440)];
    let moved = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(change.clone()), update_mask: mask(&["name", "time_zone", "business_hours"]) })).await.unwrap().into_inner().calendar.unwrap();
    assert_eq!((moved.name.as_str(), moved.time_zone.as_str(), moved.version), ("Makati office", "Asia/Singapore", 3));
    assert_eq!(moved.business_hours, change.business_hours);
    let mut taken = moved.clone();
    taken.name = "Cebu office".into();
    let e = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(taken), update_mask: mask(&["name"]) })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::AlreadyExists, "CALENDAR_NAME_TAKEN"));
    // Nothing to change: nothing changes, not even the version.
    let same = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(moved.clone()), update_mask: mask(&["name"]) })).await.unwrap().into_inner().calendar.unwrap();
    assert_eq!(same, moved);
    // The mask and the etag are required; unknown paths are refused.
    for (m, etag, expected) in [
        (mask(&["create_time"]), moved.etag.clone(), "update_mask"),
        (None, moved.etag.clone(), "update_mask"),
        (mask(&["name"]), String::new(), "calendar.etag"),
    ] {
        let e = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(pb::Calendar { etag, ..moved.clone() }), update_mask: m })).await.unwrap_err();
        assert_fields(&e, &[expected], expected);
    }
    let e = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(pb::Calendar { id: uuid::Uuid::now_v7().to_string(), ..moved.clone() }), update_mask: mask(&["name"]) })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let got = c.get_calendar(agent.request(pb::GetCalendarRequest { id: manila.id.clone() })).await.unwrap().into_inner().calendar.unwrap();
    assert_eq!(got, moved);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn every_bad_calendar_is_refused_by_field_and_writes_nothing() {
    use pb::Weekday::{Monday, Tuesday, Unspecified};
    let fx = Fixture::start().await;
    let mut c = client(&fx).await;
    let kept = create_calendar(&mut c, &fx.admin, new_calendar("Kept")).await;

    type Case = (&'static str, fn(&mut pb::CreateCalendarRequest), &'static [&'static str]);
    let cases: &[Case] = &[
        ("no name", |r| r.name = " ".into(), &["name"]),
        ("long name", |r| r.name = "n".repeat(201), &["name"]),
        ("no zone", |r| r.time_zone = String::new(), &["time_zone"]),
        ("unknown zone", |r| r.time_zone = "Mars/Olympus_Mons".into(), &["time_zone"]),
        ("no hours", |r| r.business_hours.clear(), &["business_hours"]),
        ("weekday unspecified", |r| r.business_hours[0].weekday = Unspecified.into(), &["business_hours[0].weekday"]),
        ("weekday unknown", |r| r.business_hours[0].weekday = 8, &["business_hours[0].weekday"]),
        ("start past the day", |r| r.business_hours[1].start_minute = 1440, &["business_hours[1].start_minute"]),
        ("negative start", |r| r.business_hours[1].start_minute = -1, &["business_hours[1].start_minute"]),
        ("end at midnight", |r| r.business_hours[1].end_minute = 0, &["business_hours[1].end_minute"]),
        ("end past the day", |r| r.business_hours[1].end_minute = 1441, &["business_hours[1].end_minute"]),
        ("end before start", |r| r.business_hours[1] = hours(Tuesday, 600, 540), &["business_hours[1].end_minute"]),
        ("empty interval", |r| r.business_hours[1] = hours(Tuesday, 600, 600), &["business_hours[1].end_minute"]),
        (
            "overlap",
            |r| r.business_hours = vec![hours(Monday, 540, 720), hours(Tuesday, 540, 1020), hours(Monday, 700, 780)],
            &["business_hours[0]", "business_hours[2]"],
        ),
        ("holiday without a date", |r| r.holidays[0].date = None, &["holidays[0].date"]),
        ("holiday month 0", |r| r.holidays[0].date = date(2026, 0, 12), &["holidays[0].date"]),
        ("holiday day 0", |r| r.holidays[0].date = date(2026, 6, 0), &["holidays[0].date"]),
        ("dated 29 February of a common year", |r| r.holidays[0].date = date(2025, 2, 29), &["holidays[0].date"]),
        ("dated without a year", |r| r.holidays[0].date = date(0, 6, 12), &["holidays[0].date"]),
        ("yearly month 13", |r| r.holidays[1].date = date(0, 13, 1), &["holidays[1].date"]),
        ("yearly 31 April", |r| r.holidays[1].date = date(0, 4, 31), &["holidays[1].date"]),
        ("holiday repeated", |r| r.holidays.push(holiday(date(2031, 12, 25), "Christmas again", false)), &["holidays[3].date"]),
        ("long holiday name", |r| r.holidays[2].name = "h".repeat(201), &["holidays[2].name"]),
        (
            "everything at once",
            |r| {
                r.name.clear();
                r.time_zone = "Nowhere".into();
                r.business_hours[4].end_minute = 2000;
                r.holidays[0].date = None;
            },
            &["name", "time_zone", "business_hours[4].end_minute", "holidays[0].date"],
        ),
    ];
    for (case, bad, expected) in cases {
        let mut req = new_calendar(&format!("Bad: {case}"));
        bad(&mut req);
        let e = c.create_calendar(fx.admin.request(req)).await.unwrap_err();
        assert_fields(&e, expected, case);
    }
    // The same mistakes in an update name the calendar's fields.
    let mut change = kept.clone();
    change.business_hours = vec![hours(Monday, 540, 720), hours(Monday, 700, 780)];
    change.time_zone = "Atlantis/Capital".into();
    let e = c.update_calendar(fx.admin.request(pb::UpdateCalendarRequest { calendar: Some(change), update_mask: mask(&["business_hours", "time_zone"]) })).await.unwrap_err();
    assert_fields(&e, &["calendar.time_zone", "calendar.business_hours[0]", "calendar.business_hours[1]"], "update");
    let e = c.create_calendar(fx.admin.request(pb::CreateCalendarRequest { request_id: String::new(), ..new_calendar("No request id") })).await.unwrap_err();
    assert_fields(&e, &["request_id"], "no request_id");

    assert_eq!(all_calendars(&mut c, &fx.admin).await, ["Kept"], "nothing written");
    let got = c.get_calendar(fx.admin.request(pb::GetCalendarRequest { id: kept.id.clone() })).await.unwrap().into_inner().calendar.unwrap();
    assert_eq!(got, kept, "the update changed nothing");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn policies_are_created_read_listed_and_updated_under_their_etag() {
    use pb::{EscalationAction as A, EscalationTrigger as T, SlaClock as K, TicketPriority as P, TicketStatus as S};
    let fx = Fixture::start().await;
    let mut c = client(&fx).await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let office = create_calendar(&mut c, &fx.admin, new_calendar("Office")).await;

    // Defaults: pause while waiting on the requester, warn at 80 %, the
    // default escalation (no levels stored).
    let plain = create_policy(&mut c, &fx.admin, new_policy("Medium", P::Medium)).await;
    assert_eq!((plain.priority, plain.warning_threshold_percent, plain.version, plain.active), (i32::from(P::Medium), 80, 1, true));
    assert_eq!(plain.pause_statuses, [i32::from(S::WaitingOnRequester)]);
    assert!(plain.escalation_levels.is_empty() && plain.calendar_id.is_empty());
    assert_eq!((plain.first_response_target, plain.resolution_target), (span(4 * HOUR), span(2 * DAY)));

    let full = pb::CreateSlaPolicyRequest {
        warning_threshold_percent: 75,
        calendar_id: office.id.clone(),
        pause_statuses: vec![S::OnHold.into(), S::WaitingOnRequester.into(), S::OnHold.into()],
        department_code: "IT".into(),
        escalation_levels: vec![
            level(K::Resolution, T::Warning, A::NotifyAssignee, ""),
            level(K::Step, T::Breach, A::ReassignToRole, "tts:manager"),
        ],
        ..new_policy("Urgent IT", P::Urgent)
    };
    let urgent = create_policy(&mut c, &fx.admin, full.clone()).await;
    assert_eq!((urgent.warning_threshold_percent, urgent.calendar_id.as_str(), urgent.department_code.as_str()), (75, office.id.as_str(), "IT"));
    assert_eq!(urgent.pause_statuses, [i32::from(S::WaitingOnRequester), i32::from(S::OnHold)], "deduplicated, in the statuses' order");
    assert_eq!(urgent.escalation_levels, full.escalation_levels);
    // A retry answers the first result; the id with another request is refused.
    assert_eq!(create_policy(&mut c, &fx.admin, full.clone()).await, urgent);
    let e = c.create_sla_policy(fx.admin.request(pb::CreateSlaPolicyRequest { name: "Other".into(), ..full.clone() })).await.unwrap_err();
    assert_fields(&e, &["request_id"], "reused request_id");
    let got = c.get_sla_policy(agent.request(pb::GetSlaPolicyRequest { id: urgent.id.clone() })).await.unwrap().into_inner().sla_policy.unwrap();
    assert_eq!(got, urgent);
    let e = c.get_sla_policy(agent.request(pb::GetSlaPolicyRequest { id: "urgent".into() })).await.unwrap_err();
    assert_fields(&e, &["id"], "get by a non-UUID");
    let e = c.get_sla_policy(agent.request(pb::GetSlaPolicyRequest { id: uuid::Uuid::now_v7().to_string() })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);

    // Listed by priority (least urgent first) then name, by name, or newest
    // first; filtered by priority and to the active ones.
    create_policy(&mut c, &fx.admin, pb::CreateSlaPolicyRequest { active: false, ..new_policy("Low (draft)", P::Low) }).await;
    create_policy(&mut c, &fx.admin, pb::CreateSlaPolicyRequest { department_code: "IT".into(), ..new_policy("A medium one for IT", P::Medium) }).await;
    let list = |size: i32, order_by: &str| pb::ListSlaPoliciesRequest { page_size: size, order_by: order_by.into(), ..Default::default() };
    assert_eq!(
        policy_pages(&mut c, &agent, list(2, "")).await,
        [vec!["Low (draft)".to_owned(), "A medium one for IT".to_owned()], vec!["Medium".to_owned(), "Urgent IT".to_owned()]]
    );
    assert_eq!(policy_pages(&mut c, &agent, list(1, "priority asc,name")).await.concat(), ["Low (draft)", "A medium one for IT", "Medium", "Urgent IT"]);
    assert_eq!(policy_pages(&mut c, &agent, list(1, "name")).await.concat(), ["A medium one for IT", "Low (draft)", "Medium", "Urgent IT"]);
    assert_eq!(policy_pages(&mut c, &agent, list(3, "create_time desc")).await.concat(), ["A medium one for IT", "Low (draft)", "Urgent IT", "Medium"]);
    let filtered = pb::ListSlaPoliciesRequest { priorities: vec![P::Low.into(), P::Urgent.into()], ..list(1, "") };
    assert_eq!(policy_pages(&mut c, &agent, filtered.clone()).await.concat(), ["Low (draft)", "Urgent IT"]);
    assert_eq!(policy_pages(&mut c, &agent, pb::ListSlaPoliciesRequest { active_only: true, ..filtered.clone() }).await.concat(), ["Urgent IT"]);
    let e = c.list_sla_policies(agent.request(pb::ListSlaPoliciesRequest { priorities: vec![P::Unspecified.into(), 9], order_by: "priority desc".into(), ..Default::default() })).await.unwrap_err();
    assert_fields(&e, &["order_by", "priorities[0]", "priorities[1]"], "bad list");
    let first = c.list_sla_policies(agent.request(filtered.clone())).await.unwrap().into_inner();
    let e = c.list_sla_policies(agent.request(pb::ListSlaPoliciesRequest { page_token: first.next_page_token, active_only: true, ..filtered })).await.unwrap_err();
    assert_fields(&e, &["page_token"], "a token of other filters");

    // Updated under the etag: new targets and levels, no pause at all.
    let mut change = urgent.clone();
    change.first_response_target = span(HOUR);
    change.resolution_target = span(8 * HOUR);
    change.pause_statuses.clear();
    change.escalation_levels = vec![level(K::FirstResponse, T::Breach, A::ReassignToStepEscalationRole, "")];
    change.name = "ignored: not in the mask".into();
    let paths = ["first_response_target", "resolution_target", "pause_statuses", "escalation_levels"];
    let updated = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(change.clone()), update_mask: mask(&paths) })).await.unwrap().into_inner().sla_policy.unwrap();
    assert_eq!((updated.name.as_str(), updated.version, updated.first_response_target, updated.resolution_target), ("Urgent IT", 2, span(HOUR), span(8 * HOUR)));
    assert!(updated.pause_statuses.is_empty(), "emptied by an update: the clocks never pause");
    assert_eq!(updated.escalation_levels, change.escalation_levels);
    assert_ne!(updated.etag, urgent.etag);
    let stale = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(change), update_mask: mask(&paths) })).await.unwrap_err();
    assert_eq!((stale.code(), reason(&stale).as_str()), (Code::Aborted, "ETAG_MISMATCH"));
    // Back to the whole priority, no calendar, the default threshold.
    let mut change = updated.clone();
    change.department_code.clear();
    change.calendar_id.clear();
    change.warning_threshold_percent = 0;
    let widened = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(change), update_mask: mask(&["department_code", "calendar_id", "warning_threshold_percent"]) })).await.unwrap().into_inner().sla_policy.unwrap();
    assert_eq!((widened.department_code.as_str(), widened.calendar_id.as_str(), widened.warning_threshold_percent, widened.version), ("", "", 80, 3));
    // Nothing to change: nothing changes.
    let same = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(widened.clone()), update_mask: mask(&["name", "active"]) })).await.unwrap().into_inner().sla_policy.unwrap();
    assert_eq!(same, widened);
    for (m, etag, expected) in [
        (mask(&["version"]), widened.etag.clone(), "update_mask"),
        (mask(&["id"]), widened.etag.clone(), "update_mask"),
        (None, widened.etag.clone(), "update_mask"),
        (mask(&["name"]), String::new(), "sla_policy.etag"),
    ] {
        let e = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(pb::SlaPolicy { etag, ..widened.clone() }), update_mask: m })).await.unwrap_err();
        assert_fields(&e, &[expected], expected);
    }
    let e = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(pb::SlaPolicy { id: uuid::Uuid::now_v7().to_string(), ..widened.clone() }), update_mask: mask(&["name"]) })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let e = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(pb::SlaPolicy { calendar_id: uuid::Uuid::now_v7().to_string(), ..widened.clone() }), update_mask: mask(&["calendar_id"]) })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::NotFound, "CALENDAR_NOT_FOUND"));
    assert_eq!(e.get_details_error_info().unwrap().metadata.get("field").map(String::as_str), Some("sla_policy.calendar_id"));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn every_bad_policy_is_refused_by_field_and_writes_nothing() {
    use pb::{EscalationAction as A, EscalationTrigger as T, SlaClock as K, TicketPriority as P, TicketStatus as S};
    let fx = Fixture::start().await;
    let mut c = client(&fx).await;
    let kept = create_policy(&mut c, &fx.admin, new_policy("Kept", P::High)).await;

    type Case = (&'static str, fn(&mut pb::CreateSlaPolicyRequest), &'static [&'static str]);
    let cases: &[Case] = &[
        ("no name", |r| r.name = "  ".into(), &["name"]),
        ("long name", |r| r.name = "n".repeat(201), &["name"]),
        ("no priority", |r| r.priority = P::Unspecified.into(), &["priority"]),
        ("unknown priority", |r| r.priority = 17, &["priority"]),
        ("no first response target", |r| r.first_response_target = None, &["first_response_target"]),
        ("zero first response target", |r| r.first_response_target = span(0), &["first_response_target"]),
        ("negative resolution target", |r| r.resolution_target = span(-HOUR), &["resolution_target"]),
        ("malformed target", |r| r.resolution_target = Some(prost_types::Duration { seconds: 10, nanos: -1 }), &["resolution_target"]),
        ("target over 366 days", |r| r.resolution_target = span(367 * DAY), &["resolution_target"]),
        ("resolution before first response", |r| r.resolution_target = span(HOUR), &["resolution_target"]),
        ("warning at 100 %", |r| r.warning_threshold_percent = 100, &["warning_threshold_percent"]),
        ("negative warning", |r| r.warning_threshold_percent = -5, &["warning_threshold_percent"]),
        ("calendar not a UUID", |r| r.calendar_id = "office".into(), &["calendar_id"]),
        ("topic not a UUID", |r| r.help_topic_id = "printers".into(), &["help_topic_id"]),
        ("workflow not a UUID", |r| r.workflow_id = "support".into(), &["workflow_id"]),
        ("unknown department", |r| r.department_code = "HR".into(), &["department_code"]),
        ("long department", |r| r.department_code = "D".repeat(33), &["department_code"]),
        (
            "two scopes",
            |r| {
                r.help_topic_id = uuid::Uuid::now_v7().to_string();
                r.department_code = "IT".into();
            },
            &["help_topic_id", "department_code"],
        ),
        ("pause when resolved", |r| r.pause_statuses = vec![S::Resolved.into()], &["pause_statuses[0]"]),
        ("pause in triage", |r| r.pause_statuses = vec![S::Open.into(), S::Triage.into(), S::Unspecified.into()], &["pause_statuses[1]", "pause_statuses[2]"]),
        ("level without a clock", |r| r.escalation_levels = vec![level(K::Unspecified, T::Breach, A::NotifyAssignee, "")], &["escalation_levels[0].clock"]),
        ("level without a trigger", |r| r.escalation_levels = vec![level(K::Resolution, T::Unspecified, A::NotifyAssignee, "")], &["escalation_levels[0].trigger"]),
        ("level without an action", |r| r.escalation_levels = vec![level(K::Resolution, T::Breach, A::Unspecified, "")], &["escalation_levels[0].action"]),
        (
            "level with a negative delay",
            |r| r.escalation_levels = vec![pb::EscalationLevel { delay: span(-1), ..level(K::Resolution, T::Breach, A::NotifyAssignee, "") }],
            &["escalation_levels[0].delay"],
        ),
        ("reassign to no role", |r| r.escalation_levels = vec![level(K::Step, T::Breach, A::ReassignToRole, "")], &["escalation_levels[0].role"]),
        ("reassign to a role of no system", |r| r.escalation_levels = vec![level(K::Step, T::Breach, A::ReassignToRole, "manager")], &["escalation_levels[0].role"]),
        ("reassign to a role of another system", |r| r.escalation_levels = vec![level(K::Step, T::Breach, A::ReassignToRole, "ams:manager")], &["escalation_levels[0].role"]),
        ("reassign to a role Auth lacks", |r| r.escalation_levels = vec![level(K::Step, T::Breach, A::ReassignToRole, "tts:nobody")], &["escalation_levels[0].role"]),
        (
            "a role where none is used",
            |r| r.escalation_levels = vec![level(K::Resolution, T::Warning, A::NotifyAssignee, ""), level(K::Resolution, T::Breach, A::ReassignToStepEscalationRole, "tts:manager")],
            &["escalation_levels[1].role"],
        ),
        (
            "everything at once",
            |r| {
                r.name.clear();
                r.priority = 0;
                r.warning_threshold_percent = 101;
                r.department_code = "HR".into();
            },
            &["name", "priority", "warning_threshold_percent", "department_code"],
        ),
    ];
    for (case, bad, expected) in cases {
        let mut req = new_policy(&format!("Bad: {case}"), P::Low);
        bad(&mut req);
        let e = c.create_sla_policy(fx.admin.request(req)).await.unwrap_err();
        assert_fields(&e, expected, case);
    }
    // A calendar that does not exist is NOT_FOUND, naming the field.
    let e = c.create_sla_policy(fx.admin.request(pb::CreateSlaPolicyRequest { calendar_id: uuid::Uuid::now_v7().to_string(), ..new_policy("No calendar", P::Low) })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::NotFound, "CALENDAR_NOT_FOUND"));
    assert_eq!(e.get_details_error_info().unwrap().metadata.get("field").map(String::as_str), Some("calendar_id"));
    let e = c.create_sla_policy(fx.admin.request(pb::CreateSlaPolicyRequest { request_id: "again".into(), ..new_policy("Bad request id", P::Low) })).await.unwrap_err();
    assert_fields(&e, &["request_id"], "request_id not a UUID");
    // An update is checked whole: a target below the stored first response.
    let mut change = kept.clone();
    change.resolution_target = span(MINUTE);
    change.pause_statuses = vec![S::Closed.into()];
    let e = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(change), update_mask: mask(&["resolution_target", "pause_statuses"]) })).await.unwrap_err();
    assert_fields(&e, &["sla_policy.resolution_target", "sla_policy.pause_statuses[0]"], "update");

    assert_eq!(all_policies(&mut c, &fx.admin).await, ["Kept"], "nothing written");
    let got = c.get_sla_policy(fx.admin.request(pb::GetSlaPolicyRequest { id: kept.id.clone() })).await.unwrap().into_inner().sla_policy.unwrap();
    assert_eq!(got, kept, "the update changed nothing");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn one_active_policy_per_priority_and_scope_even_when_creates_race() {
    use pb::TicketPriority as P;
    let fx = Fixture::start().await;
    let mut c = client(&fx).await;
    let workflow = fx.create_workflow(support("Desk", "IT", "Network", "")).await.unwrap();

    let high = create_policy(&mut c, &fx.admin, new_policy("High", P::High)).await;
    let e = c.create_sla_policy(fx.admin.request(new_policy("High again", P::High))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "PRIORITY_HAS_ACTIVE_POLICY"));
    // Inactive, or narrowed to a workflow, it stands beside the priority's own.
    let draft = create_policy(&mut c, &fx.admin, pb::CreateSlaPolicyRequest { active: false, ..new_policy("High draft", P::High) }).await;
    let narrowed = create_policy(&mut c, &fx.admin, pb::CreateSlaPolicyRequest { workflow_id: workflow.id.to_uppercase(), ..new_policy("High desk", P::High) }).await;
    assert_eq!(narrowed.workflow_id, workflow.id, "one spelling of a UUID");
    let e = c.create_sla_policy(fx.admin.request(pb::CreateSlaPolicyRequest { workflow_id: workflow.id.clone(), ..new_policy("High desk again", P::High) })).await.unwrap_err();
    assert_eq!(reason(&e), "PRIORITY_HAS_ACTIVE_POLICY");
    // An update may not make a second one either: activating the draft, or
    // widening the narrowed one to the whole priority.
    let e = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(pb::SlaPolicy { active: true, ..draft.clone() }), update_mask: mask(&["active"]) })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "PRIORITY_HAS_ACTIVE_POLICY"));
    let e = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(pb::SlaPolicy { workflow_id: String::new(), ..narrowed.clone() }), update_mask: mask(&["workflow_id"]) })).await.unwrap_err();
    assert_eq!(reason(&e), "PRIORITY_HAS_ACTIVE_POLICY");
    // Once the priority's own is deactivated, the draft may take its place.
    c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(pb::SlaPolicy { active: false, ..high.clone() }), update_mask: mask(&["active"]) })).await.unwrap();
    let live = c.update_sla_policy(fx.admin.request(pb::UpdateSlaPolicyRequest { sla_policy: Some(pb::SlaPolicy { active: true, ..draft.clone() }), update_mask: mask(&["active"]) })).await.unwrap().into_inner().sla_policy.unwrap();
    assert!(live.active);

    // Creates racing for one scope: exactly one wins, the others are told
    // why (not INTERNAL).
    let racers = (0..8).map(|i| {
        let mut c = c.clone();
        let req = pb::CreateSlaPolicyRequest { department_code: "IT".into(), ..new_policy(&format!("Urgent IT {i}"), P::Urgent) };
        let admin = fx.admin.clone();
        async move { c.create_sla_policy(admin.request(req)).await }
    });
    let results = futures::future::join_all(racers).await;
    let won = results.iter().filter(|r| r.is_ok()).count();
    let refused: Vec<(Code, String)> = results.iter().filter_map(|r| r.as_ref().err()).map(|e| (e.code(), reason(e))).collect();
    assert_eq!(won, 1, "{refused:?}");
    assert!(refused.iter().all(|r| *r == (Code::FailedPrecondition, "PRIORITY_HAS_ACTIVE_POLICY".to_owned())), "{refused:?}");
    let urgent = policy_pages(&mut c, &fx.admin, pb::ListSlaPoliciesRequest { priorities: vec![P::Urgent.into()], ..Default::default() }).await.concat();
    assert_eq!(urgent.len(), 1, "{urgent:?}");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_create_that_loses_the_race_at_the_unique_index_is_told_why() {
    use map_tts::entity::sla_policies;
    use sea_orm::{ActiveModelTrait as _, ActiveValue::Set, ConnectionTrait as _, Statement};
    let fx = Fixture::start().await;
    let c = client(&fx).await;
    // Another writer holds an active URGENT policy for IT, not committed yet.
    let other = fx.db.db.begin_write().await.unwrap();
    let now = chrono::Utc::now();
    sla_policies::ActiveModel {
        id: Set(uuid::Uuid::now_v7().to_string()),
        name: Set("Written beside".into()),
        priority: Set("urgent".into()),
        first_response_ms: Set(3_600_000),
        resolution_ms: Set(7_200_000),
        warning_percent: Set(80),
        calendar_id: Set(String::new()),
        active: Set(true),
        pause_statuses: Set("waiting_on_requester".into()),
        help_topic_id: Set(String::new()),
        workflow_id: Set(String::new()),
        department_code: Set("IT".into()),
        escalation_levels: Set("[]".into()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&other)
    .await
    .unwrap();
    let req = pb::CreateSlaPolicyRequest { department_code: "IT".into(), ..new_policy("Urgent IT", pb::TicketPriority::Urgent) };
    let admin = fx.admin.clone();
    let mut racer = c.clone();
    let call = tokio::spawn(async move { racer.create_sla_policy(admin.request(req)).await });
    let postgres = fx.db.backend == map_kit::testing::Backend::Postgres;
    if postgres {
        // The create passed its check (the row is not visible to it) and
        // waits at the unique index for the other writer.
        let conn = fx.db.db.conn().clone();
        map_kit::testing::eventually("the create to wait at the index", std::time::Duration::from_secs(10), || {
            let conn = conn.clone();
            async move {
                let waiting = "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'";
                let row = conn.query_one_raw(Statement::from_string(conn.get_database_backend(), waiting)).await.unwrap().unwrap();
                row.try_get::<i64>("", "n").unwrap() > 0
            }
        })
        .await;
    }
    // (SQLite: the create waits for the write lock, then sees the row.)
    other.commit().await.unwrap();
    let e = call.await.unwrap().unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "PRIORITY_HAS_ACTIVE_POLICY"), "{e:?}");
    if postgres {
        assert!(e.message().contains("at the same time"), "the index, not the check, refused it: {e:?}");
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_new_ticket_follows_the_policy_and_calendar_made_here() {
    use pb::TicketPriority as P;
    let fx = Fixture::start().await;
    let mut c = client(&fx).await;
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let office = create_calendar(&mut c, &fx.admin, new_calendar("Office")).await;
    let policy = create_policy(&mut c, &fx.admin, pb::CreateSlaPolicyRequest {
        calendar_id: office.id.clone(),
        department_code: "IT".into(),
        escalation_levels: vec![level(pb::SlaClock::Resolution, pb::EscalationTrigger::Breach, pb::EscalationAction::ReassignToRole, "tts:manager")],
        ..new_policy("Medium IT", P::Medium)
    }).await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let mut tickets = fx.tickets().await;
    let ticket = tickets.create_ticket(agent.request(pb::CreateTicketRequest {
        subject: "VPN drops".into(),
        requester_user_id: uuid::Uuid::now_v7().to_string(),
        department_code: "IT".into(),
        category: "Network".into(),
        priority: P::Medium.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    })).await.unwrap().into_inner().ticket.unwrap();
    let got = tickets.get_ticket(agent.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(ticket.id.clone())) })).await.unwrap().into_inner().ticket.unwrap();
    let sla = got.sla.unwrap();
    assert_eq!(sla.sla_policy_id, policy.id);
    assert!(sla.resolution_due_time.is_some() && sla.first_response_due_time.is_some(), "{sla:?}");
}
}

#[tokio::test]
async fn agents_read_but_only_admins_write_and_strangers_are_refused() {
    let fx = Fixture::start().await;
    let mut c = client(&fx).await;
    let agent = fx.auth.person(&[("tts", "agent")]);
    let e = c
        .create_calendar(agent.request(new_calendar("Mine")))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    let e = c
        .create_sla_policy(agent.request(new_policy("Mine", pb::TicketPriority::Low)))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
    c.list_calendars(agent.request(pb::ListCalendarsRequest::default()))
        .await
        .unwrap();
    c.list_sla_policies(agent.request(pb::ListSlaPoliciesRequest::default()))
        .await
        .unwrap();
    let e = c
        .list_sla_policies(Caller::anonymous().request(pb::ListSlaPoliciesRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::Unauthenticated);
    // A manager reaches the reports: a request without a period is refused
    // by the report itself; a whole export streams the CSV.
    let manager = fx.auth.person(&[("tts", "manager")]);
    let e = c
        .get_sla_report(manager.request(pb::GetSlaReportRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let now = std::time::SystemTime::now();
    let stamp = |t: std::time::SystemTime| prost_types::Timestamp::from(t);
    let mut chunks = c
        .export_sla_report(manager.request(pb::ExportSlaReportRequest {
            start_time: Some(stamp(now - std::time::Duration::from_secs(86_400))),
            end_time: Some(stamp(now)),
            group_by: pb::SlaReportGrouping::Priority.into(),
        }))
        .await
        .unwrap()
        .into_inner();
    let mut csv = Vec::new();
    while let Some(chunk) = chunks.message().await.unwrap() {
        csv.extend(chunk.chunk);
    }
    let csv = String::from_utf8(csv).unwrap();
    assert!(
        csv.starts_with("group,met,breached,open,without_policy,"),
        "{csv}"
    );
    assert!(csv.contains("total,"), "{csv}");
    let e = c
        .get_sla_report(agent.request(pb::GetSlaReportRequest::default()))
        .await
        .unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied);
}

#[tokio::test]
async fn every_sla_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = fx.policy_callers();
    check_policy_matrix(
        fx.server.channel().await,
        &map_tts::grpc::policy::SLA_SERVICE,
        &callers,
    )
    .await;
}
