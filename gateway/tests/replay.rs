//! Replay of calls an upstream never processed, as Envoy does: a call
//! refused with `REFUSED_STREAM` goes once more to another endpoint, never
//! twice, and never when its body had started streaming upstream; an
//! endpoint whose listener goes away between calls (killed, or shutting
//! down gracefully) loses no call that had not started on it.

mod support;

use std::{
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, Full, StreamBody};
use hyper::{body::Frame, client::conn::http2::SendRequest};
use hyper_util::rt::{TokioExecutor, TokioIo};
use map_gateway::{UpstreamSpec, grpc_web::message_frame};
use map_kit::System;
use prost::Message as _;
use support::*;
use tokio::{net::TcpListener, sync::mpsc, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;

/// An HTTP/2 upstream that answers health checks SERVING and refuses
/// every other stream with `RST_STREAM(REFUSED_STREAM)`, counting them.
struct RefusingUpstream {
    addr: SocketAddr,
    refused: Arc<AtomicUsize>,
    task: JoinHandle<()>,
}

impl RefusingUpstream {
    async fn start() -> RefusingUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let refused = Arc::new(AtomicUsize::new(0));
        let count = refused.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let count = count.clone();
                tokio::spawn(async move {
                    let Ok(mut conn) = h2::server::handshake(stream).await else {
                        return;
                    };
                    while let Some(Ok((request, mut respond))) = conn.accept().await {
                        if request.uri().path() == "/grpc.health.v1.Health/Check" {
                            let head = Response::builder()
                                .header(header::CONTENT_TYPE, "application/grpc")
                                .body(())
                                .expect("head");
                            let Ok(mut send) = respond.send_response(head, false) else {
                                continue;
                            };
                            let serving = tonic_health::pb::HealthCheckResponse { status: 1 };
                            let _ = send.send_data(message_frame(&serving.encode_to_vec()), false);
                            let mut trailers = http::HeaderMap::new();
                            trailers.insert("grpc-status", http::HeaderValue::from_static("0"));
                            let _ = send.send_trailers(trailers);
                        } else {
                            count.fetch_add(1, Ordering::SeqCst);
                            respond.send_reset(h2::Reason::REFUSED_STREAM);
                        }
                    }
                });
            }
        });
        RefusingUpstream {
            addr,
            refused,
            task,
        }
    }

    fn spec(&self) -> UpstreamSpec {
        UpstreamSpec::Static {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
        }
    }

    fn refused(&self) -> usize {
        self.refused.load(Ordering::SeqCst)
    }
}

impl Drop for RefusingUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One h2c connection to the gateway.
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

/// A unary grpc-web call; its gRPC status and message.
async fn call(sender: &mut SendRequest<Full<Bytes>>, path: &str, payload: &[u8]) -> (i32, String) {
    let mut request = web_request(path, payload, false);
    *request.uri_mut() = format!("http://gw{path}").parse().expect("uri");
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let head = response.headers().clone();
    let body = response
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes();
    let (_, trailers) = map_gateway::grpc_web::parse_response(&body).expect("frames");
    let field = |name: &str| {
        head.get(name)
            .or(trailers.get(name))
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    };
    (
        field("grpc-status").parse().unwrap_or(-1),
        field("grpc-message"),
    )
}

const GET_TICKET: &str = "/map.tts.v1.TicketService/GetTicket";

