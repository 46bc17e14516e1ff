//! API keys: creation (secret shown once, in the contract's shape),
//! validation, use on service-only RPCs, listing without secrets,
//! revocation.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use map_contracts::auth::v1 as pb;
use tonic::Code;

map_kit::db_tests! {
#[tokio::test]
async fn api_key_lifecycle() {
    let h = Harness::start().await;
    let (admin_user, admin) = h.admin().await;
    let maria = h.user("maria@example.com", &[]).await;
    let mut ac = h.admin_client();

    let created = ac
        .create_api_key(req(
            pb::CreateApiKeyRequest {
                name: "tts".into(),
                roles: vec![pb_role("auth", "service")],
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner();
    let secret = created.secret;
    assert!(
        secret.starts_with("mapk_") && secret.len() == 48,
        "{}",
        secret.len()
    );
    assert!(
        secret[5..]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    );
    let meta = created.api_key.unwrap();
    assert_eq!(meta.key_prefix, secret[..12]);
    assert_eq!(meta.creator_user_id, admin_user.id);
    assert_eq!(meta.roles, vec![pb_role("auth", "service")]);

    // Validates as an API key principal.
    let v = h
        .client()
        .validate_token(pb::ValidateTokenRequest {
            token: secret.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(v.valid && v.expires_at.is_none());
    let p = v.principal.unwrap();
    assert_eq!(p.kind, pb::PrincipalKind::ApiKey as i32);
    assert_eq!(
        (p.user_id.as_str(), p.display_name.as_str()),
        (meta.id.as_str(), "tts")
    );

    // Service-only RPCs work with it.
    let key = Cred::ApiKey(secret.clone());
    let got = h
        .client()
        .get_user_info(req(
            pb::GetUserInfoRequest {
                user_id: maria.id.clone(),
            },
            &key,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(got.email, "maria@example.com");
    // ChangePassword is for people only.
    let s = expect_err(
        h.client()
            .change_password(req(
                pb::ChangePasswordRequest {
                    current_password: "x".repeat(12),
                    new_password: "y".repeat(12),
                },
                &key,
            ))
            .await,
        Code::PermissionDenied,
    );
    assert!(!s.message().contains(&secret));

    // Listed without secrets; last use recorded.
    let listed = ac
        .list_api_keys(req(pb::ListApiKeysRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(listed.len(), 1);
    assert!(listed[0].last_use_time.is_some());
    assert!(!format!("{listed:?}").contains(&secret[12..]));

    // Revoked: idempotent, refused everywhere, hidden unless asked.
    for _ in 0..2 {
        let revoked = ac
            .revoke_api_key(req(
                pb::RevokeApiKeyRequest {
                    api_key_id: meta.id.clone(),
                },
                &admin,
            ))
            .await
            .unwrap()
            .into_inner()
            .api_key
            .unwrap();
        assert!(revoked.revoke_time.is_some());
    }
    assert!(!h.valid(&secret).await);
    let s = expect_err(
        h.client()
            .get_user_info(req(
                pb::GetUserInfoRequest {
                    user_id: maria.id.clone(),
                },
                &key,
            ))
            .await,
        Code::Unauthenticated,
    );
    assert!(!s.message().contains(&secret));
    let valid_only = ac
        .list_api_keys(req(pb::ListApiKeysRequest::default(), &admin))
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert!(valid_only.is_empty());
    let all = ac
        .list_api_keys(req(
            pb::ListApiKeysRequest {
                show_revoked: true,
                ..Default::default()
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .api_keys;
    assert_eq!(all.len(), 1);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn bad_api_key_requests() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let mut ac = h.admin_client();
    let s = expect_err(
        ac.create_api_key(req(pb::CreateApiKeyRequest::default(), &admin))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["name", "roles"]);
    let s = expect_err(
        ac.create_api_key(req(
            pb::CreateApiKeyRequest {
                name: "n".repeat(101),
                roles: vec![pb_role("auth", "service")],
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["name"]);
    expect_err(
        ac.create_api_key(req(
            pb::CreateApiKeyRequest {
                name: "x".into(),
                roles: vec![pb_role("auth", "superuser")],
            },
            &admin,
        ))
        .await,
        Code::NotFound,
    );
    let s = expect_err(
        ac.revoke_api_key(req(
            pb::RevokeApiKeyRequest {
                api_key_id: "not-a-uuid".into(),
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["api_key_id"]);
    expect_err(
        ac.revoke_api_key(req(
            pb::RevokeApiKeyRequest {
                api_key_id: uuid_v7(),
            },
            &admin,
        ))
        .await,
        Code::NotFound,
    );
    let s = expect_err(
        ac.list_api_keys(req(
            pb::ListApiKeysRequest {
                page_token: "never-issued".into(),
                ..Default::default()
            },
            &admin,
        ))
        .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["page_token"]);
}
}

fn uuid_v7() -> String {
    // A well-formed id no key has.
    "01a21206-0000-7000-8000-000000000000".into()
}
