//! Sessions: refresh rotation and reuse detection, logout seen by another
//! service's authenticator within its cache TTL, password change,
//! deactivation.
#![allow(clippy::unwrap_used)]

mod common;

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use common::*;
use map_auth::grpc::AuthApi;
use map_contracts::auth::v1 as pb;
use map_contracts::auth::v1::{
    auth_service_client::AuthServiceClient, auth_service_server::AuthServiceServer,
};
use map_kit::{
    authn::{Authenticated, Authenticator, CacheConfig, Validator},
    authz::{Access, Policy},
    server::GrpcServer,
    testing::TestServer,
};
use tonic::Code;

async fn refresh(h: &Harness, token: &str) -> Result<pb::RefreshResponse, tonic::Status> {
    h.client()
        .refresh(pb::RefreshRequest {
            refresh_token: token.into(),
        })
        .await
        .map(|r| r.into_inner())
}

map_kit::db_tests! {
#[tokio::test]
async fn refresh_rotates_and_reuse_revokes_the_family() {
    let h = Harness::start().await;
    h.user("maria@example.com", &[]).await;
    let first = h.login("maria@example.com").await;
    let second = refresh(&h, &first.refresh_token).await.unwrap();
    assert_ne!(second.refresh_token, first.refresh_token);
    assert_ne!(second.access_token, first.access_token);
    assert!(h.valid(&second.access_token).await);
    let third = refresh(&h, &second.refresh_token).await.unwrap();

    // Presenting a spent token again: theft; the whole session goes.
    let s = expect_err(
        refresh(&h, &first.refresh_token).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&s), "REFRESH_TOKEN_REUSED");
    let s = expect_err(
        refresh(&h, &third.refresh_token).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&s), "INVALID_REFRESH_TOKEN");
    for token in [
        &first.access_token,
        &second.access_token,
        &third.access_token,
    ] {
        assert!(!h.valid(token).await, "session tokens must stop validating");
    }
    // Unknown and empty tokens.
    let s = expect_err(
        refresh(&h, "mapr_never-issued").await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&s), "INVALID_REFRESH_TOKEN");
    let s = expect_err(refresh(&h, "").await, Code::InvalidArgument);
    assert_eq!(fields(&s), ["refresh_token"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn tokens_expire_when_the_clock_passes_their_lifetime() {
    let manual = map_kit::clock::ManualClock::at_system_time();
    let h = Harness::with(|s| s.clock = manual.clock()).await;
    h.user("maria@example.com", &[]).await;
    let tokens = h.login("maria@example.com").await;
    assert!(h.valid(&tokens.access_token).await);
    // Access tokens live 15 minutes (the answer cached meanwhile expires
    // on the same clock).
    manual.advance(Duration::from_secs(15 * 60 - 1));
    assert!(h.valid(&tokens.access_token).await, "expired early");
    manual.advance(Duration::from_secs(1));
    assert!(!h.valid(&tokens.access_token).await, "valid past its expiry");
    // Refresh tokens 30 days.
    manual.advance(Duration::from_secs(30 * 24 * 3600 - 15 * 60 - 1));
    let renewed = refresh(&h, &tokens.refresh_token).await.unwrap();
    assert!(h.valid(&renewed.access_token).await);
    manual.advance(Duration::from_secs(30 * 24 * 3600));
    let s = expect_err(
        refresh(&h, &renewed.refresh_token).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&s), "INVALID_REFRESH_TOKEN");
}
}

map_kit::db_tests! {
#[tokio::test]
async fn concurrent_refreshes_of_one_token_let_exactly_one_win() {
    let h = Harness::start().await;
    h.user("maria@example.com", &[]).await;
    let first = h.login("maria@example.com").await;
    let attempts = (0..8).map(|_| refresh(&h, &first.refresh_token));
    let results = futures::future::join_all(attempts).await;
    let wins = results.iter().filter(|r| r.is_ok()).count();
    assert_eq!(wins, 1, "{results:?}");
    for r in results.iter().filter_map(|r| r.as_ref().err()) {
        assert_eq!(r.code(), Code::Unauthenticated);
    }
}
}

