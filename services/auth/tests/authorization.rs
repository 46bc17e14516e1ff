//! The authorization matrix of every RPC: the allowed roles get through,
//! other callers get PERMISSION_DENIED, anonymous callers UNAUTHENTICATED
//! (except the four RPCs open to anonymous callers).
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use map_contracts::auth::v1 as pb;
use tonic::{Code, Status};

const AUTH_RPCS: [&str; 9] = [
    "Login",
    "Refresh",
    "Logout",
    "ValidateToken",
    "GetUserInfo",
    "BatchGetUserInfo",
    "ListUsers",
    "NextAssignee",
    "ChangePassword",
];

const ADMIN_RPCS: [&str; 12] = [
    "CreateUser",
    "UpdateUser",
    "DeactivateUser",
    "ReactivateUser",
    "GrantRole",
    "RevokeRole",
    "ListSystems",
    "ListRoles",
    "CreateRole",
    "CreateApiKey",
    "ListApiKeys",
    "RevokeApiKey",
];

fn code<T>(r: Result<tonic::Response<T>, Status>) -> Code {
    r.map_or_else(|s| s.code(), |_| Code::Ok)
}

/// Calls `rpc` as `cred` with a plausible request about `target` (a user
/// id) and returns the resulting code.
async fn call(h: &Harness, rpc: &str, cred: &Cred, target: &str, n: usize) -> Code {
    let mut c = h.client();
    let mut a = h.admin_client();
    let t = target.to_owned();
    match rpc {
        "Login" => code(
            c.login(req(
                pb::LoginRequest {
                    email: "target@example.com".into(),
                    password: PASSWORD.into(),
                },
                cred,
            ))
            .await,
        ),
        "Refresh" => {
            let fresh = h.login("target@example.com").await.refresh_token;
            code(
                c.refresh(req(
                    pb::RefreshRequest {
                        refresh_token: fresh,
                    },
                    cred,
                ))
                .await,
            )
        }
        "Logout" => code(
            c.logout(req(
                pb::LogoutRequest {
                    refresh_token: "mapr_x".into(),
                },
                cred,
            ))
            .await,
        ),
        "ValidateToken" => code(
            c.validate_token(req(pb::ValidateTokenRequest { token: "x".into() }, cred))
                .await,
        ),
        "GetUserInfo" => code(
            c.get_user_info(req(pb::GetUserInfoRequest { user_id: t }, cred))
                .await,
        ),
        "BatchGetUserInfo" => code(
            c.batch_get_user_info(req(pb::BatchGetUserInfoRequest { user_ids: vec![t] }, cred))
                .await,
        ),
        "ListUsers" => code(
            c.list_users(req(pb::ListUsersRequest::default(), cred))
                .await,
        ),
        "NextAssignee" => code(
            c.next_assignee(req(
                pb::NextAssigneeRequest {
                    system: "hdts".into(),
                    role: "employee".into(),
                },
                cred,
            ))
            .await,
        ),
        "ChangePassword" => code(
            c.change_password(req(
                pb::ChangePasswordRequest {
                    current_password: "wrong password".into(),
                    new_password: "another long password".into(),
                },
                cred,
            ))
            .await,
        ),
        "CreateUser" => code(
            a.create_user(req(
                pb::CreateUserRequest {
                    email: format!("new{n}@example.com"),
                    display_name: "New".into(),
                    ..Default::default()
                },
                cred,
            ))
            .await,
        ),
        "UpdateUser" => code(
            a.update_user(req(
                pb::UpdateUserRequest {
                    user: Some(pb::User {
                        id: t,
                        department: format!("D{n}"),
                        ..Default::default()
                    }),
                    update_mask: Some(prost_types::FieldMask {
                        paths: vec!["department".into()],
                    }),
                },
                cred,
            ))
            .await,
        ),
        "DeactivateUser" => code(
            a.deactivate_user(req(pb::DeactivateUserRequest { user_id: t }, cred))
                .await,
        ),
        "ReactivateUser" => code(
            a.reactivate_user(req(pb::ReactivateUserRequest { user_id: t }, cred))
                .await,
        ),
        "GrantRole" => code(
            a.grant_role(req(
                pb::GrantRoleRequest {
                    user_id: t,
                    role: Some(pb_role("ams", "viewer")),
                },
                cred,
            ))
            .await,
        ),
        "RevokeRole" => code(
            a.revoke_role(req(
                pb::RevokeRoleRequest {
                    user_id: t,
                    role: Some(pb_role("ams", "viewer")),
                },
                cred,
            ))
            .await,
        ),
        "ListSystems" => code(
            a.list_systems(req(pb::ListSystemsRequest::default(), cred))
                .await,
        ),
        "ListRoles" => code(
            a.list_roles(req(pb::ListRolesRequest::default(), cred))
                .await,
        ),
        "CreateRole" => code(
            a.create_role(req(
                pb::CreateRoleRequest {
                    system: "tts".into(),
                    role: format!("custom_{n}"),
                    description: String::new(),
                },
                cred,
            ))
            .await,
        ),
        "CreateApiKey" => code(
            a.create_api_key(req(
                pb::CreateApiKeyRequest {
                    name: "k".into(),
                    roles: vec![pb_role("auth", "service")],
                },
                cred,
            ))
            .await,
        ),
        "ListApiKeys" => code(
            a.list_api_keys(req(pb::ListApiKeysRequest::default(), cred))
                .await,
        ),
        "RevokeApiKey" => code(
            a.revoke_api_key(req(
                pb::RevokeApiKeyRequest {
                    api_key_id: "01a21206-0000-7000-8000-000000000000".into(),
                },
                cred,
            ))
            .await,
        ),
        other => panic!("no call for {other}"),
    }
}

