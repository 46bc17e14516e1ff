//! The server bootstrap, end to end on real ports: health, reflection, the
//! scaffold's UNIMPLEMENTED, graceful shutdown and its bounded drain.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::{Duration, Instant},
};

use http::uri::PathAndQuery;
use map_kit::{System, server::GrpcServer, testing::TestServer};
use tokio::sync::Notify;
use tokio_stream::StreamExt as _;
use tonic::{Code, body::Body, server::NamedService, transport::Endpoint};
use tonic_health::{
    pb::{
        HealthCheckRequest, HealthCheckResponse, health_check_response::ServingStatus,
        health_client::HealthClient,
    },
    server::{HealthReporter, HealthService},
};
use tonic_reflection::pb::v1::{
    ServerReflectionRequest, server_reflection_client::ServerReflectionClient,
    server_reflection_request::MessageRequest, server_reflection_response::MessageResponse,
};

/// A unary service that signals when a call arrives and answers only when
/// released: a call the test can hold in flight. It answers like
/// `grpc.health.v1.Health/Check`.
#[derive(Clone)]
struct Gated {
    entered: Arc<Notify>,
    release: Arc<Notify>,
}

impl NamedService for Gated {
    const NAME: &'static str = "map.test.v1.GatedService";
}

impl tower::Service<http::Request<Body>> for Gated {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        let (entered, release) = (self.entered.clone(), self.release.clone());
        let mut health = tonic_health::pb::health_server::HealthServer::new(
            HealthService::from_health_reporter(HealthReporter::new()),
        );
        Box::pin(async move {
            entered.notify_one();
            release.notified().await;
            *req.uri_mut() = http::Uri::from_static("/grpc.health.v1.Health/Check");
            tower::Service::call(&mut health, req).await
        })
    }
}

async fn gated_call(url: String) -> Result<HealthCheckResponse, tonic::Status> {
    let channel = Endpoint::from_shared(url)
        .map_err(|e| tonic::Status::internal(e.to_string()))?
        .connect_lazy();
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = PathAndQuery::from_static("/map.test.v1.GatedService/Check");
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    grpc.unary(
        tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        }),
        path,
        codec,
    )
    .await
    .map(tonic::Response::into_inner)
}

fn gated() -> (Gated, Arc<Notify>, Arc<Notify>) {
    let (entered, release) = (Arc::new(Notify::new()), Arc::new(Notify::new()));
    (
        Gated {
            entered: entered.clone(),
            release: release.clone(),
        },
        entered,
        release,
    )
}

#[tokio::test]
async fn health_reports_serving_for_the_server_and_each_service() {
    let server = TestServer::start(GrpcServer::new("test").scaffold(System::Tts)).await;
    let mut health = HealthClient::new(server.channel().await);
    for service in [
        "",
        "map.tts.v1.TicketService",
        "map.tts.v1.WorkflowService",
        "map.tts.v1.SlaService",
    ] {
        let status = health
            .check(HealthCheckRequest {
                service: service.into(),
            })
            .await
            .map(|r| r.into_inner().status);
        assert_eq!(
            status.ok(),
            Some(ServingStatus::Serving as i32),
            "service '{service}'"
        );
    }
    let unknown = health
        .check(HealthCheckRequest {
            service: "map.ams.v1.AssetService".into(),
        })
        .await;
    assert_eq!(unknown.map_err(|s| s.code()).err(), Some(Code::NotFound));
    server.stop().await;
}

