//! Access policies end to end on a real port: a server whose table misses a
//! method refuses to start; the layer admits and refuses exactly as the table
//! says (the matrix generated from it), refuses a path the table does not
//! list, and a revoked credential stops working — with the fake validator
//! standing in for Auth.

use std::{
    convert::Infallible,
    future::{Ready, ready},
    sync::Arc,
    task::{Context, Poll},
};

use map_kit::{
    System,
    authn::{Authenticated, Validator},
    authz::{Access, Policy},
    server::{GrpcServer, ServeError},
    testing::{Caller, FakeValidator, TestServer, call_raw, check_policy_matrix, reason},
};
use tokio::net::TcpListener;
use tonic::{Code, Status, body::Body, server::NamedService};

/// Answers every call with an empty OK: only the layer in front decides.
#[derive(Clone)]
struct Open;

impl NamedService for Open {
    const NAME: &'static str = "map.auth.v1.AuthService";
}

impl<B> tower::Service<http::Request<B>> for Open {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Ready<Result<http::Response<Body>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Request<B>) -> Self::Future {
        ready(Ok(Status::ok("").into_http()))
    }
}

const AGENTS: Access = Access::AnyRole(&[(System::Tts, "agent"), (System::Tts, "admin")]);

/// A made-up table over a real contract's nine methods, one of each kind.
static TABLE: Policy = Policy {
    service: "map.auth.v1.AuthService",
    methods: &[
        ("Login", Access::Anonymous),
        ("Refresh", Access::Anonymous),
        ("Logout", Access::SignedIn),
        ("ValidateToken", Access::SignedIn),
        ("GetUserInfo", AGENTS),
        ("BatchGetUserInfo", AGENTS),
        ("ListUsers", Access::AnyRole(&[(System::Auth, "admin")])),
        ("NextAssignee", AGENTS),
        ("ChangePassword", Access::User),
    ],
};

/// The same table without NextAssignee.
static SHORT: Policy = Policy {
    service: "map.auth.v1.AuthService",
    methods: &[
        ("Login", Access::Anonymous),
        ("Refresh", Access::Anonymous),
        ("Logout", Access::SignedIn),
        ("ValidateToken", Access::SignedIn),
        ("GetUserInfo", AGENTS),
        ("BatchGetUserInfo", AGENTS),
        ("ListUsers", AGENTS),
        ("ChangePassword", Access::User),
    ],
};

fn server(policy: &'static Policy, auth: &FakeValidator) -> GrpcServer {
    let validator: Arc<dyn Validator> = Arc::new(auth.clone());
    GrpcServer::new("authz").add_service(Authenticated::new(Open, policy, validator))
}

#[tokio::test]
async fn a_server_whose_table_misses_a_method_refuses_to_start() {
    let listener = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let served = server(&SHORT, &FakeValidator::default())
        .serve(listener, std::future::pending())
        .await;
    match served {
        Err(ServeError::Policy(e)) => {
            assert_eq!(e.service, "map.auth.v1.AuthService");
            assert_eq!(e.problem, "NextAssignee has no access rule");
        }
        other => panic!("expected a policy error, got {other:?}"),
    }
}

#[tokio::test]
async fn the_layer_admits_and_refuses_as_the_table_says() {
    let auth = FakeValidator::default();
    let callers = [
        Caller::anonymous(),
        Caller::invalid("a garbage token", "authorization", "Bearer nope"),
        Caller::invalid("an empty bearer", "authorization", "Bearer "),
        auth.person(&[]),
        auth.person(&[("tts", "agent")]),
        auth.person(&[("tts", "admin"), ("auth", "admin")]),
        auth.person(&[("hdts", "agent")]),
        auth.api_key(&[]),
        auth.api_key(&[("tts", "agent")]),
    ];
    let server = TestServer::start(server(&TABLE, &auth)).await;
    check_policy_matrix(server.channel().await, &TABLE, &callers).await;
    server.stop().await;
}

#[tokio::test]
async fn a_table_that_disagrees_with_the_layer_fails_the_matrix() {
    // The matrix can fail: checked against a table stricter than the one
    // served, the cells that differ are reported.
    static STRICTER: Policy = Policy {
        service: "map.auth.v1.AuthService",
        methods: &[("Login", Access::SignedIn)],
    };
    let auth = FakeValidator::default();
    let server = TestServer::start(server(&TABLE, &auth)).await;
    let channel = server.channel().await;
    let failed = tokio::spawn(async move {
        check_policy_matrix(channel, &STRICTER, &[Caller::anonymous()]).await;
    })
    .await;
    let message = failed
        .err()
        .map(|e| e.into_panic())
        .and_then(|p| p.downcast::<String>().ok())
        .unwrap_or_else(|| panic!("the matrix passed"));
    assert!(
        message.contains("Login (signed in) as anonymous: expected Unauthenticated, got OK"),
        "{message}"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_path_missing_from_the_table_is_refused_and_revocation_takes_effect() {
    let auth = FakeValidator::default();
    let agent = auth.person(&[("tts", "agent")]);
    let server = TestServer::start(server(&TABLE, &auth)).await;
    let channel = server.channel().await;

    let unlisted = call_raw(channel.clone(), "/map.auth.v1.AuthService/Drop", &agent).await;
    let status = unlisted
        .err()
        .unwrap_or_else(|| panic!("an unlisted path was served"));
    assert_eq!(status.code(), Code::PermissionDenied);
    assert_eq!(reason(&status), "METHOD_NOT_DECLARED");

    let path = "/map.auth.v1.AuthService/GetUserInfo";
    assert_eq!(
        call_raw(channel.clone(), path, &agent)
            .await
            .map_err(|s| s.code()),
        Ok(())
    );
    auth.revoke(&agent);
    let revoked = call_raw(channel, path, &agent).await;
    let status = revoked
        .err()
        .unwrap_or_else(|| panic!("a revoked credential was admitted"));
    assert_eq!(status.code(), Code::Unauthenticated);
    assert_eq!(reason(&status), "INVALID_TOKEN");
    server.stop().await;
}
