//! `baseline`: a bare tonic unary call with no logic, on this machine, in
//! this run: the `grpc.health.v1.Health/Check` of a kit server on port 0.
//! Other scenarios state their results as ratios against it.

use std::net::SocketAddr;

use map_kit::server::GrpcServer;
use tokio::{net::TcpListener, sync::oneshot};
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

use crate::{LoadOptions, Report, run_load};

/// A running echo server; dropping it stops the server.
#[derive(Debug)]
pub struct EchoServer {
    /// Where it listens.
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

/// Starts the echo server on 127.0.0.1:0.
pub async fn start_echo() -> std::io::Result<EchoServer> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(GrpcServer::new("echo").serve(listener, async {
        let _ = stopped.await;
    }));
    Ok(EchoServer { addr, _stop: stop })
}

/// Opens `n` HTTP/2 connections to `addr` (callers spread over them, as a
/// fleet of clients would).
pub async fn channels(addr: SocketAddr, n: usize) -> Result<Vec<Channel>, tonic::transport::Error> {
    let mut out = Vec::with_capacity(n);
    for _ in 0..n.max(1) {
        out.push(
            Endpoint::from_shared(format!("http://{addr}"))?
                .tcp_nodelay(true)
                .connect()
                .await?,
        );
    }
    Ok(out)
}

/// Runs the echo load against `addr` (or a fresh in-process server).
pub async fn run(
    opts: &LoadOptions,
    connections: usize,
) -> Result<Report, Box<dyn std::error::Error>> {
    let server = start_echo().await?;
    let chans = channels(server.addr, connections).await?;
    let mut report = run_load("baseline (tonic echo)", opts, move |worker| {
        let mut client = HealthClient::new(chans[worker % chans.len()].clone());
        async move {
            client
                .check(HealthCheckRequest {
                    service: String::new(),
                })
                .await
                .map(|_| ())
        }
    })
    .await;
    report.notes.push(format!(
        "grpc.health.v1.Health/Check on a kit server, {connections} HTTP/2 connections"
    ));
    Ok(report)
}
