//! The intake of help-desk events on both databases, through the handler
//! the worker runs (`tts.ticket-tasks`): a submission becomes one ticket,
//! routed and assigned in `prepare` (a redelivery opens nothing more); a
//! reply becomes one comment, and the requester's reply at a
//! waiting-on-requester step moves the ticket along its REQUESTER_REPLIED
//! transition; a reply before its ticket, or Auth away, parks the event
//! (NotYet) instead of dead-lettering it; unknown types are ignored.
#![allow(clippy::unwrap_used)]

mod support;

use std::sync::Arc;

use futures::future::BoxFuture;
use map_contracts::{
    events::v1::{self as ev, Envelope},
    tts::v1 as pb,
};
use map_kit::{
    ApiError,
    bus::{Event, Handler as _, HandlerError},
    clock::Clock,
};
use map_tts::{
    entity::{comments, tickets},
    tickets::{Tickets, assign::Assigner, intake::Intake},
};
use sea_orm::{ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _};
use support::{Fixture, support};

fn event<M: prost::Name>(event_type: &str, payload: &M) -> Event {
    Event::new(Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        source: "hdts".into(),
        subject: uuid::Uuid::now_v7().to_string(),
        subject_version: 1,
        payload: Some(prost_types::Any {
            type_url: M::type_url(),
            value: prost::Message::encode_to_vec(payload),
        }),
        ..Default::default()
    })
}

fn submitted(hdts_id: &str, requester: &str) -> Event {
    event(
        "hdts.ticket.submitted",
        &ev::HdtsTicketSubmitted {
            ticket: Some(ev::HdtsTicketSnapshot {
                id: hdts_id.into(),
                number: "HD-000001".into(),
                requester: Some(ev::UserRef {
                    user_id: requester.into(),
                    ..Default::default()
                }),
                subject: "Laptop will not boot".into(),
                department_code: "IT".into(),
                category: "Hardware".into(),
                priority: ev::TicketPriority::High.into(),
                version: 1,
                ..Default::default()
            }),
        },
    )
}

fn replied(hdts_id: &str, reply_id: &str, author: &str, from_requester: bool) -> Event {
    event(
        "hdts.ticket.replied",
        &ev::HdtsTicketReplied {
            ticket: Some(ev::HdtsTicketSnapshot {
                id: hdts_id.into(),
                version: 2,
                ..Default::default()
            }),
            reply_id: reply_id.into(),
            author: Some(ev::UserRef {
                user_id: author.into(),
                ..Default::default()
            }),
            from_requester,
            body: "It is a T14".into(),
            public: true,
            ..Default::default()
        },
    )
}

/// `caller` moves the ticket `ticket_id` by `action`, with a public note.
async fn act(
    fx: &Fixture,
    caller: &map_kit::testing::Caller,
    ticket_id: &str,
    action: &str,
    note: &str,
) {
    fx.tickets()
        .await
        .transition_ticket(caller.request(pb::TransitionTicketRequest {
            ticket_id: ticket_id.into(),
            action: action.into(),
            comment: note.into(),
            comment_visibility: pb::CommentVisibility::Public.into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        }))
        .await
        .unwrap();
}

/// Runs `intake` on `e` as the consumer does: prepare, then handle in a
/// transaction it commits.
async fn deliver(fx: &Fixture, intake: &Intake, e: &Event) -> Result<(), HandlerError> {
    if let Some(prepared) = intake.prepare(e).await? {
        e.set_prepared(prepared);
    }
    let txn = fx.db.db.begin_write().await.unwrap();
    intake.handle(e, &txn).await?;
    txn.commit().await.unwrap();
    Ok(())
}

async fn ticket_for(fx: &Fixture, hdts_id: &str) -> Option<tickets::Model> {
    tickets::Entity::find()
        .filter(tickets::Column::HdtsTicketId.eq(hdts_id.to_owned()))
        .one(fx.db.db.conn())
        .await
        .unwrap()
}

/// Auth that does not answer.
#[derive(Debug)]
struct AuthAway;