fn gets_through(code: Code) -> bool {
    !matches!(code, Code::Unauthenticated | Code::PermissionDenied)
}

map_kit::db_tests! {
#[tokio::test]
async fn every_rpc_admits_its_roles_and_refuses_the_rest() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let (_, employee) = h.signed_in("employee@example.com", &[]).await;
    let (_, agent) = h.signed_in("agent@example.com", &[("tts", "agent")]).await;
    let service = h.api_key("tts", &[("auth", "service")]).await;
    let other_key = h.api_key("robot", &[("tts", "agent")]).await;
    let target = h.user("target@example.com", &[]).await.id;
    let anonymous = Cred::Anonymous;

    let open = ["Login", "Refresh", "Logout", "ValidateToken"];
    let directory = [
        "GetUserInfo",
        "BatchGetUserInfo",
        "ListUsers",
        "NextAssignee",
    ];
    let mut n = 0;
    let mut check = async |rpc: &str, cred: &Cred, who: &str, ok: bool, refused: Code| {
        n += 1;
        let got = call(&h, rpc, cred, &target, n).await;
        if ok {
            assert!(gets_through(got), "{rpc} as {who}: {got:?}");
        } else {
            assert_eq!(got, refused, "{rpc} as {who}");
        }
    };
    for rpc in AUTH_RPCS {
        if open.contains(&rpc) {
            check(rpc, &anonymous, "anonymous", true, Code::Ok).await;
            continue;
        }
        check(rpc, &anonymous, "anonymous", false, Code::Unauthenticated).await;
        if directory.contains(&rpc) {
            check(rpc, &service, "auth:service key", true, Code::Ok).await;
            check(rpc, &admin, "auth:admin", true, Code::Ok).await;
            check(
                rpc,
                &employee,
                "hdts:employee",
                false,
                Code::PermissionDenied,
            )
            .await;
            check(rpc, &agent, "tts:agent", false, Code::PermissionDenied).await;
            check(
                rpc,
                &other_key,
                "tts:agent key",
                false,
                Code::PermissionDenied,
            )
            .await;
        } else {
            // ChangePassword: any person, never a key.
            check(rpc, &employee, "hdts:employee", true, Code::Ok).await;
            check(rpc, &admin, "auth:admin", true, Code::Ok).await;
            check(
                rpc,
                &service,
                "auth:service key",
                false,
                Code::PermissionDenied,
            )
            .await;
        }
    }
    for rpc in ADMIN_RPCS {
        check(rpc, &anonymous, "anonymous", false, Code::Unauthenticated).await;
        check(
            rpc,
            &employee,
            "hdts:employee",
            false,
            Code::PermissionDenied,
        )
        .await;
        check(
            rpc,
            &service,
            "auth:service key",
            false,
            Code::PermissionDenied,
        )
        .await;
        check(rpc, &agent, "tts:agent", false, Code::PermissionDenied).await;
        check(rpc, &admin, "auth:admin", true, Code::Ok).await;
    }
    // Garbage credentials are UNAUTHENTICATED, not PERMISSION_DENIED.
    for bad in [
        Cred::Bearer("x.y.z".into()),
        Cred::ApiKey("mapk_nope".into()),
    ] {
        assert_eq!(
            call(&h, "ListUsers", &bad, &target, 0).await,
            Code::Unauthenticated
        );
        assert_eq!(
            call(&h, "ListSystems", &bad, &target, 0).await,
            Code::Unauthenticated
        );
    }
}
}
