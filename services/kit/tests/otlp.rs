//! Spans reach an OTLP collector, and a server span continues the trace of
//! the caller's `traceparent`. The collector is a real OTLP/gRPC server (the
//! opentelemetry-proto service) on port 0. One test per binary: telemetry
//! installs a process-global subscriber.

use std::time::Duration;

use map_kit::{config::LogFormat, server::GrpcServer, telemetry, testing::TestServer};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
use tokio::sync::mpsc;
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

struct Collector(mpsc::UnboundedSender<ExportTraceServiceRequest>);

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let _ = self.0.send(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT_SPAN: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_spans_are_exported_and_continue_the_callers_trace() {
    let (tx, mut rx) = mpsc::unbounded_channel();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    let collector = format!(
        "http://{}",
        listener.local_addr().unwrap_or_else(|e| panic!("{e}"))
    );
    tokio::spawn(
        tonic::transport::Server::builder()
            .add_service(TraceServiceServer::new(Collector(tx)))
            .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener)),
    );

    let guard =
        telemetry::init_with_endpoint("map-otlp-test", LogFormat::Json, "info", Some(collector))
            .unwrap_or_else(|e| panic!("{e}"));
    let server = TestServer::start(GrpcServer::new("traced")).await;
    let mut request = tonic::Request::new(HealthCheckRequest::default());
    let traceparent = format!("00-{TRACE_ID}-{PARENT_SPAN}-01");
    request.metadata_mut().insert(
        "traceparent",
        traceparent.parse().unwrap_or_else(|e| panic!("{e}")),
    );
    HealthClient::new(server.channel().await)
        .check(request)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    server.stop().await;
    guard.shutdown(Duration::from_secs(10)).await;

    let mut exported = Vec::new();
    while let Ok(batch) = rx.try_recv() {
        exported.push(batch);
    }
    let service_names: Vec<String> = exported
        .iter()
        .flat_map(|b| &b.resource_spans)
        .filter_map(|rs| rs.resource.as_ref())
        .flat_map(|r| &r.attributes)
        .filter(|kv| kv.key == "service.name")
        .filter_map(|kv| kv.value.as_ref().and_then(|v| v.value.clone()))
        .map(|v| format!("{v:?}"))
        .collect();
    assert!(
        service_names.iter().any(|n| n.contains("map-otlp-test")),
        "{service_names:?}"
    );

    let spans: Vec<_> = exported
        .iter()
        .flat_map(|b| &b.resource_spans)
        .flat_map(|rs| &rs.scope_spans)
        .flat_map(|ss| &ss.spans)
        .collect();
    let grpc = spans.iter().find(|s| s.name == "grpc").unwrap_or_else(|| {
        panic!(
            "no grpc span among {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    });
    assert_eq!(
        hex::encode(&grpc.trace_id),
        TRACE_ID,
        "the server span did not join the caller's trace"
    );
    assert_eq!(hex::encode(&grpc.parent_span_id), PARENT_SPAN);
}
