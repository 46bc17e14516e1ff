//! Auto-close on both databases, time moved on a manual clock and timers
//! fired by calling the timer worker (no sleeps): a ticket left resolved
//! for the delay closes once, with one `hdts.ticket.closed` (AUTO_CLOSED);
//! leaving `resolved` first cancels its timer and a new resolution arms a
//! new one; racing workers close each ticket once; a configured delay is
//! honoured, `off` arms nothing; an auto-closed ticket reopens within the
//! reopen window only.
#![allow(clippy::unwrap_used)]

mod support;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::Duration,
};

use chrono::{DateTime, Utc};
use map_contracts::{
    events::v1::{self as ev, Envelope},
    hdts::v1 as pb,
};
use map_hdts::{
    entity::tickets,
    tickets::{
        auto_close::{self, AutoClose, AutoCloser},
        mirror::Mirror,
    },
};
use map_kit::{
    bus::{Event, Handler as _},
    testing::{Backend, Caller},
    timers::{
        self, FireError, FireOutcome, Timer, TimerHandler, TimerWorker, TimerWorkerConfig, Timers,
    },
    wire::time::timestamp,
};
use prost::Name as _;
use sea_orm::{DatabaseTransaction, EntityTrait as _};
use support::{Fixture, reason};
use tokio::sync::Barrier;
use tonic::Code;

const HOUR: Duration = Duration::from_secs(3600);
const SECOND: Duration = Duration::from_secs(1);

/// What each test starts from: a help topic and an employee who submits.
struct Desk {
    fx: Fixture,
    topic: pb::HelpTopic,
    ada: Caller,
}

impl Desk {
    async fn start() -> Desk {
        let fx = Fixture::start().await;
        let topic = fx
            .create(pb::CreateHelpTopicRequest {
                name: "Laptop problem".into(),
                description: String::new(),
                department_code: "IT".into(),
                category: "Hardware".into(),
                sub_category: "Laptop".into(),
                request_id: uuid::Uuid::now_v7().to_string(),
            })
            .await
            .unwrap();
        let ada = fx.person(&[("hdts", "employee")]).await;
        Desk { fx, topic, ada }
    }

    fn now(&self) -> DateTime<Utc> {
        self.fx.clock.now()
    }

    fn advance(&self, d: Duration) {
        self.fx.clock.advance(d);
    }

