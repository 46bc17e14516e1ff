//! TTS's copy of HDTS's help topics, on both databases: the `tts.catalog-sync`
//! handler applies `hdts.topic.*` newer-only (late and repeated events change
//! nothing, unknown types are ignored); publishing a workflow names the
//! active topics its selector receives (none for a mistyped category); a
//! submission keeps its topic (filterable) and, routed nowhere, is triaged
//! with the topic's name; UpdateTicket moves a ticket to another topic with
//! the topic's routing fields.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{
    events::v1::{self as ev, Envelope},
    tts::v1 as pb,
};
use map_kit::{
    bus::{Event, Handler as _},
    clock::Clock,
};
use map_tts::{
    entity::help_topics,
    tickets::{Tickets, intake::Intake},
    topics::TopicSync,
};
use sea_orm::EntityTrait as _;
use support::{Fixture, fields, support};
use tonic::Code;

fn event<M: prost::Name>(event_type: &str, subject: &str, version: i64, payload: &M) -> Event {
    Event::new(Envelope {
        id: uuid::Uuid::now_v7().to_string(),
        r#type: event_type.into(),
        source: "hdts".into(),
        subject: subject.into(),
        subject_version: version,
        payload: Some(prost_types::Any {
            type_url: M::type_url(),
            value: prost::Message::encode_to_vec(payload),
        }),
        ..Default::default()
    })
}

fn topic(
    id: &str,
    name: &str,
    category: &str,
    sub: &str,
    active: bool,
    version: i64,
) -> ev::HdtsHelpTopicSnapshot {
    ev::HdtsHelpTopicSnapshot {
        id: id.into(),
        name: name.into(),
        department_code: "IT".into(),
        category: category.into(),
        sub_category: sub.into(),
        active,
        version,
        update_time: None,
    }
}

fn created(t: ev::HdtsHelpTopicSnapshot) -> Event {
    event(
        "hdts.topic.created",
        &t.id.clone(),
        t.version,
        &ev::HdtsTopicCreated { topic: Some(t) },
    )
}

fn updated(t: ev::HdtsHelpTopicSnapshot) -> Event {
    event(
        "hdts.topic.updated",
        &t.id.clone(),
        t.version,
        &ev::HdtsTopicUpdated {
            topic: Some(t),
            changed_fields: vec!["name".into()],
        },
    )
}

/// Applies `e` as the consumer does, in a transaction it commits.
async fn sync(fx: &Fixture, e: &Event) {
    let txn = fx.db.db.begin_write().await.unwrap();
    TopicSync.handle(e, &txn).await.unwrap();
    txn.commit().await.unwrap();
}

async fn held(fx: &Fixture, id: &str) -> Option<help_topics::Model> {
    help_topics::Entity::find_by_id(id.to_owned())
        .one(fx.db.db.conn())
        .await
        .unwrap()
}