#[tokio::test]
async fn reflection_lists_the_systems_services_and_only_those() {
    let server = TestServer::start(GrpcServer::new("test").scaffold(System::Ams)).await;
    let mut reflection = ServerReflectionClient::new(server.channel().await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut stream = reflection
        .server_reflection_info(tokio_stream::iter([request]))
        .await
        .unwrap_or_else(|e| panic!("reflection call failed: {e}"))
        .into_inner();
    let response = stream
        .next()
        .await
        .and_then(Result::ok)
        .and_then(|r| r.message_response);
    let Some(MessageResponse::ListServicesResponse(list)) = response else {
        panic!("no list_services response: {response:?}");
    };
    let mut names: Vec<String> = list.service.into_iter().map(|s| s.name).collect();
    names.sort();
    assert!(
        names.contains(&"map.ams.v1.AssetService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"map.ams.v1.CategoryService".to_owned()),
        "{names:?}"
    );
    assert!(
        names.contains(&"grpc.health.v1.Health".to_owned()),
        "{names:?}"
    );
    assert!(
        !names.iter().any(|n| n.starts_with("map.tts.")),
        "another system's services leaked: {names:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn scaffold_answers_unimplemented_naming_the_system() {
    let server = TestServer::start(GrpcServer::new("test").scaffold(System::Bms)).await;
    let mut grpc = tonic::client::Grpc::new(server.channel().await);
    grpc.ready().await.unwrap_or_else(|e| panic!("{e}"));
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    let status = grpc
        .unary(
            tonic::Request::new(HealthCheckRequest::default()),
            PathAndQuery::from_static("/map.bms.v1.BudgetService/GetBudget"),
            codec,
        )
        .await
        .err();
    let status = status.unwrap_or_else(|| panic!("a scaffold call succeeded"));
    assert_eq!(status.code(), Code::Unimplemented);
    assert!(status.message().starts_with("bms:"), "{}", status.message());
    server.stop().await;
}

#[tokio::test]
async fn shutdown_lets_an_in_flight_call_finish_then_stops() {
    let (svc, entered, release) = gated();
    let mut server = TestServer::start(
        GrpcServer::new("test")
            .add_unguarded(svc)
            .grace(Duration::from_secs(30)),
    )
    .await;
    let call = tokio::spawn(gated_call(server.url()));
    entered.notified().await;

    server.begin_shutdown();
    // The listener closes: new connections are refused (poll, with a deadline).
    let deadline = Instant::now() + Duration::from_secs(10);
    while Endpoint::from_shared(server.url())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await
        .is_ok()
    {
        assert!(
            Instant::now() < deadline,
            "still accepting connections after shutdown began"
        );
        tokio::task::yield_now().await;
    }
    assert!(
        !server.is_finished(),
        "the server returned while a call was in flight"
    );

    release.notify_one();
    let answer = call.await.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        answer.map(|r| r.status).ok(),
        Some(ServingStatus::Serving as i32),
        "the in-flight call failed"
    );
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .unwrap_or_else(|_| panic!("server did not stop"));
}

#[tokio::test]
async fn shutdown_drain_is_bounded() {
    let (svc, entered, _release) = gated();
    let mut server = TestServer::start(
        GrpcServer::new("test")
            .add_unguarded(svc)
            .grace(Duration::from_millis(300)),
    )
    .await;
    let call = tokio::spawn(gated_call(server.url()));
    entered.notified().await;
    server.begin_shutdown();
    // The call is never released: the server must give up on it after the grace period.
    tokio::time::timeout(Duration::from_secs(10), server.stop())
        .await
        .unwrap_or_else(|_| panic!("drain was not bounded"));
    let result = tokio::time::timeout(Duration::from_secs(10), call).await;
    let result = result
        .unwrap_or_else(|_| panic!("client hung"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        result.is_err(),
        "a call the server abandoned cannot have succeeded"
    );
}

#[tokio::test]
async fn streams_learn_of_the_drain_the_moment_it_begins() {
    let server = GrpcServer::new("test").grace(Duration::from_secs(30));
    let draining = server.draining();
    let mut server = TestServer::start(server).await;
    assert!(!draining.is_cancelled());
    server.begin_shutdown();
    tokio::time::timeout(Duration::from_secs(10), draining.cancelled())
        .await
        .unwrap_or_else(|_| panic!("streams were not told of the drain"));
    server.stop().await;
}
