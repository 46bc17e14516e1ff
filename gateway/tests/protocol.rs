//! The gateway's wire behaviour, driven with raw HTTP/1.1 and HTTP/2
//! clients against real upstreams: grpc-web (binary and text) both ways,
//! trailers-only responses, streaming frame by frame, Envoy's status
//! mapping, malformed bodies, limits, deadlines, headers, CORS, static files.

mod support;

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use map_gateway::config::CorsConfig;
use map_kit::{System, testing::ReservedPort};
use support::*;
use tonic_health::ServingStatus;

const SERVING: i32 = 1;
const NOT_SERVING: i32 = 2;

fn grpc_status(headers: &http::HeaderMap) -> Option<&str> {
    headers.get("grpc-status").and_then(|v| v.to_str().ok())
}

#[tokio::test]
async fn grpc_web_binary_and_text_over_http1_and_http2() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    for text in [false, true] {
        for h2 in [false, true] {
            // Local health, and an upstream's health through the prefix route.
            for (path, service) in [
                ("/grpc.health.v1.Health/Check", ""),
                ("/tts/grpc.health.v1.Health/Check", "tts-a"),
            ] {
                let req = web_request(path, &health_request(service), text);
                let c = if h2 {
                    http2(gw.addr, req).await
                } else {
                    http1(gw.addr, req).await
                };
                assert_eq!(c.status, StatusCode::OK, "{path} text={text} h2={h2}");
                let ct = c
                    .headers
                    .get(header::CONTENT_TYPE)
                    .and_then(|v| v.to_str().ok());
                let want = if text {
                    "application/grpc-web-text+proto"
                } else {
                    "application/grpc-web+proto"
                };
                assert_eq!(ct, Some(want));
                let (messages, trailers) = web_response(&c);
                assert_eq!(messages.len(), 1, "{path} text={text} h2={h2}");
                assert_eq!(serving_status(&messages[0]), SERVING);
                assert_eq!(
                    grpc_status(&trailers),
                    Some("0"),
                    "trailers frame carries the status"
                );
                assert!(c.trailers.is_none(), "no HTTP trailers in grpc-web");
            }
        }
    }
    // Accept asks for text: the response is text even for a binary request.
    let mut req = web_request("/grpc.health.v1.Health/Check", &health_request(""), false);
    req.headers_mut().insert(
        header::ACCEPT,
        "application/grpc-web-text".parse().expect("value"),
    );
    let c = http1(gw.addr, req).await;
    assert_eq!(
        c.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/grpc-web-text+proto"[..])
    );
    let (messages, _) = web_response(&c);
    assert_eq!(serving_status(&messages[0]), SERVING);
    gw.stop().await;
}

#[tokio::test]
async fn trailers_only_and_unknown_services_keep_status_in_headers() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    // The scaffold answers UNIMPLEMENTED trailers-only.
    let c = http1(
        gw.addr,
        web_request("/map.tts.v1.TicketService/GetTicket", b"", false),
    )
    .await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(grpc_status(&c.headers), Some("12"));
    assert!(c.body.is_empty(), "trailers-only: no body frames");
    let message = c
        .headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        message.contains("not%20implemented") || message.contains("not implemented"),
        "{message}"
    );
    // A service nobody owns.
    for path in [
        "/foo.v1.Nope/Call",
        "/payroll/map.tts.v1.TicketService/GetTicket",
    ] {
        let c = http2(gw.addr, web_request(path, b"", false)).await;
        assert_eq!(grpc_status(&c.headers), Some("12"), "{path}");
    }
    // A system with no upstream configured: UNAVAILABLE.
    let c = http1(
        gw.addr,
        web_request("/map.ams.v1.AssetService/GetAsset", b"", false),
    )
    .await;
    assert_eq!(grpc_status(&c.headers), Some("14"));
    gw.stop().await;
}

