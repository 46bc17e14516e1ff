//! The gateway's request handling: CORS preflights, then grpc-web and gRPC
//! calls (routed, limited, translated, forwarded, logged), then static files.

use std::{net::SocketAddr, sync::Arc, time::Instant};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use tokio::sync::Semaphore;
use tonic::{Code, body::Body, service::Routes};
use tonic_health::server::HealthReporter;
use tower::ServiceExt as _;

use crate::{
    access_log::{CallLog, LoggedBody},
    config::{CorsConfig, GatewayConfig, Limits},
    grpc_web::Encoding,
    local,
    route::{Route, route},
    static_files::{self, StaticFiles},
    status,
    upstream::{Call, InFlight, SendError, Upstreams},
    web_body::WebBody,
    web_stream::{self, Begun, RequestError},
};

/// Errors building the gateway.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// Reflection could not be built from the descriptor sets.
    #[error("reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
}

/// The gateway's request handler, shared by every connection.
#[derive(Debug, Clone)]
pub struct Gateway {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    upstreams: Upstreams,
    local: Routes,
    health: HealthReporter,
    cors: CorsConfig,
    statics: Option<StaticFiles>,
    limits: Limits,
    permits: Arc<Semaphore>,
}

/// How a gRPC-family request arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Web {
        request: Encoding,
        response: Encoding,
    },
    /// Connect, turned into gRPC by [`crate::connect::prepare`].
    Connect(crate::connect::Call),
}

impl Protocol {
    fn of(headers: &HeaderMap) -> Option<Protocol> {
        if let Some(request) = Encoding::of_request(headers) {
            return Some(Protocol::Web {
                request,
                response: Encoding::of_response(request, headers),
            });
        }
        let ct = headers.get(header::CONTENT_TYPE)?.to_str().ok()?;
        ct.starts_with("application/grpc").then_some(Protocol::Grpc)
    }

    fn name(self) -> &'static str {
        match self {
            Protocol::Grpc => "grpc",
            Protocol::Web {
                request: Encoding::Binary,
                ..
            } => "grpc-web",
            Protocol::Web { .. } => "grpc-web-text",
            Protocol::Connect(call) => call.name(),
        }
    }

    fn content_type(self) -> HeaderValue {
        match self {
            Protocol::Grpc | Protocol::Connect(_) => HeaderValue::from_static("application/grpc"),
            Protocol::Web { response, .. } => response.content_type(),
        }
    }
}

/// Headers that describe one hop and never travel on.
const HOP_BY_HOP: [HeaderName; 7] = [
    header::CONNECTION,
    header::HOST,
    header::TE,
    header::TRANSFER_ENCODING,
    header::UPGRADE,
    header::CONTENT_LENGTH,
    HeaderName::from_static("keep-alive"),
];

impl Gateway {
    /// Builds the handler and starts the upstream clusters' background work.
    pub async fn new(config: &GatewayConfig) -> Result<Gateway, GatewayError> {
        let health = HealthReporter::new();
        // Kubernetes' liveness probe: SERVING while the process runs, also
        // while draining (only readiness, "", follows the drain).
        health
            .set_service_status(
                map_kit::server::LIVENESS,
                tonic_health::ServingStatus::Serving,
            )
            .await;
        let local = local::routes(&health)?;
        let upstreams = Upstreams::start(
            &config.clusters,
            config.health_interval,
            config.dns_interval,
            config.eject_base,
        )
        .await;
        Ok(Gateway {
            inner: Arc::new(Inner {
                upstreams,
                local,
                health,
                cors: config.cors.clone(),
                statics: config.static_dir.as_deref().map(StaticFiles::new),
                limits: config.limits,
                permits: Arc::new(Semaphore::new(config.limits.max_concurrency)),
            }),
        })
    }

    /// The gateway's own health (reported NOT_SERVING while draining).
    pub fn health_reporter(&self) -> HealthReporter {
        self.inner.health.clone()
    }

    /// The state of every upstream endpoint.
    pub fn upstream_status(&self) -> Vec<crate::upstream::EndpointStatus> {
        self.inner.upstreams.status()
    }

    /// Answers one request from `peer`.
    pub async fn handle(&self, request: Request<Body>, peer: SocketAddr) -> Response<Body> {
        let inner = &self.inner;
        if let Some(preflight) = inner.cors.preflight(&request) {
            return preflight;
        }
        let origin = request.headers().get(header::ORIGIN).cloned();
        if let Some(call) = crate::connect::Call::of(&request) {
            let mut response =
                match crate::connect::prepare(request, call, &inner.limits, peer).await {
                    Ok((request, call)) => self.call(request, Protocol::Connect(call), peer).await,
                    Err(refused) => refused,
                };
            inner.cors.decorate(origin.as_ref(), response.headers_mut());
            return response;
        }
        let mut response = match Protocol::of(request.headers()) {
            Some(protocol) if request.method() == Method::POST => {
                self.call(request, protocol, peer).await
            }
            _ => match &inner.statics {
                Some(statics) => statics.serve(request).await,
                None => static_files::not_found(),
            },
        };
        inner.cors.decorate(origin.as_ref(), response.headers_mut());
        response
    }