map_kit::db_tests! {
#[tokio::test]
async fn the_catalogue_copy_keeps_the_newest_version_of_each_topic() {
    let fx = Fixture::start().await;
    let id = uuid::Uuid::now_v7().to_string();
    // The update arrives before the creation; the creation, older, is ignored.
    sync(&fx, &updated(topic(&id, "Laptop problem", "Hardware", "Laptop", true, 2))).await;
    sync(&fx, &created(topic(&id, "Laptop", "Hardware", "", true, 1))).await;
    let t = held(&fx, &id).await.unwrap();
    assert_eq!((t.name.as_str(), t.sub_category.as_str(), t.version), ("Laptop problem", "Laptop", 2));
    // The same version again changes nothing; a newer one replaces it.
    sync(&fx, &updated(topic(&id, "Renamed at the same version", "Hardware", "Laptop", true, 2))).await;
    assert_eq!(held(&fx, &id).await.unwrap().name, "Laptop problem");
    sync(&fx, &updated(topic(&id, "Laptop problem", "Hardware", "Laptop", false, 3))).await;
    assert!(!held(&fx, &id).await.unwrap().active);
    // An event type it does not know is ignored.
    sync(&fx, &event("hdts.topic.levitated", &id, 9, &ev::HdtsTopicCreated::default())).await;
    assert_eq!(held(&fx, &id).await.unwrap().version, 3);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn publishing_names_the_active_topics_a_workflow_receives() {
    let fx = Fixture::start().await;
    let laptop = uuid::Uuid::now_v7().to_string();
    let printer = uuid::Uuid::now_v7().to_string();
    let retired = uuid::Uuid::now_v7().to_string();
    sync(&fx, &created(topic(&laptop, "Laptop problem", "Hardware", "Laptop", true, 1))).await;
    sync(&fx, &created(topic(&printer, "Printer jam", "Hardware", "Printer", true, 1))).await;
    sync(&fx, &created(topic(&retired, "Fax", "Hardware", "Fax", false, 1))).await;
    let publish = |w: pb::Workflow| {
        let fx = &fx;
        async move {
            let mut c = fx.workflows().await;
            c.publish_workflow(fx.admin.request(pb::PublishWorkflowRequest {
                workflow_id: w.id,
                revision: w.revision,
                etag: w.etag,
                request_id: uuid::Uuid::now_v7().to_string(),
            }))
            .await
            .unwrap()
            .into_inner()
            .matched_help_topics
            .into_iter()
            .map(|t| t.name)
            .collect::<Vec<_>>()
        }
    };
    let hardware = fx.create_workflow(support("Hardware", "IT", "Hardware", "")).await.unwrap();
    assert_eq!(publish(hardware).await, ["Laptop problem", "Printer jam"], "the inactive topic is left out");
    let laptops = fx.create_workflow(support("Laptops", "IT", "Hardware", "Laptop")).await.unwrap();
    assert_eq!(publish(laptops).await, ["Laptop problem"]);
    // A mistyped category receives nothing through a topic: said, not refused.
    let typo = fx.create_workflow(support("Typo", "IT", "Hardwre", "")).await.unwrap();
    assert!(publish(typo).await.is_empty());
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_ticket_keeps_its_topic_and_moves_to_another_with_its_routing() {
    let fx = Fixture::start().await;
    let agent = fx.person(&[("tts", "agent")]).await;
    let agent_id = agent.principal.as_ref().unwrap().id.clone();
    fx.turns.set("tts:agent", &[&agent_id]);
    let laptop = uuid::Uuid::now_v7().to_string();
    let network = uuid::Uuid::now_v7().to_string();
    sync(&fx, &created(topic(&laptop, "Laptop problem", "Hardware", "Laptop", true, 1))).await;
    sync(&fx, &created(topic(&network, "No network", "Network", "Wi-Fi", true, 1))).await;
    let intake = Intake::new(Tickets::new(fx.db.db.clone(), fx.turns.clone(), Clock::system(), map_kit::paging::Pager::random()));
    let submit = |topic: &str, category: &str| {
        let hdts_id = uuid::Uuid::now_v7().to_string();
        let e = event("hdts.ticket.submitted", &hdts_id, 1, &ev::HdtsTicketSubmitted {
            ticket: Some(ev::HdtsTicketSnapshot {
                id: hdts_id.clone(),
                number: "HD-000001".into(),
                requester: Some(ev::UserRef { user_id: uuid::Uuid::now_v7().to_string(), ..Default::default() }),
                subject: "Help".into(),
                department_code: "IT".into(),
                category: category.into(),
                priority: ev::TicketPriority::Medium.into(),
                version: 1,
                help_topic_id: topic.into(),
                ..Default::default()
            }),
        });
        (hdts_id, e)
    };
    // No workflow published: triage, and the reason names the topic.
    let (_, first) = submit(&laptop, "Hardware");
    if let Some(p) = intake.prepare(&first).await.unwrap() { first.set_prepared(p); }
    let txn = fx.db.db.begin_write().await.unwrap();
    intake.handle(&first, &txn).await.unwrap();
    txn.commit().await.unwrap();
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let (_, second) = submit(&network, "Network");
    if let Some(p) = intake.prepare(&second).await.unwrap() { second.set_prepared(p); }
    let txn = fx.db.db.begin_write().await.unwrap();
    intake.handle(&second, &txn).await.unwrap();
    txn.commit().await.unwrap();

    let mut c = fx.tickets().await;
    let by_topic = |topic: &str| pb::ListTicketsRequest { help_topic_id: topic.into(), ..Default::default() };
    let triaged = c.list_tickets(fx.admin.request(by_topic(&laptop))).await.unwrap().into_inner().tickets;
    assert_eq!(triaged.len(), 1);
    assert_eq!(triaged[0].status(), pb::TicketStatus::Triage);
    assert!(triaged[0].triage_reason.starts_with("help topic \"Laptop problem\": no published workflow"), "{}", triaged[0].triage_reason);
    let networked = c.list_tickets(fx.admin.request(by_topic(&network))).await.unwrap().into_inner().tickets;
    assert_eq!(networked.len(), 1);
    let t = networked[0].clone();
    assert_eq!((t.help_topic_id.as_str(), t.assignee_user_id.as_str()), (network.as_str(), agent_id.as_str()));

    // The agent moves it to the laptop topic: category and sub-category follow.
    let mask = |paths: &[&str]| Some(prost_types::FieldMask { paths: paths.iter().map(|p| (*p).to_owned()).collect() });
    let mut change = t.clone();
    change.help_topic_id = laptop.clone();
    let e = c.update_ticket(agent.request(pb::UpdateTicketRequest { ticket: Some(change.clone()), update_mask: mask(&["help_topic_id", "category"]) })).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["update_mask".to_owned()]));
    let mut unknown = change.clone();
    unknown.help_topic_id = uuid::Uuid::now_v7().to_string();
    let e = c.update_ticket(agent.request(pb::UpdateTicketRequest { ticket: Some(unknown), update_mask: mask(&["help_topic_id"]) })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let moved = c.update_ticket(agent.request(pb::UpdateTicketRequest { ticket: Some(change), update_mask: mask(&["help_topic_id"]) })).await.unwrap().into_inner().ticket.unwrap();
    assert_eq!((moved.help_topic_id.as_str(), moved.category.as_str(), moved.sub_category.as_str(), moved.version), (laptop.as_str(), "Hardware", "Laptop", t.version + 1));
    let now_laptop = c.list_tickets(fx.admin.request(by_topic(&laptop))).await.unwrap().into_inner().tickets;
    assert_eq!(now_laptop.len(), 2);
    assert!(c.list_tickets(fx.admin.request(by_topic(&network))).await.unwrap().into_inner().tickets.is_empty());
}
}
