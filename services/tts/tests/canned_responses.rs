//! CannedResponseService through a real gRPC server, on both databases:
//! managers write a team's responses (a team is a TTS role of Auth; an
//! unknown placeholder is refused by name), agents list and render their
//! teams' ones for a ticket — the requester's name from TTS's directory
//! (or "there"), the ticket's number, the agent's name — and see nothing
//! of other teams; updates and archiving are etag-checked (stale →
//! ABORTED), an archived response is listed only on request and no longer
//! rendered. The policy matrix admits exactly the callers the table names.
#![allow(clippy::unwrap_used)]

mod support;

use map_contracts::tts::v1::{
    self as pb, canned_response_service_client::CannedResponseServiceClient,
};
use map_kit::testing::{Caller, check_policy_matrix, directory::add_person};
use support::{Fixture, fields, reason, support};
use tonic::{Code, transport::Channel};
use tonic_types::StatusExt as _;

type Client = CannedResponseServiceClient<Channel>;

const BODY: &str =
    "Hello {{requester.name}},\n\nyour ticket {{ticket.number}} is fixed.\n\n{{ agent.name }}";

fn draft(team: &str, title: &str, body: &str) -> pb::CreateCannedResponseRequest {
    pb::CreateCannedResponseRequest {
        canned_response: Some(pb::CannedResponse {
            team: team.into(),
            title: title.into(),
            body: body.into(),
            ..Default::default()
        }),
        request_id: uuid::Uuid::now_v7().to_string(),
    }
}

async fn create(
    c: &mut Client,
    who: &Caller,
    team: &str,
    title: &str,
    body: &str,
) -> pb::CannedResponse {
    c.create_canned_response(who.request(draft(team, title, body)))
        .await
        .unwrap()
        .into_inner()
        .canned_response
        .unwrap()
}

/// Every page of ListCannedResponses from `req`, as titles.
async fn titles(
    c: &mut Client,
    who: &Caller,
    mut req: pb::ListCannedResponsesRequest,
) -> Vec<Vec<String>> {
    let mut pages = Vec::new();
    loop {
        let page = c
            .list_canned_responses(who.request(req.clone()))
            .await
            .unwrap()
            .into_inner();
        pages.push(
            page.canned_responses
                .iter()
                .map(|r| r.title.clone())
                .collect(),
        );
        if page.next_page_token.is_empty() {
            return pages;
        }
        assert!(pages.len() < 50, "paging never ends");
        req.page_token = page.next_page_token;
    }
}

/// The descriptions of `status`'s field violations of `field`.
fn said(status: &tonic::Status, field: &str) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| {
            b.field_violations
                .into_iter()
                .filter(|f| f.field == field)
                .map(|f| f.description)
                .collect()
        })
        .unwrap_or_default()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

/// A ticket opened by `agent` for `requester`.
async fn ticket_for(fx: &Fixture, agent: &Caller, requester: &str) -> pb::Ticket {
    let mut c = fx.tickets().await;
    c.create_ticket(agent.request(pb::CreateTicketRequest {
        subject: "VPN drops".into(),
        requester_user_id: requester.into(),
        department_code: "IT".into(),
        category: "Network".into(),
        priority: pb::TicketPriority::Medium.into(),
        request_id: uuid::Uuid::now_v7().to_string(),
        ..Default::default()
    }))
    .await
    .unwrap()
    .into_inner()
    .ticket
    .unwrap()
}

