//! A deactivated assignee, or one who lost the step's role, hands their open
//! tickets on, on both databases, through the handler the worker runs on
//! `tts.user-sync`: the next holder round-robin takes each (recorded in the
//! history as a reassignment), nobody left leaves it unassigned with the
//! reason, and a stale or repeated user event moves nothing. The directory
//! itself is kept as before.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    events::v1::{self as ev, Envelope},
    tts::v1 as pb,
};
use map_kit::{
    bus::{Event, Handler as _},
    clock::Clock,
    directory,
};
use map_tts::tickets::{Tickets, reassign::UserSync};
use support::{Fixture, support};

fn user_event(
    event_type: &str,
    id: &str,
    version: i64,
    active: bool,
    roles: &[(&str, &str)],
) -> Event {
    let user = Some(ev::UserSnapshot {
        id: id.into(),
        email: format!("{id}@example.com"),
        display_name: id.into(),
        department: "IT".into(),
        active,
        roles: roles
            .iter()
            .map(|(s, r)| ev::RoleRef {
                system: (*s).into(),
                role: (*r).into(),
            })
            .collect(),
        version,
        ..Default::default()
    });
    let (type_url, value) = match event_type {
        "auth.user.deactivated" => {
            let p = ev::AuthUserDeactivated {
                user,
                ..Default::default()
            };
            (
                <ev::AuthUserDeactivated as prost::Name>::type_url(),
                prost::Message::encode_to_vec(&p),
            )
        }
        _ => {
            let p = ev::AuthRoleRevoked {
                user,
                ..Default::default()
            };
            (
                <ev::AuthRoleRevoked as prost::Name>::type_url(),
                prost::Message::encode_to_vec(&p),
            )
        }
    };
    Event::new(Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        source: "auth".into(),
        subject: id.into(),
        subject_version: version,
        payload: Some(prost_types::Any { type_url, value }),
        ..Default::default()
    })
}

async fn deliver(fx: &Fixture, sync: &UserSync, e: &Event) {
    if let Some(p) = sync.prepare(e).await.unwrap() {
        e.set_prepared(p);
    }
    let txn = fx.db.db.begin_write().await.unwrap();
    sync.handle(e, &txn).await.unwrap();
    txn.commit().await.unwrap();
}

map_kit::db_tests! {
#[tokio::test]
async fn a_departed_assignees_open_tickets_go_to_the_next_holder_or_wait_unassigned() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let bob = fx.person(&[("tts", "agent")]).await;
    let id = |c: &map_kit::testing::Caller| c.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&id(&ada)]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let mut mine = Vec::new();
    for _ in 0..2 {
        let req = pb::CreateTicketRequest {
            subject: "Printer jam".into(),
            department_code: "IT".into(),
            category: "Hardware".into(),
            priority: pb::TicketPriority::Low.into(),
            request_id: uuid::Uuid::now_v7().to_string(),
            ..Default::default()
        };
        mine.push(c.create_ticket(ada.request(req)).await.unwrap().into_inner().ticket.unwrap());
    }
    assert!(mine.iter().all(|t| t.assignee_user_id == id(&ada)));
    let sync = UserSync::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));

    // A stale event (version 1, the directory holds 1) moves nothing.
    fx.turns.set("tts:agent", &[&id(&bob)]);
    deliver(&fx, &sync, &user_event("auth.user.deactivated", &id(&ada), 1, false, &[("tts", "agent")])).await;
    let reader = c.clone();
    let get = |t: &pb::Ticket| {
        let req = bob.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(t.id.clone())) });
        let mut c = reader.clone();
        async move { c.get_ticket(req).await.unwrap().into_inner().ticket.unwrap() }
    };
    assert_eq!(get(&mine[0]).await.assignee_user_id, id(&ada));

    // Ada loses tts:agent: bob takes both tickets, recorded as reassignments.
    deliver(&fx, &sync, &user_event("auth.role.revoked", &id(&ada), 2, true, &[])).await;
    for t in &mine {
        assert_eq!(get(t).await.assignee_user_id, id(&bob));
    }
    let history = c.list_ticket_events(bob.request(pb::ListTicketEventsRequest { ticket_id: mine[0].id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    match &history.last().unwrap().details {
        Some(pb::ticket_event::Details::Assigned(a)) => {
            assert_eq!(a.reason(), pb::AssignmentReason::Reassignment);
            assert_eq!(a.previous_assignee_user_id, id(&ada));
        }
        other => panic!("{other:?}"),
    }
    // The directory took the change too.
    let held = directory::read::user(fx.db.db.conn(), &id(&ada)).await.unwrap().unwrap();
    assert_eq!(held.version, 2);

    // Bob is deactivated and nobody else holds the role: unassigned, with the reason.
    fx.turns.set("tts:agent", &[]);
    deliver(&fx, &sync, &user_event("auth.user.deactivated", &id(&bob), 2, false, &[("tts", "agent")])).await;
    let left = get(&mine[1]).await;
    assert!(left.assignee_user_id.is_empty());
    assert!(left.triage_reason.contains("nobody active holds"), "{}", left.triage_reason);
}
}
