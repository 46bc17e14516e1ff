//! NextAssignee: exactly fair under concurrency, skips inactive users,
//! answers FAILED_PRECONDITION when nobody is eligible.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::HashMap;

use common::*;
use map_contracts::auth::v1::{self as pb, auth_service_client::AuthServiceClient};
use tonic::Code;

fn next(system: &str, role: &str) -> pb::NextAssigneeRequest {
    pb::NextAssigneeRequest {
        system: system.into(),
        role: role.into(),
        request_key: String::new(),
    }
}

fn keyed(system: &str, role: &str, request_key: &str) -> pb::NextAssigneeRequest {
    pb::NextAssigneeRequest {
        request_key: request_key.into(),
        ..next(system, role)
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn two_hundred_concurrent_calls_over_four_agents_give_fifty_each() {
    let h = Harness::start().await;
    let key = h.api_key("tts", &[("auth", "service")]).await;
    let mut agents = Vec::new();
    for i in 0..4 {
        agents.push(
            h.user(&format!("agent{i}@example.com"), &[("tts", "agent")])
                .await
                .id,
        );
    }
    // Not eligible: another role, and a deactivated agent.
    h.user("manager@example.com", &[("tts", "manager")]).await;
    let gone = h.user("gone@example.com", &[("tts", "agent")]).await;
    h.auth.deactivate_user(None, &gone.id).await.unwrap();

    // Several connections, as several replicas of a caller would use.
    let mut channels = Vec::new();
    for _ in 0..4 {
        channels.push(h.server.channel().await);
    }
    let calls = (0..200).map(|i| {
        let mut client = AuthServiceClient::new(channels[i % channels.len()].clone());
        let key = key.clone();
        async move {
            client
                .next_assignee(req(next("tts", "agent"), &key))
                .await
                .map(|r| r.into_inner().user.unwrap().id)
        }
    });
    let picked = futures::future::join_all(calls).await;
    let mut counts: HashMap<String, usize> = HashMap::new();
    for p in picked {
        *counts.entry(p.unwrap()).or_default() += 1;
    }
    assert_eq!(counts.len(), 4, "{counts:?}");
    for agent in &agents {
        assert_eq!(counts.get(agent), Some(&50), "{counts:?}");
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn turns_follow_user_id_order_and_survive_a_restart() {
    let h = Harness::start().await;
    let key = h.api_key("tts", &[("auth", "service")]).await;
    let a = h.user("a@example.com", &[("hdts", "agent")]).await.id;
    let b = h.user("b@example.com", &[("hdts", "agent")]).await.id;
    let mut c = h.client();
    let mut order = Vec::new();
    for _ in 0..3 {
        order.push(
            c.next_assignee(req(next("hdts", "agent"), &key))
                .await
                .unwrap()
                .into_inner()
                .user
                .unwrap()
                .id,
        );
    }
    assert_eq!(order, [a.clone(), b.clone(), a.clone()]);
    // A second Auth over the same database (a restart, or another replica)
    // continues where the cursor is.
    let other = map_auth::Auth::new(h.db.db.clone(), h.auth.settings().clone());
    let then = other.next_assignee(role("hdts", "agent"), "").await.unwrap();
    assert_eq!(then.id, b);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn nobody_eligible_or_unknown_role() {
    let h = Harness::start().await;
    let key = h.api_key("tts", &[("auth", "service")]).await;
    let mut c = h.client();
    let s = expect_err(
        c.next_assignee(req(next("bms", "approver"), &key)).await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&s), "NO_ELIGIBLE_ASSIGNEE");
    let s = expect_err(
        c.next_assignee(req(next("tts", "wizard"), &key)).await,
        Code::NotFound,
    );
    assert!(s.message().contains("role"), "{s:?}");
    let s = expect_err(
        c.next_assignee(req(next("", ""), &key)).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["system", "role"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_retried_request_key_gets_the_same_assignee() {
    let h = Harness::start().await;
    let key = h.api_key("tts", &[("auth", "service")]).await;
    let a = h.user("a@example.com", &[("tts", "agent")]).await.id;
    let b = h.user("b@example.com", &[("tts", "agent")]).await.id;
    let mut c = h.client();
    let mut pick = async |request: pb::NextAssigneeRequest| {
        c.next_assignee(req(request, &key))
            .await
            .map(|r| r.into_inner().user.unwrap().id)
    };
    assert_eq!(pick(keyed("tts", "agent", "ticket-1")).await.unwrap(), a);
    // Retries (a redelivered event, a timed-out call) take no new turn.
    for _ in 0..3 {
        assert_eq!(pick(keyed("tts", "agent", "ticket-1")).await.unwrap(), a);
    }
    assert_eq!(pick(keyed("tts", "agent", "ticket-2")).await.unwrap(), b);
    assert_eq!(pick(next("tts", "agent")).await.unwrap(), a);
    // The same key for another role is a caller's mistake.
    let s = expect_err(pick(keyed("tts", "manager", "ticket-1")).await, Code::InvalidArgument);
    assert_eq!(fields(&s), ["request_key"]);
    let s = expect_err(pick(keyed("tts", "agent", &"k".repeat(201))).await, Code::InvalidArgument);
    assert_eq!(fields(&s), ["request_key"]);
    // A picked agent who left is not handed out again: the retry picks anew.
    h.auth.deactivate_user(None, &b).await.unwrap();
    assert_eq!(pick(keyed("tts", "agent", "ticket-2")).await.unwrap(), a);
}
}
