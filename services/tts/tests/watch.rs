//! Live streams on both databases (the in-process bus beside SQLite,
//! RabbitMQ beside PostgreSQL, TTS's relay publishing between): WatchTicket
//! sees a change committed through another replica, resumes from the
//! version a client saw without missing or repeating an event, and ends
//! when the caller's access is revoked or the server drains; WatchTickets
//! keeps an agent's queue without a stream per ticket.
#![allow(clippy::unwrap_used)]

mod support;

use std::time::Duration;

use map_contracts::tts::v1::{self as pb, ticket_service_client::TicketServiceClient};
use map_tts::grpc::watch::WatchConfig;
use support::{Fixture, reason, support};
use tonic::{Code, Streaming};

/// Streams look again often, and the database only rarely: a change must
/// arrive by the bus.
const FAST: WatchConfig = WatchConfig {
    recheck: Duration::from_millis(100),
    poll_with_bus: Duration::from_secs(600),
    poll_without_bus: Duration::from_secs(600),
};

/// The next message, within a deadline generous for a loaded machine.
async fn next<T>(s: &mut Streaming<T>) -> Result<T, tonic::Status> {
    tokio::time::timeout(Duration::from_secs(20), s.message())
        .await
        .expect("no message within 20 s")
        .map(|m| m.expect("the stream ended"))
}

fn comment(t: &str, body: &str) -> pb::AddCommentRequest {
    pb::AddCommentRequest {
        ticket_id: t.into(),
        body: body.into(),
        visibility: pb::CommentVisibility::Internal.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        attachments: vec![],
    }
}

fn new_ticket() -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        subject: "Laptop will not boot".into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        priority: pb::TicketPriority::High.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

