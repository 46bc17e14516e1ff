//! grpc-web requests that stream: client-streaming and bidirectional calls
//! over HTTP/2, forwarded frame by frame while the client keeps its request
//! open — with third-party clients (`buf curl --protocol grpcweb` using the
//! gateway's server reflection, a bidirectional stream; Connect's Node.js
//! grpc-web transport) and with a raw HTTP/2 client that checks the
//! upstream holds each message before the next is sent, in binary and in
//! text mode with base64 groups split across chunks, and that a malformed
//! or oversized message mid-stream is still answered 400/413.

mod support;

use std::{
    convert::Infallible,
    net::SocketAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use bytes::{Buf as _, Bytes, BytesMut};
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt as _, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use map_gateway::grpc_web::{encode_text, message_frame};
use map_kit::System;
use prost::Message as _;
use support::*;
use tokio::{net::TcpListener, process::Command, sync::mpsc, task::JoinHandle};
use tokio_stream::wrappers::ReceiverStream;

const LIMIT: Duration = Duration::from_secs(60);

type FrameTx = mpsc::Sender<Result<Frame<Bytes>, Infallible>>;

/// An h2c gRPC upstream with `map.test.v1.StreamTest` (StringValue in and
/// out): `Sum` (client streaming) answers the messages joined with ",";
/// `Echo` (bidirectional) sends each message back as it arrives. Every
/// message received is recorded as it arrives. Health checks are SERVING.
struct StreamUpstream {
    addr: SocketAddr,
    seen: Arc<Mutex<Vec<String>>>,
    task: JoinHandle<()>,
}

impl StreamUpstream {
    async fn start() -> StreamUpstream {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let seen = Arc::new(Mutex::new(Vec::new()));
        let record = seen.clone();
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let record = record.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                        let record = record.clone();
                        async move { Ok::<_, Infallible>(answer(req, record).await) }
                    });
                    let _ = hyper::server::conn::http2::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        StreamUpstream { addr, seen, task }
    }

    fn spec(&self) -> map_gateway::UpstreamSpec {
        map_gateway::UpstreamSpec::Static {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
        }
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for StreamUpstream {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Answers like a tonic server: a unary or client-streaming method's
/// response head once the request has been read, a bidirectional one's at
/// once.
async fn answer(
    req: Request<Incoming>,
    record: Arc<Mutex<Vec<String>>>,
) -> Response<StreamBody<ReceiverStream<Result<Frame<Bytes>, Infallible>>>> {
    let (tx, rx) = mpsc::channel(64);
    let path = req.uri().path().to_owned();
    let body = req.into_body();
    let respond = |rx| {
        let mut response = Response::new(StreamBody::new(ReceiverStream::new(rx)));
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/grpc"),
        );
        response
    };
    match path.as_str() {
        "/grpc.health.v1.Health/Check" => {
            let serving = tonic_health::pb::HealthCheckResponse { status: 1 };
            let _ = tx.try_send(Ok(Frame::data(message_frame(&serving.encode_to_vec()))));
            let _ = tx.try_send(Ok(Frame::trailers(trailers(0))));
        }
        "/map.test.v1.StreamTest/Sum" => {
            let mut all = Vec::new();
            let complete = read_messages(body, &record, |m| all.push(m)).await;
            if complete {
                let joined = all.join(",");
                let _ = tx.try_send(Ok(Frame::data(message_frame(&joined.encode_to_vec()))));
                let _ = tx.try_send(Ok(Frame::trailers(trailers(0))));
            } else {
                let _ = tx.try_send(Ok(Frame::trailers(trailers(1))));
            }
        }
        "/map.test.v1.StreamTest/Echo" => {
            tokio::spawn(async move {
                let complete = read_messages(body, &record, |m| {
                    let _ = tx.try_send(Ok(Frame::data(message_frame(&m.encode_to_vec()))));
                })
                .await;
                let _ = tx
                    .send(Ok(Frame::trailers(trailers(if complete { 0 } else { 1 }))))
                    .await;
            });
        }
        _ => {
            let _ = tx.try_send(Ok(Frame::trailers(trailers(12))));
        }
    }
    respond(rx)
}

fn trailers(code: i32) -> http::HeaderMap {
    let mut t = http::HeaderMap::new();
    t.insert("grpc-status", http::HeaderValue::from(code));
    t
}

/// Reads gRPC frames from `body` as they arrive, recording and handing on
/// each StringValue message; whether the body ended cleanly.
async fn read_messages(
    mut body: Incoming,
    record: &Mutex<Vec<String>>,
    mut each: impl FnMut(String),
) -> bool {
    let mut buf = BytesMut::new();
    loop {
        let frame = match body.frame().await {
            None => return buf.is_empty(),
            Some(Err(_)) => return false,
            Some(Ok(frame)) => frame,
        };
        let Ok(data) = frame.into_data() else {
            continue;
        };
        buf.extend_from_slice(&data);
        while buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf.len() < 5 + len {
                break;
            }
            buf.advance(5);
            let payload = buf.split_to(len);
            let message = String::decode(payload.freeze()).unwrap_or_default();
            record.lock().expect("lock").push(message.clone());
            each(message);
        }
    }
}