fn render(ticket: &pb::Ticket, response: &pb::CannedResponse) -> pb::RenderCannedResponseRequest {
    pb::RenderCannedResponseRequest {
        ticket_id: ticket.id.clone(),
        canned_response_id: response.id.clone(),
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn managers_write_responses_and_agents_render_them_for_a_ticket() {
    let fx = Fixture::start().await;
    let manager = fx.person(&[("tts", "manager")]).await;
    let ada = fx.auth.person(&[("tts", "agent")]);
    add_person(&fx.db.db, &ada, "IT", "Ada Lovelace").await;
    let grace = fx.auth.person(&[("hdts", "employee")]);
    add_person(&fx.db.db, &grace, "IT", "Grace Hopper").await;
    let grace_id = grace.principal.as_ref().unwrap().id.clone();
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    let mut c = CannedResponseServiceClient::new(fx.server.channel().await);

    let req = draft("tts:agent", "Fixed", BODY);
    let fixed = c.create_canned_response(manager.request(req.clone())).await.unwrap().into_inner().canned_response.unwrap();
    assert_eq!((fixed.team.as_str(), fixed.version, fixed.author_user_id.as_str()), ("tts:agent", 1, manager.principal.as_ref().unwrap().id.as_str()));
    assert!(fixed.archive_time.is_none());
    let again = c.create_canned_response(manager.request(req)).await.unwrap().into_inner().canned_response.unwrap();
    assert_eq!(again, fixed, "a retry creates nothing more");

    // Filled in for the ticket: the requester's and the agent's names from
    // the directory, the ticket's number.
    let ticket = ticket_for(&fx, &ada, &grace_id).await;
    let out = c.render_canned_response(ada.request(render(&ticket, &fixed))).await.unwrap().into_inner();
    assert_eq!(out.body, format!("Hello Grace Hopper,\n\nyour ticket {} is fixed.\n\nAda Lovelace", ticket.number));
    assert!(out.fallbacks.is_empty());
    // A requester the directory does not know reads as "there".
    let stranger = ticket_for(&fx, &ada, &uuid::Uuid::now_v7().to_string()).await;
    let out = c.render_canned_response(ada.request(render(&stranger, &fixed))).await.unwrap().into_inner();
    assert_eq!(out.body, format!("Hello there,\n\nyour ticket {} is fixed.\n\nAda Lovelace", stranger.number));
    assert_eq!(out.fallbacks, ["requester.name"]);
    let missing = pb::RenderCannedResponseRequest { ticket_id: uuid::Uuid::now_v7().to_string(), ..render(&ticket, &fixed) };
    assert_eq!(c.render_canned_response(ada.request(missing)).await.unwrap_err().code(), Code::NotFound);

    // An unknown placeholder is refused by name, and so is a team that is
    // not a role of TTS; nothing is written.
    let e = c.create_canned_response(manager.request(draft("tts:agent", "Oops", "Dear {{requester.email}}, {{ticket.number}}"))).await.unwrap_err();
    assert_eq!((e.code(), fields(&e)), (Code::InvalidArgument, vec!["canned_response.body".to_owned()]));
    assert!(said(&e, "canned_response.body")[0].contains("{{requester.email}}"), "{:?}", said(&e, "canned_response.body"));
    let e = c.create_canned_response(manager.request(draft("tts:network", "Oops", "Hi"))).await.unwrap_err();
    assert_eq!(fields(&e), ["canned_response.team"]);
    let e = c.create_canned_response(manager.request(draft("network", "", ""))).await.unwrap_err();
    assert_eq!(fields(&e), ["canned_response.team", "canned_response.title", "canned_response.body"]);
    let listed = titles(&mut c, &manager, pb::ListCannedResponsesRequest { team: "tts:agent".into(), show_archived: true, ..Default::default() }).await;
    assert_eq!(listed, [vec!["Fixed".to_owned()]], "nothing written");

    // Updates are etag-checked; the body's placeholders are checked again.
    let mut change = fixed.clone();
    change.title = "Fixed for you".into();
    let renamed = c.update_canned_response(manager.request(pb::UpdateCannedResponseRequest { canned_response: Some(change.clone()), update_mask: mask(&["title"]) })).await.unwrap().into_inner().canned_response.unwrap();
    assert_eq!((renamed.title.as_str(), renamed.version, renamed.body.as_str()), ("Fixed for you", 2, BODY));
    assert_ne!(renamed.etag, fixed.etag);
    let stale = c.update_canned_response(manager.request(pb::UpdateCannedResponseRequest { canned_response: Some(change), update_mask: mask(&["title"]) })).await.unwrap_err();
    assert_eq!((stale.code(), reason(&stale).as_str()), (Code::Aborted, "ETAG_MISMATCH"));
    let mut bad = renamed.clone();
    bad.body = "{{ticket.subject}}".into();
    let e = c.update_canned_response(manager.request(pb::UpdateCannedResponseRequest { canned_response: Some(bad), update_mask: mask(&["body"]) })).await.unwrap_err();
    assert_eq!(fields(&e), ["canned_response.body"]);

    // Archived: kept, listed on request, no longer rendered nor updated.
    let stale = c.delete_canned_response(manager.request(pb::DeleteCannedResponseRequest { id: fixed.id.clone(), etag: fixed.etag.clone() })).await.unwrap_err();
    assert_eq!(stale.code(), Code::Aborted);
    let archived = c.delete_canned_response(manager.request(pb::DeleteCannedResponseRequest { id: fixed.id.clone(), etag: renamed.etag.clone() })).await.unwrap().into_inner().canned_response.unwrap();
    assert!(archived.archive_time.is_some());
    assert_eq!(archived.version, 3);
    let again = c.delete_canned_response(manager.request(pb::DeleteCannedResponseRequest { id: fixed.id.clone(), etag: String::new() })).await.unwrap().into_inner().canned_response.unwrap();
    assert_eq!(again, archived);
    assert_eq!(titles(&mut c, &ada, pb::ListCannedResponsesRequest::default()).await, [Vec::<String>::new()]);
    assert_eq!(titles(&mut c, &ada, pb::ListCannedResponsesRequest { show_archived: true, ..Default::default() }).await, [vec!["Fixed for you".to_owned()]]);
    let e = c.render_canned_response(ada.request(render(&ticket, &fixed))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::FailedPrecondition, "CANNED_RESPONSE_ARCHIVED"));
    let e = c.update_canned_response(manager.request(pb::UpdateCannedResponseRequest { canned_response: Some(archived.clone()), update_mask: mask(&["title"]) })).await.unwrap_err();
    assert_eq!(reason(&e), "CANNED_RESPONSE_ARCHIVED");
    let got = c.get_canned_response(ada.request(pb::GetCannedResponseRequest { id: fixed.id.clone() })).await.unwrap().into_inner().canned_response.unwrap();
    assert_eq!(got, archived);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn agents_see_only_their_teams_responses_by_title_page_by_page() {
    let fx = Fixture::start().await;
    let manager = fx.person(&[("tts", "manager")]).await;
    let ada = fx.person(&[("tts", "agent")]).await;
    let ada_id = ada.principal.as_ref().unwrap().id.clone();
    let mut c = CannedResponseServiceClient::new(fx.server.channel().await);
    for title in ["Reset done", "Access granted", "Need more details"] {
        create(&mut c, &manager, "tts:agent", title, "Hello {{requester.name}}").await;
    }
    let escalated = create(&mut c, &manager, "tts:manager", "Escalated", "Escalated to {{agent.name}}").await;

    let agents = ["Access granted", "Need more details", "Reset done"].map(str::to_owned);
    let page = |team: &str, size: i32| pb::ListCannedResponsesRequest { team: team.into(), page_size: size, ..Default::default() };
    // An agent's teams by default, by title, page by page.
    assert_eq!(titles(&mut c, &ada, page("", 2)).await, [agents[..2].to_vec(), agents[2..].to_vec()]);
    assert_eq!(titles(&mut c, &ada, page("tts:agent", 1)).await.concat(), agents);
    // Another team's responses are not theirs to read.
    let e = c.list_canned_responses(ada.request(page("tts:manager", 0))).await.unwrap_err();
    assert_eq!((e.code(), reason(&e).as_str()), (Code::PermissionDenied, "NOT_TEAM_MEMBER"));
    let e = c.get_canned_response(ada.request(pb::GetCannedResponseRequest { id: escalated.id.clone() })).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    let w = fx.create_workflow(support("Default", "", "", "")).await.unwrap();
    fx.publish(&w).await.unwrap();
    fx.turns.set("tts:agent", &[&ada_id]);
    let ticket = ticket_for(&fx, &ada, &ada_id).await;
    let e = c.render_canned_response(ada.request(render(&ticket, &escalated))).await.unwrap_err();
    assert_eq!(e.code(), Code::NotFound);
    // A manager reads their own team by default and any team by name.
    assert_eq!(titles(&mut c, &manager, page("", 0)).await, [vec!["Escalated".to_owned()]]);
    assert_eq!(titles(&mut c, &manager, page("tts:agent", 0)).await.concat(), agents);
    let out = c.render_canned_response(manager.request(render(&ticket, &escalated))).await.unwrap().into_inner();
    let manager_id = manager.principal.as_ref().unwrap().id.clone();
    assert_eq!(out.body, format!("Escalated to {manager_id}"), "the directory's name of the caller");
    // A token is bound to the teams it lists; bad requests name their field.
    let first = c.list_canned_responses(ada.request(page("", 1))).await.unwrap().into_inner();
    let e = c.list_canned_responses(manager.request(pb::ListCannedResponsesRequest { page_token: first.next_page_token, ..page("", 1) })).await.unwrap_err();
    assert_eq!(fields(&e), ["page_token"]);
    let e = c.list_canned_responses(ada.request(pb::ListCannedResponsesRequest { order_by: "create_time".into(), team: "agent".into(), ..Default::default() })).await.unwrap_err();
    assert_eq!(fields(&e), ["order_by", "team"]);
}
}

#[tokio::test]
async fn every_canned_response_rpc_admits_exactly_the_callers_its_policy_names() {
    let fx = Fixture::start().await;
    let callers = fx.policy_callers();
    check_policy_matrix(
        fx.server.channel().await,
        &map_tts::grpc::policy::CANNED_RESPONSE_SERVICE,
        &callers,
    )
    .await;
}
