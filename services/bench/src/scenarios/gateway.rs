//! `gateway`: the cost of the gateway. The same light unary call
//! (`grpc.health.v1.Health/Check` on a kit server) made directly, through
//! the gateway as native gRPC, through the gateway as grpc-web over
//! HTTP/1.1 keep-alive connections (as a browser makes it), and through
//! the gateway as Connect with JSON bodies over HTTP/1.1 (as curl or a
//! Connect client makes it: the JSON read and written against the
//! method's descriptors), all in one run on one machine. Then each path again at a fixed rate of half the
//! gateway's peak, to read the latency the gateway adds at that load.
//!
//! Client, gateway and service share the machine's cores, so the gateway
//! competes with the load generator and the service for CPU: the ratio is
//! a floor for a deployment where they run on separate machines.

use std::{collections::BTreeMap, net::SocketAddr, sync::Arc, time::Duration};

use bytes::Bytes;
use http::{Request, header, uri::PathAndQuery};
use http_body_util::{BodyExt as _, Full};
use hyper::{body::Incoming, client::conn::http1::SendRequest, service::service_fn};
use hyper_util::rt::{TokioExecutor, TokioIo};
use map_gateway::{GatewayConfig, UpstreamSpec};
use map_kit::System;
use tokio::{net::TcpListener, sync::Mutex};
use tonic::transport::Channel;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};

use super::{
    baseline::{channels, start_echo},
    nginx::Nginx,
};
use crate::{LoadOptions, Report, run_load};

/// Flags of the scenario.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// HTTP/2 connections the gRPC callers share (per path).
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Skip the half-load latency runs.
    #[arg(long)]
    pub skip_half_load: bool,
    /// Also measure a bare hyper HTTP/2 proxy (no routing, limits, logging or
    /// translation): the floor any hyper-based proxy hop starts from.
    #[arg(long)]
    pub bare_proxy: bool,
    /// Also measure nginx's `grpc_pass` (h2c, upstream keep-alive, access
    /// log off) as a second reference: the path of its binary, e.g.
    /// `/usr/sbin/nginx` (Debian's `nginx-light`).
    #[arg(long)]
    pub nginx: Option<String>,
}

/// The path the gateway routes to TTS's cluster (the echo server), prefix stripped.
const ROUTED: &str = "/tts/grpc.health.v1.Health/Check";
const DIRECT: &str = "/grpc.health.v1.Health/Check";

async fn grpc_call(channel: Channel, path: &'static str) -> Result<(), tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let codec = tonic_prost::ProstCodec::<HealthCheckRequest, HealthCheckResponse>::default();
    grpc.unary(
        tonic::Request::new(HealthCheckRequest {
            service: String::new(),
        }),
        PathAndQuery::from_static(path),
        codec,
    )
    .await
    .map(|_| ())
}

/// One grpc-web call over a worker's own HTTP/1.1 connection.
async fn grpc_web_call(
    sender: &Mutex<SendRequest<Full<Bytes>>>,
    body: Bytes,
) -> Result<(), String> {
    let request = Request::post(ROUTED)
        .header(header::HOST, "gateway")
        .header(header::CONTENT_TYPE, "application/grpc-web+proto")
        .header("x-grpc-web", "1")
        .body(Full::new(body))
        .map_err(|e| e.to_string())?;
    let mut sender = sender.lock().await;
    sender.ready().await.map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let raw = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    let (messages, trailers) =
        map_gateway::grpc_web::parse_response(&raw).map_err(|e| e.to_string())?;
    match (
        messages.len(),
        trailers.get("grpc-status").map(|v| v.as_bytes()),
    ) {
        (1, Some(b"0")) => Ok(()),
        _ => Err(format!("unexpected grpc-web reply: {trailers:?}")),
    }
}

/// The Connect JSON request body: `HealthCheckRequest { service: "" }`.
const CONNECT_BODY: &[u8] = b"{}";

/// One Connect unary JSON call over a worker's own HTTP/1.1 connection.
async fn connect_json_call(sender: &Mutex<SendRequest<Full<Bytes>>>) -> Result<(), String> {
    let request = Request::post(ROUTED)
        .header(header::HOST, "gateway")
        .header(header::CONTENT_TYPE, "application/json")
        .header("connect-protocol-version", "1")
        .body(Full::new(Bytes::from_static(CONNECT_BODY)))
        .map_err(|e| e.to_string())?;
    let mut sender = sender.lock().await;
    sender.ready().await.map_err(|e| e.to_string())?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|e| e.to_string())?;
    let status = response.status();
    let body = response
        .into_body()
        .collect()
        .await
        .map_err(|e| e.to_string())?
        .to_bytes();
    if status == http::StatusCode::OK && &body[..] == br#"{"status":"SERVING"}"# {
        Ok(())
    } else {
        Err(format!(
            "unexpected Connect reply: HTTP {status} {}",
            String::from_utf8_lossy(&body)
        ))
    }
}