#[tokio::test]
async fn server_streaming_is_forwarded_frame_by_frame() {
    let tts = Replica::start(System::Tts, "watched").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    for text in [false, true] {
        tts.health
            .set_service_status("watched", ServingStatus::Serving)
            .await;
        let stream = tokio::net::TcpStream::connect(gw.addr)
            .await
            .expect("connect");
        let (mut sender, conn) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
                .await
                .expect("handshake");
        tokio::spawn(conn);
        let req = web_request(
            "/tts/grpc.health.v1.Health/Watch",
            &health_request("watched"),
            text,
        );
        let response = sender.send_request(req).await.expect("response head");
        assert_eq!(response.status(), StatusCode::OK);
        let mut body = response.into_body();
        let mut raw = Vec::new();
        let mut statuses = Vec::new();
        // Read until the first message: it must arrive while the stream is open.
        let mut next = async |raw: &mut Vec<u8>, statuses: &mut Vec<i32>| {
            loop {
                let frame = tokio::time::timeout(Duration::from_secs(5), body.frame())
                    .await
                    .expect("a frame within 5 s")
                    .expect("stream open")
                    .expect("frame");
                if let Ok(data) = frame.into_data() {
                    raw.extend_from_slice(&data);
                }
                let decoded = if text {
                    // Whole base64 quanta only.
                    let whole = raw.len() / 4 * 4;
                    map_gateway::grpc_web::decode_text_response(&raw[..whole]).expect("base64")
                } else {
                    Bytes::copy_from_slice(raw)
                };
                if let Ok((messages, _)) = map_gateway::grpc_web::parse_response(&decoded)
                    && messages.len() > statuses.len()
                {
                    statuses.clear();
                    statuses.extend(messages.iter().map(|m| serving_status(m)));
                    return;
                }
            }
        };
        next(&mut raw, &mut statuses).await;
        assert_eq!(statuses, vec![SERVING]);
        // A change upstream reaches the browser as the next frame.
        tts.health
            .set_service_status("watched", ServingStatus::NotServing)
            .await;
        next(&mut raw, &mut statuses).await;
        assert_eq!(statuses, vec![SERVING, NOT_SERVING]);
    }
    gw.stop().await;
}

#[tokio::test]
async fn non_grpc_upstream_replies_map_like_envoy() {
    for (http, code) in [
        (503, "14"),
        (502, "14"),
        (504, "14"),
        (429, "14"),
        (401, "16"),
        (403, "7"),
        (404, "12"),
        (500, "2"),
    ] {
        let upstream = RecordingUpstream::start(http).await;
        let gw = TestGateway::start(config(vec![(System::Bms, vec![upstream.spec()])])).await;
        let path = "/map.bms.v1.BudgetService/GetBudget";
        let c = http1(gw.addr, web_request(path, b"", false)).await;
        assert_eq!(c.status, StatusCode::OK, "{http}");
        assert_eq!(grpc_status(&c.headers), Some(code), "grpc-web: HTTP {http}");
        // Native gRPC too.
        let req = Request::post(format!("http://gw{path}"))
            .header(header::CONTENT_TYPE, "application/grpc")
            .header(header::TE, "trailers")
            .body(Full::new(map_gateway::grpc_web::message_frame(b"")))
            .expect("request");
        let c = http2(gw.addr, req).await;
        assert_eq!(grpc_status(&c.headers), Some(code), "grpc: HTTP {http}");
        gw.stop().await;
    }
}

#[tokio::test]
async fn upstream_down_is_unavailable() {
    // A port nothing listens on, reserved for the whole test.
    let nothing = ReservedPort::new();
    let spec = map_gateway::UpstreamSpec::Static {
        host: "127.0.0.1".into(),
        port: nothing.port(),
    };
    let gw = TestGateway::start(config(vec![(System::Hdts, vec![spec])])).await;
    let c = http1(
        gw.addr,
        web_request("/map.hdts.v1.HelpDeskService/GetTicket", b"", false),
    )
    .await;
    assert_eq!(grpc_status(&c.headers), Some("14"));
    let mut client = tonic_health::pb::health_client::HealthClient::new(gw.channel().await);
    // The gateway itself keeps answering.
    let own = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("gateway health");
    assert_eq!(own.into_inner().status, SERVING);
    // Kubernetes' liveness probe checks the service "liveness".
    let alive = client
        .check(tonic_health::pb::HealthCheckRequest {
            service: map_kit::server::LIVENESS.to_owned(),
        })
        .await
        .expect("gateway liveness");
    assert_eq!(alive.into_inner().status, SERVING);
    gw.stop().await;
}