    async fn call(
        &self,
        request: Request<Body>,
        protocol: Protocol,
        peer: SocketAddr,
    ) -> Response<Body> {
        let start = Instant::now();
        let inner = &self.inner;
        let mut log = CallLog {
            method: request.uri().path().to_owned(),
            protocol: protocol.name(),
            peer,
            upstream: "-".to_owned(),
            http_status: 200,
            grpc_status: None,
            start,
        };
        let early = |log: CallLog, response: Response<Body>| {
            let mut log = log;
            log.grpc_status = status::grpc_status(response.headers());
            let response = match protocol {
                Protocol::Connect(call) => crate::connect::early(response, call),
                _ => response,
            };
            log.http_status = response.status().as_u16();
            let (parts, body) = response.into_parts();
            Response::from_parts(parts, Body::new(LoggedBody::new(body, log, None, None)))
        };
        let Ok(permit) = inner.permits.clone().try_acquire_owned() else {
            return early(
                log,
                status::trailers_only(
                    Code::Unavailable,
                    "gateway overloaded",
                    protocol.content_type(),
                ),
            );
        };
        let route = route(request.uri().path());
        if route == Route::Unknown {
            let message = format!("unknown service {}", request.uri().path());
            return early(
                log,
                status::trailers_only(Code::Unimplemented, &message, protocol.content_type()),
            );
        }

        // The deadline: the caller's, capped; the cap when it has none.
        let max = inner.limits.max_grpc_timeout;
        let deadline = request
            .headers()
            .get("grpc-timeout")
            .and_then(|v| v.to_str().ok())
            .and_then(status::parse_timeout)
            .filter(|d| !d.is_zero())
            .map_or(max, |d| d.min(max));

        let (mut parts, body) = request.into_parts();
        // A grpc-web fault found once the body streams is reported here.
        let mut refused = None;
        let mut fault = None;
        let may_stream = parts.version >= http::Version::HTTP_2;
        let payload = match protocol {
            Protocol::Grpc | Protocol::Connect(_) => Payload::Streamed(body),
            Protocol::Web {
                request: encoding, ..
            } => match web_stream::begin(
                body,
                encoding,
                inner.limits.max_body_bytes,
                deadline,
                may_stream,
            )
            .await
            {
                Ok(Begun::Whole(bytes)) => Payload::Whole(bytes),
                Ok(Begun::Streaming {
                    body,
                    refused: refusal,
                    fault: kept,
                }) => {
                    refused = Some(refusal);
                    fault = Some(kept);
                    Payload::Streamed(Body::new(body))
                }
                Err(e) => return early(log, e.response()),
            },
        };
        prepare_headers(&mut parts.headers, protocol, deadline, peer);
        let span = tracing::info_span!("gateway", rpc = %log.method, otel.kind = "server");
        map_kit::telemetry::adopt_parent(&span, &map_kit::telemetry::HeaderCarrier(&parts.headers));
        map_kit::telemetry::inject(
            &span,
            &mut map_kit::telemetry::HeaderInjector(&mut parts.headers),
        );

        let (upstream_path, cluster) = match &route {
            Route::Upstream { system, path } => match inner.upstreams.cluster(*system) {
                Some(c) => (path.clone(), Some(c)),
                None => {
                    let message = format!("no upstream configured for {system}");
                    return early(
                        log,
                        status::trailers_only(Code::Unavailable, &message, protocol.content_type()),
                    );
                }
            },
            _ => (log.method.clone(), None),
        };
        if let Ok(uri) = upstream_path.parse() {
            parts.uri = uri;
        }
        parts.method = Method::POST;
        let head = Request::from_parts(parts, ());

        let sending = async {
            match cluster {
                Some(cluster) => {
                    let call = match payload {
                        Payload::Whole(bytes) => Call::whole(head, bytes),
                        Payload::Streamed(body) => Call::streamed(head.map(|()| body)),
                    };
                    match cluster.send(call).await {
                        Ok((response, guard)) => Ok((response.map(Body::new), Some(guard))),
                        Err(e) => Err(Failure::Send(e)),
                    }
                }
                None => {
                    let outgoing = head.map(|()| payload.into_body());
                    let response = inner.local.clone().oneshot(outgoing).await;
                    match response {
                        Ok(r) => Ok((r, None)),
                        Err(never) => match never {},
                    }
                }
            }
        };
        let answered = tokio::time::timeout(deadline, async {
            match refused {
                None => sending.await,
                Some(refused) => {
                    tokio::pin!(sending);
                    tokio::select! {
                        answer = &mut sending => answer,
                        Ok(e) = refused => Err(Failure::Refused(e)),
                    }
                }
            }
        })
        .await;
        let (response, guard): (Response<Body>, Option<InFlight>) = match answered {
            Ok(Ok(pair)) => pair,
            Ok(Err(Failure::Refused(e))) => return early(log, e.response()),
            Ok(Err(Failure::Send(e))) => {
                let code = match &e {
                    SendError::NoEndpoint(_) | SendError::Failed { .. } => Code::Unavailable,
                };
                tracing::debug!(error = %e, "upstream unavailable");
                return early(
                    log,
                    status::trailers_only(code, &e.to_string(), protocol.content_type()),
                );
            }
            Err(_) => {
                return early(
                    log,
                    status::trailers_only(
                        Code::DeadlineExceeded,
                        "deadline exceeded before the upstream answered",
                        protocol.content_type(),
                    ),
                );
            }
        };
        log.upstream = guard
            .as_ref()
            .map_or_else(|| "local".to_owned(), |g| g.endpoint().label().to_owned());
        if let Protocol::Connect(call) = protocol {
            return crate::connect::respond(response, call, log, guard, permit).await;
        }
        translate(response, protocol, log, guard, permit, fault)
    }
}

