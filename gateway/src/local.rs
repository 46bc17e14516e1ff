//! What the gateway serves itself: `grpc.health.v1` for its own health
//! (readiness as the empty service name, NOT_SERVING once draining; `liveness`
//! SERVING while the process runs, as every system's), and
//! server reflection (v1 and v1alpha) listing every platform service from
//! the contracts' descriptor set, so `grpcurl` and `buf curl` work through
//! the gateway without knowing where each system runs.

use map_kit::System;
use tonic::service::Routes;
use tonic_health::server::HealthReporter;

/// The gateway's own gRPC services.
pub fn routes(health: &HealthReporter) -> Result<Routes, tonic_reflection::server::Error> {
    let names: Vec<String> = System::ALL
        .into_iter()
        .flat_map(System::service_names)
        .chain(std::iter::once("grpc.health.v1.Health".to_owned()))
        .collect();
    let v1 = names.iter().fold(
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(map_contracts::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
        |b, n| b.with_service_name(n.clone()),
    );
    let v1alpha = names.iter().fold(
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(map_contracts::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET),
        |b, n| b.with_service_name(n.clone()),
    );
    let health = tonic_health::pb::health_server::HealthServer::new(
        tonic_health::server::HealthService::from_health_reporter(health.clone()),
    );
    let mut builder = tonic::service::RoutesBuilder::default();
    builder
        .add_service(health)
        .add_service(v1.build_v1()?)
        .add_service(v1alpha.build_v1alpha()?);
    Ok(builder.routes())
}