#[tokio::test]
async fn malformed_grpc_web_is_refused_cleanly_and_the_connection_survives() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let bodies: [(&str, &[u8]); 4] = [
        ("application/grpc-web-text", b"%%% not base64 %%%"),
        ("application/grpc-web+proto", &[0, 0, 0]),
        ("application/grpc-web+proto", &[0, 0, 0, 1, 0, 1, 2]),
        ("application/grpc-web+proto", &[0x80, 0, 0, 0, 0]),
    ];
    for (ct, body) in bodies {
        let req = Request::post("/tts/grpc.health.v1.Health/Check")
            .header(header::HOST, "gw")
            .header(header::CONTENT_TYPE, ct)
            .body(Full::new(Bytes::copy_from_slice(body)))
            .expect("request");
        sender.ready().await.expect("connection still usable");
        let response = tokio::time::timeout(Duration::from_secs(5), sender.send_request(req))
            .await
            .expect("answered, not hung")
            .expect("response");
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{ct} {body:?}");
        let _ = response.into_body().collect().await;
    }
    // The same connection then serves a good call.
    sender.ready().await.expect("connection still usable");
    let ok = sender
        .send_request(web_request(
            "/tts/grpc.health.v1.Health/Check",
            &health_request(""),
            false,
        ))
        .await
        .expect("response");
    assert_eq!(ok.status(), StatusCode::OK);
    gw.stop().await;
}

