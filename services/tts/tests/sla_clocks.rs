//! The SLA engine on both databases, driven by a manual clock: a ticket's
//! clocks count the business hours of a Berlin calendar, pause while the
//! ticket waits on its requester, and fire their warnings, breaches and
//! escalation levels exactly once through the kit's timer worker — also
//! with two workers firing at once — and the escalation consumer hands the
//! ticket to the step's escalation role.
#![allow(clippy::unwrap_used)]

mod support;

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use map_contracts::{
    events::v1::{self as ev, Envelope},
    tts::v1 as pb,
};
use map_kit::testing::Caller;
use map_kit::{
    bus::{Event, Handler as _},
    clock::ManualClock,
    outbox,
    timers::{TimerWorker, TimerWorkerConfig},
};
use map_tts::{
    entity::{sla_calendars, sla_policies},
    sla::{
        clocks,
        escalation::Escalations,
        timers::{self, ClockTimer, LevelTimer},
    },
    tickets::Tickets,
};
use prost::Message as _;
use sea_orm::{ActiveModelTrait as _, ActiveValue::Set, EntityTrait as _, QueryOrder as _};
use support::{Fixture, go, step};

/// The Berlin calendar's id.
const CALENDAR: &str = "01890a5d-ac96-774b-bcce-b302099a8101";
/// The high-priority policy's id.
const POLICY: &str = "01890a5d-ac96-774b-bcce-b302099a8102";

/// Berlin local time on a date of March 2026 (UTC+1 until the 29th).
fn berlin(day: u32, hour: u32, minute: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, hour, minute, 0).unwrap() - Duration::hours(1)
}

fn at(t: &prost_types::Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp(t.seconds, t.nanos as u32).unwrap()
}