/// The reference hop: an h2c server that forwards each request, untouched,
/// over one HTTP/2 connection to `upstream` and returns the response as it
/// comes. What remains of the gateway's cost over this is its own work.
async fn start_bare_proxy(
    upstream: SocketAddr,
) -> Result<(SocketAddr, tokio::task::JoinHandle<()>), Box<dyn std::error::Error>> {
    let stream = tokio::net::TcpStream::connect(upstream).await?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http2::Builder::new(TokioExecutor::new())
        .handshake::<_, Incoming>(TokioIo::new(stream))
        .await?;
    tokio::spawn(connection);
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_nodelay(true);
            let sender = sender.clone();
            tokio::spawn(async move {
                let service = service_fn(move |request: Request<Incoming>| {
                    let mut sender = sender.clone();
                    async move { sender.send_request(request).await }
                });
                let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((addr, task))
}

async fn http1_connections(
    addr: SocketAddr,
    n: usize,
) -> Result<Vec<Mutex<SendRequest<Full<Bytes>>>>, Box<dyn std::error::Error>> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n {
        let stream = tokio::net::TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(conn);
        out.push(Mutex::new(sender));
    }
    Ok(out)
}

/// Runs the scenario; returns its reports (peak direct, gRPC via gateway,
/// grpc-web via gateway, then the half-load runs) with ratios in the notes.
pub async fn run(
    opts: &LoadOptions,
    args: &GatewayArgs,
) -> Result<Vec<Report>, Box<dyn std::error::Error>> {
    map_kit::install_crypto_provider();
    let echo = start_echo().await?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let gateway_addr = listener.local_addr()?;
    let config = GatewayConfig {
        listen: gateway_addr,
        clusters: BTreeMap::from([(
            System::Tts,
            vec![UpstreamSpec::Static {
                host: echo.addr.ip().to_string(),
                port: echo.addr.port(),
            }],
        )]),
        shutdown_grace: Duration::from_secs(1),
        ..GatewayConfig::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let gateway = tokio::spawn(map_gateway::run(config, listener, async {
        let _ = stopped.await;
    }));

    let direct = channels(echo.addr, args.connections).await?;
    let via = channels(gateway_addr, args.connections).await?;
    // HealthCheckRequest { service: "" } encodes to zero bytes.
    let web_body = map_gateway::grpc_web::message_frame(&[]);

    let phase = |name: String, opts: LoadOptions, which: u8| {
        let direct = direct.clone();
        let via = via.clone();
        let body = web_body.clone();
        async move {
            match which {
                0 => {
                    run_load(&name, &opts, move |w| {
                        grpc_call(direct[w % direct.len()].clone(), DIRECT)
                    })
                    .await
                }
                1 => {
                    run_load(&name, &opts, move |w| {
                        grpc_call(via[w % via.len()].clone(), ROUTED)
                    })
                    .await
                }
                _ => {
                    // Fresh keep-alive connections per phase, one per caller
                    // (idle ones are closed by the gateway between phases);
                    // grpc-web (2) or Connect JSON (3) on them.
                    let web = match http1_connections(gateway_addr, opts.concurrency.max(1)).await {
                        Ok(c) => Arc::new(c),
                        Err(e) => {
                            let e = e.to_string();
                            return run_load(&name, &opts, move |_| {
                                let e = e.clone();
                                async move { Err::<(), _>(e) }
                            })
                            .await;
                        }
                    };
                    run_load(&name, &opts, move |w| {
                        let web = web.clone();
                        let body = body.clone();
                        async move {
                            let sender = &web[w % web.len()];
                            if which == 3 {
                                connect_json_call(sender).await
                            } else {
                                grpc_web_call(sender, body).await
                            }
                        }
                    })
                    .await
                }
            }
        }
    };

    let mut reports = Vec::new();
    let peak_direct = phase("direct gRPC".into(), opts.clone(), 0).await;
    let peak_grpc = phase("gateway gRPC".into(), opts.clone(), 1).await;
    let mut peak_web = phase("gateway grpc-web (HTTP/1.1)".into(), opts.clone(), 2).await;
    let mut peak_connect = phase("gateway Connect JSON (HTTP/1.1)".into(), opts.clone(), 3).await;
    let ratio = |r: &Report| r.throughput / peak_direct.throughput.max(1.0);
    let grpc_ratio = ratio(&peak_grpc);
    let web_ratio = ratio(&peak_web);
    let connect_ratio = ratio(&peak_connect);
    peak_web.notes.push(format!(
        "throughput vs direct: gateway gRPC {grpc_ratio:.2}×, gateway grpc-web {web_ratio:.2}× (target ≥ 0.60×)"
    ));
    peak_connect.notes.push(format!(
        "throughput vs direct: gateway Connect JSON {connect_ratio:.2}×; vs grpc-web {:.2}×",
        peak_connect.throughput / peak_web.throughput.max(1.0)
    ));
    let half_rate = (peak_grpc.throughput.min(peak_web.throughput) / 2.0).max(1.0);
    let bare = if args.bare_proxy {
        let (addr, task) = start_bare_proxy(echo.addr).await?;
        let channels = channels(addr, args.connections).await?;
        let mut report = run_load("bare hyper h2 proxy (reference)", opts, move |w| {
            grpc_call(channels[w % channels.len()].clone(), DIRECT)
        })
        .await;
        task.abort();
        report.notes.push(format!(
            "throughput vs direct: {:.2}× — the floor of a hyper-based proxy hop; the gateway's gRPC path is {:.0}% of it",
            ratio(&report),
            100.0 * peak_grpc.throughput / report.throughput.max(1.0)
        ));
        Some(report)
    } else {
        None
    };
    let nginx = match &args.nginx {
        Some(binary) => Some(Nginx::start(binary, echo.addr).await?),
        None => None,
    };
    let nginx_channels = match &nginx {
        Some(n) => Some(channels(n.addr, args.connections).await?),
        None => None,
    };
    let nginx_call = |name: String, opts: LoadOptions| {
        let channels = nginx_channels.clone().unwrap_or_default();
        async move {
            run_load(&name, &opts, move |w| {
                grpc_call(channels[w % channels.len()].clone(), DIRECT)
            })
            .await
        }
    };
    let peak_nginx = if nginx.is_some() {
        let mut report = nginx_call("nginx grpc_pass (reference)".into(), opts.clone()).await;
        let of_nginx = |r: &Report| r.throughput / report.throughput.max(1.0);
        let (grpc, web) = (of_nginx(&peak_grpc), of_nginx(&peak_web));
        report.notes.push(format!(
            "throughput vs nginx: gateway gRPC {grpc:.2}× ({}), gateway grpc-web {web:.2}× ({}) (target ≥ 1.5×)",
            crate::system::verdict(grpc >= 1.5),
            crate::system::verdict(web >= 1.5),
        ));
        Some(report)
    } else {
        None
    };
    if let Some(bare) = &bare {
        let of_bare = |r: &Report| r.throughput / bare.throughput.max(1.0);
        let (grpc, web) = (of_bare(&peak_grpc), of_bare(&peak_web));
        peak_web.notes.push(format!(
            "throughput vs the bare hyper hop: gateway gRPC {grpc:.2}× ({}), gateway grpc-web {web:.2}× ({}) (target ≥ 0.9×)",
            crate::system::verdict(grpc >= 0.9),
            crate::system::verdict(web >= 0.9),
        ));
    }
    reports.push(peak_direct);
    reports.push(peak_grpc);
    reports.push(peak_web);
    reports.push(peak_connect);
    reports.extend(bare);
    reports.extend(peak_nginx);

    if !args.skip_half_load {
        let mut at_half = opts.clone();
        at_half.rate = Some(half_rate);
        let direct_half = phase(format!("direct gRPC @{half_rate:.0}/s"), at_half.clone(), 0).await;
        let grpc_half = phase(
            format!("gateway gRPC @{half_rate:.0}/s"),
            at_half.clone(),
            1,
        )
        .await;
        let mut web_half = phase(
            format!("gateway grpc-web @{half_rate:.0}/s"),
            at_half.clone(),
            2,
        )
        .await;
        let mut connect_half = phase(
            format!("gateway Connect JSON @{half_rate:.0}/s"),
            at_half.clone(),
            3,
        )
        .await;
        let added = |r: &Report| r.latency.p99_us as f64 - direct_half.latency.p99_us as f64;
        let (added_grpc, added_web) = (added(&grpc_half), added(&web_half));
        web_half.notes.push(format!(
            "p99 added at half of the gateway's peak: gRPC {:.2} ms, grpc-web {:.2} ms (target ≤ 2 ms)",
            added_grpc / 1000.0,
            added_web / 1000.0
        ));
        connect_half.notes.push(format!(
            "p99 added at half of the gateway's peak: Connect JSON {:.2} ms",
            added(&connect_half) / 1000.0
        ));
        let nginx_half = if nginx.is_some() {
            let mut report = nginx_call(
                format!("nginx grpc_pass @{half_rate:.0}/s"),
                at_half.clone(),
            )
            .await;
            let by_nginx = added(&report);
            report.notes.push(format!(
                "p99 added at half of the gateway's peak: nginx {:.2} ms; the gateway's gRPC {} and grpc-web {} (target: no worse than nginx)",
                by_nginx / 1000.0,
                crate::system::verdict(added_grpc <= by_nginx),
                crate::system::verdict(added_web <= by_nginx),
            ));
            Some(report)
        } else {
            None
        };
        reports.push(direct_half);
        reports.push(grpc_half);
        reports.push(web_half);
        reports.push(connect_half);
        reports.extend(nginx_half);
    }
    if let Some(nginx) = nginx {
        nginx.stop().await;
    }

    drop((direct, via));
    let _ = stop.send(());
    let _ = tokio::time::timeout(Duration::from_secs(5), gateway).await;
    drop(echo);
    Ok(reports)
}
