//! Active health checks: `grpc.health.v1.Health/Check` for the whole server
//! (service `""`) on each endpoint's own connection. SERVING marks it
//! healthy (and ends an ejection); anything else, or no answer within the
//! timeout, marks it unhealthy; a refused connection ejects it.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, header};
use http_body_util::BodyExt as _;
use prost::Message as _;
use tonic::body::Body;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse, health_check_response};

use super::endpoint::Endpoint;
use crate::{grpc_web, status};

/// How long one check may take.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// Checks `endpoint` once and records the result.
pub async fn check(endpoint: &Endpoint) {
    let sender = match endpoint.sender().await {
        Ok(s) => s,
        Err(e) => {
            tracing::debug!(error = %e, "health check cannot connect");
            endpoint.set_healthy(false);
            endpoint.eject();
            return;
        }
    };
    let serving = tokio::time::timeout(CHECK_TIMEOUT, ask(sender, endpoint))
        .await
        .unwrap_or(false);
    endpoint.set_healthy(serving);
}

async fn ask(
    mut sender: hyper::client::conn::http2::SendRequest<Body>,
    endpoint: &Endpoint,
) -> bool {
    let payload = HealthCheckRequest {
        service: String::new(),
    }
    .encode_to_vec();
    let (scheme, label) = (endpoint.scheme(), endpoint.label());
    let request = Request::post(format!("{scheme}://{label}/grpc.health.v1.Health/Check"))
        .header(header::CONTENT_TYPE, "application/grpc")
        .header(header::TE, "trailers")
        .header("grpc-timeout", status::format_timeout(CHECK_TIMEOUT))
        .body(Body::new(http_body_util::Full::new(
            grpc_web::message_frame(&payload),
        )));
    let Ok(request) = request else {
        return false;
    };
    let Ok(response) = sender.send_request(request).await else {
        return false;
    };
    if !response.status().is_success() {
        return false;
    }
    let head_status = status::grpc_status(response.headers());
    let Ok(collected) = response.into_body().collect().await else {
        return false;
    };
    let trailer_status = collected.trailers().and_then(status::grpc_status);
    if head_status.or(trailer_status) != Some(0) {
        return false;
    }
    let body: Bytes = collected.to_bytes();
    let Ok((messages, _)) = grpc_web::parse_response(&body) else {
        return false;
    };
    messages
        .first()
        .and_then(|m| HealthCheckResponse::decode(m.as_ref()).ok())
        .is_some_and(|r| r.status == health_check_response::ServingStatus::Serving as i32)
}
