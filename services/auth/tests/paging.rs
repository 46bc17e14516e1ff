//! Page tokens across replicas: a token minted by one Auth replica is
//! accepted by another configured with the same `MAP_PAGE_TOKEN_KEY`, and
//! refused (INVALID_ARGUMENT naming `page_token`) by one with another key.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use map_auth::Auth;
use map_contracts::auth::v1::{self as pb, admin_service_client::AdminServiceClient};
use map_kit::{paging::Pager, testing::TestServer};
use tonic::{Code, transport::Channel};

/// Another replica of `h`'s Auth: same database and signing keys, the page
/// token pager given.
async fn replica(h: &Harness, pager: Pager) -> TestServer {
    let mut settings = h.auth.settings().clone();
    settings.pager = pager;
    TestServer::start(map_auth::grpc_server(Auth::new(
        h.auth.db().clone(),
        settings,
    )))
    .await
}

async fn roles_page(
    channel: Channel,
    cred: &Cred,
    token: &str,
) -> Result<pb::ListRolesResponse, tonic::Status> {
    AdminServiceClient::new(channel)
        .list_roles(req(
            pb::ListRolesRequest {
                page_size: 3,
                page_token: token.into(),
                system: String::new(),
            },
            cred,
        ))
        .await
        .map(tonic::Response::into_inner)
}

fn names(page: &pb::ListRolesResponse) -> Vec<String> {
    page.roles
        .iter()
        .map(|r| format!("{}:{}", r.system, r.role))
        .collect()
}

map_kit::db_tests! {
#[tokio::test]
async fn a_token_from_one_replica_is_accepted_by_another_with_the_same_key() {
    let h = Harness::with(|s| s.pager = Pager::new(&[42; 32])).await;
    let (_, admin) = h.admin().await;
    let same_key = replica(&h, Pager::new(&[42; 32])).await;
    let other_key = replica(&h, Pager::new(&[43; 32])).await;

    // Walk every role, alternating replicas page by page (the cursor is a
    // typed (system, role) pair).
    let mut seen = Vec::new();
    let mut token = String::new();
    let channels = [h.channel.clone(), same_key.channel().await];
    for turn in 0.. {
        let page = roles_page(channels[turn % 2].clone(), &admin, &token).await.unwrap();
        seen.extend(names(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    let first = roles_page(h.channel.clone(), &admin, "").await.unwrap();
    let mut all = Vec::new();
    let mut t = String::new();
    loop {
        let page = roles_page(h.channel.clone(), &admin, &t).await.unwrap();
        all.extend(names(&page));
        if page.next_page_token.is_empty() {
            break;
        }
        t = page.next_page_token;
    }
    assert!(all.len() > 3, "too few roles to page: {all:?}");
    assert_eq!(seen, all, "the replicas' pages differ from one replica's");

    let refused = roles_page(other_key.channel().await, &admin, &first.next_page_token).await;
    let status = expect_err(refused, Code::InvalidArgument);
    assert_eq!(fields(&status), ["page_token"]);
    // The same replica still serves the first page: nothing else is wrong.
    assert_eq!(
        names(&roles_page(other_key.channel().await, &admin, "").await.unwrap()),
        names(&first)
    );
}
}
