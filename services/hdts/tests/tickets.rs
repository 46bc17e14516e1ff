//! Help-desk tickets on both databases: an employee submits under a help
//! topic (which routes it), the submission and its `hdts.ticket.submitted`
//! commit together, retries submit nothing twice, employees see only their
//! own tickets; and the mirror applies TTS's snapshots — newer versions
//! only, so a repeated or late event changes nothing, a snapshot for a
//! ticket not here yet is parked (NotYet), unknown event types are ignored.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    events::v1::{self as ev, Envelope},
    hdts::v1 as pb,
};
use map_hdts::tickets::mirror::Mirror;
use map_kit::bus::{Event, Handler as _, HandlerError};
use prost::Name as _;
use support::{Fixture, fields, reason};
use tonic::Code;

async fn topic(fx: &Fixture) -> pb::HelpTopic {
    fx.create(pb::CreateHelpTopicRequest {
        name: "Laptop problem".into(),
        description: String::new(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        sub_category: "Laptop".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    })
    .await
    .unwrap()
}

fn submission(topic: &pb::HelpTopic) -> pb::SubmitTicketRequest {
    pb::SubmitTicketRequest {
        subject: "Laptop will not boot".into(),
        description: "Black screen".into(),
        help_topic_id: topic.id.clone(),
        priority: pb::TicketPriority::High.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }
}

/// A `tts.ticket.status_changed` about HDTS ticket `hdts_id` at `version`.
fn tts_event(hdts_id: &str, version: i64, status: ev::TtsTicketStatus) -> Event {
    let payload = ev::TtsTicketStatusChanged {
        ticket: Some(ev::TtsTicketSnapshot {
            id: "01890a5d-ac96-774b-bcce-b302099a8057".into(),
            number: "TT-000042".into(),
            hdts_ticket_id: hdts_id.into(),
            status: status.into(),
            version,
            ..Default::default()
        }),
        ..Default::default()
    };
    Event::new(Envelope {
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
    })
}

async fn apply(fx: &Fixture, event: &Event) -> Result<(), HandlerError> {
    let txn = fx.db.db.begin_write().await.unwrap();
    Mirror::default().handle(event, &txn).await?;
    txn.commit().await.unwrap();
    Ok(())
}

map_kit::db_tests! {
#[tokio::test]
async fn an_employee_submits_under_a_topic_and_sees_only_their_own_tickets() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let bob = fx.person(&[("hdts", "employee")]).await;
    let mut c = fx.client().await;
    let req = submission(&t);
    let ticket = c.submit_ticket(ada.request(req.clone())).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((ticket.number.as_str(), ticket.status()), ("HD-000001", pb::TicketStatus::Submitted));
    assert_eq!((ticket.department_code.as_str(), ticket.category.as_str(), ticket.sub_category.as_str()), ("IT", "Hardware", "Laptop"));
    assert!(ticket.requester_display_name.starts_with("Person "));
    // A retry returns the first ticket and enqueues nothing more.
    let again = c.submit_ticket(ada.request(req)).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(again, ticket);
    let events = fx.events().await;
    let submitted: Vec<&(String, i64, prost_types::Any)> = events.iter().filter(|e| e.0 == "hdts.ticket.submitted").collect();
    assert_eq!(submitted.len(), 1);
    let snapshot = submitted[0].2.to_msg::<ev::HdtsTicketSubmitted>().unwrap().ticket.unwrap();
    assert_eq!((snapshot.id.as_str(), snapshot.version, snapshot.sub_category.as_str()), (ticket.id.as_str(), 1, "Laptop"));

    // Bob may not see it, nor list it; an agent may.
    let lookup = pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Number(ticket.number.clone())) };
    assert_eq!(c.get_ticket(bob.request(lookup.clone())).await.unwrap_err().code(), Code::NotFound);
    let mine = c.list_tickets(bob.request(pb::ListTicketsRequest::default())).await.unwrap().into_inner();
    assert!(mine.tickets.is_empty());
    let agent = fx.person(&[("hdts", "agent")]).await;
    assert_eq!(c.get_ticket(agent.request(lookup)).await.unwrap().into_inner().ticket.unwrap().id, ticket.id);
    // Submitting for someone else is an agent's privilege.
    let mut for_bob = submission(&t);
    for_bob.requester_user_id = bob.principal.as_ref().unwrap().id.clone();
    let e = c.submit_ticket(ada.request(for_bob)).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "AGENT_REQUIRED"));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bad_submissions_name_every_field_and_write_nothing() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let mut c = fx.client().await;
    let before = fx.events().await.len();
    let mut bad = submission(&t);
    bad.subject = String::new();
    bad.category = "Hardware".into();
    bad.description = "x".repeat(20_001);
    let e = c.submit_ticket(ada.request(bad)).await.unwrap_err();
    let got = fields(&e);
    for f in ["subject", "description", "category"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
    let mut unknown = submission(&t);
    unknown.help_topic_id = uuid::Uuid::now_v7().to_string();
    assert_eq!(c.submit_ticket(ada.request(unknown)).await.unwrap_err().code(), Code::NotFound);
    assert_eq!(fx.events().await.len(), before, "nothing enqueued");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn the_mirror_applies_newer_tts_snapshots_only() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let mut c = fx.client().await;
    let ticket = c.submit_ticket(ada.request(submission(&t))).await.unwrap().into_inner().ticket.unwrap();
    let read = |c: &mut map_contracts::hdts::v1::help_desk_service_client::HelpDeskServiceClient<tonic::transport::Channel>| {
        let req = ada.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(ticket.id.clone())) });
        let mut c = c.clone();
        async move { c.get_ticket(req).await.unwrap().into_inner().ticket.unwrap() }
    };

    apply(&fx, &tts_event(&ticket.id, 2, ev::TtsTicketStatus::WaitingOnRequester)).await.unwrap();
    let now = read(&mut c).await;
    assert_eq!((now.status(), now.tts_ticket_number.as_str()), (pb::TicketStatus::WaitingOnRequester, "TT-000042"));
    // A late (older) snapshot and a repeated one change nothing.
    apply(&fx, &tts_event(&ticket.id, 1, ev::TtsTicketStatus::Open)).await.unwrap();
    apply(&fx, &tts_event(&ticket.id, 2, ev::TtsTicketStatus::Resolved)).await.unwrap();
    let same = read(&mut c).await;
    assert_eq!((same.status(), same.version), (pb::TicketStatus::WaitingOnRequester, now.version));
    apply(&fx, &tts_event(&ticket.id, 3, ev::TtsTicketStatus::Resolved)).await.unwrap();
    let resolved = read(&mut c).await;
    assert_eq!(resolved.status(), pb::TicketStatus::Resolved);
    assert!(resolved.resolve_time.is_some());

    // A snapshot for a ticket not here yet waits; an unknown type is ignored.
    let early = apply(&fx, &tts_event(&uuid::Uuid::now_v7().to_string(), 1, ev::TtsTicketStatus::Open)).await;
    assert!(matches!(early, Err(HandlerError::NotYet(_))), "{early:?}");
    let mut unknown = tts_event(&ticket.id, 9, ev::TtsTicketStatus::Closed);
    unknown = Event::new(Envelope { r#type: "tts.ticket.levitated".into(), ..unknown.envelope.clone() });
    apply(&fx, &unknown).await.unwrap();
    assert_eq!(read(&mut c).await.status(), pb::TicketStatus::Resolved);
}
}

