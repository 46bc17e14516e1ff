//! Balancing across replicas: calls are shared, a replica that dies loses
//! only the calls that were running on it, a refusing endpoint is ejected,
//! DNS upstreams resolve to every address, and the gateway keeps answering.

mod support;

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use bytes::Bytes;
use http::{Request, header};
use http_body_util::{BodyExt as _, Full};
use hyper::client::conn::http2::SendRequest;
use hyper_util::rt::{TokioExecutor, TokioIo};
use map_gateway::UpstreamSpec;
use map_kit::{System, testing::ReservedPort};
use support::*;

/// Each call's start, end and gRPC status.
type CallLog = Arc<Mutex<Vec<(Instant, Instant, i32)>>>;

/// One h2c connection to the gateway, shared by many concurrent calls.
async fn connect(gw: &TestGateway) -> SendRequest<Full<Bytes>> {
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    sender
}

/// A health check of `service` on TTS through the gateway, native gRPC or
/// grpc-web; returns the gRPC status (or -1 when the HTTP exchange failed).
async fn check(sender: &mut SendRequest<Full<Bytes>>, service: &str, web: bool) -> i32 {
    let payload = health_request(service);
    let request = if web {
        let mut r = web_request("/tts/grpc.health.v1.Health/Check", &payload, false);
        *r.uri_mut() = "http://gw/tts/grpc.health.v1.Health/Check"
            .parse()
            .expect("uri");
        r
    } else {
        Request::post("http://gw/tts/grpc.health.v1.Health/Check")
            .header(header::CONTENT_TYPE, "application/grpc")
            .header(header::TE, "trailers")
            .body(Full::new(map_gateway::grpc_web::message_frame(&payload)))
            .expect("request")
    };
    let Ok(response) = sender.send_request(request).await else {
        return -1;
    };
    let head = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let Ok(collected) = response.into_body().collect().await else {
        return -1;
    };
    let trailers = collected.trailers().cloned();
    let body = collected.to_bytes();
    let from_trailers = if web {
        map_gateway::grpc_web::parse_response(&body)
            .ok()
            .and_then(|(_, t)| {
                t.get("grpc-status")
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.parse().ok())
            })
    } else {
        trailers.and_then(|t| {
            t.get("grpc-status")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())
        })
    };
    head.or(from_trailers).unwrap_or(-1)
}