/// Stores calendar `id` in Europe/Berlin with weekdays 09:00–17:00 and
/// `extra` intervals (stored form: ISO weekday, minutes).
async fn calendar(fx: &Fixture, id: &str, name: &str, extra: &[(u8, u16, u16)]) {
    let now = fx.clock.now();
    let hours: Vec<_> = (1..=5)
        .map(|d| (d, 540, 1020))
        .chain(extra.iter().copied())
        .map(|(d, start, end)| serde_json::json!({"weekday": d, "start": start, "end": end}))
        .collect();
    sla_calendars::ActiveModel {
        id: Set(id.into()),
        name: Set(name.into()),
        time_zone: Set("Europe/Berlin".into()),
        business_hours: Set(serde_json::to_string(&hours).unwrap()),
        holidays: Set("[]".into()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(fx.db.db.conn())
    .await
    .unwrap();
}

/// Stores an active policy `id` for `priority` on `calendar_id`: first
/// response and resolution targets in hours, warning at 75 %, paused while
/// waiting on the requester, default escalation.
async fn stored_policy(
    fx: &Fixture,
    id: &str,
    priority: &str,
    targets: (f64, f64),
    calendar_id: &str,
) {
    let now = fx.clock.now();
    let ms = |hours: f64| (hours * 3_600_000.0) as i64;
    sla_policies::ActiveModel {
        id: Set(id.into()),
        name: Set(format!("{priority} policy")),
        priority: Set(priority.into()),
        first_response_ms: Set(ms(targets.0)),
        resolution_ms: Set(ms(targets.1)),
        warning_percent: Set(75),
        calendar_id: Set(calendar_id.into()),
        active: Set(true),
        pause_statuses: Set("waiting_on_requester".into()),
        help_topic_id: Set(String::new()),
        workflow_id: Set(String::new()),
        department_code: Set(String::new()),
        escalation_levels: Set("[]".into()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(fx.db.db.conn())
    .await
    .unwrap();
}

/// Monday to Friday, 09:00–17:00, Europe/Berlin; and a high-priority policy
/// on it: first response 1 h, resolution 8 h, warning at 75 %, paused while
/// waiting on the requester, default escalation.
async fn policy(fx: &Fixture) {
    calendar(fx, CALENDAR, "Berlin office", &[]).await;
    stored_policy(fx, POLICY, "high", (1.0, 8.0), CALENDAR).await;
}

/// work (1 h step SLA) ⇄ waiting → resolved, all by hand.
fn workflow() -> pb::CreateWorkflowRequest {
    use pb::{TicketStatus as S, TransitionTrigger as T};
    pb::CreateWorkflowRequest {
        name: "Desk".into(),
        description: "Desk support".into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        sub_category: String::new(),
        steps: vec![
            step("work", S::InProgress, false),
            step("waiting", S::WaitingOnRequester, false),
            step("resolved", S::Resolved, true),
        ],
        transitions: vec![
            go("work", "waiting", "ask", T::Manual),
            go("waiting", "work", "resume", T::Manual),
            go("work", "resolved", "resolve", T::Manual),
        ],
        initial_step_id: "work".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

/// The SLA events in the outbox: (type, clock kind, level).
async fn sla_events(fx: &Fixture) -> Vec<(String, i32, i32)> {
    outbox::entity::Entity::find()
        .order_by_asc(outbox::entity::Column::Seq)
        .all(fx.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.event_type.starts_with("tts.sla."))
        .map(|row| {
            let envelope = Envelope::decode(row.envelope.as_slice()).unwrap();
            let any = envelope.payload.unwrap();
            let (kind, level) = match row.event_type.as_str() {
                "tts.sla.warning" => (
                    ev::TtsSlaWarning::decode(any.value.as_slice())
                        .unwrap()
                        .kind,
                    -1,
                ),
                "tts.sla.breached" => (
                    ev::TtsSlaBreached::decode(any.value.as_slice())
                        .unwrap()
                        .kind,
                    -1,
                ),
                _ => {
                    let due = ev::TtsSlaEscalationDue::decode(any.value.as_slice()).unwrap();
                    (due.kind, due.level)
                }
            };
            (row.event_type, kind, level)
        })
        .collect()
}

/// The escalation events in the outbox, as the consumer receives them.
async fn escalations(fx: &Fixture) -> Vec<Envelope> {
    outbox::entity::Entity::find()
        .order_by_asc(outbox::entity::Column::Seq)
        .all(fx.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .filter(|row| row.event_type == "tts.sla.escalation_due")
        .map(|row| Envelope::decode(row.envelope.as_slice()).unwrap())
        .collect()
}

fn worker(fx: &Fixture) -> TimerWorker {
    TimerWorker::new(
        fx.db.db.clone(),
        fx.clock.clone(),
        TimerWorkerConfig::default(),
    )
    .handle(clocks::WARNING, ClockTimer::warning(fx.clock.clone()))
    .handle(clocks::BREACH, ClockTimer::breach(fx.clock.clone()))
    .handle(timers::LEVEL, LevelTimer::new(fx.clock.clone()))
}

/// Fires due timers until none is left; how many fired.
async fn fire_all(w: &TimerWorker) -> usize {
    let mut fired = 0;
    loop {
        let outcome = w.fire_due().await.unwrap();
        assert_eq!(outcome.failed, 0, "a timer handler failed");
        if outcome.fired == 0 {
            return fired;
        }
        fired += outcome.fired;
    }
}

type Client = pb::ticket_service_client::TicketServiceClient<tonic::transport::Channel>;

/// Opens a ticket of `priority` in the workflow's department and category.
async fn open(c: &Client, who: &Caller, priority: pb::TicketPriority) -> pb::Ticket {
    c.clone()
        .create_ticket(who.request(pb::CreateTicketRequest {
            subject: "Printer jammed".into(),
            department_code: "IT".into(),
            category: "Hardware".into(),
            priority: priority.into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap()
}

/// Moves `t` by `action`, with a comment of `visibility`.
async fn act(
    c: &Client,
    who: &Caller,
    t: &pb::Ticket,
    action: &str,
    visibility: pb::CommentVisibility,
) -> pb::Ticket {
    c.clone()
        .transition_ticket(who.request(pb::TransitionTicketRequest {
            ticket_id: t.id.clone(),
            action: action.into(),
            comment: format!("{action}: a note"),
            comment_visibility: visibility.into(),
            etag: t.etag.clone(),
            request_id: uuid::Uuid::now_v7().to_string(),
        }))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap()
}

/// The ticket `id` as GetTicket shows it, with its clocks.
async fn get(c: &Client, who: &Caller, id: &str) -> pb::Ticket {
    c.clone()
        .get_ticket(who.request(pb::GetTicketRequest {
            lookup: Some(pb::get_ticket_request::Lookup::Id(id.to_owned())),
        }))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap()
}

/// A desk at `start` on the manual clock: the server, its one agent (who
/// takes every ticket) and the published workflow, with no SLA policy yet.
struct Desk {
    manual: ManualClock,
    fx: Fixture,
    ada: Caller,
    c: Client,
}

async fn desk(start: DateTime<Utc>) -> Desk {
    let manual = ManualClock::new(start);
    let fx = Fixture::start_at(manual.clock()).await;
    let ada = fx.person(&[("tts", "agent")]).await;
    fx.turns
        .set("tts:agent", &[&ada.principal.as_ref().unwrap().id]);
    let w = fx.create_workflow(workflow()).await.unwrap();
    fx.publish(&w).await.unwrap();
    let c = fx.tickets().await;
    Desk { manual, fx, ada, c }
}

fn clock_of(t: &pb::Ticket, clock: pb::SlaClock) -> pb::SlaClockStatus {
    t.sla
        .as_ref()
        .unwrap()
        .clocks
        .iter()
        .find(|c| c.clock == i32::from(clock))
        .cloned()
        .unwrap_or_else(|| panic!("no {clock:?} clock on {:?}", t.sla))
}

/// A handler that does the breach's whole work and then fails, as a worker
/// killed before its commit: its transaction is rolled back.
struct Crashing(ClockTimer);

#[async_trait::async_trait]
impl map_kit::timers::TimerHandler for Crashing {
    async fn fire(
        &self,
        timer: &map_kit::timers::Timer,
        txn: &sea_orm::DatabaseTransaction,
    ) -> Result<(), map_kit::timers::FireError> {
        self.0.fire(timer, txn).await?;
        Err(map_kit::timers::FireError::Retry(
            "killed before the commit".into(),
        ))
    }
}

/// A calendar whose Sunday holds 01:00–05:00 (Berlin) beside weekdays
/// 09:00–17:00, and an urgent policy on it: 4 h to resolve.
async fn night_shift(fx: &Fixture) {
    let id = "01890a5d-ac96-774b-bcce-b302099a8104";
    calendar(fx, id, "Berlin night shift", &[(7, 60, 300)]).await;
    stored_policy(
        fx,
        "01890a5d-ac96-774b-bcce-b302099a8105",
        "urgent",
        (1.0, 4.0),
        id,
    )
    .await;
}

/// Auth, down.
#[derive(Debug)]
struct AuthDown;

impl map_tts::tickets::assign::Assigner for AuthDown {
    fn next<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> futures::future::BoxFuture<'a, Result<Option<String>, map_kit::ApiError>> {
        Box::pin(async { Err(map_kit::ApiError::Unavailable("auth".into())) })
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn clocks_count_business_hours_pause_while_waiting_and_fire_once() {
    // Monday 2 March 2026, 08:00 in Berlin: before business hours.
    let Desk { manual, fx, ada, c } = desk(berlin(2, 8, 0)).await;
    policy(&fx).await;
    let mia = fx.person(&[("tts", "manager")]).await;
    let id = |c: &map_kit::testing::Caller| c.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:manager", &[&id(&mia)]);
    let created = open(&c, &ada, pb::TicketPriority::High).await;
    let t = get(&c, &ada, &created.id).await;
    // Counting starts at 09:00: 1 h to respond, 8 h to resolve, 1 h in "work".
    assert_eq!(t.sla.as_ref().unwrap().sla_policy_id, POLICY);
    let first = clock_of(&t, pb::SlaClock::FirstResponse);
    assert_eq!(at(first.due_time.as_ref().unwrap()), berlin(2, 10, 0));
    assert_eq!(first.state, i32::from(pb::SlaClockState::Running));
    let resolution = clock_of(&t, pb::SlaClock::Resolution);
    assert_eq!(at(resolution.due_time.as_ref().unwrap()), berlin(2, 17, 0));
    let work = clock_of(&t, pb::SlaClock::Step);
    assert_eq!((work.step_id.as_str(), at(work.due_time.as_ref().unwrap())), ("work", berlin(2, 10, 0)));

    // 09:30: the agent asks the requester — a response; the clocks pause.
    manual.set(berlin(2, 9, 30));
    let asked = act(&c, &ada, &t, "ask", pb::CommentVisibility::Public).await;
    let t = get(&c, &ada, &asked.id).await;
    assert_eq!(clock_of(&t, pb::SlaClock::FirstResponse).state, i32::from(pb::SlaClockState::Met));
    let resolution = clock_of(&t, pb::SlaClock::Resolution);
    assert_eq!(resolution.state, i32::from(pb::SlaClockState::Paused));
    assert_eq!(at(resolution.paused_since.as_ref().unwrap()), berlin(2, 9, 30));
    assert_eq!(resolution.remaining.as_ref().unwrap().seconds, 7 * 3600 + 1800);

    // Two days of silence count nothing; Wednesday 09:00 work resumes.
    manual.set(berlin(4, 9, 0));
    let workers = worker(&fx);
    assert_eq!(fire_all(&workers).await, 0, "nothing is due while paused");
    let resumed = act(&c, &ada, &t, "resume", pb::CommentVisibility::Internal).await;
    let t = get(&c, &ada, &resumed.id).await;
    // 7 h 30 left from 09:00: due 16:30; the step continues its own clock
    // (30 min counted on Monday): due 09:30.
    let resolution = clock_of(&t, pb::SlaClock::Resolution);
    assert_eq!(at(resolution.due_time.as_ref().unwrap()), berlin(4, 16, 30));
    let work = clock_of(&t, pb::SlaClock::Step);
    assert_eq!(at(work.due_time.as_ref().unwrap()), berlin(4, 9, 30));

    // 14:31: the step warned (09:15) and breached (09:30), its breach
    // escalated; resolution warned at 75 % (14:30). Two workers at once.
    manual.set(berlin(4, 14, 31));
    let other = worker(&fx);
    let (a, b) = tokio::join!(fire_all(&workers), fire_all(&other));
    assert_eq!(a + b, 4, "step warning, step breach, its level, resolution warning");
    let step_kind = i32::from(ev::SlaKind::Step);
    let resolution_kind = i32::from(ev::SlaKind::Resolution);
    let mut seen = sla_events(&fx).await;
    seen.sort();
    assert_eq!(
        seen,
        [
            ("tts.sla.breached".to_owned(), step_kind, -1),
            ("tts.sla.escalation_due".to_owned(), step_kind, 1),
            ("tts.sla.warning".to_owned(), resolution_kind, -1),
            ("tts.sla.warning".to_owned(), step_kind, -1),
        ]
    );
    let t = get(&c, &ada, &t.id).await;
    assert_eq!(clock_of(&t, pb::SlaClock::Step).state, i32::from(pb::SlaClockState::Breached));
    assert_eq!(clock_of(&t, pb::SlaClock::Resolution).state, i32::from(pb::SlaClockState::Warned));
    assert!(t.sla.as_ref().unwrap().step_breached);

    // The escalation consumer hands the ticket to the step's escalation
    // role's next holder, recorded as an escalation; a redelivery changes
    // nothing more.
    let tickets = Tickets::new(fx.db.db.clone(), fx.turns.clone(), fx.clock.clone(), map_kit::paging::Pager::random());
    let consumer = Escalations::new(tickets);
    let due = escalations(&fx).await;
    assert_eq!(due.len(), 1);
    for _ in 0..2 {
        let e = Event::new(due[0].clone());
        if let Some(p) = consumer.prepare(&e).await.unwrap() {
            e.set_prepared(p);
        }
        let txn = fx.db.db.begin_write().await.unwrap();
        consumer.handle(&e, &txn).await.unwrap();
        txn.commit().await.unwrap();
    }
    let t = get(&c, &ada, &t.id).await;
    assert_eq!(t.assignee_user_id, id(&mia));
    let history = c
        .clone()
        .list_ticket_events(ada.request(pb::ListTicketEventsRequest {
            ticket_id: t.id.clone(),
            page_size: 100,
            ..Default::default()
        }))
        .await
        .unwrap()
        .into_inner()
        .events;
    let escalated: Vec<_> = history
        .iter()
        .filter_map(|e| match &e.details {
            Some(pb::ticket_event::Details::Assigned(a))
                if a.reason == i32::from(pb::AssignmentReason::Escalation) => Some(a.assignee_user_id.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(escalated, [id(&mia)]);
    let kinds = |kind: pb::TicketEventType| history.iter().filter(|e| e.r#type == i32::from(kind)).count();
    assert_eq!((kinds(pb::TicketEventType::SlaWarning), kinds(pb::TicketEventType::SlaBreached)), (2, 1));

    // 16:31: resolution breaches once; later runs fire nothing again.
    manual.set(berlin(4, 16, 31));
    assert_eq!(fire_all(&workers).await, 2, "resolution breach and its level");
    manual.set(berlin(6, 12, 0));
    assert_eq!(fire_all(&workers).await + fire_all(&other).await, 0);
    let breaches = sla_events(&fx).await.into_iter().filter(|e| e.0 == "tts.sla.breached").count();
    assert_eq!(breaches, 2);
}

#[tokio::test]
async fn a_ticket_resolved_in_time_stops_its_clocks_and_cancels_their_timers() {
    let Desk { manual, fx, ada, c } = desk(berlin(2, 9, 0)).await;
    policy(&fx).await;
    let t = open(&c, &ada, pb::TicketPriority::High).await;
    manual.set(berlin(2, 9, 20));
    let done = act(&c, &ada, &t, "resolve", pb::CommentVisibility::Public).await;
    let t = get(&c, &ada, &done.id).await;
    for clock in [pb::SlaClock::FirstResponse, pb::SlaClock::Resolution] {
        let status = clock_of(&t, clock);
        assert_eq!(status.state, i32::from(pb::SlaClockState::Met), "{clock:?}");
        assert_eq!(at(status.stop_time.as_ref().unwrap()), berlin(2, 9, 20));
        assert!(status.due_time.is_none());
    }
    // A week later nothing fires: the timers went with the clocks.
    manual.set(berlin(9, 12, 0));
    assert_eq!(fire_all(&worker(&fx)).await, 0);
    assert!(sla_events(&fx).await.is_empty());
}

#[tokio::test]
async fn queues_order_by_the_soonest_due_and_filter_the_breached() {
    let Desk { manual, fx, ada, c } = desk(berlin(2, 9, 0)).await;
    policy(&fx).await;
    let number = |priority| {
        let (c, ada) = (&c, &ada);
        async move { open(c, ada, priority).await.number }
    };
    // Without a policy (medium) it has no due time: last.
    let medium = number(pb::TicketPriority::Medium).await;
    let early = number(pb::TicketPriority::High).await;
    manual.set(berlin(2, 10, 0));
    let late = number(pb::TicketPriority::High).await;
    let mut seen = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .clone()
            .list_tickets(ada.request(pb::ListTicketsRequest {
                order_by: "sla.resolution_due_time".into(),
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner();
        seen.extend(page.tickets.into_iter().map(|t| t.number));
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(seen, [early.clone(), late.clone(), medium]);
    let breached = |c: &Client| {
        let mut c = c.clone();
        let ada = ada.clone();
        async move {
            c.list_tickets(ada.request(pb::ListTicketsRequest {
                breached_only: true,
                ..Default::default()
            }))
            .await
            .unwrap()
            .into_inner()
            .tickets
            .into_iter()
            .map(|t| t.number)
            .collect::<Vec<_>>()
        }
    };
    assert!(breached(&c).await.is_empty());
    // Monday 10:30: the early ticket's first hour (to respond, and in its
    // step) ran out at 10:00; the late one's runs out at 11:00.
    manual.set(berlin(2, 10, 30));
    fire_all(&worker(&fx)).await;
    assert_eq!(breached(&c).await, [early]);
}

#[tokio::test]
async fn a_holiday_added_to_the_calendar_moves_the_open_tickets_deadlines() {
    let Desk { manual, fx, ada, c } = desk(berlin(2, 9, 0)).await;
    policy(&fx).await;
    let t = open(&c, &ada, pb::TicketPriority::High).await;
    // 8 h from Monday 09:00: due 17:00. At 13:00, with 4 h counted, Monday
    // is made a holiday: the 4 h counted stay counted (on the hours they
    // were counted on) and the 4 h left run Tuesday 09:00–13:00.
    let due = |t: &pb::Ticket| at(clock_of(t, pb::SlaClock::Resolution).due_time.as_ref().unwrap());
    assert_eq!(due(&get(&c, &ada, &t.id).await), berlin(2, 17, 0));
    manual.set(berlin(2, 13, 0));
    let mut sla = pb::sla_service_client::SlaServiceClient::new(fx.server.channel().await);
    let calendar = sla
        .get_calendar(fx.admin.request(pb::GetCalendarRequest { id: CALENDAR.into() }))
        .await
        .unwrap()
        .into_inner()
        .calendar
        .unwrap();
    sla.update_calendar(fx.admin.request(pb::UpdateCalendarRequest {
        calendar: Some(pb::Calendar {
            holidays: vec![pb::Holiday {
                date: Some(map_contracts::google::r#type::Date { year: 2026, month: 3, day: 2 }),
                name: "Closed".into(),
                yearly: false,
            }],
            ..calendar
        }),
        update_mask: Some(prost_types::FieldMask { paths: vec!["holidays".into()] }),
    }))
    .await
    .unwrap();
    let t = get(&c, &ada, &t.id).await;
    let resolution = clock_of(&t, pb::SlaClock::Resolution);
    assert_eq!(due(&t), berlin(3, 13, 0));
    assert_eq!(resolution.remaining.as_ref().unwrap().seconds, 4 * 3600);
    // Nothing fires on the old deadline.
    manual.set(berlin(2, 18, 0));
    fire_all(&worker(&fx)).await;
    assert!(sla_events(&fx).await.iter().all(|e| e.1 != i32::from(ev::SlaKind::Resolution)));
}

#[tokio::test]
async fn a_priority_change_while_paused_retargets_and_keeps_what_was_counted() {
    let Desk { manual, fx, ada, c } = desk(berlin(2, 9, 0)).await;
    policy(&fx).await;
    // Urgent: 2 h to resolve, same calendar and pause.
    stored_policy(&fx, "01890a5d-ac96-774b-bcce-b302099a8103", "urgent", (0.5, 2.0), CALENDAR).await;
    let t = open(&c, &ada, pb::TicketPriority::High).await;
    manual.set(berlin(2, 9, 30));
    let t = act(&c, &ada, &t, "ask", pb::CommentVisibility::Public).await;
    // 11:00, still waiting: the priority goes up.
    manual.set(berlin(2, 11, 0));
    let mut update = c.clone();
    let t = update
        .update_ticket(fx.admin.request(pb::UpdateTicketRequest {
            ticket: Some(pb::Ticket {
                priority: pb::TicketPriority::Urgent.into(),
                ..t
            }),
            update_mask: Some(prost_types::FieldMask { paths: vec!["priority".into()] }),
        }))
        .await
        .unwrap()
        .into_inner()
        .ticket
        .unwrap();
    let view = get(&c, &ada, &t.id).await;
    let resolution = clock_of(&view, pb::SlaClock::Resolution);
    assert_eq!(resolution.target.as_ref().unwrap().seconds, 2 * 3600);
    assert_eq!(resolution.state, i32::from(pb::SlaClockState::Paused));
    assert_eq!(at(resolution.paused_since.as_ref().unwrap()), berlin(2, 9, 30), "the pause goes on");
    assert_eq!(resolution.remaining.as_ref().unwrap().seconds, 90 * 60, "30 min counted, kept");
    // Resumed at 12:00: 1 h 30 left, due 13:30.
    manual.set(berlin(2, 12, 0));
    let t = act(&c, &ada, &view, "resume", pb::CommentVisibility::Internal).await;
    let view = get(&c, &ada, &t.id).await;
    let resolution = clock_of(&view, pb::SlaClock::Resolution);
    assert_eq!(at(resolution.due_time.as_ref().unwrap()), berlin(2, 13, 30));
}

#[tokio::test]
async fn a_worker_killed_mid_breach_leaves_it_to_the_next_which_fires_it_once() {
    let Desk { manual, fx, ada, c } = desk(berlin(2, 9, 0)).await;
    policy(&fx).await;
    let t = open(&c, &ada, pb::TicketPriority::High).await;
    manual.set(berlin(2, 17, 1));
    let dying = TimerWorker::new(fx.db.db.clone(), fx.clock.clone(), TimerWorkerConfig::default())
        .handle(clocks::WARNING, Crashing(ClockTimer::warning(fx.clock.clone())))
        .handle(clocks::BREACH, Crashing(ClockTimer::breach(fx.clock.clone())));
    let outcome = dying.fire_due().await.unwrap();
    assert_eq!(outcome.fired, 0);
    assert!(outcome.failed > 0);
    assert!(sla_events(&fx).await.is_empty(), "a rolled-back breach left an event");
    // The next worker, once the retry delay passed, fires each exactly once.
    manual.set(berlin(2, 17, 30));
    let w = worker(&fx);
    fire_all(&w).await;
    fire_all(&w).await;
    let mut kinds: Vec<String> = sla_events(&fx).await.into_iter().map(|e| e.0).collect();
    kinds.sort();
    let count = |k: &str| kinds.iter().filter(|x| *x == k).count();
    // Warning and breach of first response, step and resolution: once each.
    assert_eq!((count("tts.sla.warning"), count("tts.sla.breached")), (3, 3), "{kinds:?}");
    let view = get(&c, &ada, &t.id).await;
    assert!(view.sla.as_ref().unwrap().resolution_breached);
}

#[tokio::test]
async fn deadlines_cross_a_weekend_and_both_dst_changes_in_business_time() {
    use chrono::TimeZone as _;
    // Saturday 28 March 2026, 12:00 in Berlin (UTC+1): nothing counts until
    // Sunday 01:00; that night loses its 02:00 hour to summer time, so the
    // Sunday interval holds 3 h, and the fourth is Monday 09:00–10:00
    // (UTC+2): due 08:00 UTC.
    let Desk { manual, fx, ada, c } = desk(Utc.with_ymd_and_hms(2026, 3, 28, 11, 0, 0).unwrap()).await;
    night_shift(&fx).await;
    let due = |t: &pb::Ticket| at(clock_of(t, pb::SlaClock::Resolution).due_time.as_ref().unwrap());
    let spring = open(&c, &ada, pb::TicketPriority::Urgent).await;
    assert_eq!(
        due(&get(&c, &ada, &spring.id).await),
        Utc.with_ymd_and_hms(2026, 3, 30, 8, 0, 0).unwrap()
    );
    // Saturday 24 October, 12:00 (UTC+2): the Sunday night gains an hour
    // (02:00–03:00 twice), so its interval holds 5 h and 4 h end at the
    // second 03:00 — 04:00 in winter time, 03:00 UTC.
    manual.set(Utc.with_ymd_and_hms(2026, 10, 24, 10, 0, 0).unwrap());
    let autumn = open(&c, &ada, pb::TicketPriority::Urgent).await;
    assert_eq!(
        due(&get(&c, &ada, &autumn.id).await),
        Utc.with_ymd_and_hms(2026, 10, 25, 3, 0, 0).unwrap()
    );
    // And it fires there, not an hour off: nothing at 02:59 UTC, the breach
    // at 03:00.
    let w = worker(&fx);
    manual.set(Utc.with_ymd_and_hms(2026, 10, 25, 2, 59, 0).unwrap());
    fire_all(&w).await;
    let breached = |events: Vec<(String, i32, i32)>| {
        events
            .iter()
            .filter(|e| e.0 == "tts.sla.breached" && e.1 == i32::from(ev::SlaKind::Resolution))
            .count()
    };
    // The spring ticket breached long ago (March); the autumn one not yet.
    assert_eq!(breached(sla_events(&fx).await), 1);
    manual.set(Utc.with_ymd_and_hms(2026, 10, 25, 3, 0, 0).unwrap());
    fire_all(&w).await;
    assert_eq!(breached(sla_events(&fx).await), 2);
}

#[tokio::test]
async fn an_escalation_waits_parked_while_auth_is_down() {
    let Desk { manual, fx, ada, c } = desk(berlin(2, 9, 0)).await;
    policy(&fx).await;
    let t = open(&c, &ada, pb::TicketPriority::High).await;
    manual.set(berlin(2, 11, 0));
    fire_all(&worker(&fx)).await;
    let due = escalations(&fx).await;
    assert!(!due.is_empty());
    // Auth away: the consumer's pre-step answers "not yet" (the kit parks
    // the event and retries it; nothing is lost or dead-lettered), and the
    // ticket stays with its assignee.
    let down = Escalations::new(Tickets::new(
        fx.db.db.clone(),
        std::sync::Arc::new(AuthDown),
        fx.clock.clone(),
        map_kit::paging::Pager::random(),
    ));
    let e = Event::new(due[0].clone());
    match down.prepare(&e).await {
        Err(map_kit::bus::HandlerError::NotYet(why)) => assert!(why.contains("auth"), "{why}"),
        other => panic!("expected NotYet while Auth is down, got {other:?}"),
    }
    assert_eq!(get(&c, &ada, &t.id).await.assignee_user_id, ada.principal.as_ref().unwrap().id);
}

#[tokio::test]
async fn escalation_levels_act_at_their_trigger_plus_their_business_delay() {
    use sea_orm::{ColumnTrait as _, QueryFilter as _};
    let Desk { manual, fx, ada, c } = desk(berlin(2, 9, 0)).await;
    policy(&fx).await;
    // Warn the assignee at 75 %; on the resolution breach, the step's
    // escalation role; 4 business hours later, tts:admin.
    let levels = serde_json::json!([
        {"clock": "resolution", "trigger": "warning", "delay_ms": 0, "action": "notify_assignee", "role": ""},
        {"clock": "resolution", "trigger": "breach", "delay_ms": 0, "action": "reassign_to_step_escalation_role", "role": ""},
        {"clock": "resolution", "trigger": "breach", "delay_ms": 4 * 3_600_000, "action": "reassign_to_role", "role": "tts:admin"}
    ]);
    sla_policies::Entity::update_many()
        .col_expr(sla_policies::Column::EscalationLevels, sea_orm::sea_query::Expr::value(levels.to_string()))
        .filter(sla_policies::Column::Id.eq(POLICY))
        .exec(fx.db.db.conn())
        .await
        .unwrap();
    open(&c, &ada, pb::TicketPriority::High).await;
    let resolution_levels = |events: Vec<(String, i32, i32)>| -> Vec<i32> {
        events
            .into_iter()
            .filter(|e| e.0 == "tts.sla.escalation_due" && e.1 == i32::from(ev::SlaKind::Resolution))
            .map(|e| e.2)
            .collect()
    };
    let w = worker(&fx);
    // 15:00: warned (75 % of 8 h) — the assignee is told.
    manual.set(berlin(2, 15, 0));
    fire_all(&w).await;
    assert_eq!(resolution_levels(sla_events(&fx).await), [0]);
    // 17:00: breached — the step's escalation role.
    manual.set(berlin(2, 17, 0));
    fire_all(&w).await;
    assert_eq!(resolution_levels(sla_events(&fx).await), [0, 1]);
    // 4 business hours after 17:00 is Tuesday 13:00, not Monday 21:00.
    manual.set(berlin(3, 12, 59));
    fire_all(&w).await;
    assert_eq!(resolution_levels(sla_events(&fx).await), [0, 1]);
    manual.set(berlin(3, 13, 0));
    fire_all(&w).await;
    assert_eq!(resolution_levels(sla_events(&fx).await), [0, 1, 2]);
    // The reassignment level names its role.
    let last = escalations(&fx).await.pop().unwrap();
    let due = ev::TtsSlaEscalationDue::decode(last.payload.unwrap().value.as_slice()).unwrap();
    assert_eq!(due.action(), ev::SlaEscalationAction::Reassign);
    assert_eq!(due.role.map(|r| (r.system, r.role)), Some(("tts".into(), "admin".into())));
}
}