impl Assigner for AuthAway {
    fn next<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<String>, ApiError>> {
        Box::pin(async { Err(ApiError::Unavailable("auth".into())) })
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn a_submission_becomes_one_ticket_and_a_requesters_reply_moves_it() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let agent_id = agent.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&agent_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let hdts_id = uuid::Uuid::now_v7().to_string();
    let requester = uuid::Uuid::now_v7().to_string();

    // A reply that comes before its ticket waits.
    let early = replied(&hdts_id, &uuid::Uuid::now_v7().to_string(), &requester, true);
    assert!(matches!(deliver(&fx, &intake, &early).await, Err(HandlerError::NotYet(_))));

    let submission = submitted(&hdts_id, &requester);
    deliver(&fx, &intake, &submission).await.unwrap();
    // Redelivered (a new delivery of the same event): nothing more.
    deliver(&fx, &intake, &Event::new(submission.envelope.clone())).await.unwrap();
    let ticket = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!(tickets::Entity::find().count(fx.db.db.conn()).await.unwrap(), 1);
    assert_eq!((ticket.assignee_user_id.as_str(), ticket.requester_user_id.as_str()), (agent_id.as_str(), requester.as_str()));
    assert_eq!(ticket.priority, "high");

    // The agent asks; the requester's reply brings the ticket back to work.
    act(&fx, &agent, &ticket.id, "ask_requester", "Which model?").await;
    let reply = replied(&hdts_id, &uuid::Uuid::now_v7().to_string(), &requester, true);
    deliver(&fx, &intake, &reply).await.unwrap();
    deliver(&fx, &intake, &Event::new(reply.envelope.clone())).await.unwrap();
    let now = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!((now.step_id.as_str(), now.status.as_str()), ("work", "in_progress"));
    let mirrored = comments::Entity::find()
        .filter(comments::Column::HdtsReplyId.is_not_null())
        .count(fx.db.db.conn())
        .await
        .unwrap();
    assert_eq!(mirrored, 1, "one comment per reply");
    // The earlier reply, re-driven now that the ticket is here, is a comment
    // too; at the work step it moves nothing.
    deliver(&fx, &intake, &Event::new(early.envelope.clone())).await.unwrap();
    let after = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!(after.step_id, "work");

    // An event type the intake does not know is acknowledged and ignored.
    let odd = event("hdts.ticket.levitated", &ev::HdtsTicketSubmitted::default());
    deliver(&fx, &intake, &odd).await.unwrap();
}
}

map_kit::db_tests! {
#[tokio::test]
async fn with_auth_away_a_submission_is_parked_not_dropped() {
    let fx = Fixture::start().await;
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), Arc::new(AuthAway), Clock::system(), map_kit::paging::Pager::random()));
    let hdts_id = uuid::Uuid::now_v7().to_string();
    let got = deliver(&fx, &intake, &submitted(&hdts_id, &uuid::Uuid::now_v7().to_string())).await;
    assert!(matches!(got, Err(HandlerError::NotYet(_))), "{got:?}");
    assert!(ticket_for(&fx, &hdts_id).await.is_none());
}
}