#[tokio::test]
async fn limits_body_header_and_concurrency() {
    let tts = Replica::start(System::Tts, "watched").await;
    let mut cfg = config(vec![(System::Tts, vec![tts.spec()])]);
    cfg.limits.max_body_bytes = 1024;
    cfg.limits.max_concurrency = 1;
    let gw = TestGateway::start(cfg).await;
    let big = vec![7u8; 4096];
    let c = http1(
        gw.addr,
        web_request("/tts/grpc.health.v1.Health/Check", &big, false),
    )
    .await;
    assert_eq!(c.status, StatusCode::PAYLOAD_TOO_LARGE);
    // Oversized headers: HTTP/1.1 431 (hyper refuses the head).
    let req = Request::post("/grpc.health.v1.Health/Check")
        .header(header::HOST, "gw")
        .header(header::CONTENT_TYPE, "application/grpc-web")
        .header("x-padding", "a".repeat(40 * 1024))
        .body(Full::new(Bytes::new()))
        .expect("request");
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    match sender.send_request(req).await {
        Ok(r) => assert_eq!(r.status(), StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
        Err(e) => assert!(e.is_closed() || e.is_incomplete_message(), "{e}"),
    }
    // One call holds the only permit (an open Watch); the next is refused.
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut watch_sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(conn);
    let watch = watch_sender
        .send_request(web_request(
            "/tts/grpc.health.v1.Health/Watch",
            &health_request(""),
            false,
        ))
        .await
        .expect("watch head");
    let c = http1(
        gw.addr,
        web_request("/grpc.health.v1.Health/Check", &health_request(""), false),
    )
    .await;
    assert_eq!(grpc_status(&c.headers), Some("14"));
    assert!(
        c.headers
            .get("grpc-message")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .contains("overloaded")
    );
    drop(watch);
    // Released with the stream: calls flow again.
    let freed = eventually(Duration::from_secs(5), || async {
        let c = http1(
            gw.addr,
            web_request("/grpc.health.v1.Health/Check", &health_request(""), false),
        )
        .await;
        grpc_status(&web_response(&c).1) == Some("0")
    })
    .await;
    assert!(freed, "the permit returns when the stream ends");
    gw.stop().await;
}

#[tokio::test]
async fn upstream_sees_grpc_headers_capped_deadline_forwarded_for_and_trace() {
    let upstream = RecordingUpstream::start(503).await;
    let mut cfg = config(vec![(System::Bms, vec![upstream.spec()])]);
    cfg.limits.max_grpc_timeout = Duration::from_secs(3);
    let gw = TestGateway::start(cfg).await;
    let mut req = web_request("/bms/map.bms.v1.BudgetService/GetBudget", b"", true);
    let h = req.headers_mut();
    h.insert("grpc-timeout", "1H".parse().expect("v"));
    h.insert("x-forwarded-for", "203.0.113.7".parse().expect("v"));
    h.insert("authorization", "Bearer abc".parse().expect("v"));
    h.insert(
        "traceparent",
        "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
            .parse()
            .expect("v"),
    );
    let _ = http1(gw.addr, req).await;
    // Without a deadline: the cap is applied.
    let _ = http1(
        gw.addr,
        web_request("/map.bms.v1.BudgetService/GetBudget", b"", false),
    )
    .await;
    let seen = upstream.seen.lock().expect("lock").clone();
    let calls: Vec<_> = seen
        .iter()
        .filter(|h| {
            h.get(header::CONTENT_TYPE)
                .is_some_and(|v| v == "application/grpc")
        })
        .filter(|h| h.get("authorization").is_some() || h.get("x-forwarded-for").is_some())
        .collect();
    assert!(
        calls.len() >= 2,
        "both calls reached the upstream: {seen:?}"
    );
    let first = calls
        .iter()
        .find(|h| h.get("authorization").is_some())
        .expect("first call");
    assert_eq!(
        first.get("grpc-timeout").map(|v| v.as_bytes()),
        Some(&b"3000m"[..])
    );
    assert_eq!(
        first.get(header::TE).map(|v| v.as_bytes()),
        Some(&b"trailers"[..])
    );
    assert_eq!(
        first.get("x-forwarded-for").map(|v| v.as_bytes()),
        Some(&b"203.0.113.7, 127.0.0.1"[..])
    );
    assert!(first.get("x-grpc-web").is_none());
    let tp = first
        .get("traceparent")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    assert!(
        tp.contains("0af7651916cd43dd8448eb211c80319c"),
        "trace id kept: {tp}"
    );
    let second = calls
        .iter()
        .find(|h| h.get("authorization").is_none())
        .expect("second call");
    assert_eq!(
        second.get("grpc-timeout").map(|v| v.as_bytes()),
        Some(&b"3000m"[..])
    );
    assert_eq!(
        second.get("x-forwarded-for").map(|v| v.as_bytes()),
        Some(&b"127.0.0.1"[..])
    );
    gw.stop().await;
}

#[tokio::test]
async fn cors_like_envoy() {
    let mut cfg = config(vec![]);
    cfg.cors = CorsConfig {
        origins: vec!["https://console.example.com".into()],
        any_origin: false,
    };
    let gw = TestGateway::start(cfg).await;
    let preflight = |origin: &'static str| {
        Request::options("/map.auth.v1.AuthService/Login")
            .header(header::HOST, "gw")
            .header(header::ORIGIN, origin)
            .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
            .header(
                header::ACCESS_CONTROL_REQUEST_HEADERS,
                "content-type,x-grpc-web",
            )
            .body(Full::new(Bytes::new()))
            .expect("request")
    };
    let ok = http1(gw.addr, preflight("https://console.example.com")).await;
    assert_eq!(ok.status, StatusCode::OK);
    assert_eq!(
        ok.headers
            .get(header::ACCESS_CONTROL_ALLOW_ORIGIN)
            .map(|v| v.as_bytes()),
        Some(&b"https://console.example.com"[..])
    );
    let allowed = ok
        .headers
        .get(header::ACCESS_CONTROL_ALLOW_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for h in [
        "content-type",
        "x-grpc-web",
        "x-user-agent",
        "grpc-timeout",
        "authorization",
        "x-api-key",
    ] {
        assert!(
            allowed.split(',').any(|a| a == h),
            "{h} not allowed: {allowed}"
        );
    }
    let denied = http1(gw.addr, preflight("https://evil.example.com")).await;
    assert!(
        !denied
            .headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-"))
    );
    // An actual call from the allowed origin exposes the gRPC headers.
    let mut req = web_request("/grpc.health.v1.Health/Check", &health_request(""), false);
    req.headers_mut().insert(
        header::ORIGIN,
        "https://console.example.com".parse().expect("v"),
    );
    let c = http1(gw.addr, req).await;
    let exposed = c
        .headers
        .get(header::ACCESS_CONTROL_EXPOSE_HEADERS)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    for h in ["grpc-status", "grpc-message", "grpc-status-details-bin"] {
        assert!(exposed.contains(h), "{h} not exposed: {exposed}");
    }
    let mut req = web_request("/grpc.health.v1.Health/Check", &health_request(""), false);
    req.headers_mut().insert(
        header::ORIGIN,
        "https://evil.example.com".parse().expect("v"),
    );
    let c = http1(gw.addr, req).await;
    assert!(
        !c.headers
            .keys()
            .any(|k| k.as_str().starts_with("access-control-"))
    );
    gw.stop().await;
}

#[tokio::test]
async fn static_files_with_spa_fallback_beside_the_api() {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(dir.path().join("index.html"), "<html>console</html>").expect("write");
    std::fs::write(dir.path().join("app.js"), "console.log(1)").expect("write");
    let mut cfg = config(vec![]);
    cfg.static_dir = Some(dir.path().to_owned());
    let gw = TestGateway::start(cfg).await;
    let get = |path: &str| {
        Request::get(path)
            .header(header::HOST, "gw")
            .body(Full::new(Bytes::new()))
            .expect("request")
    };
    for (path, want) in [
        ("/", "<html>console</html>"),
        ("/tickets/TT-000123", "<html>console</html>"),
        ("/app.js", "console.log(1)"),
    ] {
        let c = http1(gw.addr, get(path)).await;
        assert_eq!(c.status, StatusCode::OK, "{path}");
        assert_eq!(c.body, want.as_bytes(), "{path}");
    }
    // The API on the same origin still answers.
    let c = http1(
        gw.addr,
        web_request("/grpc.health.v1.Health/Check", &health_request(""), false),
    )
    .await;
    assert_eq!(grpc_status(&web_response(&c).1), Some("0"));
    gw.stop().await;
}

#[tokio::test]
async fn native_grpc_pass_through_with_prefix_and_reflection() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    // The prefix form over raw h2.
    let req = Request::post("http://gw/tts/grpc.health.v1.Health/Check")
        .header(header::CONTENT_TYPE, "application/grpc")
        .header(header::TE, "trailers")
        .body(Full::new(map_gateway::grpc_web::message_frame(
            &health_request("tts-a"),
        )))
        .expect("request");
    let c = http2(gw.addr, req).await;
    assert_eq!(
        c.headers.get(header::CONTENT_TYPE).map(|v| v.as_bytes()),
        Some(&b"application/grpc"[..])
    );
    let trailers = c.trailers.expect("HTTP/2 trailers pass through");
    assert_eq!(grpc_status(&trailers), Some("0"));
    let (messages, _) = map_gateway::grpc_web::parse_response(&c.body).expect("frames");
    assert_eq!(serving_status(&messages[0]), SERVING);
    // Typed client: the scaffold's UNIMPLEMENTED passes through with its message.
    let mut tickets =
        map_contracts::tts::v1::ticket_service_client::TicketServiceClient::new(gw.channel().await);
    let err = tickets
        .get_ticket(map_contracts::tts::v1::GetTicketRequest::default())
        .await
        .expect_err("scaffold");
    assert_eq!(err.code(), tonic::Code::Unimplemented);
    assert!(err.message().contains("tts"), "{}", err.message());
    gw.stop().await;
}

#[tokio::test]
async fn large_bodies_within_the_limit_pass_over_http1_and_text() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    // A 1 MiB service name: far above the header limit, under the body limit.
    let name = "x".repeat(1024 * 1024);
    for text in [false, true] {
        let req = web_request(
            "/tts/grpc.health.v1.Health/Check",
            &health_request(&name),
            text,
        );
        let c = http1(gw.addr, req).await;
        assert_eq!(c.status, StatusCode::OK, "text={text}");
        // TTS answers NOT_FOUND for an unknown service: the call went through whole.
        let (_, trailers) = web_response(&c);
        let status = grpc_status(&trailers).or(grpc_status(&c.headers));
        assert_eq!(status, Some("5"), "text={text}");
    }
    gw.stop().await;
}
