//! TicketService through a real gRPC server on port 0, on both databases:
//! a ticket opens on the matching workflow, assigned round-robin to a holder
//! of the first step's role, and moves along its transitions (a note where
//! required, only by its assignee or a manager, the allowed actions named
//! when refused), with an append-only history and `tts.ticket.*` events
//! carrying the whole ticket and its version. Never stuck: no workflow →
//! TRIAGE with the reason; nobody holds the role → unassigned with the
//! reason. Retries open nothing twice; two concurrent moves of one ticket:
//! exactly one wins.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{events::v1 as ev, tts::v1 as pb};
use map_kit::{outbox::entity as outbox, testing::check_policy_matrix};
use prost::Message as _;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use support::{Fixture, fields, reason, support};
use tonic::Code;

fn new_ticket(category: &str, sub: &str) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        subject: "Laptop will not boot".into(),
        description: "Black screen since this morning".into(),
        requester_user_id: String::new(),
        department_code: "IT".into(),
        category: category.into(),
        sub_category: sub.into(),
        priority: pb::TicketPriority::High.into(),
        hdts_ticket_id: String::new(),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

fn step_to(t: &pb::Ticket, action: &str, comment: &str) -> pb::TransitionTicketRequest {
    pb::TransitionTicketRequest {
        ticket_id: t.id.clone(),
        action: action.into(),
        comment: comment.into(),
        comment_visibility: pb::CommentVisibility::Public.into(),
        etag: t.etag.clone(),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

/// The outbox's events about tickets: (type, subject version, payload).
async fn events(fx: &Fixture) -> Vec<(String, i64, prost_types::Any)> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(fx.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            let envelope = ev::Envelope::decode(row.envelope.as_slice()).unwrap();
            (
                row.event_type,
                row.subject_version,
                envelope.payload.unwrap(),
            )
        })
        .collect()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_ticket_opens_assigned_and_moves_along_its_workflow() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let bob = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    let bob_id = bob.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id, &bob_id]);
    let w = fx.create_workflow(support("Laptops", "IT", "Hardware", "Laptop")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;

    // Round-robin: the first ticket to ada, the second to bob.
    let first = c.create_ticket(ada.request(new_ticket("Hardware", "Laptop"))).await.unwrap().into_inner().ticket.unwrap();
    let second = c.create_ticket(ada.request(new_ticket("Hardware", "Laptop"))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((first.number.as_str(), second.number.as_str()), ("TT-000001", "TT-000002"));
    assert_eq!((first.assignee_user_id.as_str(), second.assignee_user_id.as_str()), (ada_id.as_str(), bob_id.as_str()));
    assert_eq!(first.status(), pb::TicketStatus::InProgress);
    assert_eq!((first.current_step_id.as_str(), first.workflow_match.as_str()), ("work", "sub_category"));
    assert_eq!((first.workflow_id.as_str(), first.workflow_revision), (w.id.as_str(), 1));

    // Only the assignee (or a manager) moves it; the note is required.
    let refused = c.transition_ticket(bob.request(step_to(&first, "ask_requester", "Which model?"))).await.unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::PermissionDenied, "NOT_ASSIGNEE"));
    let e = c.transition_ticket(ada.request(step_to(&first, "ask_requester", ""))).await.unwrap_err();
    assert_eq!(fields(&e), ["comment"]);
    let e = c.transition_ticket(ada.request(step_to(&first, "close_it", "x"))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "INVALID_TRANSITION"));
    assert!(e.message().contains("ask_requester") && e.message().contains("resolve"), "{}", e.message());
    // A triggered transition is not an agent's to take.
    let e = c.transition_ticket(ada.request(step_to(&first, "requester_replied", "x"))).await.unwrap_err();
    assert_eq!(reason(&e), "INVALID_TRANSITION");

    let waiting = c.transition_ticket(ada.request(step_to(&first, "ask_requester", "Which model is it?"))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(waiting.status(), pb::TicketStatus::WaitingOnRequester);
    assert_eq!(waiting.assignee_user_id, ada_id, "ada holds the next step's role: she keeps it");
    assert_eq!(waiting.version, 2);
    let manager = fx.person(&[("tts", "manager")]).await;
    let note = c.add_comment(manager.request(pb::AddCommentRequest {
        ticket_id: first.id.clone(),
        body: "Internal: check warranty".into(),
        visibility: pb::CommentVisibility::Internal.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        attachments: Vec::new(),
    })).await.unwrap().into_inner();
    assert_eq!(note.ticket.unwrap().version, 3);

    // The history, in order, and the events with the whole ticket.
    let history = c.list_ticket_events(ada.request(pb::ListTicketEventsRequest { ticket_id: first.id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    let kinds: Vec<pb::TicketEventType> = history.iter().map(pb::TicketEvent::r#type).collect();
    assert_eq!(kinds, [
        pb::TicketEventType::Created,
        pb::TicketEventType::Assigned,
        pb::TicketEventType::Transitioned,
        pb::TicketEventType::Commented,
    ]);
    let ours: Vec<(String, i64, prost_types::Any)> = events(&fx).await.into_iter().filter(|e| {
        e.2.to_msg::<ev::TtsTicketCreated>().is_ok_and(|c| c.ticket.is_some_and(|t| t.id == first.id))
            || e.2.to_msg::<ev::TtsTicketStatusChanged>().is_ok_and(|c| c.ticket.is_some_and(|t| t.id == first.id))
            || e.2.to_msg::<ev::TtsTicketCommented>().is_ok_and(|c| c.ticket.is_some_and(|t| t.id == first.id))
    }).collect();
    let kinds: Vec<(&str, i64)> = ours.iter().map(|(t, v, _)| (t.as_str(), *v)).collect();
    assert_eq!(kinds, [
        ("tts.ticket.created", 1),
        ("tts.ticket.status_changed", 2),
        ("tts.ticket.commented", 2),
        ("tts.ticket.commented", 3),
    ]);
    let note = ours[2].2.to_msg::<ev::TtsTicketCommented>().unwrap();
    assert!(note.public && note.body == "Which model is it?", "the transition's public note reaches the requester");
    let moved = ours[1].2.to_msg::<ev::TtsTicketStatusChanged>().unwrap();
    let snapshot = moved.ticket.clone().unwrap();
    assert_eq!(snapshot.status(), ev::TtsTicketStatus::WaitingOnRequester);
    assert_eq!(moved.old_status(), ev::TtsTicketStatus::InProgress);
    assert_eq!((snapshot.workflow_name.as_str(), snapshot.step.unwrap().step_id.as_str()), ("Laptops", "waiting"));
    assert_eq!(snapshot.assignee.unwrap().user_id, ada_id);
    let commented = ours[3].2.to_msg::<ev::TtsTicketCommented>().unwrap();
    assert!(!commented.public);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn no_workflow_means_triage_and_nobody_holding_the_role_means_unassigned() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let mut c = fx.tickets().await;
    let triaged = c.create_ticket(agent.request(new_ticket("Facilities", ""))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(triaged.status(), pb::TicketStatus::Triage);
    assert!(triaged.triage_reason.contains("no published workflow"), "{}", triaged.triage_reason);
    assert!(triaged.workflow_id.is_empty() && triaged.assignee_user_id.is_empty());
    let e = c.transition_ticket(agent.request(step_to(&triaged, "resolve", "done"))).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "unassigned: only a manager may act");

    // A default workflow exists, but nobody holds its role: unassigned, with the reason.
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let unassigned = c.create_ticket(agent.request(new_ticket("Facilities", ""))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((unassigned.status(), unassigned.workflow_match.as_str()), (pb::TicketStatus::InProgress, "default"));
    assert!(unassigned.assignee_user_id.is_empty());
    assert!(unassigned.triage_reason.contains("nobody active holds tts:agent"), "{}", unassigned.triage_reason);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn retries_open_nothing_twice_and_one_of_two_concurrent_moves_wins() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent"), ("tts", "manager")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let req = new_ticket("Hardware", "");
    let first = c.create_ticket(ada.request(req.clone())).await.unwrap().into_inner().ticket.unwrap();
    let retry = c.create_ticket(ada.request(req.clone())).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(first, retry);
    let mut changed = req;
    changed.subject = "Another".into();
    let e = c.create_ticket(ada.request(changed)).await.unwrap_err();
    assert_eq!(fields(&e), ["request_id"]);

    // Two moves from the same state: one wins, the other is refused cleanly.
    let (mut c1, mut c2) = (fx.tickets().await, fx.tickets().await);
    let (a, b) = tokio::join!(
        c1.transition_ticket(ada.request(step_to(&first, "ask_requester", "a?"))),
        c2.transition_ticket(ada.request(step_to(&first, "resolve", "done"))),
    );
    assert_eq!([a.is_ok(), b.is_ok()].iter().filter(|ok| **ok).count(), 1, "{a:?} {b:?}");
    let lost = a.err().or(b.err()).unwrap();
    assert!(matches!(lost.code(), Code::Aborted | Code::FailedPrecondition), "{lost:?}");
    let now = c.get_ticket(ada.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Number(first.number.clone())) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(now.version, 2, "exactly one change");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bad_tickets_name_every_field_and_write_nothing() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let mut c = fx.tickets().await;
    let mut bad = new_ticket("", "");
    bad.subject = String::new();
    bad.priority = 0;
    bad.department_code = String::new();
    let e = c.create_ticket(agent.request(bad)).await.unwrap_err();
    let got = fields(&e);
    for f in ["subject", "department_code", "category", "priority"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
    let mut elsewhere = new_ticket("Hardware", "");
    elsewhere.department_code = "NOPE".into();
    assert_eq!(c.create_ticket(agent.request(elsewhere)).await.unwrap_err().code(), Code::NotFound);
    assert!(events(&fx).await.is_empty(), "nothing written");
    let e = c.get_ticket(agent.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(uuid::Uuid::now_v7().to_string())) })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}
}

#[tokio::test]
async fn every_ticket_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = [
        map_kit::testing::Caller::anonymous(),
        fx.auth.person(&[("tts", "agent")]),
        fx.auth.person(&[("tts", "manager")]),
        fx.admin.clone(),
        fx.auth.person(&[("hdts", "employee")]),
        fx.auth.api_key(&[("auth", "service")]),
    ];
    check_policy_matrix(
        fx.server.channel().await,
        &map_tts::grpc::policy::TICKET_SERVICE,
        &callers,
    )
    .await;
}

map_kit::db_tests! {
#[tokio::test]
async fn managers_list_the_triage_queue_and_agents_their_own_page_by_page() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id]);
    let w = fx.create_workflow(support("Hardware", "IT", "Hardware", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let mut assigned = Vec::new();
    for _ in 0..5 {
        let t = c.create_ticket(ada.request(new_ticket("Hardware", ""))).await.unwrap().into_inner().ticket.unwrap();
        assigned.push(t.number);
    }
    let triaged = c.create_ticket(ada.request(new_ticket("Facilities", ""))).await.unwrap().into_inner().ticket.unwrap();

    let manager = fx.person(&[("tts", "manager")]).await;
    let queue = c
        .list_tickets(manager.request(pb::ListTicketsRequest { statuses: vec![pb::TicketStatus::Triage.into()], ..Default::default() }))
        .await
        .unwrap()
        .into_inner();
    let numbers: Vec<String> = queue.tickets.into_iter().map(|t| t.number).collect();
    assert_eq!(numbers, std::slice::from_ref(&triaged.number));

    // Ada's tickets, newest first, two a page.
    let (mut seen, mut token) = (Vec::new(), String::new());
    loop {
        let page = c
            .list_tickets(ada.request(pb::ListTicketsRequest { assignee_user_id: ada_id.clone(), page_size: 2, page_token: token, ..Default::default() }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.tickets.len() <= 2);
        seen.extend(page.tickets.into_iter().map(|t| t.number));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assigned.reverse();
    assert_eq!(seen, assigned);

    let e = c
        .list_tickets(ada.request(pb::ListTicketsRequest { order_by: "mood".into(), statuses: vec![0], ..Default::default() }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["order_by", "statuses[0]"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn managers_assign_to_role_holders_and_agents_take_tickets_themselves() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let bob = fx.person(&[("tts", "agent")]).await;
    let outsider = fx.person(&[("tts", "manager")]).await;
    let ids = |c: &map_kit::testing::Caller| c.principal.as_ref().unwrap().id.clone();
    let mut c = fx.tickets().await;
    // No workflow: triage, unassigned.
    let t = c.create_ticket(ada.request(new_ticket("Facilities", ""))).await.unwrap().into_inner().ticket.unwrap();
    let assign = |who: &str, request: &str| pb::AssignTicketRequest {
        ticket_id: t.id.clone(),
        assignee_user_id: who.into(),
        note: "you know printers".into(),
        etag: String::new(),
        request_id: request.into(),
    };
    let e = c.assign_ticket(ada.request(assign(&ids(&bob), &uuid::Uuid::now_v7().to_string()))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "MANAGER_REQUIRED"));
    let e = c.assign_ticket(outsider.request(assign(&ids(&outsider), &uuid::Uuid::now_v7().to_string()))).await.unwrap_err();
    assert_eq!(reason(&e), "ASSIGNEE_LACKS_ROLE", "a manager without tts:agent does not work the queue");
    let took = c.assign_ticket(ada.request(assign(&ids(&ada), &uuid::Uuid::now_v7().to_string()))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(took.assignee_user_id, ids(&ada));
    let given = c.assign_ticket(outsider.request(assign(&ids(&bob), &uuid::Uuid::now_v7().to_string()))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((given.assignee_user_id.clone(), given.version), (ids(&bob), 3));
    let history = c.list_ticket_events(ada.request(pb::ListTicketEventsRequest { ticket_id: t.id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    let last = history.last().unwrap();
    match &last.details {
        Some(pb::ticket_event::Details::Assigned(a)) => {
            assert_eq!((a.previous_assignee_user_id.clone(), a.assignee_user_id.clone()), (ids(&ada), ids(&bob)));
            assert_eq!(a.reason(), pb::AssignmentReason::Manual);
        }
        other => panic!("{other:?}"),
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_ticket_is_updated_by_mask_and_etag_and_the_change_is_recorded() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let bob = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let t = c.create_ticket(ada.request(new_ticket("Hardware", ""))).await.unwrap().into_inner().ticket.unwrap();
    let mask = |paths: &[&str]| Some(prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() });
    let mut change = t.clone();
    change.subject = "Laptop will not boot after update".into();
    change.priority = pb::TicketPriority::Urgent.into();
    change.category = "ignored: not in the mask".into();
    let e = c.update_ticket(bob.request(pb::UpdateTicketRequest { ticket: Some(change.clone()), update_mask: mask(&["subject"]) })).await.unwrap_err();
    assert_eq!(reason(&e), "NOT_ASSIGNEE");
    let e = c.update_ticket(ada.request(pb::UpdateTicketRequest { ticket: Some(change.clone()), update_mask: mask(&["assignee_user_id"]) })).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let updated = c.update_ticket(ada.request(pb::UpdateTicketRequest { ticket: Some(change.clone()), update_mask: mask(&["subject", "priority"]) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((updated.subject.as_str(), updated.priority(), updated.category.as_str()), ("Laptop will not boot after update", pb::TicketPriority::Urgent, "Hardware"));
    assert_eq!(updated.version, 2);
    let stale = c.update_ticket(ada.request(pb::UpdateTicketRequest { ticket: Some(change), update_mask: mask(&["subject"]) })).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let history = c.list_ticket_events(ada.request(pb::ListTicketEventsRequest { ticket_id: t.id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    match &history.last().unwrap().details {
        Some(pb::ticket_event::Details::Updated(u)) => assert_eq!(u.changed_fields, ["subject", "priority"]),
        other => panic!("{other:?}"),
    }
    let updates: Vec<ev::TtsTicketUpdated> = events(&fx).await.into_iter().filter(|e| e.0 == "tts.ticket.updated").map(|e| e.2.to_msg().unwrap()).collect();
    assert_eq!(updates.len(), 1);
    assert_eq!(updates[0].ticket.as_ref().unwrap().version, 2);
}
}