fn kinds(events: &[pb::TicketEvent]) -> Vec<(i64, pb::TicketEventType)> {
    events
        .iter()
        .map(|e| (e.ticket_version, e.r#type()))
        .collect()
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_sees_other_replicas_changes_and_resumes_where_it_left() {
    let (fx, live) = Fixture::start_live(FAST).await;
    let agent = fx.person(&[("tts", "agent")]).await;
    fx.turns.set("tts:agent", &[&agent.principal.as_ref().unwrap().id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut writer = fx.tickets().await;
    let t = writer.create_ticket(agent.request(new_ticket())).await.unwrap().into_inner().ticket.unwrap();

    // The watcher is on another replica than the one the changes go through.
    let other = fx.replica(&live).await;
    let mut watcher = TicketServiceClient::new(other.channel().await);
    let watch = |since: i64| pb::WatchTicketRequest { ticket_id: t.id.clone(), since_version: since };
    let mut s = watcher.watch_ticket(agent.request(watch(0))).await.unwrap().into_inner();
    let first = next(&mut s).await.unwrap();
    assert!(first.event.is_none());
    assert_eq!(first.ticket.as_ref().unwrap().version, t.version);

    writer.add_comment(agent.request(comment(&t.id, "looking"))).await.unwrap();
    let change = next(&mut s).await.unwrap();
    let event = change.event.unwrap();
    assert_eq!((event.ticket_version, event.r#type()), (t.version + 1, pb::TicketEventType::Commented));
    assert!(change.ticket.unwrap().version >= event.ticket_version);
    let seen = event.ticket_version;
    drop(s);

    // While nobody watches: two more changes. The client resumes from the
    // version it saw: a fresh snapshot, then exactly the two it missed.
    writer.add_comment(agent.request(comment(&t.id, "still looking"))).await.unwrap();
    writer.add_comment(agent.request(comment(&t.id, "found it"))).await.unwrap();
    let mut s = watcher.watch_ticket(agent.request(watch(seen))).await.unwrap().into_inner();
    let snapshot = next(&mut s).await.unwrap();
    assert_eq!((snapshot.ticket.unwrap().version, snapshot.event), (seen + 2, None));
    let missed = vec![next(&mut s).await.unwrap().event.unwrap(), next(&mut s).await.unwrap().event.unwrap()];
    assert_eq!(kinds(&missed), [(seen + 1, pb::TicketEventType::Commented), (seen + 2, pb::TicketEventType::Commented)]);
    // And live again after the catch-up, nothing repeated.
    writer.add_comment(agent.request(comment(&t.id, "fixed"))).await.unwrap();
    assert_eq!(next(&mut s).await.unwrap().event.unwrap().ticket_version, seen + 3);

    // Bad input and unknown tickets are refused before any stream.
    let e = watcher.watch_ticket(agent.request(pb::WatchTicketRequest { ticket_id: "nope".into(), since_version: -1 })).await.unwrap_err();
    assert_eq!((e.code(), support::fields(&e)), (Code::InvalidArgument, vec!["ticket_id".to_owned(), "since_version".to_owned()]));
    let e = watcher.watch_ticket(agent.request(pb::WatchTicketRequest { ticket_id: uuid::Uuid::now_v7().to_string(), since_version: 0 })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_ends_when_access_is_revoked_and_when_the_server_drains() {
    let (mut fx, _live) = Fixture::start_live(FAST).await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let other = fx.person(&[("tts", "agent")]).await;
    fx.turns.set("tts:agent", &[&agent.principal.as_ref().unwrap().id]);
    let mut c = fx.tickets().await;
    let t = c.create_ticket(agent.request(new_ticket())).await.unwrap().into_inner().ticket.unwrap();
    let watch = pb::WatchTicketRequest { ticket_id: t.id.clone(), since_version: 0 };
    let mut revoked = c.watch_ticket(agent.request(watch.clone())).await.unwrap().into_inner();
    let mut drained = c.watch_ticket(other.request(watch)).await.unwrap().into_inner();
    next(&mut revoked).await.unwrap();
    next(&mut drained).await.unwrap();

    fx.auth.revoke(&agent);
    let e = next(&mut revoked).await.unwrap_err();
    assert_eq!((e.code(), reason(&e)), (Code::Unauthenticated, "INVALID_TOKEN".to_owned()));

    // The drain ends the other stream at once (not after the grace).
    fx.server.begin_shutdown();
    let e = next(&mut drained).await.unwrap_err();
    assert_eq!(e.code(), Code::Unavailable, "{e:?}");
}
}

map_kit::db_tests! {
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_queue_view_follows_tickets_into_and_out_of_an_agents_queue() {
    let (fx, _live) = Fixture::start_live(FAST).await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let bob = fx.person(&[("tts", "agent")]).await;
    let lead = fx.person(&[("tts", "manager")]).await;
    let (ada_id, bob_id) = (ada.principal.as_ref().unwrap().id.clone(), bob.principal.as_ref().unwrap().id.clone());
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    fx.turns.set("tts:agent", &[&ada_id]);
    let already = c.create_ticket(ada.request(new_ticket())).await.unwrap().into_inner().ticket.unwrap();

    // An agent may not watch another's queue.
    let e = c.watch_tickets(ada.request(pb::WatchTicketsRequest { assignee_user_id: bob_id.clone(), statuses: vec![] })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e)), (Code::PermissionDenied, "NOT_OWN_QUEUE".to_owned()));

    let mut s = c.watch_tickets(ada.request(pb::WatchTicketsRequest::default())).await.unwrap().into_inner();
    let opening = next(&mut s).await.unwrap();
    assert_eq!((opening.ticket.unwrap().id, opening.in_view), (already.id.clone(), true));
    assert!(next(&mut s).await.unwrap().snapshot_complete);

    // A new ticket for ada enters the view; bob's never shows.
    fx.turns.set("tts:agent", &[&bob_id]);
    let bobs = c.create_ticket(bob.request(new_ticket())).await.unwrap().into_inner().ticket.unwrap();
    fx.turns.set("tts:agent", &[&ada_id]);
    let fresh = c.create_ticket(ada.request(new_ticket())).await.unwrap().into_inner().ticket.unwrap();
    // (The opening ticket's own events may still be on their way: a change
    // of a ticket in view is shown again.)
    let entered = loop {
        let m = next(&mut s).await.unwrap();
        let id = m.ticket.as_ref().unwrap().id.clone();
        assert_ne!(id, bobs.id, "another's ticket showed in ada's queue");
        if id != already.id {
            break m;
        }
    };
    assert_eq!((entered.ticket.unwrap().id, entered.in_view), (fresh.id.clone(), true));

    // The manager gives it to bob: it leaves ada's view.
    c.assign_ticket(lead.request(pb::AssignTicketRequest {
        ticket_id: fresh.id.clone(),
        assignee_user_id: bob_id.clone(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }))
    .await
    .unwrap();
    // The ticket's own creation events may come first (it was in view).
    let left = loop {
        let m = next(&mut s).await.unwrap();
        assert_ne!(m.ticket.as_ref().unwrap().id, bobs.id, "another's ticket showed in ada's queue");
        if !m.in_view {
            break m;
        }
    };
    let ticket = left.ticket.unwrap();
    assert_eq!((ticket.id.as_str(), ticket.assignee_user_id.as_str(), left.in_view), (fresh.id.as_str(), bob_id.as_str(), false));
}
}
