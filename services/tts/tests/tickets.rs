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
        asset_tags: Vec::new(),
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
    let callers = fx.policy_callers();
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

type Client = pb::ticket_service_client::TicketServiceClient<tonic::transport::Channel>;

/// Follows next_page_token from `req` to the last page; each page's items
/// as `item` shows them. Asserts every page but the last is full.
macro_rules! walk {
    ($c:expr, $who:expr, $rpc:ident, $req:expr, $items:ident, $item:expr) => {{
        let mut req = $req;
        let size = usize::try_from(req.page_size).unwrap();
        let mut pages: Vec<Vec<_>> = Vec::new();
        loop {
            let page = $c
                .$rpc($who.request(req.clone()))
                .await
                .unwrap()
                .into_inner();
            pages.push(page.$items.iter().map($item).collect());
            if page.next_page_token.is_empty() {
                break;
            }
            assert_eq!(
                pages.last().unwrap().len(),
                size,
                "a page before the last is full"
            );
            assert!(pages.len() < 100, "paging never ends");
            req.page_token = page.next_page_token;
        }
        pages
    }};
}

async fn ticket_pages(
    c: &mut Client,
    who: &map_kit::testing::Caller,
    req: pb::ListTicketsRequest,
) -> Vec<Vec<String>> {
    walk!(c, who, list_tickets, req, tickets, |t| t.number.clone())
}

async fn comment_pages(
    c: &mut Client,
    who: &map_kit::testing::Caller,
    req: pb::ListCommentsRequest,
) -> Vec<Vec<String>> {
    walk!(c, who, list_comments, req, comments, |c| c.body.clone())
}

async fn event_pages(
    c: &mut Client,
    who: &map_kit::testing::Caller,
    req: pb::ListTicketEventsRequest,
) -> Vec<Vec<(i64, pb::TicketEventType)>> {
    walk!(c, who, list_ticket_events, req, events, |e| (
        e.ticket_version,
        e.r#type()
    ))
}

/// The first field violation's description.
fn description(e: &tonic::Status) -> String {
    use tonic_types::StatusExt as _;
    e.get_details_bad_request()
        .and_then(|b| b.field_violations.into_iter().next())
        .map(|f| f.description)
        .unwrap_or_default()
}