    /// Ada's new ticket's id.
    async fn submit(&self) -> String {
        let req = pb::SubmitTicketRequest {
            subject: "Laptop will not boot".into(),
            description: "Black screen".into(),
            help_topic_id: self.topic.id.clone(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        };
        let mut c = self.fx.client().await;
        c.submit_ticket(self.ada.request(req))
            .await
            .unwrap()
            .into_inner()
            .ticket
            .unwrap()
            .id
    }

    /// The mirror, its resolved tickets closing `after` their resolution.
    fn mirror(&self, after: Option<Duration>) -> Mirror {
        Mirror::new(AutoClose::new(after, self.fx.clock.clock()))
    }

    /// TTS's ticket for `id` moved to `status` at its `version`, now; applied by `mirror`.
    async fn tts_moved(
        &self,
        mirror: &Mirror,
        id: &str,
        version: i64,
        status: ev::TtsTicketStatus,
    ) {
        let payload = ev::TtsTicketStatusChanged {
            ticket: Some(ev::TtsTicketSnapshot {
                id: "01890a5d-ac96-774b-bcce-b302099a8057".into(),
                number: "TT-000042".into(),
                hdts_ticket_id: id.into(),
                status: status.into(),
                version,
                update_time: Some(timestamp(self.now())),
                ..Default::default()
            }),
            ..Default::default()
        };
        let event = Event::new(Envelope {
            id: uuid::Uuid::now_v7().to_string(),
            r#type: "tts.ticket.status_changed".into(),
            source: "tts".into(),
            subject: "01890a5d-ac96-774b-bcce-b302099a8057".into(),
            subject_version: version,
            payload: Some(prost_types::Any {
                type_url: ev::TtsTicketStatusChanged::type_url(),
                value: prost::Message::encode_to_vec(&payload),
            }),
            ..Default::default()
        });
        let txn = self.fx.db.db.begin_write().await.unwrap();
        mirror.handle(&event, &txn).await.unwrap();
        txn.commit().await.unwrap();
    }

    /// The closer of tickets resolved for `after`.
    fn closer(&self, after: Duration) -> AutoCloser {
        AutoClose::new(Some(after), self.fx.clock.clock())
            .closer()
            .unwrap()
    }

    /// A timer worker firing auto-close timers with `handler`.
    fn worker(&self, handler: impl TimerHandler, batch: u64) -> TimerWorker {
        let config = TimerWorkerConfig {
            batch,
            ..TimerWorkerConfig::default()
        };
        TimerWorker::new(self.fx.db.db.clone(), self.fx.clock.clock(), config)
            .handle(auto_close::KIND, handler)
    }

    async fn ticket(&self, id: &str) -> tickets::Model {
        tickets::Entity::find_by_id(id.to_owned())
            .one(self.fx.db.db.conn())
            .await
            .unwrap()
            .unwrap()
    }

    async fn timer(&self, id: &str) -> Option<Timer> {
        Timers::get(self.fx.db.db.conn(), auto_close::KIND, id)
            .await
            .unwrap()
    }

    /// The `hdts.ticket.closed` events in the outbox: (subject version, payload).
    async fn closed(&self) -> Vec<(i64, ev::HdtsTicketClosed)> {
        self.fx
            .events()
            .await
            .into_iter()
            .filter(|e| e.0 == "hdts.ticket.closed")
            .map(|e| (e.1, e.2.to_msg().unwrap()))
            .collect()
    }

    async fn reopen(&self, id: &str) -> Result<pb::Ticket, tonic::Status> {
        let req = pb::ReopenTicketRequest {
            ticket_id: id.into(),
            reason: "Broken again".into(),
            etag: String::new(),
            request_id: uuid::Uuid::now_v7().to_string(),
        };
        let mut c = self.fx.client().await;
        Ok(c.reopen_ticket(self.ada.request(req))
            .await?
            .into_inner()
            .ticket
            .unwrap())
    }
}

fn fired(n: usize) -> FireOutcome {
    FireOutcome {
        fired: n,
        failed: 0,
    }
}

fn closed_id(e: &ev::HdtsTicketClosed) -> &str {
    e.ticket.as_ref().map(|t| t.id.as_str()).unwrap_or_default()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_ticket_left_resolved_for_the_delay_closes_by_itself_once() {
    let d = Desk::start().await;
    let mirror = d.mirror(Some(72 * HOUR));
    let worker = d.worker(d.closer(72 * HOUR), 50);
    let id = d.submit().await;
    let resolved_at = d.now();
    d.tts_moved(&mirror, &id, 5, ev::TtsTicketStatus::Resolved).await;
    let timer = d.timer(&id).await.unwrap();
    assert_eq!((timer.state.as_str(), timer.due_at), (timers::PENDING, resolved_at + 72 * HOUR));
    let resolved = d.ticket(&id).await;
    assert_eq!((resolved.status.as_str(), resolved.resolved_at), ("resolved", Some(resolved_at)));

    // A second early: nothing.
    d.advance(72 * HOUR - SECOND);
    assert_eq!(worker.fire_due().await.unwrap(), fired(0));
    assert_eq!(d.ticket(&id).await.status, "resolved");
    assert!(d.closed().await.is_empty());

    // Due: closed once, as a confirmation would, but automatically.
    d.advance(SECOND);
    assert_eq!(worker.fire_due().await.unwrap(), fired(1));
    let closed = d.ticket(&id).await;
    assert_eq!((closed.status.as_str(), closed.closed_at, closed.version), ("closed", Some(d.now()), resolved.version + 1));
    let events = d.closed().await;
    assert_eq!(events.len(), 1, "{events:?}");
    let (version, event) = &events[0];
    assert_eq!((*version, event.reason()), (closed.version, ev::HdtsCloseReason::AutoClosed));
    assert_eq!(event.close_time, Some(timestamp(d.now())));
    let snapshot = event.ticket.as_ref().unwrap();
    assert_eq!((snapshot.id.as_str(), snapshot.status(), snapshot.version), (id.as_str(), ev::HdtsTicketStatus::Closed, closed.version));
    let shown = d.fx.client().await.get_ticket(d.ada.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(id.clone())) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((shown.status(), shown.close_time), (pb::TicketStatus::Closed, Some(timestamp(d.now()))));
    let done = d.timer(&id).await.unwrap();
    assert_eq!((done.state.as_str(), done.fired_at), (timers::DONE, Some(d.now())));

    // Never again: not by the worker, not by the same timer fired twice.
    d.advance(100 * HOUR);
    assert_eq!(worker.fire_due().await.unwrap(), fired(0));
    let txn = d.fx.db.db.begin_write().await.unwrap();
    d.closer(72 * HOUR).fire(&timer, &txn).await.unwrap();
    txn.commit().await.unwrap();
    assert_eq!(d.ticket(&id).await, closed, "a stale timer changed the ticket");
    assert_eq!(d.closed().await.len(), 1);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn leaving_resolved_cancels_the_timer_and_resolving_again_arms_a_new_one() {
    let d = Desk::start().await;
    let mirror = d.mirror(Some(72 * HOUR));
    let worker = d.worker(d.closer(72 * HOUR), 50);

    // Reopened by the requester a day after: no timer, nothing closes.
    let reopened = d.submit().await;
    d.tts_moved(&mirror, &reopened, 5, ev::TtsTicketStatus::Resolved).await;
    d.advance(24 * HOUR);
    assert_eq!(d.reopen(&reopened).await.unwrap().status(), pb::TicketStatus::InProgress);
    assert!(d.timer(&reopened).await.is_none(), "the reopen left its timer");

    // Moved on in TTS (e.g. its workflow answered the requester's reply):
    // no timer either.
    let moved = d.submit().await;
    d.tts_moved(&mirror, &moved, 5, ev::TtsTicketStatus::Resolved).await;
    d.tts_moved(&mirror, &moved, 6, ev::TtsTicketStatus::InProgress).await;
    assert!(d.timer(&moved).await.is_none(), "the mirror left its timer");

    // Confirmed by the requester: closed once, as confirmed.
    let confirmed = d.submit().await;
    d.tts_moved(&mirror, &confirmed, 5, ev::TtsTicketStatus::Resolved).await;
    let req = pb::ConfirmResolutionRequest { ticket_id: confirmed.clone(), etag: String::new(), request_id: uuid::Uuid::now_v7().to_string() };
    d.fx.client().await.confirm_resolution(d.ada.request(req)).await.unwrap();
    assert!(d.timer(&confirmed).await.is_none(), "the confirmation left its timer");

    // A requester's reply on a resolved ticket changes nothing here: the
    // ticket stays resolved and its deadline stands (TTS decides).
    let replied = d.submit().await;
    d.tts_moved(&mirror, &replied, 5, ev::TtsTicketStatus::Resolved).await;
    let due = d.timer(&replied).await.unwrap().due_at;
    let req = pb::AddReplyRequest { ticket_id: replied.clone(), body: "Still black".into(), visibility: pb::ReplyVisibility::Public.into(), attachments: Vec::new(), request_id: uuid::Uuid::now_v7().to_string() };
    d.fx.client().await.add_reply(d.ada.request(req)).await.unwrap();
    assert_eq!(d.ticket(&replied).await.status, "resolved");
    assert_eq!(d.timer(&replied).await.map(|t| (t.state, t.due_at)), Some((timers::PENDING.to_owned(), due)));

    d.advance(72 * HOUR);
    assert_eq!(worker.fire_due().await.unwrap(), fired(1), "the replied ticket alone");
    assert_eq!(d.ticket(&reopened).await.status, "in_progress");
    assert_eq!(d.ticket(&moved).await.status, "in_progress");
    assert_eq!(d.ticket(&replied).await.status, "closed");
    let reasons: Vec<(String, ev::HdtsCloseReason)> = d.closed().await.iter().map(|(_, e)| (closed_id(e).to_owned(), e.reason())).collect();
    assert_eq!(reasons, [(confirmed.clone(), ev::HdtsCloseReason::Confirmed), (replied.clone(), ev::HdtsCloseReason::AutoClosed)]);

    // Resolved again: a new deadline, counted from the new resolution.
    let again = d.now();
    d.tts_moved(&mirror, &reopened, 7, ev::TtsTicketStatus::Resolved).await;
    assert_eq!(d.timer(&reopened).await.map(|t| t.due_at), Some(again + 72 * HOUR));
    d.advance(72 * HOUR - SECOND);
    assert_eq!(worker.fire_due().await.unwrap(), fired(0));
    d.advance(SECOND);
    assert_eq!(worker.fire_due().await.unwrap(), fired(1));
    assert_eq!(d.ticket(&reopened).await.status, "closed");
    let closed: Vec<String> = d.closed().await.iter().map(|(_, e)| closed_id(e).to_owned()).collect();
    assert_eq!(closed, [confirmed, replied, reopened]);
}
}

/// Waits on `barrier` before its first firing, so that two workers meet
/// while each holds a claim.
#[derive(Clone)]
struct Meeting {
    closer: AutoCloser,
    barrier: Option<Arc<Barrier>>,
    met: Arc<AtomicBool>,
    fired: Arc<AtomicUsize>,
}

#[async_trait::async_trait]
impl TimerHandler for Meeting {
    async fn fire(&self, timer: &Timer, txn: &DatabaseTransaction) -> Result<(), FireError> {
        if let Some(barrier) = &self.barrier
            && !self.met.swap(true, Ordering::SeqCst)
        {
            barrier.wait().await;
        }
        self.closer.fire(timer, txn).await?;
        self.fired.fetch_add(1, Ordering::SeqCst);
        Ok(())
    }
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn racing_workers_close_each_ticket_once() {
    let d = Desk::start().await;
    let mirror = d.mirror(Some(72 * HOUR));
    let mut ids = Vec::new();
    for _ in 0..12 {
        let id = d.submit().await;
        d.tts_moved(&mirror, &id, 5, ev::TtsTicketStatus::Resolved).await;
        ids.push(id);
    }
    d.advance(72 * HOUR);
    // PostgreSQL: two workers, each holding its first claim (3 timers)
    // until the other has claimed too. SQLite (one writer): two workers
    // taking turns.
    let postgres = Backend::current() == Backend::Postgres;
    let barrier = postgres.then(|| Arc::new(Barrier::new(2)));
    let mut running = Vec::new();
    let mut per_worker = Vec::new();
    for _ in 0..2 {
        let handler = Meeting { closer: d.closer(72 * HOUR), barrier: barrier.clone(), met: Arc::default(), fired: Arc::default() };
        per_worker.push(handler.fired.clone());
        let worker = d.worker(handler, 3);
        running.push(tokio::spawn(async move {
            let mut failed = 0;
            loop {
                let o = worker.fire_due().await.unwrap();
                failed += o.failed;
                if o.fired + o.failed == 0 {
                    return failed;
                }
            }
        }));
    }
    for r in running {
        let failed = tokio::time::timeout(Duration::from_secs(60), r).await.expect("the workers finish").unwrap();
        assert_eq!(failed, 0);
    }
    let fired: Vec<usize> = per_worker.iter().map(|f| f.load(Ordering::SeqCst)).collect();
    assert_eq!(fired.iter().sum::<usize>(), 12, "{fired:?}");
    if postgres {
        assert!(fired.iter().all(|n| *n > 0), "the workers did not race: {fired:?}");
    }
    for id in &ids {
        assert_eq!(d.ticket(id).await.status, "closed");
    }
    let mut closed: Vec<String> = d.closed().await.iter().map(|(_, e)| closed_id(e).to_owned()).collect();
    closed.sort();
    ids.sort();
    assert_eq!(closed, ids, "one hdts.ticket.closed per ticket");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_configured_delay_is_honoured_and_off_arms_nothing() {
    let d = Desk::start().await;

    // One hour.
    let hourly = d.worker(d.closer(HOUR), 50);
    let id = d.submit().await;
    d.tts_moved(&d.mirror(Some(HOUR)), &id, 5, ev::TtsTicketStatus::Resolved).await;
    assert_eq!(d.timer(&id).await.map(|t| t.due_at), Some(d.now() + HOUR));
    d.advance(HOUR - SECOND);
    assert_eq!(hourly.fire_due().await.unwrap(), fired(0));
    d.advance(SECOND);
    assert_eq!(hourly.fire_due().await.unwrap(), fired(1));
    assert_eq!(d.ticket(&id).await.status, "closed");

    // Off (`off` or 0): no timer, no handler, nothing closes.
    assert!(AutoClose::new(None, d.fx.clock.clock()).closer().is_none());
    assert!(AutoClose::new(Some(Duration::ZERO), d.fx.clock.clock()).closer().is_none());
    let never = d.submit().await;
    d.tts_moved(&d.mirror(None), &never, 5, ev::TtsTicketStatus::Resolved).await;
    assert!(d.timer(&never).await.is_none());
    d.advance(1000 * HOUR);
    assert_eq!(d.worker(d.closer(HOUR), 50).fire_due().await.unwrap(), fired(0));
    assert_eq!(d.ticket(&never).await.status, "resolved");

    // Lengthened since the timer was armed: it waits for the new delay.
    let longer = d.submit().await;
    let resolved_at = d.now();
    d.tts_moved(&d.mirror(Some(HOUR)), &longer, 5, ev::TtsTicketStatus::Resolved).await;
    let two_hours = d.worker(d.closer(2 * HOUR), 50);
    d.advance(HOUR);
    assert_eq!(two_hours.fire_due().await.unwrap(), fired(1));
    assert_eq!(d.ticket(&longer).await.status, "resolved");
    let timer = d.timer(&longer).await.unwrap();
    assert_eq!((timer.state.as_str(), timer.due_at), (timers::PENDING, resolved_at + 2 * HOUR));
    d.advance(HOUR);
    assert_eq!(two_hours.fire_due().await.unwrap(), fired(1));
    assert_eq!(d.ticket(&longer).await.status, "closed");
    assert_eq!(d.closed().await.len(), 2);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn an_auto_closed_ticket_reopens_by_a_reply_or_reopen_within_the_window_only() {
    let d = Desk::start().await;
    let mirror = d.mirror(Some(72 * HOUR));
    let worker = d.worker(d.closer(72 * HOUR), 50);
    let replied = d.submit().await;
    let early = d.submit().await;
    let late = d.submit().await;
    for id in [&replied, &early, &late] {
        d.tts_moved(&mirror, id, 5, ev::TtsTicketStatus::Resolved).await;
    }
    d.advance(72 * HOUR);
    assert_eq!(worker.fire_due().await.unwrap(), fired(3));
    let reply = |id: &str| pb::AddReplyRequest { ticket_id: id.to_owned(), body: "Still black".into(), visibility: pb::ReplyVisibility::Public.into(), attachments: Vec::new(), request_id: uuid::Uuid::now_v7().to_string() };
    let changes = |events: Vec<(String, i64, prost_types::Any)>| -> Vec<String> {
        events.into_iter().map(|e| e.0).filter(|t| t.ends_with("closed") || t.ends_with("reopened") || t.ends_with("replied")).collect()
    };

    // The requester's reply within the window reopens the ticket first.
    let answer = d.fx.client().await.add_reply(d.ada.request(reply(&replied))).await.unwrap().into_inner();
    assert_eq!(answer.ticket.unwrap().status(), pb::TicketStatus::InProgress);
    assert_eq!(
        changes(d.fx.events().await),
        ["hdts.ticket.closed", "hdts.ticket.closed", "hdts.ticket.closed", "hdts.ticket.reopened", "hdts.ticket.replied"]
    );

    // Six days after the resolution: reopened by ReopenTicket too.
    d.advance(72 * HOUR);
    let reopened = d.reopen(&early).await.unwrap();
    assert_eq!(reopened.status(), pb::TicketStatus::InProgress);

    // Past seven days: neither a reply nor ReopenTicket brings it back.
    d.advance(24 * HOUR + SECOND);
    let e = d.fx.client().await.add_reply(d.ada.request(reply(&late))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "TICKET_CLOSED"));
    let e = d.reopen(&late).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "INVALID_STATUS"));
    assert_eq!(d.ticket(&late).await.status, "closed");
}
}