/// Every AuthService method for any signed-in caller: the other system's table.
static SIGNED_IN: Policy = Policy {
    service: "map.auth.v1.AuthService",
    methods: &[
        ("Login", Access::SignedIn),
        ("Refresh", Access::SignedIn),
        ("Logout", Access::SignedIn),
        ("ValidateToken", Access::SignedIn),
        ("GetUserInfo", Access::SignedIn),
        ("BatchGetUserInfo", Access::SignedIn),
        ("ListUsers", Access::SignedIn),
        ("NextAssignee", Access::SignedIn),
        ("ChangePassword", Access::SignedIn),
    ],
};

/// A stand-in for another system: a service behind the kit's authenticator
/// (which validates callers with Auth over gRPC), with no anonymous method.
/// Its handlers happen to be Auth's; only the gate in front matters here.
async fn other_service(h: &Harness, ttl: Duration) -> (TestServer, Arc<Authenticator>) {
    let authenticator = Arc::new(Authenticator::new(
        h.server.channel().await,
        CacheConfig {
            valid_ttl: ttl,
            ..CacheConfig::default()
        },
    ));
    let validator: Arc<dyn Validator> = authenticator.clone();
    let handlers = AuthServiceServer::new(AuthApi::new(h.auth.clone()));
    let server =
        GrpcServer::new("other").add_service(Authenticated::new(handlers, &SIGNED_IN, validator));
    (TestServer::start(server).await, authenticator)
}

async fn check(server: &TestServer, cred: &Cred) -> Code {
    let mut client = AuthServiceClient::new(server.channel().await);
    match client
        .validate_token(req(pb::ValidateTokenRequest::default(), cred))
        .await
    {
        Ok(_) => Code::Ok,
        Err(s) => s.code(),
    }
}