#[tokio::test]
async fn two_replicas_share_calls() {
    let a = Replica::start(System::Tts, "replica-a").await;
    let b = Replica::start(System::Tts, "replica-b").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![a.spec(), b.spec()])])).await;
    let mut sender = connect(&gw).await;
    // "replica-a" is SERVING (0) on A and NOT_FOUND (5) on B.
    let (mut on_a, mut on_b) = (0, 0);
    for i in 0..200u32 {
        match check(&mut sender, "replica-a", i.is_multiple_of(2)).await {
            0 => on_a += 1,
            5 => on_b += 1,
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(
        on_a >= 40 && on_b >= 40,
        "calls not shared: A {on_a}, B {on_b}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_killed_replica_loses_no_call_that_had_not_started_on_it() {
    let a = Replica::start(System::Tts, "replica-a").await;
    let mut b = KillableReplica::start(System::Tts, "replica-b");
    let gw = TestGateway::start(config(vec![(System::Tts, vec![a.spec(), b.spec()])])).await;
    let sender = connect(&gw).await;
    let log: CallLog = Arc::default();
    let stop = Arc::new(tokio::sync::Notify::new());
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..8 {
        let mut sender = sender.clone();
        let log = log.clone();
        let done = done.clone();
        workers.spawn(async move {
            let mut i = 0usize;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                let start = Instant::now();
                let status = check(&mut sender, "", (w + i).is_multiple_of(2)).await;
                log.lock()
                    .expect("lock")
                    .push((start, Instant::now(), status));
                i += 1;
            }
        });
    }
    let calls = |log: &CallLog| log.lock().expect("lock").len();
    assert!(
        eventually(Duration::from_secs(10), || async { calls(&log) >= 300 }).await,
        "load runs"
    );
    b.kill();
    let died = Instant::now();
    // The moment the gateway has seen the connection to B close: calls it
    // routed to B before then had started on B.
    let b_label = format!("127.0.0.1:{}", b.addr.port());
    let noticed = eventually(Duration::from_secs(5), || async {
        gw.gateway
            .upstream_status()
            .iter()
            .any(|e| e.endpoint == b_label && !e.connected)
    })
    .await;
    assert!(noticed, "the gateway notices B's death");
    let killed_at = Instant::now();
    let before = calls(&log);
    assert!(
        eventually(Duration::from_secs(20), || async {
            calls(&log) >= before + 600
        })
        .await,
        "the gateway keeps answering after the kill"
    );
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    stop.notify_waiters();
    while workers.join_next().await.is_some() {}
    let log = log.lock().expect("lock").clone();
    // Every call that started after the kill succeeded; failures, if any,
    // are calls that were already running when it died.
    let after: Vec<_> = log.iter().filter(|(s, _, _)| *s >= killed_at).collect();
    assert!(after.len() >= 600);
    let failed_after: Vec<_> = after.iter().filter(|(_, _, st)| *st != 0).collect();
    assert!(
        failed_after.is_empty(),
        "{} calls started after the kill failed: {:?}",
        failed_after.len(),
        failed_after.iter().map(|c| c.2).collect::<Vec<_>>()
    );
    for (start, end, status) in &log {
        if *status != 0 {
            assert!(
                *start < killed_at && *end >= died,
                "a call failed that was not running when B died"
            );
        }
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_refusing_endpoint_is_ejected_and_dns_names_resolve() {
    let a = Replica::start(System::Tts, "replica-a").await;
    // Reserved for the whole test, and refusing: nothing else can take it.
    let dead_port = ReservedPort::new();
    let dead = UpstreamSpec::Static {
        host: "127.0.0.1".into(),
        port: dead_port.port(),
    };
    // "localhost" may resolve to ::1 as well, where nothing listens: ejected too.
    let dns = UpstreamSpec::Dns {
        name: "localhost".into(),
        port: a.server.addr.port(),
    };
    let gw = TestGateway::start(config(vec![(System::Tts, vec![dead, dns])])).await;
    let mut sender = connect(&gw).await;
    for i in 0..100u32 {
        assert_eq!(
            check(&mut sender, "replica-a", i.is_multiple_of(2)).await,
            0,
            "call {i}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn a_replica_that_comes_back_is_used_again() {
    let a = Replica::start(System::Tts, "replica-a").await;
    // B's port is reserved (refusing connections), then B starts on it later.
    let b_port = ReservedPort::new();
    let b_spec = UpstreamSpec::Static {
        host: "127.0.0.1".into(),
        port: b_port.port(),
    };
    let gw = TestGateway::start(config(vec![(System::Tts, vec![a.spec(), b_spec])])).await;
    let mut sender = connect(&gw).await;
    for _ in 0..20 {
        assert_eq!(
            check(&mut sender, "replica-a", false).await,
            0,
            "only A serves while B is down"
        );
    }
    let server = map_kit::server::GrpcServer::new("tts-b").scaffold(System::Tts);
    server
        .health_reporter()
        .set_service_status("replica-b", tonic_health::ServingStatus::Serving)
        .await;
    let listener = b_port.listen();
    let (stop_b, stopped) = tokio::sync::oneshot::channel::<()>();
    let b = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    // After its ejection ends (or a health check passes), B takes calls again.
    let back = eventually(Duration::from_secs(15), || {
        let mut sender = sender.clone();
        async move { check(&mut sender, "replica-b", true).await == 0 }
    })
    .await;
    assert!(back, "B is used again without restarting the gateway");
    let _ = stop_b.send(());
    let _ = b.await;
    gw.stop().await;
}
