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

use std::sync::Arc;

use map_contracts::tts::v1::{self as pb, workflow_service_client::WorkflowServiceClient};
use map_kit::{
    clock::Clock,
    directory::entity::departments,
    paging::Pager,
    testing::{Caller, FakeValidator, TestDb, TestServer, check_policy_matrix},
};
use map_tts::workflows::{MatchRule, Workflows, roles::FixedRoles};
use sea_orm::{ActiveModelTrait as _, ActiveValue::Set, EntityTrait as _, PaginatorTrait as _};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt as _;

struct Fixture {
    db: TestDb,
    server: TestServer,
    auth: FakeValidator,
    admin: Caller,
}

impl Fixture {
    async fn start() -> Fixture {
        let db = TestDb::new::<map_migrations::tts::Migrator>().await;
        departments::ActiveModel {
            code: Set("IT".into()),
            name: Set("IT".into()),
            active: Set(true),
            version: Set(1),
            updated_at: Set(chrono::Utc::now()),
        }
        .insert(db.db.conn())
        .await
        .unwrap();
        let auth = FakeValidator::default();
        let admin = auth.person(&[("tts", "admin")]);
        let workflows = Workflows::new(
            db.db.clone(),
            Arc::new(FixedRoles::seeded()),
            Clock::system(),
            Pager::random(),
        );
        let server =
            TestServer::start(map_tts::grpc_server(workflows, Arc::new(auth.clone()))).await;
        Fixture {
            db,
            server,
            auth,
            admin,
        }
    }

    async fn client(&self) -> WorkflowServiceClient<Channel> {
        WorkflowServiceClient::new(self.server.channel().await)
    }

    async fn create(&self, req: pb::CreateWorkflowRequest) -> Result<pb::Workflow, tonic::Status> {
        let mut c = self.client().await;
        Ok(c.create_workflow(self.admin.request(req))
            .await?
            .into_inner()
            .workflow
            .unwrap())
    }

    async fn publish(&self, w: &pb::Workflow) -> Result<pb::Workflow, tonic::Status> {
        let mut c = self.client().await;
        Ok(
            c.publish_workflow(self.admin.request(pb::PublishWorkflowRequest {
                workflow_id: w.id.clone(),
                revision: w.revision,
                etag: w.etag.clone(),
                request_id: uuid::Uuid::now_v7().to_string(),
            }))
            .await?
            .into_inner()
            .workflow
            .unwrap(),
        )
    }

    async fn rows(&self) -> u64 {
        map_tts::entity::workflows::Entity::find()
            .count(self.db.db.conn())
            .await
            .unwrap()
    }
}

fn step(id: &str, status: pb::TicketStatus, end: bool) -> pb::WorkflowStep {
    pb::WorkflowStep {
        id: id.into(),
        name: id.into(),
        role: "tts:agent".into(),
        escalation_role: "tts:manager".into(),
        sla: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        ticket_status: status.into(),
        end,
        weight: 0,
    }
}

fn go(
    from: &str,
    to: &str,
    action: &str,
    trigger: pb::TransitionTrigger,
) -> pb::WorkflowTransition {
    pb::WorkflowTransition {
        from_step_id: from.into(),
        to_step_id: to.into(),
        action: action.into(),
        name: action.into(),
        requires_comment: true,
        trigger: trigger.into(),
    }
}

/// work ⇄ waiting (a reply brings it back) → resolved (a reopen brings it back).
fn support(name: &str, department: &str, category: &str, sub: &str) -> pb::CreateWorkflowRequest {
    use pb::{TicketStatus as S, TransitionTrigger as T};
    pb::CreateWorkflowRequest {
        name: name.into(),
        description: "Desk support".into(),
        department_code: department.into(),
        category: category.into(),
        sub_category: sub.into(),
        steps: vec![
            step("work", S::InProgress, false),
            step("waiting", S::WaitingOnRequester, false),
            step("resolved", S::Resolved, true),
        ],
        transitions: vec![
            go("work", "waiting", "ask_requester", T::Manual),
            go("waiting", "work", "requester_replied", T::RequesterReplied),
            go("work", "resolved", "resolve", T::Manual),
            go("resolved", "work", "reopened", T::Reopened),
        ],
        initial_step_id: "work".into(),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

fn fields(s: &tonic::Status) -> Vec<String> {
    s.get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

fn reason(s: &tonic::Status) -> String {
    s.get_details_error_info()
        .map(|i| i.reason)
        .unwrap_or_default()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_workflow_is_drafted_revised_published_and_archived() {
    let fx = Fixture::start().await;
    let created = fx.create(support("Desk", "IT", "Hardware", "")).await.unwrap();
    assert_eq!(created.revision, 1);
    assert_eq!(created.state(), pb::WorkflowState::Draft);
    assert_eq!(created.transitions[1].trigger(), pb::TransitionTrigger::RequesterReplied);
    assert!(created.steps[2].end);

    // A revision: the name changes, revision 1 stays as it was.
    let mut c = fx.client().await;
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
    let e = fx.create(bad).await.unwrap_err();
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
    assert_eq!(fx.rows().await, 0, "nothing written");

    // An unknown department is NOT_FOUND; a malformed request id names it.
    let e = fx.create(support("Desk", "NOPE", "", "")).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound, "{e:?}");
    let mut no_id = support("Desk", "", "", "");
    no_id.request_id = "twelve".into();
    let e = fx.create(no_id).await.unwrap_err();
    assert_eq!(fields(&e), ["request_id"]);
    assert_eq!(fx.rows().await, 0, "nothing written");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_retried_create_returns_the_first_workflow_and_names_stay_unique() {
    let fx = Fixture::start().await;
    let req = support("Desk", "", "", "");
    let first = fx.create(req.clone()).await.unwrap();
    let retry = fx.create(req.clone()).await.unwrap();
    assert_eq!(first, retry, "the first answer, again");
    assert_eq!(fx.rows().await, 1);
    let mut changed = req.clone();
    changed.description = "changed".into();
    let e = fx.create(changed).await.unwrap_err();
    assert_eq!(fields(&e), ["request_id"]);
    let e = fx.create(support(" DESK ", "", "", "")).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::AlreadyExists, "WORKFLOW_NAME_TAKEN"));
}
}

map_kit::db_tests! {
#[tokio::test]
async fn one_workflow_is_published_per_selector_even_when_publishes_race() {
    let fx = Fixture::start().await;
    let a = fx.create(support("A", "IT", "Hardware", "")).await.unwrap();
    let b = fx.create(support("B", "IT", "Hardware", "")).await.unwrap();
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
        let w = fx.create(support(name, d, c, s)).await.unwrap();
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
        fx.create(support(name, "", "", "")).await.unwrap();
    }
    let mut c = fx.client().await;
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