map_kit::db_tests! {
#[tokio::test]
async fn logout_reaches_another_services_authenticator_within_its_ttl() {
    let h = Harness::start().await;
    h.user("maria@example.com", &[]).await;
    let tokens = h.login("maria@example.com").await;
    let ttl = Duration::from_secs(2);
    let (other, authenticator) = other_service(&h, ttl).await;
    let cred = Cred::Bearer(tokens.access_token.clone());
    assert_eq!(check(&other, &cred).await, Code::Ok);
    assert_eq!(check(&other, &Cred::Anonymous).await, Code::Unauthenticated);
    assert_eq!(
        check(&other, &Cred::Bearer("forged.token.value".into())).await,
        Code::Unauthenticated
    );

    h.client()
        .logout(pb::LogoutRequest {
            refresh_token: tokens.refresh_token.clone(),
        })
        .await
        .unwrap();
    let logged_out = Instant::now();
    // Auth itself knows at once.
    assert!(!h.valid(&tokens.access_token).await);
    // The other service's cached answer lasts at most its TTL.
    let deadline = logged_out + ttl + Duration::from_secs(3);
    loop {
        match check(&other, &cred).await {
            Code::Unauthenticated => break,
            Code::Ok => {
                assert!(Instant::now() < deadline, "logout not seen within the TTL");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(
        authenticator
            .check(&tokens.access_token)
            .await
            .unwrap()
            .is_none()
    );
    // Logout is idempotent and reveals nothing.
    for token in [tokens.refresh_token.as_str(), "mapr_unknown"] {
        h.client()
            .logout(pb::LogoutRequest {
                refresh_token: token.into(),
            })
            .await
            .unwrap();
    }
    let s = expect_err(
        h.client()
            .logout(pb::LogoutRequest {
                refresh_token: String::new(),
            })
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["refresh_token"]);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn change_password_keeps_this_session_and_ends_the_others() {
    let h = Harness::start().await;
    h.user("maria@example.com", &[]).await;
    let here = h.login("maria@example.com").await;
    let elsewhere = h.login("maria@example.com").await;
    let cred = Cred::Bearer(here.access_token.clone());
    let change = |current: &str, new: &str| {
        req(
            pb::ChangePasswordRequest {
                current_password: current.into(),
                new_password: new.into(),
            },
            &cred,
        )
    };
    let s = expect_err(
        h.client()
            .change_password(change("wrong", "a new long password"))
            .await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["current_password"]);
    let s = expect_err(
        h.client().change_password(change(PASSWORD, "short")).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["new_password"]);
    let s = expect_err(
        h.client().change_password(change(PASSWORD, PASSWORD)).await,
        Code::InvalidArgument,
    );
    assert_eq!(fields(&s), ["new_password"]);

    h.client()
        .change_password(change(PASSWORD, "a new long password"))
        .await
        .unwrap();
    assert!(
        h.valid(&here.access_token).await,
        "the caller's session stays"
    );
    assert!(
        !h.valid(&elsewhere.access_token).await,
        "other sessions end"
    );
    let s = expect_err(
        refresh(&h, &elsewhere.refresh_token).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&s), "INVALID_REFRESH_TOKEN");
    let s = expect_err(
        h.client()
            .login(pb::LoginRequest {
                email: "maria@example.com".into(),
                password: PASSWORD.into(),
            })
            .await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&s), "INVALID_CREDENTIALS");
    h.client()
        .login(pb::LoginRequest {
            email: "maria@example.com".into(),
            password: "a new long password".into(),
        })
        .await
        .unwrap();
}
}

map_kit::db_tests! {
#[tokio::test]
async fn deactivation_ends_every_session_and_reactivation_restores_sign_in() {
    let h = Harness::start().await;
    let (_, admin) = h.admin().await;
    let user = h.user("maria@example.com", &[("tts", "agent")]).await;
    let tokens = h.login("maria@example.com").await;
    assert!(h.valid(&tokens.access_token).await);
    let deactivated = h
        .admin_client()
        .deactivate_user(req(
            pb::DeactivateUserRequest {
                user_id: user.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(!deactivated.active);
    assert_eq!(
        deactivated.roles,
        vec![pb_role("tts", "agent")],
        "roles kept"
    );
    assert!(!h.valid(&tokens.access_token).await);
    let s = expect_err(
        refresh(&h, &tokens.refresh_token).await,
        Code::Unauthenticated,
    );
    assert_eq!(reason(&s), "INVALID_REFRESH_TOKEN");
    // Idempotent: same user, no new version.
    let again = h
        .admin_client()
        .deactivate_user(req(
            pb::DeactivateUserRequest {
                user_id: user.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert_eq!(again.version, deactivated.version);

    let back = h
        .admin_client()
        .reactivate_user(req(
            pb::ReactivateUserRequest {
                user_id: user.id.clone(),
            },
            &admin,
        ))
        .await
        .unwrap()
        .into_inner()
        .user
        .unwrap();
    assert!(back.active);
    assert_eq!(back.version, deactivated.version + 1);
    let tokens = h.login("maria@example.com").await;
    assert!(h.valid(&tokens.access_token).await);
}
}

map_kit::db_tests! {
#[tokio::test]
async fn validate_token_says_false_for_every_kind_of_bad_token() {
    let h = Harness::start().await;
    h.user("maria@example.com", &[]).await;
    let good = h.login("maria@example.com").await.access_token;
    let mut tampered = good.clone();
    tampered.pop();
    tampered.push(if good.ends_with('A') { 'B' } else { 'A' });
    let other_key = map_auth::Keyset::generate()
        .0
        .sign(&map_auth::keys::Claims {
            iss: "map-auth".into(),
            sub: "x".into(),
            sid: "y".into(),
            iat: 0,
            exp: i64::MAX / 2,
            jti: "j".into(),
        });
    let huge = "x".repeat(100_000);
    for bad in [
        "",
        "garbage",
        tampered.as_str(),
        other_key.as_str(),
        "mapk_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        huge.as_str(),
    ] {
        let r = h
            .client()
            .validate_token(pb::ValidateTokenRequest { token: bad.into() })
            .await
            .unwrap()
            .into_inner();
        assert!(
            !r.valid && r.principal.is_none(),
            "{}",
            &bad[..bad.len().min(40)]
        );
    }
    // An expired token: a key with a zero TTL is impossible by config, so
    // sign one that expired a second ago with the server's own keys.
    let claims = map_auth::keys::Claims {
        iss: "map-auth".into(),
        sub: "x".into(),
        sid: "y".into(),
        iat: 0,
        exp: 1,
        jti: "j".into(),
    };
    let expired = h.auth.settings().keys.sign(&claims);
    assert!(!h.valid(&expired).await);
    let r = h
        .client()
        .validate_token(pb::ValidateTokenRequest {
            token: good.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let p = r.principal.unwrap();
    assert_eq!(p.email, "maria@example.com");
    assert_eq!(p.department, "IT");
    assert_eq!(p.kind, pb::PrincipalKind::User as i32);
    assert!(r.expires_at.is_some());
}
}