/// The requester's instruction made at the HDTS ticket's `version`.
fn requester_did(event_type: &str, hdts_id: &str, version: i64) -> Event {
    let ticket = Some(ev::HdtsTicketSnapshot {
        id: hdts_id.into(),
        version,
        ..Default::default()
    });
    match event_type {
        "hdts.ticket.withdrawn" => event(
            event_type,
            &ev::HdtsTicketWithdrawn {
                ticket,
                reason: "fixed itself".into(),
                ..Default::default()
            },
        ),
        "hdts.ticket.closed" => event(
            event_type,
            &ev::HdtsTicketClosed {
                ticket,
                ..Default::default()
            },
        ),
        _ => event(
            event_type,
            &ev::HdtsTicketReopened {
                ticket,
                reason: "broken again".into(),
                ..Default::default()
            },
        ),
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn the_requesters_withdrawal_confirmation_and_reopening_reach_the_ticket() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let agent_id = agent.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&agent_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let requester = uuid::Uuid::now_v7().to_string();

    let withdrawn = uuid::Uuid::now_v7().to_string();
    deliver(&fx, &intake, &submitted(&withdrawn, &requester)).await.unwrap();
    deliver(&fx, &intake, &requester_did("hdts.ticket.withdrawn", &withdrawn, 3)).await.unwrap();
    let t = ticket_for(&fx, &withdrawn).await.unwrap();
    assert_eq!((t.status.as_str(), t.step_id.as_str()), ("cancelled", ""));
    assert!(t.closed_at.is_some());

    // Resolved by the agent, confirmed (closed), then reopened: the
    // workflow's REOPENED transition takes it back to work.
    let hdts_id = uuid::Uuid::now_v7().to_string();
    deliver(&fx, &intake, &submitted(&hdts_id, &requester)).await.unwrap();
    let t = ticket_for(&fx, &hdts_id).await.unwrap();
    act(&fx, &agent, &t.id, "resolve", "Replaced the battery").await;
    deliver(&fx, &intake, &requester_did("hdts.ticket.closed", &hdts_id, 3)).await.unwrap();
    let closed = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!((closed.status.as_str(), closed.step_id.as_str()), ("closed", "resolved"));
    deliver(&fx, &intake, &requester_did("hdts.ticket.reopened", &hdts_id, 4)).await.unwrap();
    let reopened = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!((reopened.status.as_str(), reopened.step_id.as_str()), ("in_progress", "work"));
    assert!(reopened.closed_at.is_none());
    // A change for a ticket not here yet waits.
    let early = deliver(&fx, &intake, &requester_did("hdts.ticket.closed", &uuid::Uuid::now_v7().to_string(), 3)).await;
    assert!(matches!(early, Err(HandlerError::NotYet(_))), "{early:?}");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_ticket_hdts_closed_by_itself_closes_and_its_history_says_so() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let agent_id = agent.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&agent_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let mut reasons = Vec::new();
    for reason in [ev::HdtsCloseReason::AutoClosed, ev::HdtsCloseReason::Confirmed] {
        let hdts_id = uuid::Uuid::now_v7().to_string();
        deliver(&fx, &intake, &submitted(&hdts_id, &uuid::Uuid::now_v7().to_string())).await.unwrap();
        let t = ticket_for(&fx, &hdts_id).await.unwrap();
        act(&fx, &agent, &t.id, "resolve", "Replaced the battery").await;
        let closed = ev::HdtsTicketClosed {
            ticket: Some(ev::HdtsTicketSnapshot { id: hdts_id.clone(), version: 3, ..Default::default() }),
            reason: reason.into(),
            ..Default::default()
        };
        deliver(&fx, &intake, &event("hdts.ticket.closed", &closed)).await.unwrap();
        assert_eq!(ticket_for(&fx, &hdts_id).await.unwrap().status, "closed");
        let history = fx.tickets().await.list_ticket_events(agent.request(pb::ListTicketEventsRequest { ticket_id: t.id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
        match &history.last().unwrap().details {
            Some(pb::ticket_event::Details::StatusChanged(c)) => reasons.push(c.reason.clone()),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(reasons, ["closed automatically: the requester did not answer the resolution in time", "the requester confirmed the resolution"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn the_requesters_newest_instruction_wins_whatever_order_they_arrive_in() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let agent_id = agent.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&agent_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let hdts_id = uuid::Uuid::now_v7().to_string();
    deliver(&fx, &intake, &submitted(&hdts_id, &uuid::Uuid::now_v7().to_string())).await.unwrap();
    let t = ticket_for(&fx, &hdts_id).await.unwrap();
    act(&fx, &agent, &t.id, "resolve", "Replaced the battery").await;
    // In HDTS the employee confirmed (v5), then reopened (v6); the reopen
    // arrives first. The confirmation, late, must not close the ticket the
    // employee reopened after it.
    deliver(&fx, &intake, &requester_did("hdts.ticket.reopened", &hdts_id, 6)).await.unwrap();
    let reopened = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!((reopened.status.as_str(), reopened.step_id.as_str()), ("in_progress", "work"));
    deliver(&fx, &intake, &requester_did("hdts.ticket.closed", &hdts_id, 5)).await.unwrap();
    let after = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!((after.status.as_str(), after.step_id.as_str(), after.version), ("in_progress", "work", reopened.version), "a late confirmation changed the ticket");
    // A late withdrawal made before the reopen changes nothing either.
    deliver(&fx, &intake, &requester_did("hdts.ticket.withdrawn", &hdts_id, 4)).await.unwrap();
    assert_eq!(ticket_for(&fx, &hdts_id).await.unwrap().status, "in_progress");
    // A newer instruction still applies.
    deliver(&fx, &intake, &requester_did("hdts.ticket.withdrawn", &hdts_id, 7)).await.unwrap();
    assert_eq!(ticket_for(&fx, &hdts_id).await.unwrap().status, "cancelled");
    // An instruction that finds the ticket already so still counts as the
    // newest seen: an older reopen arriving after it changes nothing.
    let other = uuid::Uuid::now_v7().to_string();
    deliver(&fx, &intake, &submitted(&other, &uuid::Uuid::now_v7().to_string())).await.unwrap();
    deliver(&fx, &intake, &requester_did("hdts.ticket.withdrawn", &other, 9)).await.unwrap();
    deliver(&fx, &intake, &requester_did("hdts.ticket.withdrawn", &other, 10)).await.unwrap();
    deliver(&fx, &intake, &requester_did("hdts.ticket.reopened", &other, 8)).await.unwrap();
    let held = ticket_for(&fx, &other).await.unwrap();
    assert_eq!((held.status.as_str(), held.requester_version), ("cancelled", 10));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_requesters_reply_into_a_step_of_another_role_hands_the_ticket_on() {
    use pb::{TicketStatus as S, TransitionTrigger as T};
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let agent_id = agent.principal.as_ref().unwrap().id.clone();
    let lead = fx.person(&[("tts", "manager")]).await;
    let lead_id = lead.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&agent_id]);
    fx.turns.set("tts:manager", &[&lead_id]);
    // The requester's answer goes to a second line held by managers.
    let mut second_line = support::step("second_line", S::InProgress, false);
    second_line.role = "tts:manager".into();
    let w = fx.create_workflow(pb::CreateWorkflowRequest {
        name: "Two lines".into(),
        steps: vec![
            support::step("work", S::InProgress, false),
            support::step("waiting", S::WaitingOnRequester, false),
            second_line,
            support::step("resolved", S::Resolved, true),
        ],
        transitions: vec![
            support::go("work", "waiting", "ask_requester", T::Manual),
            support::go("waiting", "second_line", "answered", T::RequesterReplied),
            support::go("second_line", "resolved", "resolve", T::Manual),
        ],
        initial_step_id: "work".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let hdts_id = uuid::Uuid::now_v7().to_string();
    let requester = uuid::Uuid::now_v7().to_string();
    deliver(&fx, &intake, &submitted(&hdts_id, &requester)).await.unwrap();
    let t = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!(t.assignee_user_id, agent_id);
    act(&fx, &agent, &t.id, "ask_requester", "Which model?").await;
    let reply = replied(&hdts_id, &uuid::Uuid::now_v7().to_string(), &requester, true);
    deliver(&fx, &intake, &reply).await.unwrap();
    let moved = ticket_for(&fx, &hdts_id).await.unwrap();
    assert_eq!((moved.step_id.as_str(), moved.assignee_user_id.as_str()), ("second_line", lead_id.as_str()), "the agent lacks the second line's role");
    let history = fx.tickets().await.list_ticket_events(lead.request(pb::ListTicketEventsRequest { ticket_id: t.id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    match &history.last().unwrap().details {
        Some(pb::ticket_event::Details::Assigned(a)) => assert_eq!((a.previous_assignee_user_id.as_str(), a.assignee_user_id.as_str(), a.reason()), (agent_id.as_str(), lead_id.as_str(), pb::AssignmentReason::Reassignment)),
        other => panic!("{other:?}"),
    }
}
}

fn rated(hdts_id: &str, version: i64, score: i32) -> Event {
    event(
        "hdts.ticket.rated",
        &ev::HdtsTicketRated {
            ticket: Some(ev::HdtsTicketSnapshot {
                id: hdts_id.into(),
                version,
                rating: Some(ev::HdtsTicketRating {
                    score,
                    comment: "ok".into(),
                    rate_time: None,
                }),
                ..Default::default()
            }),
        },
    )
}

map_kit::db_tests! {
#[tokio::test]
async fn ratings_are_recorded_newest_first_and_wait_for_their_ticket() {
    let fx = Fixture::start().await;
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let hdts_id = uuid::Uuid::now_v7().to_string();
    let early = deliver(&fx, &intake, &rated(&hdts_id, 5, 3)).await;
    assert!(matches!(early, Err(HandlerError::NotYet(_))), "{early:?}");
    deliver(&fx, &intake, &submitted(&hdts_id, &uuid::Uuid::now_v7().to_string())).await.unwrap();
    deliver(&fx, &intake, &rated(&hdts_id, 6, 5)).await.unwrap();
    // A late, older rating changes nothing.
    deliver(&fx, &intake, &rated(&hdts_id, 5, 3)).await.unwrap();
    let ticket = ticket_for(&fx, &hdts_id).await.unwrap();
    let held = map_tts::entity::ticket_ratings::Entity::find_by_id(ticket.id).one(fx.db.db.conn()).await.unwrap().unwrap();
    assert_eq!((held.score, held.hdts_version), (5, 6));
}
}