/// A request body on its way upstream.
enum Payload {
    /// Held whole (a grpc-web body that had fully arrived, decoded).
    Whole(Bytes),
    /// Streaming from the client.
    Streamed(Body),
}

impl Payload {
    fn into_body(self) -> Body {
        match self {
            Payload::Whole(bytes) => Body::new(Full::new(bytes)),
            Payload::Streamed(body) => body,
        }
    }
}

/// Why a call got no upstream answer.
enum Failure {
    /// It could not be delivered.
    Send(SendError),
    /// Its grpc-web body turned out malformed or too large while streaming.
    Refused(RequestError),
}

/// Rewrites the request headers for the upstream hop.
fn prepare_headers(
    headers: &mut HeaderMap,
    protocol: Protocol,
    deadline: std::time::Duration,
    peer: SocketAddr,
) {
    for name in &HOP_BY_HOP {
        headers.remove(name);
    }
    if let Protocol::Web { .. } = protocol {
        headers.remove(header::ACCEPT);
        headers.remove("x-grpc-web");
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/grpc"),
        );
    }
    headers.insert(header::TE, HeaderValue::from_static("trailers"));
    headers.insert("grpc-timeout", status::format_timeout(deadline));
    let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
        Some(prior) if !prior.trim().is_empty() => format!("{prior}, {}", peer.ip()),
        _ => peer.ip().to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&forwarded) {
        headers.insert("x-forwarded-for", v);
    }
}

/// Turns the upstream's response into the caller's protocol. A response
/// that is not gRPC (a non-200 status, or no gRPC content type) becomes a
/// trailers-only status with Envoy's HTTP-to-gRPC mapping.
fn translate(
    response: Response<Body>,
    protocol: Protocol,
    mut log: CallLog,
    guard: Option<InFlight>,
    permit: tokio::sync::OwnedSemaphorePermit,
    fault: Option<web_stream::Fault>,
) -> Response<Body> {
    let is_grpc = response.status() == StatusCode::OK
        && response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|ct| ct.starts_with("application/grpc"));
    if !is_grpc {
        let http = response.status();
        let code = if http == StatusCode::OK {
            Code::Unknown
        } else {
            status::code_for_http(http)
        };
        let message = format!("upstream answered HTTP {} without gRPC", http.as_u16());
        let mapped = status::trailers_only(code, &message, protocol.content_type());
        log.grpc_status = Some(code as i32);
        let (parts, body) = mapped.into_parts();
        return Response::from_parts(
            parts,
            Body::new(LoggedBody::new(body, log, guard, Some(permit))),
        );
    }
    log.grpc_status = status::grpc_status(response.headers());
    let (mut parts, body) = response.into_parts();
    let logged = LoggedBody::new(body, log, guard, Some(permit));
    match protocol {
        Protocol::Grpc | Protocol::Connect(_) => Response::from_parts(parts, Body::new(logged)),
        Protocol::Web {
            response: encoding, ..
        } => {
            parts
                .headers
                .insert(header::CONTENT_TYPE, encoding.content_type());
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::new(WebBody::new(logged, encoding, fault)))
        }
    }
}