#[tokio::test]
async fn a_refused_call_is_replayed_on_another_endpoint() {
    let refusing = RefusingUpstream::start().await;
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(
        System::Tts,
        vec![refusing.spec(), tts.spec()],
    )]))
    .await;
    let mut sender = connect(&gw).await;
    for i in 0..40 {
        let (code, message) = call(&mut sender, GET_TICKET, b"").await;
        // TTS's scaffold answered every call, also those first refused.
        assert_eq!(code, 12, "call {i}: {message}");
        assert!(message.contains("tts"), "call {i}: {message}");
    }
    assert!(
        refusing.refused() >= 1,
        "the refusing endpoint was picked and refused at least once"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_refused_call_is_replayed_once_never_twice() {
    let refusing = [
        RefusingUpstream::start().await,
        RefusingUpstream::start().await,
        RefusingUpstream::start().await,
    ];
    let gw = TestGateway::start(config(vec![(
        System::Tts,
        refusing.iter().map(RefusingUpstream::spec).collect(),
    )]))
    .await;
    let mut sender = connect(&gw).await;
    let calls = 10;
    for i in 0..calls {
        let (code, message) = call(&mut sender, GET_TICKET, b"").await;
        assert_eq!(code, 14, "call {i}: {message}");
        assert!(
            message.contains("refused") || message.contains("REFUSED"),
            "call {i}: {message}"
        );
    }
    let refused: usize = refusing.iter().map(RefusingUpstream::refused).sum();
    assert_eq!(
        refused,
        2 * calls,
        "each call was sent twice: first try and one replay"
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_call_whose_body_was_streaming_is_never_replayed() {
    let refusing = [
        RefusingUpstream::start().await,
        RefusingUpstream::start().await,
    ];
    let gw = TestGateway::start(config(vec![(
        System::Tts,
        refusing.iter().map(RefusingUpstream::spec).collect(),
    )]))
    .await;
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    // A grpc-web request whose body stays open: forwarded as it streams.
    let (tx, rx) = mpsc::channel::<Result<Frame<Bytes>, std::convert::Infallible>>(4);
    tx.send(Ok(Frame::data(message_frame(b"first"))))
        .await
        .expect("queued");
    let request = Request::post(format!("http://gw/tts{GET_TICKET}"))
        .header(header::CONTENT_TYPE, "application/grpc-web+proto")
        .body(StreamBody::new(ReceiverStream::new(rx)))
        .expect("request");
    let response = tokio::time::timeout(Duration::from_secs(10), sender.send_request(request))
        .await
        .expect("answered")
        .expect("response");
    let status = response
        .headers()
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    assert_eq!(status.as_deref(), Some("14"));
    let refused: usize = refusing.iter().map(RefusingUpstream::refused).sum();
    assert_eq!(refused, 1, "the streaming call was not replayed");
    drop(tx);
    gw.stop().await;
}

/// Sequential grpc-web health checks of TTS through the gateway; the
/// statuses they got.
async fn checks(sender: &mut SendRequest<Full<Bytes>>, n: usize) -> Vec<i32> {
    let mut statuses = Vec::with_capacity(n);
    for _ in 0..n {
        let (code, _) = call(
            sender,
            "/tts/grpc.health.v1.Health/Check",
            &health_request(""),
        )
        .await;
        statuses.push(code);
    }
    statuses
}

#[tokio::test]
async fn an_endpoint_killed_between_calls_loses_no_call() {
    let a = Replica::start(System::Tts, "replica-a").await;
    let mut b = KillableReplica::start(System::Tts, "replica-b");
    let gw = TestGateway::start(config(vec![(System::Tts, vec![a.spec(), b.spec()])])).await;
    let mut sender = connect(&gw).await;
    let b_label = format!("127.0.0.1:{}", b.addr.port());
    // Both endpoints take calls.
    assert!(checks(&mut sender, 20).await.iter().all(|s| *s == 0));
    let b_connected = gw
        .gateway
        .upstream_status()
        .iter()
        .any(|e| e.endpoint == b_label && e.connected);
    assert!(b_connected, "the gateway holds a connection to B");
    b.kill();
    // Once the gateway has seen the connection close, B is still listed
    // (and healthy until a check fails), so calls keep being routed to it.
    let noticed = eventually(Duration::from_secs(5), || async {
        gw.gateway
            .upstream_status()
            .iter()
            .any(|e| e.endpoint == b_label && !e.connected)
    })
    .await;
    assert!(noticed, "the gateway notices B's death");
    let statuses = checks(&mut sender, 50).await;
    assert!(
        statuses.iter().all(|s| *s == 0),
        "calls after the kill: {statuses:?}"
    );
    let b_now = gw
        .gateway
        .upstream_status()
        .into_iter()
        .find(|e| e.endpoint == b_label)
        .expect("B listed");
    assert!(
        b_now.ejected || !b_now.healthy,
        "B is out of rotation: {b_now:?}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn an_endpoint_shutting_down_between_calls_loses_no_call() {
    let a = Replica::start(System::Tts, "replica-a").await;
    let mut b = Replica::start(System::Tts, "replica-b").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![a.spec(), b.spec()])])).await;
    let mut sender = connect(&gw).await;
    assert!(checks(&mut sender, 20).await.iter().all(|s| *s == 0));
    // B closes its listener and sends GOAWAY on its connection; the calls
    // right after it (no waiting) all succeed.
    b.server.begin_shutdown();
    let statuses = checks(&mut sender, 100).await;
    assert!(
        statuses.iter().all(|s| *s == 0),
        "calls after the shutdown began: {statuses:?}"
    );
    gw.stop().await;
}
