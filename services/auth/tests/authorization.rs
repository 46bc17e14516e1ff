//! The authorization matrix of every RPC of Auth, generated from its policy
//! tables: each method called by anonymous callers, bad credentials, people
//! and API keys with and without the roles, each admitted or refused exactly
//! as `map_auth::grpc::policy` says.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use map_auth::grpc::policy::{ADMIN_SERVICE, AUTH_SERVICE, DEPARTMENT_SERVICE};
use map_kit::{
    authn::{API_KEY, AUTHORIZATION},
    testing::{Caller, call_raw, check_policy_matrix, reason},
};
use tonic::Code;

map_kit::db_tests! {
#[tokio::test]
async fn every_rpc_admits_exactly_the_callers_its_policy_names() {
    let h = Harness::start().await;
    let mut callers = vec![
        Caller::anonymous(),
        Caller::invalid("a garbage token", AUTHORIZATION, "Bearer x.y.z"),
        Caller::invalid("an unknown key", API_KEY, "mapk_nope"),
    ];
    let (_, admin) = h.admin().await;
    callers.push(h.caller(&admin).await);
    for (email, roles) in [
        ("employee@example.com", &[][..]),
        ("agent@example.com", &[("tts", "agent")][..]),
        ("service-person@example.com", &[("auth", "service")][..]),
    ] {
        let (_, cred) = h.signed_in(email, roles).await;
        callers.push(h.caller(&cred).await);
    }
    for (name, roles) in [
        ("tts", &[("auth", "service")][..]),
        ("robot", &[("tts", "agent")][..]),
        ("admin-robot", &[("auth", "admin")][..]),
    ] {
        let cred = h.api_key(name, roles).await;
        callers.push(h.caller(&cred).await);
    }
    for policy in [&AUTH_SERVICE, &ADMIN_SERVICE, &DEPARTMENT_SERVICE] {
        check_policy_matrix(h.channel.clone(), policy, &callers).await;
    }
}
}

map_kit::db_tests! {
#[tokio::test]
async fn a_method_missing_from_the_table_is_refused() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let admin = h.caller(&admin).await;
    // Not a method of the contract, so not in the table: refused before
    // tonic's router could answer UNIMPLEMENTED, whoever calls.
    let got = call_raw(
        h.channel.clone(),
        "/map.auth.v1.AdminService/DropDatabase",
        &admin,
    )
    .await
    .err()
    .unwrap();
    assert_eq!(got.code(), Code::PermissionDenied, "{got:?}");
    assert_eq!(reason(&got), "METHOD_NOT_DECLARED");
}
}
