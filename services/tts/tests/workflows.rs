//! WorkflowService through a real gRPC server on port 0, on both databases:
//! create → update (a new revision) → publish → archive, with etags and
//! request ids; every violation of a bad workflow listed at once and
//! nothing written; one published workflow per selector, also when two
//! publishes race; matching from the most specific selector down to the
//! default; the policy matrix generated from the table. Callers are
//! validated by the kit's FakeValidator (Auth's stand-in in a system's own
//! tests); Auth's roles of TTS are a fixed list here (the chart's run test
//! uses the real Auth).
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::tts::v1 as pb;
use map_kit::testing::{Caller, check_policy_matrix};
use map_tts::workflows::{MatchRule, Workflows};
use sea_orm::{EntityTrait as _, PaginatorTrait as _};
use support::{Fixture, fields, go, reason, step, support};
use tonic::Code;

async fn rows(fx: &Fixture) -> u64 {
    map_tts::entity::workflows::Entity::find()
        .count(fx.db.db.conn())
        .await
        .unwrap()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_workflow_is_drafted_revised_published_and_archived() {
    let fx = Fixture::start().await;
    let created = fx.create_workflow(support("Desk", "IT", "Hardware", "")).await.unwrap();
    assert_eq!(created.revision, 1);
    assert_eq!(created.state(), pb::WorkflowState::Draft);
    assert_eq!(created.transitions[1].trigger(), pb::TransitionTrigger::RequesterReplied);
    assert!(created.steps[2].end);

    // A revision: the name changes, revision 1 stays as it was.
    let mut c = fx.workflows().await;
    let mut edit = created.clone();
    edit.name = "Desk support".into();
    let revised = c
        .update_workflow(fx.admin.request(pb::UpdateWorkflowRequest {
            workflow: Some(edit.clone()),
            update_mask: Some(prost_types::FieldMask { paths: vec!["name".into()] }),
        }))
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!((revised.revision, revised.name.as_str()), (2, "Desk support"));
    assert_ne!(revised.etag, created.etag);
    // The etag read before the revision is stale now.
    let stale = c
        .update_workflow(fx.admin.request(pb::UpdateWorkflowRequest {
            workflow: Some(edit),
            update_mask: Some(prost_types::FieldMask { paths: vec!["description".into()] }),
        }))
        .await
        .unwrap_err();
    assert_eq!(stale.code(), Code::Aborted, "{stale:?}");
    let first = c
        .get_workflow(fx.admin.request(pb::GetWorkflowRequest { workflow_id: created.id.clone(), revision: 1 }))
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(first.name, "Desk");

    let published = fx.publish(&revised).await.unwrap();
    assert_eq!(published.state(), pb::WorkflowState::Published);
    assert!(published.publish_time.is_some());
    let (chosen, rule) = Workflows::select(fx.db.db.conn(), "IT", "Hardware", "Laptops")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((chosen.workflow_id.as_str(), chosen.revision, rule), (created.id.as_str(), 2, MatchRule::Category));
    // Publishing it again: not a draft any more.
    let again = fx.publish(&published).await.unwrap_err();
    assert_eq!((again.code(), reason(&again).as_str()), (Code::FailedPrecondition, "NOT_DRAFT"));

    let archived = c
        .archive_workflow(fx.admin.request(pb::ArchiveWorkflowRequest { workflow_id: created.id.clone(), etag: published.etag.clone() }))
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(archived.state(), pb::WorkflowState::Archived);
    assert!(Workflows::select(fx.db.db.conn(), "IT", "Hardware", "").await.unwrap().is_none());
    // Archiving again changes nothing, whatever the etag.
    let twice = c
        .archive_workflow(fx.admin.request(pb::ArchiveWorkflowRequest { workflow_id: created.id.clone(), etag: published.etag }))
        .await
        .unwrap()
        .into_inner()
        .workflow
        .unwrap();
    assert_eq!(twice.version, archived.version);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_bad_workflow_gets_every_violation_at_once_and_nothing_is_written() {
    let fx = Fixture::start().await;
    let mut bad = support("", "IT", "", "Laptops");
    bad.steps[0].role = "tts:nobody".into();
    bad.steps[1].ticket_status = pb::TicketStatus::Cancelled.into();
    bad.steps.push(step("orphan", pb::TicketStatus::OnHold, false));
    bad.transitions.push(go("waiting", "resolved", "replied_again", pb::TransitionTrigger::RequesterReplied));
    bad.transitions.push(go("work", "nowhere", "vanish", pb::TransitionTrigger::Manual));
    let e = fx.create_workflow(bad).await.unwrap_err();
    assert_eq!(e.code(), Code::InvalidArgument, "{e:?}");
    let got = fields(&e);
    for expected in [
        "name",
        "sub_category",
        "steps[0].role",
        "steps[1].ticket_status",
        "steps[3].id",
        "transitions[4].trigger",
        "transitions[5].to_step_id",
    ] {
        assert!(got.contains(&expected.to_owned()), "{expected} missing from {got:?}");
    }
    assert_eq!(rows(&fx).await, 0, "nothing written");

    // An unknown department is NOT_FOUND; a malformed request id names it.
    let e = fx.create_workflow(support("Desk", "NOPE", "", "")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let mut no_id = support("Desk", "", "", "");
    no_id.request_id = "twelve".into();
    let e = fx.create_workflow(no_id).await.unwrap_err();
    assert_eq!(fields(&e), ["request_id"]);
    assert_eq!(rows(&fx).await, 0, "nothing written");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_retried_create_returns_the_first_workflow_and_names_stay_unique() {
    let fx = Fixture::start().await;
    let req = support("Desk", "", "", "");
    let first = fx.create_workflow(req.clone()).await.unwrap();
    let retry = fx.create_workflow(req.clone()).await.unwrap();
    assert_eq!(first, retry, "the first answer, again");
    assert_eq!(rows(&fx).await, 1);
    let mut changed = req.clone();
    changed.description = "changed".into();
    let e = fx.create_workflow(changed).await.unwrap_err();
    assert_eq!(fields(&e), ["request_id"]);
    let e = fx.create_workflow(support(" DESK ", "", "", "")).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::AlreadyExists, "WORKFLOW_NAME_TAKEN"));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn one_workflow_is_published_per_selector_even_when_publishes_race() {
    let fx = Fixture::start().await;
    let a = fx.create_workflow(support("A", "IT", "Hardware", "")).await.unwrap();
    let b = fx.create_workflow(support("B", "IT", "Hardware", "")).await.unwrap();
    let (ra, rb) = tokio::join!(fx.publish(&a), fx.publish(&b));
    let won = [ra.is_ok(), rb.is_ok()];
    assert_eq!(won.iter().filter(|w| **w).count(), 1, "{ra:?} {rb:?}");
    let lost = ra.err().or(rb.err()).unwrap();
    assert_eq!((lost.code(), reason(&lost).as_str()), (Code::FailedPrecondition, "SELECTOR_IN_USE"), "{lost:?}");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn matching_goes_from_the_most_specific_selector_down_to_the_default() {
    let fx = Fixture::start().await;
    for (name, d, c, s) in [
        ("laptops", "IT", "Hardware", "Laptops"),
        ("it hardware", "IT", "Hardware", ""),
        ("any hardware", "", "Hardware", ""),
        ("default", "", "", ""),
    ] {
        let w = fx.create_workflow(support(name, d, c, s)).await.unwrap();
        fx.publish(&w).await.unwrap();
    }
    let name = |r: Option<(map_tts::workflows::model::Revision, MatchRule)>| {
        r.map(|(w, rule)| (w.definition.name, rule)).unwrap()
    };
    let conn = fx.db.db.conn();
    for (d, c, s, expected, rule) in [
        ("IT", "Hardware", "Laptops", "laptops", MatchRule::SubCategory),
        ("IT", "Hardware", "Printers", "it hardware", MatchRule::Category),
        ("HR", "Hardware", "Laptops", "any hardware", MatchRule::CategoryAnyDepartment),
        ("IT", "Access", "", "default", MatchRule::Default),
        ("", "", "", "default", MatchRule::Default),
    ] {
        let got = name(Workflows::select(conn, d, c, s).await.unwrap());
        assert_eq!(got, (expected.to_owned(), rule), "{d}/{c}/{s}");
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn listing_pages_through_the_latest_revisions_by_name() {
    let fx = Fixture::start().await;
    for name in ["c", "a", "e", "b", "d"] {
        fx.create_workflow(support(name, "", "", "")).await.unwrap();
    }
    let mut c = fx.workflows().await;
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = c
            .list_workflows(fx.admin.request(pb::ListWorkflowsRequest { page_size: 2, page_token: token, ..Default::default() }))
            .await
            .unwrap()
            .into_inner();
        assert!(page.workflows.len() <= 2);
        names.extend(page.workflows.into_iter().map(|w| w.name));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(names, ["a", "b", "c", "d", "e"]);
    let e = c
        .list_workflows(fx.admin.request(pb::ListWorkflowsRequest { order_by: "priority".into(), ..Default::default() }))
        .await
        .unwrap_err();
    assert_eq!(fields(&e), ["order_by"]);
}
}

#[tokio::test]
async fn every_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = [
        Caller::anonymous(),
        Caller::invalid("stranger", "authorization", "Bearer nobody"),
        fx.auth.person(&[("tts", "agent")]),
        fx.auth.person(&[("tts", "manager")]),
        fx.admin.clone(),
        fx.auth.person(&[("hdts", "employee")]),
        fx.auth.api_key(&[("auth", "service")]),
    ];
    check_policy_matrix(
        fx.server.channel().await,
        &map_tts::grpc::policy::WORKFLOW_SERVICE,
        &callers,
    )
    .await;
}
