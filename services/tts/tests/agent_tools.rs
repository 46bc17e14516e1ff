//! Tags and asset tags on tickets, on both databases: agents set and
//! replace a ticket's tags through UpdateTicket (etag-checked, recorded in
//! the history and in `tts.ticket.updated`'s snapshot), ListTickets finds
//! the tickets having every tag asked for, page by page; a bad tag is
//! refused by its index and writes nothing. The asset tags of a help-desk
//! submission reach the ticket the intake opens, CreateTicket takes them
//! too, and ListTickets filters by one ignoring case.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    events::v1::{self as ev, Envelope},
    tts::v1 as pb,
};
use map_kit::{
    bus::{Event, Handler as _},
    clock::Clock,
    outbox::entity as outbox,
    paging::Pager,
};
use map_tts::{
    entity::tickets,
    tickets::{Tickets, intake::Intake},
};
use prost::Message as _;
use sea_orm::{
    ColumnTrait as _, EntityTrait as _, PaginatorTrait as _, QueryFilter as _, QueryOrder as _,
};
use support::{Fixture, fields, support};
use tonic::Code;

type Client = pb::ticket_service_client::TicketServiceClient<tonic::transport::Channel>;

fn new_ticket(asset_tags: &[&str]) -> pb::CreateTicketRequest {
    pb::CreateTicketRequest {
        subject: "Laptop will not boot".into(),
        description: "Black screen since this morning".into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        priority: pb::TicketPriority::High.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        asset_tags: asset_tags.iter().map(|t| (*t).to_owned()).collect(),
        ..Default::default()
    }
}

fn words(tags: &[&str]) -> Vec<String> {
    tags.iter().map(|t| (*t).to_owned()).collect()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: words(paths),
    })
}

/// The outbox's `tts.ticket.*` payloads of `event_type`, oldest first.
async fn payloads<M: prost::Message + prost::Name + Default>(
    fx: &Fixture,
    event_type: &str,
) -> Vec<M> {
    outbox::Entity::find()
        .filter(outbox::Column::EventType.eq(event_type))
        .order_by_asc(outbox::Column::Seq)
        .all(fx.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|row| {
            ev::Envelope::decode(row.envelope.as_slice())
                .unwrap()
                .payload
                .unwrap()
                .to_msg()
                .unwrap()
        })
        .collect()
}

/// Every page of ListTickets from `req`, as ticket numbers.
async fn pages(
    c: &mut Client,
    who: &map_kit::testing::Caller,
    mut req: pb::ListTicketsRequest,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    loop {
        let page = c
            .list_tickets(who.request(req.clone()))
            .await
            .unwrap()
            .into_inner();
        pages.push(page.tickets.iter().map(|t| t.number.clone()).collect());
        if page.next_page_token.is_empty() {
            return pages;
        }
        assert!(pages.len() < 50, "paging never ends");
        req.page_token = page.next_page_token;
    }
}

fn by_tags(tags: &[&str], page_size: i32) -> pb::ListTicketsRequest {
    pb::ListTicketsRequest {
        tags: words(tags),
        page_size,
        ..Default::default()
    }
}

/// A submission of HDTS ticket `hdts_id` naming `asset_tags`.
fn submitted(hdts_id: &str, asset_tags: &[&str]) -> Event {
    let payload = ev::HdtsTicketSubmitted {
        ticket: Some(ev::HdtsTicketSnapshot {
            id: hdts_id.into(),
            number: "HD-000001".into(),
            requester: Some(ev::UserRef {
                user_id: uuid::Uuid::now_v7().to_string(),
                ..Default::default()
            }),
            subject: "Monitor flickers".into(),
            department_code: "IT".into(),
            category: "Hardware".into(),
            priority: ev::TicketPriority::Medium.into(),
            version: 1,
            asset_tags: words(asset_tags),
            ..Default::default()
        }),
    };
    Event::new(Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: "hdts.ticket.submitted".into(),
        source: "hdts".into(),
        subject: hdts_id.into(),
        subject_version: 1,
        payload: Some(prost_types::Any {
            type_url: <ev::HdtsTicketSubmitted as prost::Name>::type_url(),
            value: payload.encode_to_vec(),
        }),
        ..Default::default()
    })
}

/// Runs `intake` on `e` as the consumer does.
async fn deliver(fx: &Fixture, intake: &Intake, e: &Event) {
    if let Some(prepared) = intake.prepare(e).await.unwrap() {
        e.set_prepared(prepared);
    }
    let txn = fx.db.db.begin_write().await.unwrap();
    intake.handle(e, &txn).await.unwrap();
    txn.commit().await.unwrap();
}

