//! AdminService: user changes and their events in the outbox (written with
//! the change, absent when the change fails), optimistic concurrency, the
//! last administrator, roles, systems, paging.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use map_contracts::{auth::v1 as pb, events::v1 as ev};
use map_kit::outbox::entity as outbox;
use prost::Message as _;
use sea_orm::{EntityTrait as _, QueryOrder as _};
use tonic::Code;

/// (event type, subject, subject version) of every enqueued event, in order.
async fn events(h: &Harness) -> Vec<(String, String, i64)> {
    outbox::Entity::find()
        .order_by_asc(outbox::Column::Seq)
        .all(h.db.db.conn())
        .await
        .unwrap()
        .into_iter()
        .map(|e| (e.event_type, e.subject, e.subject_version))
        .collect()
}

fn mask(paths: &[&str]) -> Option<prost_types::FieldMask> {
    Some(prost_types::FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

map_kit::db_tests! {
#[tokio::test]
async fn every_change_enqueues_its_event_with_the_users_version() {
    let h = Harness::start().await;
    let (admin_user, admin) = h.admin().await;
    let mut a = h.admin_client();
    let before = events(&h).await.len();

    let created = a
        .create_user(req(
            pb::CreateUserRequest {
                email: "Maria@Example.com".into(),
                display_name: "Maria Santos".into(),
                department: "IT".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    assert!(
        created.generated_password.len() >= 12,
        "a generated password"
    );
    let u = created.user.unwrap();
    assert_eq!((u.version, u.active), (1, true));
    assert_eq!(u.roles, vec![pb_role("hdts", "employee")]);

    let updated = a
        .update_user(req(
            pb::UpdateUserRequest {
                user: Some(pb::User {
                    id: u.id.clone(),
                    department: "FINANCE".into(),
                    display_name: "ignored: not in the mask".into(),
                    version: 1,
                    ..Default::default()
                }),
                update_mask: mask(&["department"]),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(
        (updated.version, updated.department.as_str()),
        (2, "FINANCE")
    );
    assert_eq!(updated.display_name, "Maria Santos");
    let granted = a
        .grant_role(req(
            pb::GrantRoleRequest {
                user_id: u.id.clone(),
                role: Some(pb_role("tts", "agent")),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(granted.version, 3);
    // Idempotent repeats change nothing and enqueue nothing.
    let again = a
        .grant_role(req(
            pb::GrantRoleRequest {
                user_id: u.id.clone(),
                role: Some(pb_role("tts", "agent")),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(again.version, 3);
    a.revoke_role(req(
        pb::RevokeRoleRequest {
            user_id: u.id.clone(),
            role: Some(pb_role("tts", "agent")),
        },
        &admin,
    ))
    .await
    .unwrap();
    a.deactivate_user(req(
        pb::DeactivateUserRequest {
            user_id: u.id.clone(),
        },
        &admin,
    ))
    .await
    .unwrap();
    a.reactivate_user(req(
        pb::ReactivateUserRequest {
            user_id: u.id.clone(),
        },
        &admin,
    ))
    .await
    .unwrap();

    let got = events(&h).await[before..].to_vec();
    let expected: Vec<(String, String, i64)> = [
        ("auth.user.created", 1),
        ("auth.user.updated", 2),
        ("auth.role.granted", 3),
        ("auth.role.revoked", 4),
        ("auth.user.deactivated", 5),
        ("auth.user.updated", 6),
    ]
    .into_iter()
    .map(|(t, v)| (t.to_owned(), u.id.clone(), v))
    .collect();
    assert_eq!(got, expected);

    // The envelope carries the payload with the snapshot and the actor.
    let last = outbox::Entity::find()
        .order_by_desc(outbox::Column::Seq)
        .one(h.db.db.conn())
        .await
        .unwrap()
        .unwrap();
    let envelope = ev::Envelope::decode(last.envelope.as_slice()).unwrap();
    assert_eq!(
        (envelope.source.as_str(), envelope.subject_version),
        ("auth", 6)
    );
    let payload = ev::AuthUserUpdated::decode(envelope.payload.unwrap().value.as_slice()).unwrap();
    assert_eq!(payload.changed_fields, ["active"]);
    assert_eq!(payload.actor_user_id, admin_user.id);
    let snapshot = payload.user.unwrap();
    assert!(snapshot.active);
    assert_eq!(snapshot.version, 6);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn failed_changes_leave_no_event_and_no_change() {
    let h = Harness::start().await;
    let (admin_user, admin) = h.admin().await;
    let maria = h.user("maria@example.com", &[]).await;
    h.user("taken@example.com", &[]).await;
    let mut a = h.admin_client();
    let before = events(&h).await;

    // Email taken, case-insensitively.
    let s = expect_err(
        a.create_user(req(
            pb::CreateUserRequest {
                email: "TAKEN@example.com".into(),
                display_name: "Dup".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&s), "EMAIL_TAKEN");
    // Unknown role.
    expect_err(
        a.create_user(req(
            pb::CreateUserRequest {
                email: "new@example.com".into(),
                display_name: "New".into(),
                roles: vec![pb_role("tts", "wizard")],
                ..Default::default()
            },
            &admin,
        ))
        .await,
        Code::NotFound,
    );
    // Stale version.
    let s = expect_err(
        a.update_user(req(
            pb::UpdateUserRequest {
                user: Some(pb::User {
                    id: maria.id.clone(),
                    email: "taken2@example.com".into(),
                    version: 7,
                    ..Default::default()
                }),
                update_mask: mask(&["email"]),
            },
            &admin,
        ))
        .await,
        Code::Aborted,
    );
    assert_eq!(reason(&s), "VERSION_MISMATCH");
    // Email of another user.
    expect_err(
        a.update_user(req(
            pb::UpdateUserRequest {
                user: Some(pb::User {
                    id: maria.id.clone(),
                    email: "Taken@Example.com".into(),
                    ..Default::default()
                }),
                update_mask: mask(&["email"]),
            },
            &admin,
        ))
        .await,
        Code::AlreadyExists,
    );
    // The last administrator can neither go nor lose the role.
    let s = expect_err(
        a.deactivate_user(req(
            pb::DeactivateUserRequest {
                user_id: admin_user.id.clone(),
            },
            &admin,
        ))
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&s), "LAST_ADMIN");
    let s = expect_err(
        a.revoke_role(req(
            pb::RevokeRoleRequest {
                user_id: admin_user.id.clone(),
                role: Some(pb_role("auth", "admin")),
            },
            &admin,
        ))
        .await,
        Code::FailedPrecondition,
    );
    assert_eq!(reason(&s), "LAST_ADMIN");
    assert_eq!(events(&h).await, before, "no event for a failed change");
    let still = h.auth.get_user(&maria.id).await.unwrap();
    assert_eq!(
        (still.version, still.email.as_str()),
        (1, "maria@example.com")
    );
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bad_admin_input_is_invalid_argument_with_fields() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let maria = h.user("maria@example.com", &[]).await;
    let mut a = h.admin_client();
    let s = expect_err(
        a.create_user(req(
            pb::CreateUserRequest {
                email: format!("{}@x.com", "e".repeat(10_000)),
                display_name: String::new(),
                password: "short".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["email", "display_name", "password"]);
    assert!(!s.message().contains("short") && !s.message().contains("eeee"));
    let s = expect_err(
        a.create_user(req(
            pb::CreateUserRequest {
                email: "ok@example.com".into(),
                display_name: "Ok".into(),
                password: "p".repeat(2000),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["password"]);
    for paths in [vec![], vec!["active"], vec!["roles"]] {
        let s = expect_err(
            a.update_user(req(
                pb::UpdateUserRequest {
                    user: Some(pb::User {
                        id: maria.id.clone(),
                        ..Default::default()
                    }),
                    update_mask: mask(&paths),
                },
                &admin,
            ))
            .await,
            Code::InvalidArgument,
        );
        assert_eq!(fields(&s), ["update_mask"], "{paths:?}");
    }
    let s = expect_err(
        a.grant_role(req(
            pb::GrantRoleRequest {
                user_id: "nope".into(),
                role: None,
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["user_id", "role.system", "role.role"]);
    expect_err(
        a.grant_role(req(
            pb::GrantRoleRequest {
                user_id: maria.id.clone(),
                role: Some(pb_role("tts", "no_such_role")),
            },
            &admin,
        ))
        .await,
        Code::NotFound,
    );
    let s = expect_err(
        a.create_role(req(
            pb::CreateRoleRequest {
                system: "tts".into(),
                role: "Bad-Name".into(),
                description: "d".repeat(1001),
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["role", "description"]);
    let s = expect_err(
        a.list_systems(req(
            pb::ListSystemsRequest {
                page_size: -1,
                page_token: String::new(),
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["page_size"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn roles_systems_and_paging() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let service = h.api_key("tts", &[("auth", "service")]).await;
    let mut a = h.admin_client();
    let systems = a
        .list_systems(req(pb::ListSystemsRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner();
    let names: Vec<String> = systems.systems.into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["ams", "auth", "bms", "hdts", "tts"]);

    let role = a
        .create_role(req(
            pb::CreateRoleRequest {
                system: "tts".into(),
                role: "l2_support".into(),
                description: "Second-line support".into(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .role
        .unwrap();
    assert!(!role.builtin);
    let s = expect_err(
        a.create_role(req(
            pb::CreateRoleRequest {
                system: "tts".into(),
                role: "l2_support".into(),
                description: String::new(),
            },
            &admin,
        ))
        .await,
        Code::AlreadyExists,
    );
    assert_eq!(reason(&s), "ROLE_EXISTS");
    expect_err(
        a.create_role(req(
            pb::CreateRoleRequest {
                system: "payroll".into(),
                role: "clerk".into(),
                description: String::new(),
            },
            &admin,
        ))
        .await,
        Code::NotFound,
    );

    // All roles, 5 per page: 13 seeded + 1 custom, ordered by system then role.
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = a
            .list_roles(req(
                pb::ListRolesRequest {
                    page_size: 5,
                    page_token: token.clone(),
                    system: String::new(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner();
        all.extend(
            page.roles
                .into_iter()
                .map(|r| (r.system, r.role, r.builtin)),
        );
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(
        all.len(),
        16,
        "the seeded roles (m0002), hdts:admin (m0005) and bms:admin (m0006)"
    );
    let mut sorted = all.clone();
    sorted.sort();
    assert_eq!(all, sorted);
    assert_eq!(all.iter().filter(|r| !r.2).count(), 1);
    let tts = a
        .list_roles(req(
            pb::ListRolesRequest {
                system: "tts".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .roles;
    assert_eq!(tts.len(), 4);

    // Users in id order, 2 per page; a token is bound to its filters.
    for i in 0..5 {
        h.user(&format!("u{i}@example.com"), &[("tts", "agent")])
            .await;
    }
    let mut c = h.client();
    let filter = |token: String| pb::ListUsersRequest {
        page_size: 2,
        page_token: token,
        system: "tts".into(),
        role: "agent".into(),
        active: Some(true),
    };
    let mut ids = Vec::new();
    let mut token = String::new();
    let mut first_token = String::new();
    loop {
        let page = c
            .list_users(req(filter(token.clone()), &service))
            .await
            .unwrap()
            .into_inner();
        assert!(page.users.len() <= 2);
        ids.extend(page.users.into_iter().map(|u| u.id));
        if page.next_page_token.is_empty() {
            break;
        }
        if first_token.is_empty() {
            first_token = page.next_page_token.clone();
        }
        token = page.next_page_token;
    }
    assert_eq!(ids.len(), 5);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let mut other_filter = filter(first_token);
    other_filter.role = "manager".into();
    let s = expect_err(
        c.list_users(req(other_filter, &service)).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["page_token"]);
    let s = expect_err(
        c.list_users(req(filter("never-issued".into()), &service))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["page_token"]);
    let s = expect_err(
        c.list_users(req(
            pb::ListUsersRequest {
                role: "agent".into(),
                ..Default::default()
            },
            &service,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["role"]);

    // BatchGetUserInfo: request order, repeats, all or nothing.
    let batch = c
        .batch_get_user_info(req(
            pb::BatchGetUserInfoRequest {
                user_ids: vec![ids[2].clone(), ids[0].clone(), ids[2].clone()],
            },
            &service,
        ))
        .await
        .unwrap()
        .into_inner()
        .users;
    let got: Vec<&str> = batch.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(got, [ids[2].as_str(), ids[0].as_str(), ids[2].as_str()]);
    let missing = "01a21206-0000-7000-8000-000000000000".to_owned();
    let s = expect_err(
        c.batch_get_user_info(req(
            pb::BatchGetUserInfoRequest {
                user_ids: vec![ids[0].clone(), missing.clone()],
            },
            &service,
        ))
        .await,
        Code::NotFound,
    );
    use tonic_types::StatusExt as _;
    assert_eq!(
        s.get_details_error_info()
            .and_then(|i| i.metadata.get("missing_user_ids").cloned()),
        Some(missing)
    );
    let s = expect_err(
        c.batch_get_user_info(req(
            pb::BatchGetUserInfoRequest {
                user_ids: vec![ids[0].clone(); 501],
            },
            &service,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["user_ids"]);
}
}