/// A gateway in front of a [`StreamUpstream`] serving TTS.
async fn platform() -> (StreamUpstream, TestGateway) {
    let upstream = StreamUpstream::start().await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![upstream.spec()])])).await;
    (upstream, gw)
}

/// An h2c connection to the gateway whose request bodies the test feeds.
async fn open_call(
    gw: &TestGateway,
    path: &str,
    content_type: &str,
) -> (FrameTx, tokio::task::JoinHandle<Collected>) {
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let (tx, rx) = mpsc::channel(16);
    let request = Request::post(format!("http://gw{path}"))
        .header(header::CONTENT_TYPE, content_type)
        .header("x-grpc-web", "1")
        .body(StreamBody::new(ReceiverStream::new(rx)))
        .expect("request");
    let response = tokio::spawn(async move {
        let response = sender.send_request(request).await.expect("response head");
        let (parts, body) = response.into_parts();
        let collected = tokio::time::timeout(Duration::from_secs(10), body.collect())
            .await
            .expect("body within 10 s")
            .expect("body");
        Collected {
            status: parts.status,
            headers: parts.headers,
            trailers: collected.trailers().cloned(),
            body: collected.to_bytes(),
        }
    });
    (tx, response)
}

async fn send(tx: &FrameTx, data: impl Into<Bytes>) {
    tx.send(Ok(Frame::data(data.into())))
        .await
        .expect("the request body is open");
}

/// Waits until the upstream has received `n` messages.
async fn upstream_holds(upstream: &StreamUpstream, n: usize) -> bool {
    eventually(Duration::from_secs(5), || async {
        upstream.seen().len() >= n
    })
    .await
}