fn opened(priority: pb::TicketPriority) -> pb::CreateTicketRequest {
    // No workflow matches: the ticket opens in triage, which is all a list needs.
    pb::CreateTicketRequest {
        priority: priority.into(),
        ..new_ticket("Facilities", "")
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn tickets_page_in_every_order_with_ties_broken_by_number() {
    use pb::TicketPriority as P;
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let mut c = fx.tickets().await;
    let priorities = [P::Low, P::Urgent, P::Medium, P::Urgent, P::High, P::Low, P::Urgent, P::Medium];
    let mut made = Vec::new();
    for p in priorities {
        made.push(c.create_ticket(ada.request(opened(p))).await.unwrap().into_inner().ticket.unwrap());
    }
    let numbers: Vec<String> = made.iter().map(|t| t.number.clone()).collect();
    let list = |order_by: &str| pb::ListTicketsRequest { order_by: order_by.into(), page_size: 3, ..Default::default() };

    // Most urgent first; within a priority the lower number first.
    let by_priority = ticket_pages(&mut c, &ada, list("priority desc")).await;
    let expected: Vec<&str> = ["TT-000002", "TT-000004", "TT-000007", "TT-000005", "TT-000003", "TT-000008", "TT-000001", "TT-000006"].to_vec();
    assert_eq!(by_priority.concat(), expected);
    assert_eq!(by_priority.len(), 3);
    // Two to a page: a page break falls between two urgent tickets.
    let mut two = list("priority desc");
    two.page_size = 2;
    assert_eq!(ticket_pages(&mut c, &ada, two).await.concat(), expected);

    assert_eq!(ticket_pages(&mut c, &ada, list("number")).await.concat(), numbers);
    assert_eq!(ticket_pages(&mut c, &ada, list("create_time")).await.concat(), numbers);
    let newest: Vec<String> = numbers.iter().rev().cloned().collect();
    assert_eq!(ticket_pages(&mut c, &ada, list("")).await.concat(), newest);
    assert_eq!(ticket_pages(&mut c, &ada, list("create_time desc")).await.concat(), newest);
    // A comment touches ticket 3: it leads by update time, the rest follow.
    c.add_comment(ada.request(pb::AddCommentRequest { ticket_id: made[2].id.clone(), body: "seen".into(), visibility: pb::CommentVisibility::Internal.into(), request_id: uuid::Uuid::now_v7().to_string(), attachments: vec![] })).await.unwrap();
    let mut updated = vec!["TT-000003".to_owned()];
    updated.extend(newest.iter().filter(|n| *n != "TT-000003").cloned());
    assert_eq!(ticket_pages(&mut c, &ada, list("update_time desc")).await.concat(), updated);

    // Filters and order combine: urgent and high, most urgent first.
    let mut urgent = list("priority desc");
    urgent.priorities = vec![P::Urgent.into(), P::High.into()];
    assert_eq!(ticket_pages(&mut c, &ada, urgent.clone()).await.concat(), expected[..4].to_vec());

    // A token continues only the listing it came from.
    let first = c.list_tickets(ada.request(list("priority desc"))).await.unwrap().into_inner();
    assert!(!first.next_page_token.is_empty());
    for other in [
        pb::ListTicketsRequest { page_token: first.next_page_token.clone(), ..list("number") },
        pb::ListTicketsRequest { page_token: first.next_page_token.clone(), ..urgent.clone() },
        pb::ListTicketsRequest { page_token: first.next_page_token.clone(), category: "Facilities".into(), ..list("priority desc") },
        pb::ListTicketsRequest { page_token: "made-up".into(), ..list("priority desc") },
    ] {
        let e = c.list_tickets(ada.request(other)).await.unwrap_err();
        assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["page_token".to_owned()]));
    }
    let e = c.list_tickets(ada.request(list("sla.resolution_due_time desc"))).await.unwrap_err();
    assert_eq!(fields(&e), ["order_by"]);
    let e = c.list_tickets(ada.request(list("priority"))).await.unwrap_err();
    assert_eq!(fields(&e), ["order_by"]);
    assert!(description(&e).contains("\"priority desc\""), "{}", description(&e));
    let e = c.list_tickets(ada.request(pb::ListTicketsRequest { page_size: -1, ..Default::default() })).await.unwrap_err();
    assert_eq!(fields(&e), ["page_size"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn numbers_past_six_digits_sort_by_value() {
    use sea_orm::ConnectionTrait as _;
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let mut c = fx.tickets().await;
    c.create_ticket(ada.request(opened(pb::TicketPriority::Low))).await.unwrap();
    // Jump the counter: the next tickets are TT-999999 and TT-1000000,
    // which sort before TT-000001 as text ("TT-1" < "TT-9") only by length.
    fx.db.db.conn().execute_unprepared("UPDATE counters SET value = 999998 WHERE name = 'TT'").await.unwrap();
    for p in [pb::TicketPriority::Low, pb::TicketPriority::Low] {
        c.create_ticket(ada.request(opened(p))).await.unwrap();
    }
    let list = |order_by: &str| pb::ListTicketsRequest { order_by: order_by.into(), page_size: 1, ..Default::default() };
    let ascending = ["TT-000001", "TT-999999", "TT-1000000"];
    assert_eq!(ticket_pages(&mut c, &ada, list("number")).await.concat(), ascending);
    assert_eq!(ticket_pages(&mut c, &ada, list("priority desc")).await.concat(), ascending, "one priority: by number");
    // Newest first is the reverse.
    let mut descending = ascending.to_vec();
    descending.reverse();
    assert_eq!(ticket_pages(&mut c, &ada, list("")).await.concat(), descending);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn comments_page_oldest_or_newest_first_filtered_by_visibility() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let mut c = fx.tickets().await;
    let t = c.create_ticket(ada.request(opened(pb::TicketPriority::High))).await.unwrap().into_inner().ticket.unwrap();
    let other = c.create_ticket(ada.request(opened(pb::TicketPriority::High))).await.unwrap().into_inner().ticket.unwrap();
    let say = |ticket: &pb::Ticket, body: &str, visibility: pb::CommentVisibility| pb::AddCommentRequest {
        ticket_id: ticket.id.clone(),
        body: body.into(),
        visibility: visibility.into(),
        request_id: uuid::Uuid::now_v7().to_string(), attachments: vec![] };
    let mut bodies = Vec::new();
    for i in 0..5 {
        let visibility = if i % 2 == 0 { pb::CommentVisibility::Public } else { pb::CommentVisibility::Internal };
        let body = format!("c{i}");
        c.add_comment(ada.request(say(&t, &body, visibility))).await.unwrap();
        bodies.push(body);
    }
    c.add_comment(ada.request(say(&other, "elsewhere", pb::CommentVisibility::Public))).await.unwrap();
    let list = |order_by: &str, visibilities: &[pb::CommentVisibility]| pb::ListCommentsRequest {
        ticket_id: t.id.clone(),
        page_size: 2,
        order_by: order_by.into(),
        visibilities: visibilities.iter().map(|v| (*v).into()).collect(),
        ..Default::default()
    };

    let oldest = comment_pages(&mut c, &ada, list("", &[])).await;
    assert_eq!((oldest.len(), oldest.concat()), (3, bodies.clone()));
    assert_eq!(comment_pages(&mut c, &ada, list("create_time", &[])).await.concat(), bodies);
    let mut newest = bodies.clone();
    newest.reverse();
    assert_eq!(comment_pages(&mut c, &ada, list("create_time desc", &[])).await.concat(), newest);
    assert_eq!(comment_pages(&mut c, &ada, list("", &[pb::CommentVisibility::Public])).await.concat(), ["c0", "c2", "c4"]);
    assert_eq!(comment_pages(&mut c, &ada, list("create_time desc", &[pb::CommentVisibility::Internal])).await.concat(), ["c3", "c1"]);
    let both = [pb::CommentVisibility::Internal, pb::CommentVisibility::Public];
    assert_eq!(comment_pages(&mut c, &ada, list("", &both)).await.concat(), bodies);
    // What the comment carries.
    let first = c.list_comments(ada.request(list("", &[]))).await.unwrap().into_inner();
    let c0 = &first.comments[0];
    assert_eq!((c0.ticket_id.as_str(), c0.author_user_id.as_str(), c0.visibility()), (t.id.as_str(), ada.principal.as_ref().unwrap().id.as_str(), pb::CommentVisibility::Public));
    assert!(c0.create_time.is_some());

    // The token continues only its own listing.
    for bad in [
        pb::ListCommentsRequest { page_token: first.next_page_token.clone(), ..list("create_time desc", &[]) },
        pb::ListCommentsRequest { page_token: first.next_page_token.clone(), ..list("", &[pb::CommentVisibility::Public]) },
        pb::ListCommentsRequest { page_token: first.next_page_token.clone(), ticket_id: other.id.clone(), ..list("", &[]) },
        pb::ListCommentsRequest { page_token: "never-issued".into(), ..list("", &[]) },
    ] {
        let e = c.list_comments(ada.request(bad)).await.unwrap_err();
        assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["page_token".to_owned()]));
    }
    let e = c.list_comments(ada.request(list("body", &[]))).await.unwrap_err();
    assert_eq!(fields(&e), ["order_by"]);
    let e = c.list_comments(ada.request(pb::ListCommentsRequest { page_size: -1, ..list("", &[]) })).await.unwrap_err();
    assert_eq!(fields(&e), ["page_size"]);
    let e = c.list_comments(ada.request(list("", &[pb::CommentVisibility::Unspecified]))).await.unwrap_err();
    assert_eq!(fields(&e), ["visibilities[0]"]);
    let e = c.list_comments(ada.request(pb::ListCommentsRequest { ticket_id: "TT-000001".into(), ..list("", &[]) })).await.unwrap_err();
    assert_eq!(fields(&e), ["ticket_id"]);
    let e = c.list_comments(ada.request(pb::ListCommentsRequest { ticket_id: uuid::Uuid::now_v7().to_string(), ..list("", &[]) })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn history_pages_by_version_in_both_orders_and_by_type() {
    use pb::TicketEventType as E;
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let t = c.create_ticket(ada.request(new_ticket("Hardware", ""))).await.unwrap().into_inner().ticket.unwrap();
    for body in ["one", "two"] {
        c.add_comment(ada.request(pb::AddCommentRequest { ticket_id: t.id.clone(), body: body.into(), visibility: pb::CommentVisibility::Public.into(), request_id: uuid::Uuid::now_v7().to_string(), attachments: vec![] })).await.unwrap();
    }
    let now = c.get_ticket(ada.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(t.id.clone())) })).await.unwrap().into_inner().ticket.unwrap();
    c.transition_ticket(ada.request(step_to(&now, "ask_requester", "Which model?"))).await.unwrap();
    let list = |page_size: i32, order_by: &str, types: &[E]| pb::ListTicketEventsRequest {
        ticket_id: t.id.clone(),
        page_size,
        order_by: order_by.into(),
        types: types.iter().map(|e| (*e).into()).collect(),
        ..Default::default()
    };
    // Opening records two events at version 1, in that order.
    let whole: [(i64, E); 5] = [(1, E::Created), (1, E::Assigned), (2, E::Commented), (3, E::Commented), (4, E::Transitioned)];
    assert_eq!(event_pages(&mut c, &ada, list(0, "", &[])).await, [whole.to_vec()]);
    for size in [1, 2] {
        assert_eq!(event_pages(&mut c, &ada, list(size, "", &[])).await.concat(), whole, "{size} a page");
        assert_eq!(event_pages(&mut c, &ada, list(size, "time", &[])).await.concat(), whole, "{size} a page");
        let mut newest = whole.to_vec();
        newest.reverse();
        assert_eq!(event_pages(&mut c, &ada, list(size, "time desc", &[])).await.concat(), newest, "{size} a page");
    }
    assert_eq!(event_pages(&mut c, &ada, list(1, "", &[E::Commented])).await.concat(), [(2, E::Commented), (3, E::Commented)]);
    assert_eq!(event_pages(&mut c, &ada, list(1, "time desc", &[E::Transitioned, E::Created])).await.concat(), [(4, E::Transitioned), (1, E::Created)]);
    assert!(event_pages(&mut c, &ada, list(1, "", &[E::SlaBreached])).await.concat().is_empty());

    let first = c.list_ticket_events(ada.request(list(1, "", &[E::Commented]))).await.unwrap().into_inner();
    assert!(!first.next_page_token.is_empty());
    for bad in [
        pb::ListTicketEventsRequest { page_token: first.next_page_token.clone(), ..list(1, "", &[]) },
        pb::ListTicketEventsRequest { page_token: first.next_page_token.clone(), ..list(1, "time desc", &[E::Commented]) },
        pb::ListTicketEventsRequest { page_token: "x.y".into(), ..list(1, "", &[E::Commented]) },
    ] {
        let e = c.list_ticket_events(ada.request(bad)).await.unwrap_err();
        assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["page_token".to_owned()]));
    }
    // A kind named twice is the same listing.
    let same = c.list_ticket_events(ada.request(pb::ListTicketEventsRequest { page_token: first.next_page_token.clone(), ..list(1, "", &[E::Commented, E::Commented]) })).await.unwrap().into_inner();
    assert_eq!(same.events.iter().map(|e| e.ticket_version).collect::<Vec<_>>(), [3]);
    let e = c.list_ticket_events(ada.request(list(1, "ticket_version", &[]))).await.unwrap_err();
    assert_eq!(fields(&e), ["order_by"]);
    let e = c.list_ticket_events(ada.request(list(-1, "", &[]))).await.unwrap_err();
    assert_eq!(fields(&e), ["page_size"]);
    let e = c.list_ticket_events(ada.request(list(1, "", &[E::Commented, E::Unspecified]))).await.unwrap_err();
    assert_eq!(fields(&e), ["types[1]"]);
    let e = c.list_ticket_events(ada.request(pb::ListTicketEventsRequest { ticket_id: uuid::Uuid::now_v7().to_string(), ..Default::default() })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
}
}
