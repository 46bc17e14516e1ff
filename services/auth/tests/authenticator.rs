//! map-kit's `Authenticator` (the ValidateToken client every other system
//! uses) against a scripted Auth: valid answers are reused within the TTL
//! and never past the token's expiry, rejections are reused briefly, and an
//! unreachable Auth is UNAVAILABLE (a transport failure, not a rejection).
#![allow(clippy::unwrap_used)]

use std::{
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::{Duration, Instant, SystemTime},
};

use map_contracts::auth::v1::{
    self as pb,
    auth_service_server::{AuthService, AuthServiceServer},
};
use map_kit::{
    ApiError,
    authn::{Authenticator, CacheConfig},
    server::GrpcServer,
    testing::TestServer,
};
use tonic::{Request, Response, Status};

/// Answers ValidateToken from the token's text: "good" is valid without
/// expiry, "short" valid for one more second, anything else invalid.
#[derive(Default)]
struct ScriptedAuth {
    calls: Arc<AtomicUsize>,
}

fn principal() -> pb::Principal {
    pb::Principal {
        user_id: "01a21206-0000-7000-8000-000000000001".into(),
        kind: pb::PrincipalKind::User as i32,
        roles: vec![pb::RoleRef {
            system: "tts".into(),
            role: "agent".into(),
        }],
        ..Default::default()
    }
}

#[tonic::async_trait]
impl AuthService for ScriptedAuth {
    async fn validate_token(
        &self,
        request: Request<pb::ValidateTokenRequest>,
    ) -> Result<Response<pb::ValidateTokenResponse>, Status> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answer = match request.into_inner().token.as_str() {
            "good" => pb::ValidateTokenResponse {
                valid: true,
                principal: Some(principal()),
                expires_at: None,
            },
            "short" => {
                let at = SystemTime::now() + Duration::from_secs(1);
                let secs = at.duration_since(SystemTime::UNIX_EPOCH).unwrap().as_secs();
                pb::ValidateTokenResponse {
                    valid: true,
                    principal: Some(principal()),
                    expires_at: Some(prost_types::Timestamp {
                        seconds: i64::try_from(secs).unwrap(),
                        nanos: 0,
                    }),
                }
            }
            _ => pb::ValidateTokenResponse::default(),
        };
        Ok(Response::new(answer))
    }

    async fn login(
        &self,
        _: Request<pb::LoginRequest>,
    ) -> Result<Response<pb::LoginResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
    async fn refresh(
        &self,
        _: Request<pb::RefreshRequest>,
    ) -> Result<Response<pb::RefreshResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
    async fn logout(
        &self,
        _: Request<pb::LogoutRequest>,
    ) -> Result<Response<pb::LogoutResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
    async fn get_user_info(
        &self,
        _: Request<pb::GetUserInfoRequest>,
    ) -> Result<Response<pb::GetUserInfoResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
    async fn batch_get_user_info(
        &self,
        _: Request<pb::BatchGetUserInfoRequest>,
    ) -> Result<Response<pb::BatchGetUserInfoResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
    async fn list_users(
        &self,
        _: Request<pb::ListUsersRequest>,
    ) -> Result<Response<pb::ListUsersResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
    async fn next_assignee(
        &self,
        _: Request<pb::NextAssigneeRequest>,
    ) -> Result<Response<pb::NextAssigneeResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
    async fn change_password(
        &self,
        _: Request<pb::ChangePasswordRequest>,
    ) -> Result<Response<pb::ChangePasswordResponse>, Status> {
        Err(Status::unimplemented("scripted"))
    }
}

async fn scripted(config: CacheConfig) -> (TestServer, Authenticator, Arc<AtomicUsize>) {
    let auth = ScriptedAuth::default();
    let calls = auth.calls.clone();
    let server =
        TestServer::start(GrpcServer::new("auth").add_unguarded(AuthServiceServer::new(auth)))
            .await;
    let authenticator = Authenticator::new(server.channel().await, config);
    (server, authenticator, calls)
}

#[tokio::test]
async fn valid_answers_are_reused_within_the_ttl() {
    let (_server, a, calls) = scripted(CacheConfig::default()).await;
    for _ in 0..10 {
        let p = a.check("good").await.unwrap().unwrap();
        assert!(p.has_role(map_kit::System::Tts, "agent"));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_valid_answer_is_never_reused_past_the_tokens_expiry() {
    // TTL 25 s, token valid for about one more second.
    let (_server, a, calls) = scripted(CacheConfig::default()).await;
    assert!(a.check("short").await.unwrap().is_some());
    assert!(a.check("short").await.unwrap().is_some());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "reused while fresh");
    let deadline = Instant::now() + Duration::from_secs(5);
    while calls.load(Ordering::SeqCst) == 1 {
        assert!(Instant::now() < deadline, "cached past the token's expiry");
        tokio::time::sleep(Duration::from_millis(50)).await;
        let _ = a.check("short").await.unwrap();
    }
}

#[tokio::test]
async fn rejections_are_reused_briefly() {
    let (_server, a, calls) = scripted(CacheConfig {
        rejection_ttl: Duration::from_millis(300),
        ..CacheConfig::default()
    })
    .await;
    assert!(a.check("forged").await.unwrap().is_none());
    assert!(a.check("forged").await.unwrap().is_none());
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let deadline = Instant::now() + Duration::from_secs(5);
    while calls.load(Ordering::SeqCst) == 1 {
        assert!(Instant::now() < deadline, "rejection cached too long");
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(a.check("forged").await.unwrap().is_none());
    }
}

#[tokio::test]
async fn an_unreachable_auth_is_unavailable() {
    let (server, a, _) = scripted(CacheConfig::default()).await;
    server.stop().await;
    for _ in 0..2 {
        let r = a.check("good").await;
        assert!(matches!(r, Err(ApiError::Unavailable(_))), "{r:?}");
    }
}