#[tokio::test]
async fn client_stream_messages_reach_the_upstream_while_the_request_is_open() {
    let (upstream, gw) = platform().await;
    for text in [false, true] {
        let before = upstream.seen().len();
        let ct = if text {
            "application/grpc-web-text"
        } else {
            "application/grpc-web+proto"
        };
        let (tx, response) = open_call(&gw, "/tts/map.test.v1.StreamTest/Sum", ct).await;
        for (i, word) in ["first", "second", "third"].into_iter().enumerate() {
            let frame = message_frame(&word.to_owned().encode_to_vec());
            if text {
                // Base64 in pieces that split 4-character groups.
                let encoded = encode_text(&frame);
                for piece in encoded.as_bytes().chunks(3) {
                    send(&tx, Bytes::copy_from_slice(piece)).await;
                }
            } else {
                // A frame split across chunks, its header too.
                send(&tx, frame.slice(..3)).await;
                send(&tx, frame.slice(3..)).await;
            }
            assert!(
                upstream_holds(&upstream, before + i + 1).await,
                "message {i} reached the upstream before the next was sent (text={text})"
            );
        }
        drop(tx);
        let c = response.await.expect("response");
        assert_eq!(c.status, StatusCode::OK, "text={text}");
        let (messages, trailers) = web_response(&c);
        assert_eq!(
            trailers.get("grpc-status").map(|v| v.as_bytes()),
            Some(&b"0"[..])
        );
        let sum = String::decode(messages[0].clone()).expect("StringValue");
        assert_eq!(sum, "first,second,third", "text={text}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn bidirectional_messages_are_answered_one_by_one() {
    let (_upstream, gw) = platform().await;
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let (tx, rx) = mpsc::channel(16);
    let request = Request::post("http://gw/tts/map.test.v1.StreamTest/Echo")
        .header(header::CONTENT_TYPE, "application/grpc-web-text")
        .body(StreamBody::new(ReceiverStream::new(rx)))
        .expect("request");
    let frame = message_frame(&"ping".to_owned().encode_to_vec());
    send(&tx, encode_text(&frame)).await;
    let response = tokio::time::timeout(Duration::from_secs(5), sender.send_request(request))
        .await
        .expect("the head arrives while the request is open")
        .expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let mut text = Vec::new();
    for word in ["ping", "pong", "done"] {
        if word != "ping" {
            let frame = message_frame(&word.to_owned().encode_to_vec());
            send(&tx, encode_text(&frame)).await;
        }
        // The echo of this message arrives before the next is sent.
        let want = encode_text(&message_frame(&word.to_owned().encode_to_vec()));
        let echoed = tokio::time::timeout(Duration::from_secs(5), async {
            while !String::from_utf8_lossy(&text).contains(&want) {
                let frame = body.frame().await.expect("open").expect("frame");
                if let Ok(data) = frame.into_data() {
                    text.extend_from_slice(&data);
                }
            }
        })
        .await;
        assert!(
            echoed.is_ok(),
            "no echo of {word}: {}",
            String::from_utf8_lossy(&text)
        );
    }
    drop(tx);
    let rest = body.collect().await.expect("rest").to_bytes();
    text.extend_from_slice(&rest);
    let raw = map_gateway::grpc_web::decode_text_response(&text).expect("base64");
    let (messages, trailers) = map_gateway::grpc_web::parse_response(&raw).expect("frames");
    assert_eq!(messages.len(), 3);
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
    gw.stop().await;
}

#[tokio::test]
async fn a_bad_message_mid_stream_is_refused_like_a_bad_body() {
    let upstream = StreamUpstream::start().await;
    let mut cfg = config(vec![(System::Tts, vec![upstream.spec()])]);
    cfg.limits.max_body_bytes = 1024;
    let gw = TestGateway::start(cfg).await;
    let good = message_frame(&"fine".to_owned().encode_to_vec());
    let too_big = {
        let mut f = vec![0u8, 0, 0, 8, 0];
        f.extend_from_slice(&[1; 16]);
        f
    };
    let cases: [(&[u8], StatusCode); 3] = [
        (&[0x80, 0, 0, 0, 0], StatusCode::BAD_REQUEST),
        (&[0x02, 0, 0, 0, 0], StatusCode::BAD_REQUEST),
        (&too_big, StatusCode::PAYLOAD_TOO_LARGE),
    ];
    for (bad, want) in cases {
        let before = upstream.seen().len();
        let (tx, response) = open_call(
            &gw,
            "/tts/map.test.v1.StreamTest/Sum",
            "application/grpc-web+proto",
        )
        .await;
        send(&tx, good.clone()).await;
        assert!(
            upstream_holds(&upstream, before + 1).await,
            "streaming began"
        );
        send(&tx, Bytes::copy_from_slice(bad)).await;
        let c = response.await.expect("response");
        assert_eq!(c.status, want, "{bad:?}");
    }
    // Base64 that breaks mid-stream.
    let before = upstream.seen().len();
    let (tx, response) = open_call(
        &gw,
        "/tts/map.test.v1.StreamTest/Sum",
        "application/grpc-web-text",
    )
    .await;
    send(&tx, encode_text(&good)).await;
    assert!(
        upstream_holds(&upstream, before + 1).await,
        "streaming began"
    );
    send(&tx, "%%%%").await;
    let c = response.await.expect("response");
    assert_eq!(c.status, StatusCode::BAD_REQUEST);
    // And a body that grows past the limit in many small messages.
    let (tx, response) = open_call(
        &gw,
        "/tts/map.test.v1.StreamTest/Sum",
        "application/grpc-web+proto",
    )
    .await;
    let small = message_frame(&"x".repeat(90).encode_to_vec());
    // 12 messages of 97 bytes (fewer than the channel holds: never blocks).
    for _ in 0..12 {
        if tx.send(Ok(Frame::data(small.clone()))).await.is_err() {
            break;
        }
    }
    let c = response.await.expect("response");
    assert_eq!(c.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Once the upstream has answered (a bidirectional call's head comes at
    // once), a bad message ends the call with an error status instead.
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2 handshake");
    tokio::spawn(conn);
    let (tx, rx) = mpsc::channel(16);
    let request = Request::post("http://gw/tts/map.test.v1.StreamTest/Echo")
        .header(header::CONTENT_TYPE, "application/grpc-web+proto")
        .body(StreamBody::new(ReceiverStream::new(rx)))
        .expect("request");
    send(&tx, good.clone()).await;
    let response = sender.send_request(request).await.expect("head");
    assert_eq!(response.status(), StatusCode::OK);
    send(&tx, Bytes::from_static(&[0x80, 0, 0, 0, 0])).await;
    let body = tokio::time::timeout(Duration::from_secs(10), response.into_body().collect())
        .await
        .expect("the call ends")
        .expect("body")
        .to_bytes();
    let (_, trailers) = map_gateway::grpc_web::parse_response(&body).expect("frames");
    let status = trailers
        .get("grpc-status")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("none");
    // Envoy's mapping of the 400 the body earned: INTERNAL, with the reason.
    assert_eq!(status, "13", "{trailers:?}");
    let message = trailers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(message.contains("flag"), "{message}");
    gw.stop().await;
}

#[tokio::test]
async fn connect_node_client_and_bidi_streaming_over_http2() {
    let (upstream, gw) = platform().await;
    let Some(mut cmd) = node_script("grpc_web_streaming.mjs") else {
        return;
    };
    cmd.arg(format!("{}/tts", gw.url()));
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok, "node client failed: {err}\n{out}");
    let results: serde_json::Value = serde_json::from_str(out.trim()).expect("json output");
    assert_eq!(results["sum"], "a,b,c", "{results}");
    assert_eq!(
        results["echo"],
        serde_json::json!(["one", "two", "three"]),
        "{results}"
    );
    let seen = upstream.seen();
    assert_eq!(seen, ["a", "b", "c", "one", "two", "three"]);
    gw.stop().await;
}

#[tokio::test]
async fn buf_curl_grpcweb_with_server_reflection_over_http2() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    let Some(buf) = need("buf") else { return };
    let curl = |args: &[&str], url: String| {
        let mut cmd = Command::new(&buf);
        cmd.args(["curl", "--protocol", "grpcweb", "--http2-prior-knowledge"])
            .args(args)
            .arg(url);
        cmd
    };
    // No schema: buf asks the gateway's reflection (a bidirectional stream).
    let (ok, out, err) = run(curl(&["--list-services"], gw.url()), LIMIT).await;
    assert!(ok, "{err}");
    assert!(
        out.lines().any(|l| l == "map.tts.v1.TicketService"),
        "{out}"
    );
    let (ok, out, err) = run(
        curl(
            &["-d", r#"{"service":""}"#],
            format!("{}/grpc.health.v1.Health/Check", gw.url()),
        ),
        LIMIT,
    )
    .await;
    assert!(ok, "{err}");
    assert!(out.contains("SERVING"), "{out}");
    // A platform RPC described by reflection, answered by TTS.
    let (ok, out, err) = run(
        curl(
            &["-d", r#"{"id":"x"}"#],
            format!("{}/map.tts.v1.TicketService/GetTicket", gw.url()),
        ),
        LIMIT,
    )
    .await;
    assert!(!ok, "the scaffold answers an error");
    let text = format!("{out}{err}");
    assert!(
        text.contains("unimplemented") && text.contains("tts"),
        "{text}"
    );
    gw.stop().await;
}
