//! `map serve`'s plaintext health port (`MAP_HEALTH_LISTEN`): the API's own
//! `grpc.health.v1` statuses (readiness following the database and the
//! drain, `liveness` the process) on a port of their own, for the kubelet's
//! gRPC probes, which speak no TLS, when the API's port requires TLS or
//! client certificates. Health only: no API and nothing else on it.

use std::future::Future;

use tokio::net::TcpListener;
use tonic::transport::{Server, server::TcpIncoming};
use tonic_health::{
    pb::health_server::HealthServer,
    server::{HealthReporter, HealthService},
};

/// Serves `reporter`'s statuses on `listener` until `stop` resolves.
pub async fn serve(
    listener: TcpListener,
    reporter: HealthReporter,
    stop: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let health = HealthServer::new(HealthService::from_health_reporter(reporter));
    Server::builder()
        .add_service(health)
        .serve_with_incoming_shutdown(TcpIncoming::from(listener), stop)
        .await
}