/// A public `tts.ticket.commented` about HDTS ticket `hdts_id`.
fn tts_comment(hdts_id: &str, version: i64, comment_id: &str, hdts_reply_id: &str) -> Event {
    let payload = ev::TtsTicketCommented {
        ticket: Some(ev::TtsTicketSnapshot {
            id: "01890a5d-ac96-774b-bcce-b302099a8057".into(),
            number: "TT-000042".into(),
            hdts_ticket_id: hdts_id.into(),
            status: ev::TtsTicketStatus::WaitingOnRequester.into(),
            version,
            ..Default::default()
        }),
        comment_id: comment_id.into(),
        body: "Which model is it?".into(),
        public: true,
        hdts_reply_id: hdts_reply_id.into(),
        ..Default::default()
    };
    Event::new(Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: "tts.ticket.commented".into(),
        source: "tts".into(),
        subject_version: version,
        payload: Some(prost_types::Any {
            type_url: ev::TtsTicketCommented::type_url(),
            value: prost::Message::encode_to_vec(&payload),
        }),
        ..Default::default()
    })
}

map_kit::db_tests! {
#[tokio::test]
async fn replies_go_out_as_events_and_public_tts_comments_come_back_once() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let agent = fx.person(&[("hdts", "agent")]).await;
    let mut c = fx.client().await;
    let ticket = c.submit_ticket(ada.request(submission(&t))).await.unwrap().into_inner().ticket.unwrap();
    let reply = |who: &map_kit::testing::Caller, body: &str, visibility: pb::ReplyVisibility| {
        who.request(pb::AddReplyRequest {
            ticket_id: ticket.id.clone(),
            body: body.into(),
            visibility: visibility.into(),
            attachments: Vec::new(),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
    };
    let mine = c.add_reply(reply(&ada, "It is a T14", pb::ReplyVisibility::Public)).await.unwrap().into_inner();
    assert_eq!(mine.ticket.unwrap().version, 2);
    let e = c.add_reply(reply(&ada, "psst", pb::ReplyVisibility::Internal)).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "AGENT_REQUIRED"));
    c.add_reply(reply(&agent, "Internal: warranty until May", pb::ReplyVisibility::Internal)).await.unwrap();
    let events = fx.events().await;
    let replied: Vec<ev::HdtsTicketReplied> = events
        .iter()
        .filter(|e| e.0 == "hdts.ticket.replied")
        .map(|e| e.2.to_msg::<ev::HdtsTicketReplied>().unwrap())
        .collect();
    assert_eq!(replied.len(), 2);
    assert!(replied[0].from_requester && replied[0].public && replied[0].reply_id == mine.reply.unwrap().id);
    assert!(!replied[1].from_requester && !replied[1].public);

    // A public TTS comment arrives twice: one reply. One that came from HDTS is not copied.
    let comment_id = uuid::Uuid::now_v7().to_string();
    apply(&fx, &tts_comment(&ticket.id, 2, &comment_id, "")).await.unwrap();
    apply(&fx, &tts_comment(&ticket.id, 2, &comment_id, "")).await.unwrap();
    apply(&fx, &tts_comment(&ticket.id, 3, &uuid::Uuid::now_v7().to_string(), &replied[0].reply_id)).await.unwrap();
    let list = |who: &map_kit::testing::Caller| who.request(pb::ListRepliesRequest { ticket_id: ticket.id.clone(), ..Default::default() });
    let seen_by_ada: Vec<String> = c.list_replies(list(&ada)).await.unwrap().into_inner().replies.into_iter().map(|r| r.body).collect();
    assert_eq!(seen_by_ada, ["It is a T14", "Which model is it?"], "public replies only, each once, oldest first");
    let seen_by_agent = c.list_replies(list(&agent)).await.unwrap().into_inner().replies;
    assert_eq!(seen_by_agent.len(), 3);
    let bob = fx.person(&[("hdts", "employee")]).await;
    assert_eq!(c.list_replies(list(&bob)).await.unwrap_err().code(), Code::NotFound);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn the_requester_confirms_reopens_within_the_window_or_withdraws() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let agent = fx.person(&[("hdts", "agent")]).await;
    let mut c = fx.client().await;
    let submit = |c: &mut map_contracts::hdts::v1::help_desk_service_client::HelpDeskServiceClient<tonic::transport::Channel>| {
        let mut c = c.clone();
        let req = ada.request(submission(&t));
        async move { c.submit_ticket(req).await.unwrap().into_inner().ticket.unwrap() }
    };
    let id = |t: &pb::Ticket| t.id.clone();
    let request_id = || uuid::Uuid::now_v7().to_string();

    // Not resolved yet: no confirmation, no reopening; a withdrawal works.
    let first = submit(&mut c).await;
    let e = c.confirm_resolution(ada.request(pb::ConfirmResolutionRequest { ticket_id: id(&first), etag: String::new(), request_id: request_id() })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "INVALID_STATUS"));
    let e = c.withdraw_ticket(agent.request(pb::WithdrawTicketRequest { ticket_id: id(&first), reason: String::new(), etag: String::new(), request_id: request_id() })).await.unwrap_err();
    assert_eq!(e.code(), Code::PermissionDenied, "only the requester withdraws");
    let gone = c.withdraw_ticket(ada.request(pb::WithdrawTicketRequest { ticket_id: id(&first), reason: "fixed itself".into(), etag: first.etag.clone(), request_id: request_id() })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(gone.status(), pb::TicketStatus::Withdrawn);

    // Resolved in TTS: confirmed → closed; reopened within 7 days → in progress.
    let second = submit(&mut c).await;
    apply(&fx, &tts_event(&second.id, 5, ev::TtsTicketStatus::Resolved)).await.unwrap();
    let closed = c.confirm_resolution(ada.request(pb::ConfirmResolutionRequest { ticket_id: id(&second), etag: String::new(), request_id: request_id() })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(closed.status(), pb::TicketStatus::Closed);
    fx.clock.advance(std::time::Duration::from_secs(6 * 24 * 3600));
    let reopened = c.reopen_ticket(ada.request(pb::ReopenTicketRequest { ticket_id: id(&second), reason: "Broken again".into(), etag: String::new(), request_id: request_id() })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(reopened.status(), pb::TicketStatus::InProgress);

    // Past the window: refused.
    let third = submit(&mut c).await;
    apply(&fx, &tts_event(&third.id, 5, ev::TtsTicketStatus::Resolved)).await.unwrap();
    fx.clock.advance(std::time::Duration::from_secs(8 * 24 * 3600));
    let e = c.reopen_ticket(ada.request(pb::ReopenTicketRequest { ticket_id: id(&third), reason: "Again".into(), etag: String::new(), request_id: request_id() })).await.unwrap_err();
    assert_eq!(reason(&e), "INVALID_STATUS", "{e:?}");

    let kinds: Vec<String> = fx.events().await.into_iter().map(|e| e.0).filter(|t| !t.ends_with("submitted") && !t.starts_with("hdts.topic")).collect();
    assert_eq!(kinds, ["hdts.ticket.withdrawn", "hdts.ticket.closed", "hdts.ticket.reopened"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_resolved_ticket_is_rated_by_its_requester_and_the_rating_goes_out() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let bob = fx.person(&[("hdts", "employee")]).await;
    let mut c = fx.client().await;
    let ticket = c.submit_ticket(ada.request(submission(&t))).await.unwrap().into_inner().ticket.unwrap();
    let rate = |who: &map_kit::testing::Caller, score: i32| {
        who.request(pb::RateTicketRequest {
            ticket_id: ticket.id.clone(),
            score,
            comment: "quick and kind".into(),
            etag: String::new(),
            request_id: uuid::Uuid::now_v7().to_string(),
        })
    };
    let e = c.rate_ticket(rate(&ada, 5)).await.unwrap_err();
    assert_eq!(reason(&e), "INVALID_STATUS", "not resolved yet");
    apply(&fx, &tts_event(&ticket.id, 4, ev::TtsTicketStatus::Resolved)).await.unwrap();
    assert_eq!(fields(&c.rate_ticket(rate(&ada, 6)).await.unwrap_err()), ["score"]);
    assert_eq!(c.rate_ticket(rate(&bob, 5)).await.unwrap_err().code(), Code::NotFound);
    let rated = c.rate_ticket(rate(&ada, 4)).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(rated.rating.as_ref().map(|r| r.score), Some(4));
    let again = c.rate_ticket(rate(&ada, 5)).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(again.rating.as_ref().map(|r| r.score), Some(5), "rating again replaces it");
    let sent: Vec<ev::HdtsTicketRated> = fx.events().await.into_iter().filter(|e| e.0 == "hdts.ticket.rated").map(|e| e.2.to_msg().unwrap()).collect();
    let scores: Vec<i32> = sent.iter().map(|r| r.ticket.as_ref().unwrap().rating.as_ref().unwrap().score).collect();
    assert_eq!(scores, [4, 5]);
}
}

type Client = pb::help_desk_service_client::HelpDeskServiceClient<tonic::transport::Channel>;

/// Every page of ListTickets from `req` to the last: the numbers, page by
/// page. Asserts every page but the last is full.
async fn ticket_pages(
    c: &mut Client,
    who: &map_kit::testing::Caller,
    mut req: pb::ListTicketsRequest,
) -> Vec<Vec<String>> {
    let size = usize::try_from(req.page_size).unwrap();
    let mut pages: Vec<Vec<String>> = Vec::new();
    loop {
        let page = c
            .list_tickets(who.request(req.clone()))
            .await
            .unwrap()
            .into_inner();
        pages.push(page.tickets.into_iter().map(|t| t.number).collect());
        if page.next_page_token.is_empty() {
            return pages;
        }
        assert_eq!(
            pages.last().unwrap().len(),
            size,
            "a page before the last is full"
        );
        assert!(pages.len() < 100, "paging never ends");
        req.page_token = page.next_page_token;
    }
}

/// Every page of ListReplies from `req` to the last, flattened: the bodies.
async fn reply_bodies(
    c: &mut Client,
    who: &map_kit::testing::Caller,
    mut req: pb::ListRepliesRequest,
) -> Vec<String> {
    let mut bodies = Vec::new();
    for _ in 0..100 {
        let page = c
            .list_replies(who.request(req.clone()))
            .await
            .unwrap()
            .into_inner();
        assert!(page.replies.len() <= usize::try_from(req.page_size).unwrap());
        bodies.extend(page.replies.into_iter().map(|r| r.body));
        if page.next_page_token.is_empty() {
            return bodies;
        }
        req.page_token = page.next_page_token;
    }
    panic!("paging never ends")
}

map_kit::db_tests! {
#[tokio::test]
async fn tickets_list_filtered_and_ordered_page_by_page() {
    use pb::TicketPriority as P;
    let fx = Fixture::start().await;
    let laptops = topic(&fx).await;
    let printers = fx.create(pb::CreateHelpTopicRequest { name: "Printer jam".into(), description: String::new(), department_code: "IT".into(), category: "Hardware".into(), sub_category: "Printer".into(), request_id: uuid::Uuid::now_v7().to_string() }).await.unwrap();
    let ada = fx.person(&[("hdts", "employee")]).await;
    let bob = fx.person(&[("hdts", "employee")]).await;
    let agent = fx.person(&[("hdts", "agent")]).await;
    let bob_id = bob.principal.as_ref().unwrap().id.clone();
    let mut c = fx.client().await;
    // HD-000001..4 by ada about laptops, HD-000005..6 by bob about printers;
    // HD-000002 and HD-000003 at the same instant (a tie on creation time).
    let mut ids = Vec::new();
    for (who, topic, priority, later) in [(&ada, &laptops, P::Low, true), (&ada, &laptops, P::Urgent, true), (&ada, &laptops, P::High, false), (&ada, &laptops, P::Urgent, true), (&bob, &printers, P::Medium, true), (&bob, &printers, P::Urgent, true)] {
        if later {
            fx.clock.advance(std::time::Duration::from_secs(1));
        }
        let req = pb::SubmitTicketRequest { priority: priority.into(), ..submission(topic) };
        ids.push(c.submit_ticket(who.request(req)).await.unwrap().into_inner().ticket.unwrap().id);
    }
    let all: Vec<String> = (1..=6).map(|n| format!("HD-{n:06}")).collect();
    let newest: Vec<String> = all.iter().rev().cloned().collect();
    let list = |order_by: &str| pb::ListTicketsRequest { order_by: order_by.into(), page_size: 2, ..Default::default() };

    assert_eq!(ticket_pages(&mut c, &agent, list("")).await.concat(), newest);
    assert_eq!(ticket_pages(&mut c, &agent, list("create_time desc")).await.concat(), newest);
    assert_eq!(ticket_pages(&mut c, &agent, list("create_time")).await.concat(), all);
    assert_eq!(ticket_pages(&mut c, &agent, list("number")).await.concat(), all);
    let urgent_first = ["HD-000002", "HD-000004", "HD-000006", "HD-000003", "HD-000005", "HD-000001"];
    let pages = ticket_pages(&mut c, &agent, list("priority desc")).await;
    assert_eq!(pages.concat(), urgent_first);
    assert_eq!(pages[1], ["HD-000006", "HD-000003"], "the third urgent ticket opens page two");
    // A reply touches HD-000001 later: it leads by update time.
    fx.clock.advance(std::time::Duration::from_secs(1));
    c.add_reply(agent.request(pb::AddReplyRequest { ticket_id: ids[0].clone(), body: "Looking".into(), visibility: pb::ReplyVisibility::Public.into(), attachments: Vec::new(), request_id: uuid::Uuid::now_v7().to_string() })).await.unwrap();
    let mut updated = vec!["HD-000001".to_owned()];
    updated.extend(newest[..5].iter().cloned());
    assert_eq!(ticket_pages(&mut c, &agent, list("update_time desc")).await.concat(), updated);

    // Filters.
    let filtered = |f: pb::ListTicketsRequest| pb::ListTicketsRequest { page_size: 2, order_by: "number".into(), ..f };
    let cases: Vec<(pb::ListTicketsRequest, Vec<&str>)> = vec![
        (filtered(pb::ListTicketsRequest { requester_user_id: bob_id.clone(), ..Default::default() }), vec!["HD-000005", "HD-000006"]),
        (filtered(pb::ListTicketsRequest { help_topic_id: laptops.id.clone(), ..Default::default() }), vec!["HD-000001", "HD-000002", "HD-000003", "HD-000004"]),
        (filtered(pb::ListTicketsRequest { priorities: vec![P::Urgent.into()], ..Default::default() }), vec!["HD-000002", "HD-000004", "HD-000006"]),
        (filtered(pb::ListTicketsRequest { statuses: vec![pb::TicketStatus::Submitted.into()], department_code: "IT".into(), ..Default::default() }), all.iter().map(String::as_str).collect()),
        (filtered(pb::ListTicketsRequest { statuses: vec![pb::TicketStatus::Closed.into()], ..Default::default() }), vec![]),
        (filtered(pb::ListTicketsRequest { department_code: "HR".into(), ..Default::default() }), vec![]),
    ];
    for (req, want) in cases {
        assert_eq!(ticket_pages(&mut c, &agent, req.clone()).await.concat(), want, "{req:?}");
    }
    // An employee sees their own, in any order and with their own filter.
    assert_eq!(ticket_pages(&mut c, &ada, list("priority desc")).await.concat(), ["HD-000002", "HD-000004", "HD-000003", "HD-000001"]);
    let own = pb::ListTicketsRequest { requester_user_id: ada.principal.as_ref().unwrap().id.clone(), ..list("") };
    assert_eq!(ticket_pages(&mut c, &ada, own).await.concat(), ["HD-000004", "HD-000003", "HD-000002", "HD-000001"]);
    let e = c.list_tickets(ada.request(pb::ListTicketsRequest { requester_user_id: bob_id.clone(), ..list("") })).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "AGENT_REQUIRED"));

    // A token continues only its own listing, for its own caller.
    let first = c.list_tickets(agent.request(list("priority desc"))).await.unwrap().into_inner();
    for (who, req) in [
        (&agent, pb::ListTicketsRequest { page_token: first.next_page_token.clone(), ..list("number") }),
        (&agent, pb::ListTicketsRequest { page_token: first.next_page_token.clone(), priorities: vec![P::Urgent.into()], ..list("priority desc") }),
        (&agent, pb::ListTicketsRequest { page_token: first.next_page_token.clone(), help_topic_id: laptops.id.clone(), ..list("priority desc") }),
        (&ada, pb::ListTicketsRequest { page_token: first.next_page_token.clone(), ..list("priority desc") }),
        (&agent, pb::ListTicketsRequest { page_token: "forged".into(), ..list("priority desc") }),
    ] {
        let e = c.list_tickets(who.request(req)).await.unwrap_err();
        assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["page_token".to_owned()]));
    }
    let e = c.list_tickets(agent.request(list("subject"))).await.unwrap_err();
    assert_eq!(fields(&e), ["order_by"]);
    let e = c.list_tickets(agent.request(pb::ListTicketsRequest { page_size: -1, ..Default::default() })).await.unwrap_err();
    assert_eq!(fields(&e), ["page_size"]);
    let e = c.list_tickets(agent.request(pb::ListTicketsRequest { statuses: vec![0], priorities: vec![9], help_topic_id: "laptops".into(), requester_user_id: "bob".into(), ..Default::default() })).await.unwrap_err();
    assert_eq!(fields(&e), ["statuses[0]", "priorities[0]", "requester_user_id", "help_topic_id"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn replies_page_oldest_or_newest_first() {
    let fx = Fixture::start().await;
    let t = topic(&fx).await;
    let ada = fx.person(&[("hdts", "employee")]).await;
    let agent = fx.person(&[("hdts", "agent")]).await;
    let mut c = fx.client().await;
    let ticket = c.submit_ticket(ada.request(submission(&t))).await.unwrap().into_inner().ticket.unwrap();
    let mut all = Vec::new();
    // Replies 0 and 1 at one instant (a tie on creation time, broken by id).
    for i in 0..5 {
        if i != 1 {
            fx.clock.advance(std::time::Duration::from_secs(1));
        }
        let (who, visibility) = if i % 2 == 0 { (&ada, pb::ReplyVisibility::Public) } else { (&agent, pb::ReplyVisibility::Internal) };
        let body = format!("r{i}");
        c.add_reply(who.request(pb::AddReplyRequest { ticket_id: ticket.id.clone(), body: body.clone(), visibility: visibility.into(), attachments: Vec::new(), request_id: uuid::Uuid::now_v7().to_string() })).await.unwrap();
        all.push(body);
    }
    let list = |order_by: &str| pb::ListRepliesRequest { ticket_id: ticket.id.clone(), page_size: 2, order_by: order_by.into(), ..Default::default() };
    assert_eq!(reply_bodies(&mut c, &agent, list("")).await, all);
    assert_eq!(reply_bodies(&mut c, &agent, list("create_time")).await, all);
    let mut newest = all.clone();
    newest.reverse();
    assert_eq!(reply_bodies(&mut c, &agent, list("create_time desc")).await, newest);
    assert_eq!(reply_bodies(&mut c, &ada, list("create_time desc")).await, ["r4", "r2", "r0"], "employees: public replies only");

    let first = c.list_replies(agent.request(list(""))).await.unwrap().into_inner();
    for (who, req) in [
        (&agent, pb::ListRepliesRequest { page_token: first.next_page_token.clone(), ..list("create_time desc") }),
        (&ada, pb::ListRepliesRequest { page_token: first.next_page_token.clone(), ..list("") }),
    ] {
        let e = c.list_replies(who.request(req)).await.unwrap_err();
        assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["page_token".to_owned()]));
    }
    let e = c.list_replies(agent.request(list("body"))).await.unwrap_err();
    assert_eq!(fields(&e), ["order_by"]);
    let e = c.list_replies(agent.request(pb::ListRepliesRequest { page_size: -2, ..list("") })).await.unwrap_err();
    assert_eq!(fields(&e), ["page_size"]);
}
}
