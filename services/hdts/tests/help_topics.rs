//! Help topics through a real gRPC server on port 0, on both databases:
//! administrators create and change them (etag, request id, unique names),
//! employees see the active ones only, every change enqueues its
//! `hdts.topic.*` event with the whole topic and its version in the same
//! transaction, bad input names every field and writes nothing, and the
//! policy matrix is generated from the table. Callers are validated by the
//! kit's FakeValidator (Auth's stand-in in a system's own tests).
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::{events::v1 as ev, hdts::v1 as pb};
use map_kit::testing::{Caller, check_policy_matrix};
use support::{Fixture, fields, reason};
use tonic::Code;

pub(crate) fn laptops(name: &str) -> pb::CreateHelpTopicRequest {
    pb::CreateHelpTopicRequest {
        name: name.into(),
        description: "Laptop will not start, broken screen, …".into(),
        department_code: "IT".into(),
        category: "Hardware".into(),
        sub_category: "Laptop".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn topics_are_created_changed_and_shown_to_employees_while_active() {
    let fx = Fixture::start().await;
    let topic = fx.create(laptops("Laptop problem")).await.unwrap();
    assert!(topic.active);
    assert_eq!((topic.category.as_str(), topic.sub_category.as_str()), ("Hardware", "Laptop"));
    let mut c = fx.client().await;
    let seen = c
        .get_help_topic(fx.employee.request(pb::GetHelpTopicRequest { help_topic_id: topic.id.clone() }))
        .await
        .unwrap()
        .into_inner()
        .help_topic
        .unwrap();
    assert_eq!(seen, topic);

    // Deactivated: employees no longer see it; staff still do.
    let mut change = topic.clone();
    change.active = false;
    let off = c
        .update_help_topic(fx.admin.request(pb::UpdateHelpTopicRequest {
            help_topic: Some(change.clone()),
            update_mask: Some(prost_types::FieldMask { paths: vec!["active".into()] }),
        }))
        .await
        .unwrap()
        .into_inner()
        .help_topic
        .unwrap();
    assert!(!off.active);
    assert_eq!(off.version, 2);
    let hidden = c
        .get_help_topic(fx.employee.request(pb::GetHelpTopicRequest { help_topic_id: topic.id.clone() }))
        .await
        .unwrap_err();
    assert_eq!(hidden.code(), Code::NotFound);
    let listed = c
        .list_help_topics(fx.employee.request(pb::ListHelpTopicsRequest::default()))
        .await
        .unwrap()
        .into_inner();
    assert!(listed.help_topics.is_empty(), "{listed:?}");
    let all = c
        .list_help_topics(fx.admin.request(pb::ListHelpTopicsRequest { show_inactive: true, ..Default::default() }))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(all.help_topics.len(), 1);
    let refused = c
        .list_help_topics(fx.employee.request(pb::ListHelpTopicsRequest { show_inactive: true, ..Default::default() }))
        .await
        .unwrap_err();
    assert_eq!((refused.code(), reason(&refused).as_str()), (Code::PermissionDenied, "AGENT_REQUIRED"));

    // The etag read before the change is stale.
    let stale = c
        .update_help_topic(fx.admin.request(pb::UpdateHelpTopicRequest {
            help_topic: Some(change),
            update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");

    // Each change enqueued its event with the whole topic and its version.
    let events = fx.events().await;
    let kinds: Vec<(&str, i64)> = events.iter().map(|(t, v, _)| (t.as_str(), *v)).collect();
    assert_eq!(kinds, [("hdts.topic.created", 1), ("hdts.topic.updated", 2)]);
    let updated = events[1].2.to_msg::<ev::HdtsTopicUpdated>().unwrap();
    let snapshot = updated.topic.unwrap();
    assert_eq!((snapshot.id.as_str(), snapshot.version, snapshot.active), (topic.id.as_str(), 2, false));
    assert_eq!(snapshot.sub_category, "Laptop");
    assert_eq!(updated.changed_fields, ["active"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bad_topics_name_every_field_and_change_nothing() {
    let fx = Fixture::start().await;
    let mut bad = laptops(" ");
    bad.category = String::new();
    bad.description = "x".repeat(2001);
    let e = fx.create(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument);
    let got = fields(&e);
    for f in ["name", "description", "sub_category"] {
        assert!(got.contains(&f.to_owned()), "{f} missing from {got:?}");
    }
    let mut elsewhere = laptops("Printers");
    elsewhere.department_code = "NOPE".into();
    let e = fx.create(elsewhere).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    assert!(fx.events().await.is_empty(), "nothing enqueued");

    // Names are unique ignoring case; a retry returns the first topic.
    let req = laptops("Laptop problem");
    let first = fx.create(req.clone()).await.unwrap();
    assert_eq!(fx.create(req).await.unwrap(), first);
    let e = fx.create(laptops("LAPTOP PROBLEM ")).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::AlreadyExists, "HELP_TOPIC_NAME_TAKEN"));
    assert_eq!(fx.events().await.len(), 1, "one topic, one event");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn topics_page_by_name() {
    let fx = Fixture::start().await;
    for name in ["VPN", "access card", "Laptop", "email", "Printer"] {
        fx.create(laptops(name)).await.unwrap();
    }
    let mut c = fx.client().await;
    let (mut names, mut token) = (Vec::new(), String::new());
    loop {
        let page = c
            .list_help_topics(fx.employee.request(pb::ListHelpTopicsRequest { page_size: 2, page_token: token, ..Default::default() }))
            .await
            .unwrap()
            .into_inner();
        names.extend(page.help_topics.into_iter().map(|t| t.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, ["access card", "email", "Laptop", "Printer", "VPN"]);
}
}

#[tokio::test]
async fn every_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = [
        Caller::anonymous(),
        Caller::invalid("stranger", "authorization", "Bearer nobody"),
        fx.employee.clone(),
        fx.auth.person(&[("hdts", "agent")]),
        fx.admin.clone(),
        fx.auth.person(&[("tts", "agent")]),
        fx.auth.api_key(&[("auth", "service")]),
    ];
    check_policy_matrix(
        fx.server.channel().await,
        &map_hdts::grpc::policy::HELP_DESK_SERVICE,
        &callers,
    )
    .await;
}