map_kit::db_tests! {
#[tokio::test]
async fn tags_are_set_replaced_recorded_and_filtered_page_by_page() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let mut t = Vec::new();
    for _ in 0..5 {
        t.push(c.create_ticket(ada.request(new_ticket(&[]))).await.unwrap().into_inner().ticket.unwrap());
    }
    assert!(t[0].tags.is_empty());
    let tag = |c: &mut Client, ticket: &pb::Ticket, tags: &[&str]| {
        let mut change = ticket.clone();
        change.tags = words(tags);
        let req = ada.request(pb::UpdateTicketRequest { ticket: Some(change), update_mask: mask(&["tags"]) });
        let mut c = c.clone();
        async move { c.update_ticket(req).await.map(|r| r.into_inner().ticket.unwrap()) }
    };
    let tagged = tag(&mut c, &t[0], &["vip", "network"]).await.unwrap();
    assert_eq!((tagged.tags.clone(), tagged.version), (words(&["network", "vip"]), 2), "shown sorted, a new version");
    tag(&mut c, &t[1], &["network"]).await.unwrap();
    let t2 = tag(&mut c, &t[2], &["network", "vip"]).await.unwrap();
    tag(&mut c, &t[3], &["vip"]).await.unwrap();
    let t4 = tag(&mut c, &t[4], &["network"]).await.unwrap();

    // The whole list is replaced, against the etag read.
    let stale = tag(&mut c, &t[0], &["printer"]).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let replaced = tag(&mut c, &tagged, &["printer", "vip"]).await.unwrap();
    assert_eq!((replaced.tags.clone(), replaced.version), (words(&["printer", "vip"]), 3));
    // The same tags in another order change nothing.
    assert_eq!(tag(&mut c, &t2, &["vip", "network"]).await.unwrap().version, t2.version);
    let history = c.list_ticket_events(ada.request(pb::ListTicketEventsRequest { ticket_id: t[0].id.clone(), ..Default::default() })).await.unwrap().into_inner().events;
    match &history.last().unwrap().details {
        Some(pb::ticket_event::Details::Updated(u)) => assert_eq!(u.changed_fields, ["tags"]),
        other => panic!("{other:?}"),
    }
    let updates: Vec<ev::TtsTicketUpdated> = payloads(&fx, "tts.ticket.updated").await;
    assert_eq!(updates.len(), 6);
    let last = updates.last().unwrap();
    assert_eq!(last.changed_fields, ["tags"]);
    let snapshot = last.ticket.as_ref().unwrap();
    assert_eq!((snapshot.id.as_str(), snapshot.version, snapshot.tags.clone()), (t[0].id.as_str(), 3, words(&["printer", "vip"])));

    // Tickets having every tag asked for, newest first, page by page.
    let n = |i: usize| t[i].number.clone();
    assert_eq!(pages(&mut c, &ada, by_tags(&["network"], 2)).await, [vec![n(4), n(2)], vec![n(1)]]);
    assert_eq!(pages(&mut c, &ada, by_tags(&["vip"], 1)).await, [vec![n(3)], vec![n(2)], vec![n(0)]]);
    assert_eq!(pages(&mut c, &ada, by_tags(&["vip", "network"], 0)).await, [vec![n(2)]]);
    assert_eq!(pages(&mut c, &ada, by_tags(&["printer"], 0)).await, [vec![n(0)]]);
    assert_eq!(pages(&mut c, &ada, by_tags(&["nobody-uses-this"], 0)).await, [Vec::<String>::new()]);
    // Clearing the list takes the ticket out of the filter.
    assert!(tag(&mut c, &t4, &[]).await.unwrap().tags.is_empty());
    assert_eq!(pages(&mut c, &ada, by_tags(&["network"], 0)).await, [vec![n(2), n(1)]]);
    // A page token is bound to its tags.
    let first = c.list_tickets(ada.request(by_tags(&["vip"], 1))).await.unwrap().into_inner();
    let e = c.list_tickets(ada.request(pb::ListTicketsRequest { page_token: first.next_page_token, ..by_tags(&["network"], 1) })).await.unwrap_err();
    assert_eq!(fields(&e), ["page_token"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_bad_tag_is_refused_by_its_index_and_writes_nothing() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = fx.tickets().await;
    let t = c.create_ticket(ada.request(new_ticket(&[]))).await.unwrap().into_inner().ticket.unwrap();
    let mut change = t.clone();
    change.tags = words(&["ok", "Not OK", "ok", &"x".repeat(33)]);
    let e = c.update_ticket(ada.request(pb::UpdateTicketRequest { ticket: Some(change.clone()), update_mask: mask(&["tags"]) })).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["ticket.tags[1]", "ticket.tags[2]", "ticket.tags[3]"]);
    change.tags = (0..21).map(|i| format!("t{i}")).collect();
    let e = c.update_ticket(ada.request(pb::UpdateTicketRequest { ticket: Some(change), update_mask: mask(&["tags"]) })).await.unwrap_err();
    assert_eq!(fields(&e), ["ticket.tags"]);
    let now = c.get_ticket(ada.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(t.id.clone())) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((now.version, now.tags.len()), (1, 0), "nothing written");
    assert!(payloads::<ev::TtsTicketUpdated>(&fx, "tts.ticket.updated").await.is_empty());
    let e = c.list_tickets(ada.request(by_tags(&["fine", "NOPE"], 0))).await.unwrap_err();
    assert_eq!(fields(&e), ["tags[1]"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn asset_tags_of_a_submission_reach_the_ticket_and_filter_the_list() {
    let fx = Fixture::start().await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&ada_id]);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), Pager::random()));
    let mut c = fx.tickets().await;

    // The intake opens the ticket with the submission's asset tags.
    let hdts_id = uuid::Uuid::now_v7().to_string();
    deliver(&fx, &intake, &submitted(&hdts_id, &["LAP-00123", "MON-7.b"])).await;
    let row = tickets::Entity::find().filter(tickets::Column::HdtsTicketId.eq(hdts_id.clone())).one(fx.db.db.conn()).await.unwrap().unwrap();
    let from_hdts = c.get_ticket(ada.request(pb::GetTicketRequest { lookup: Some(pb::get_ticket_request::Lookup::Id(row.id.clone())) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(from_hdts.asset_tags, ["LAP-00123", "MON-7.b"]);
    let created: Vec<ev::TtsTicketCreated> = payloads(&fx, "tts.ticket.created").await;
    assert_eq!(created[0].ticket.as_ref().unwrap().asset_tags, ["LAP-00123", "MON-7.b"]);
    // One that is still not an asset tag is left out, never the submission.
    let odd = uuid::Uuid::now_v7().to_string();
    deliver(&fx, &intake, &submitted(&odd, &["has space", "PRN-9"])).await;
    let odd_row = tickets::Entity::find().filter(tickets::Column::HdtsTicketId.eq(odd)).one(fx.db.db.conn()).await.unwrap().unwrap();
    assert_eq!(odd_row.asset_tags, "PRN-9");

    // Agents name them too, kept as given.
    let same_laptop = c.create_ticket(ada.request(new_ticket(&["lap-00123"]))).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(same_laptop.asset_tags, ["lap-00123"]);
    let printer = c.create_ticket(ada.request(new_ticket(&["PRN-1"]))).await.unwrap().into_inner().ticket.unwrap();

    // The filter ignores case.
    let about = |tag: &str| pb::ListTicketsRequest { asset_tag: tag.into(), page_size: 1, ..Default::default() };
    assert_eq!(pages(&mut c, &ada, about("LAP-00123")).await.concat(), [same_laptop.number.clone(), from_hdts.number.clone()]);
    assert_eq!(pages(&mut c, &ada, about("prn-1")).await.concat(), [printer.number.as_str()]);
    assert!(pages(&mut c, &ada, about("MON-7")).await.concat().is_empty(), "whole tags only");
    let e = c.list_tickets(ada.request(about("no spaces allowed"))).await.unwrap_err();
    assert_eq!(fields(&e), ["asset_tag"]);

    // UpdateTicket replaces them, their filter rows with them.
    let mut change = printer.clone();
    change.asset_tags = words(&["LAP-00123", "PRN-2"]);
    let moved = c.update_ticket(ada.request(pb::UpdateTicketRequest { ticket: Some(change), update_mask: mask(&["asset_tags"]) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!(moved.asset_tags, ["LAP-00123", "PRN-2"]);
    assert!(pages(&mut c, &ada, about("PRN-1")).await.concat().is_empty());
    assert_eq!(pages(&mut c, &ada, about("lap-00123")).await.concat().len(), 3);

    // A bad one is refused by its index; nothing is opened.
    let before = tickets::Entity::find().count(fx.db.db.conn()).await.unwrap();
    let e = c.create_ticket(ada.request(new_ticket(&["LAP-1", "bad tag", "lap-1", &"A".repeat(65)]))).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    assert_eq!(fields(&e), ["asset_tags[1]", "asset_tags[2]", "asset_tags[3]"]);
    let many: Vec<String> = (0..11).map(|i| format!("LAP-{i}")).collect();
    let e = c.create_ticket(ada.request(pb::CreateTicketRequest { asset_tags: many, ..new_ticket(&[]) })).await.unwrap_err();
    assert_eq!(fields(&e), ["asset_tags"]);
    assert_eq!(tickets::Entity::find().count(fx.db.db.conn()).await.unwrap(), before);
}
}
