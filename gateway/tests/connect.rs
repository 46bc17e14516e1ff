//! The Connect protocol through the gateway, against the real Auth server
//! (SQLite) and TTS's scaffold: curl with JSON, raw HTTP/1.1 and HTTP/2
//! calls (JSON, binary, server streaming, errors), `buf curl --protocol
//! connect`, and `@connectrpc/connect-node`'s Connect transport.

mod support;

use std::{path::Path, time::Duration};

use bytes::{Buf as _, Bytes, BytesMut};
use http::{HeaderMap, Request, StatusCode, header};
use http_body_util::{BodyExt as _, Full};
use hyper_util::rt::{TokioExecutor, TokioIo};
use map_kit::{System, authn::RoleRef};
use serde_json::{Value, json};
use support::*;
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);
const EMAIL: &str = "agent@example.com";
const ADMIN: &str = "admin@example.com";

async fn platform() -> AuthPlatform {
    AuthPlatform::start(&[
        (EMAIL, Vec::new()),
        (
            ADMIN,
            vec![RoleRef {
                system: "auth".into(),
                role: "admin".into(),
            }],
        ),
    ])
    .await
}

fn connect_request(path: &str, content_type: &str, body: impl Into<Bytes>) -> Request<Full<Bytes>> {
    Request::post(path)
        .header(header::HOST, "gateway.test")
        .header(header::CONTENT_TYPE, content_type)
        .header("connect-protocol-version", "1")
        .body(Full::new(body.into()))
        .expect("request")
}

/// A unary JSON call over HTTP/1.1: status, headers, JSON body.
async fn json_call(
    gw: &TestGateway,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Value) {
    let mut request = connect_request(path, "application/json", body.to_owned());
    if let Some(token) = token {
        request.headers_mut().insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().expect("header"),
        );
    }
    let c = http1(gw.addr, request).await;
    let value = serde_json::from_slice(&c.body)
        .unwrap_or_else(|e| panic!("JSON body ({e}): {:?}", String::from_utf8_lossy(&c.body)));
    (c.status, c.headers, value)
}

async fn sign_in(gw: &TestGateway, email: &str) -> String {
    let body = json!({ "email": email, "password": PASSWORD }).to_string();
    let (status, _, login) = json_call(gw, "/map.auth.v1.AuthService/Login", &body, None).await;
    assert_eq!(status, StatusCode::OK, "{login}");
    login["accessToken"]
        .as_str()
        .expect("accessToken")
        .to_owned()
}

/// The first violation of a Connect error's `google.rpc.BadRequest`.
fn violation(error: &Value) -> &Value {
    let detail = &error["details"][0];
    assert_eq!(detail["type"], "google.rpc.BadRequest", "{error}");
    assert!(
        detail["value"].as_str().is_some_and(|v| !v.is_empty()),
        "{error}"
    );
    &detail["debug"]["fieldViolations"][0]
}

#[tokio::test]
async fn curl_signs_in_and_calls_with_json_only() {
    let p = platform().await;
    let curl = |args: Vec<String>| async move {
        let mut cmd = Command::new(match need("curl") {
            Some(c) => c,
            None => return None,
        });
        cmd.arg("-sS").args(args);
        let (ok, out, err) = run(cmd, LIMIT).await;
        assert!(ok, "curl: {err}");
        Some(out)
    };
    let url = |path: &str| format!("{}{path}", p.gw.url());
    let Some(out) = curl(vec![
        "-D".into(),
        "-".into(),
        "-H".into(),
        "content-type: application/json".into(),
        "-d".into(),
        json!({ "email": EMAIL, "password": PASSWORD }).to_string(),
        url("/map.auth.v1.AuthService/Login"),
    ])
    .await
    else {
        return;
    };
    let (head, body) = out.split_once("\r\n\r\n").expect("head and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/json"),
        "{head}"
    );
    let login: Value = serde_json::from_str(body).expect("JSON");
    let token = login["accessToken"].as_str().expect("accessToken");
    // int64 and well-known types in their JSON forms: a Duration is "900s".
    assert!(
        login["expiresIn"]
            .as_str()
            .is_some_and(|d| d.ends_with('s')),
        "{login}"
    );
    assert_eq!(login["user"]["email"], EMAIL, "{login}");

    // The issue's example, as written: ValidateToken with a JSON body.
    let out = curl(vec![
        "-H".into(),
        "content-type: application/json".into(),
        "-d".into(),
        json!({ "token": token }).to_string(),
        url("/map.auth.v1.AuthService/ValidateToken"),
    ])
    .await
    .unwrap_or_default();
    let valid: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(valid["valid"], true, "{valid}");
    assert_eq!(valid["principal"]["email"], EMAIL, "{valid}");
    assert!(
        valid["expiresAt"]
            .as_str()
            .is_some_and(|t| t.ends_with('Z')),
        "{valid}"
    );

    // A guarded call with the token, the original field names accepted.
    let out = curl(vec![
        "-H".into(),
        "content-type: application/json".into(),
        "-H".into(),
        format!("authorization: Bearer {token}"),
        "-d".into(),
        r#"{"page_size": 10}"#.into(),
        url("/map.auth.v1.DepartmentService/ListDepartments"),
    ])
    .await
    .unwrap_or_default();
    let departments: Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(departments["departments"][0]["code"], "IT", "{departments}");
    p.gw.stop().await;
}

#[tokio::test]
async fn no_credentials_on_a_guarded_rpc_is_unauthenticated_401() {
    let p = platform().await;
    let (status, headers, error) =
        json_call(&p.gw, "/map.auth.v1.AdminService/ListSystems", "{}", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    assert_eq!(error["code"], "unauthenticated", "{error}");
    assert_eq!(headers[header::CONTENT_TYPE], "application/json");
    assert!(headers.get("grpc-status").is_none());
    // A wrong password is the service's UNAUTHENTICATED too.
    let body = json!({ "email": EMAIL, "password": "wrong password!" }).to_string();
    let (status, _, error) = json_call(&p.gw, "/map.auth.v1.AuthService/Login", &body, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{error}");
    // Signed in without the role: PERMISSION_DENIED, 403.
    let token = sign_in(&p.gw, EMAIL).await;
    let (status, _, error) = json_call(
        &p.gw,
        "/map.auth.v1.AdminService/ListSystems",
        "{}",
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{error}");
    assert_eq!(error["code"], "permission_denied", "{error}");
    p.gw.stop().await;
}

#[tokio::test]
async fn the_services_error_details_come_back() {
    let p = platform().await;
    let token = sign_in(&p.gw, ADMIN).await;
    let (status, _, error) = json_call(
        &p.gw,
        "/map.auth.v1.AdminService/DeactivateUser",
        r#"{"userId":"not-a-uuid"}"#,
        Some(&token),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{error}");
    assert_eq!(error["code"], "invalid_argument", "{error}");
    assert_eq!(violation(&error)["field"], "user_id", "{error}");
    p.gw.stop().await;
}

#[tokio::test]
async fn bad_json_is_invalid_argument_naming_the_field_and_never_reaches_the_service() {
    let upstream = RecordingUpstream::start(503).await;
    let gw = TestGateway::start(config(vec![(System::Auth, vec![upstream.spec()])])).await;
    let path = "/map.auth.v1.AuthService/ValidateToken";
    for (body, field, says) in [
        (r#"{"token":5}"#, "token", "expected a string"),
        (r#"{"tokn":"x"}"#, "tokn", "unrecognized field name 'tokn'"),
        (r#"{"token":"#, "token", "EOF"),
        (r#"{"token":"x"} {}"#, "", "trailing characters"),
        ("[]", "", "expected a map"),
    ] {
        let (status, _, error) = json_call(&gw, path, body, None).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {error}");
        assert_eq!(error["code"], "invalid_argument", "{body}: {error}");
        let v = violation(&error);
        // (an empty field, the body as a whole, is left out of the JSON)
        assert_eq!(v["field"].as_str().unwrap_or(""), field, "{body}: {error}");
        assert!(
            v["description"].as_str().is_some_and(|d| d.contains(says)),
            "{body}: {error}"
        );
        assert!(
            error["message"]
                .as_str()
                .is_some_and(|m| m.contains("map.auth.v1.ValidateTokenRequest")),
            "{error}"
        );
    }
    // Nested: the path to the field.
    let (_, _, error) = json_call(
        &gw,
        "/map.auth.v1.AdminService/CreateUser",
        r#"{"email":"a@b.c","roles":[{"system":"tts","role":7}]}"#,
        None,
    )
    .await;
    assert_eq!(violation(&error)["field"], "roles[0].role", "{error}");
    // A bad binary body is refused too.
    let c = http1(
        gw.addr,
        connect_request(
            path,
            "application/proto",
            Bytes::from_static(b"\xff\xff\xff"),
        ),
    )
    .await;
    assert_eq!(c.status, StatusCode::BAD_REQUEST);
    let none_reached = upstream
        .seen
        .lock()
        .expect("lock")
        .iter()
        .all(|h| h.get("x-forwarded-for").is_none());
    assert!(none_reached, "a refused body never reaches the service");

    // A good one does, as gRPC with the caller's deadline and metadata; the
    // upstream's HTTP 503 comes back as Connect's unavailable, 503.
    let mut request = connect_request(path, "application/json", r#"{"token":"t"}"#);
    let h = request.headers_mut();
    h.insert("connect-timeout-ms", "1500".parse().expect("v"));
    h.insert("x-request-id", "r-1".parse().expect("v"));
    let c = http1(gw.addr, request).await;
    assert_eq!(c.status, StatusCode::SERVICE_UNAVAILABLE);
    let error: Value = serde_json::from_slice(&c.body).expect("json");
    assert_eq!(error["code"], "unavailable", "{error}");
    let seen = upstream.seen.lock().expect("lock").clone();
    let call = seen
        .iter()
        .find(|h| h.get("x-forwarded-for").is_some())
        .expect("the call reached the upstream");
    assert_eq!(call[header::CONTENT_TYPE], "application/grpc");
    assert_eq!(call["grpc-timeout"], "1500m");
    assert_eq!(call["x-request-id"], "r-1");
    assert_eq!(call[header::TE], "trailers");
    assert!(call.get("connect-protocol-version").is_none());
    assert!(call.get("connect-timeout-ms").is_none());

    // A timeout that is not one is refused before anything is sent.
    let mut request = connect_request(path, "application/json", r#"{"token":"t"}"#);
    request
        .headers_mut()
        .insert("connect-timeout-ms", "soon".parse().expect("v"));
    let c = http1(gw.addr, request).await;
    assert_eq!(c.status, StatusCode::BAD_REQUEST);
    gw.stop().await;
}

#[tokio::test]
async fn unknown_methods_are_unimplemented() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    for path in [
        "/map.tts.v1.TicketService/NoSuchMethod",
        "/map.nope.v1.NoService/Call",
        "/tts/map.tts.v1.TicketService/NoSuchMethod",
        "/index.html",
    ] {
        let (status, _, error) = json_call(&gw, path, "{}", None).await;
        assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{path}: {error}");
        assert_eq!(error["code"], "unimplemented", "{path}: {error}");
    }
    // A known method its system does not implement: the system's own answer.
    let (status, _, error) = json_call(
        &gw,
        "/map.tts.v1.TicketService/GetTicket",
        r#"{"id":"x"}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{error}");
    assert!(
        error["message"].as_str().is_some_and(|m| m.contains("tts")),
        "the upstream's message: {error}"
    );
    // A server-streaming method over unary Connect: told how to call it.
    let (status, _, error) = json_call(
        &gw,
        "/map.tts.v1.TicketService/WatchTicket",
        r#"{"ticketId":"x"}"#,
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_IMPLEMENTED, "{error}");
    assert!(
        error["message"]
            .as_str()
            .is_some_and(|m| m.contains("application/connect+json")),
        "{error}"
    );
    gw.stop().await;
}

#[tokio::test]
async fn binary_bodies_and_http2() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    // application/proto: the message as it is, both ways.
    for via_h2 in [false, true] {
        let request = connect_request(
            "/tts/grpc.health.v1.Health/Check",
            "application/proto",
            health_request("tts-a"),
        );
        let c = if via_h2 {
            http2(gw.addr, request).await
        } else {
            http1(gw.addr, request).await
        };
        assert_eq!(c.status, StatusCode::OK);
        assert_eq!(c.headers[header::CONTENT_TYPE], "application/proto");
        assert_eq!(serving_status(&c.body), 1);
        // JSON, and the gateway's own health.
        let request = connect_request(
            "/grpc.health.v1.Health/Check",
            "application/json",
            r#"{"service":""}"#,
        );
        let c = if via_h2 {
            http2(gw.addr, request).await
        } else {
            http1(gw.addr, request).await
        };
        assert_eq!(c.status, StatusCode::OK);
        assert_eq!(&c.body[..], br#"{"status":"SERVING"}"#);
    }
    gw.stop().await;
}

/// A Connect streaming request: one envelope.
fn envelope(flags: u8, payload: &[u8]) -> Bytes {
    let mut out = BytesMut::new();
    out.extend_from_slice(&[flags]);
    out.extend_from_slice(&u32::try_from(payload.len()).unwrap_or(0).to_be_bytes());
    out.extend_from_slice(payload);
    out.freeze()
}

/// Reads envelopes off a streaming response until `n` have come or it ends.
async fn read_envelopes(body: &mut hyper::body::Incoming, n: usize) -> Vec<(u8, Bytes)> {
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    while out.len() < n {
        while buf.len() >= 5 {
            let len = u32::from_be_bytes([buf[1], buf[2], buf[3], buf[4]]) as usize;
            if buf.len() < 5 + len {
                break;
            }
            let flags = buf[0];
            buf.advance(5);
            out.push((flags, buf.split_to(len).freeze()));
        }
        if out.len() >= n {
            break;
        }
        let frame = tokio::time::timeout(Duration::from_secs(10), body.frame())
            .await
            .expect("a frame within 10 s");
        match frame {
            Some(Ok(f)) => {
                if let Ok(data) = f.into_data() {
                    buf.extend_from_slice(&data);
                }
            }
            _ => break,
        }
    }
    out
}

#[tokio::test]
async fn server_streaming_over_connect() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    let stream = tokio::net::TcpStream::connect(gw.addr)
        .await
        .expect("connect");
    let (mut sender, conn) =
        hyper::client::conn::http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
            .await
            .expect("h2");
    tokio::spawn(conn);

    // A stream that goes on: TTS's health, first message.
    let request = connect_request(
        "/tts/grpc.health.v1.Health/Watch",
        "application/connect+json",
        envelope(0, br#"{"service":"tts-a"}"#),
    );
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/connect+json"
    );
    let mut body = response.into_body();
    let got = read_envelopes(&mut body, 1).await;
    assert_eq!(got.first().map(|(f, _)| *f), Some(0));
    let first: Value = serde_json::from_slice(&got[0].1).expect("json");
    assert_eq!(first, json!({ "status": "SERVING" }));
    drop(body);

    // Binary messages.
    let request = connect_request(
        "/tts/grpc.health.v1.Health/Watch",
        "application/connect+proto",
        envelope(0, &health_request("")),
    );
    let response = sender.send_request(request).await.expect("response");
    let mut body = response.into_body();
    let got = read_envelopes(&mut body, 1).await;
    assert_eq!(serving_status(&got[0].1), 1);
    drop(body);

    // A stream that ends with an error: the end-of-stream envelope, HTTP 200.
    let request = connect_request(
        "/map.tts.v1.TicketService/WatchTicket",
        "application/connect+json",
        envelope(0, br#"{"ticketId":"x","sinceVersion":"3"}"#),
    );
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let got = read_envelopes(&mut body, 1).await;
    assert_eq!(got.first().map(|(f, _)| *f), Some(2), "end of stream");
    let end: Value = serde_json::from_slice(&got[0].1).expect("json");
    assert_eq!(end["error"]["code"], "unimplemented", "{end}");

    // A bad request message: invalid_argument at the end of the stream.
    let request = connect_request(
        "/map.tts.v1.TicketService/WatchTicket",
        "application/connect+json",
        envelope(0, br#"{"ticketId":1}"#),
    );
    let response = sender.send_request(request).await.expect("response");
    assert_eq!(response.status(), StatusCode::OK);
    let mut body = response.into_body();
    let got = read_envelopes(&mut body, 1).await;
    let end: Value = serde_json::from_slice(&got[0].1).expect("json");
    assert_eq!(end["error"]["code"], "invalid_argument", "{end}");
    assert_eq!(violation(&end["error"])["field"], "ticketId", "{end}");
    gw.stop().await;
}

#[tokio::test]
async fn cors_preflight_allows_connect_headers() {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let mut cfg = config(vec![(System::Tts, vec![tts.spec()])]);
    cfg.cors.origins = vec!["https://console.example.com".into()];
    let gw = TestGateway::start(cfg).await;
    let preflight = Request::options("/map.tts.v1.TicketService/GetTicket")
        .header(header::HOST, "gateway.test")
        .header(header::ORIGIN, "https://console.example.com")
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "content-type,connect-protocol-version,connect-timeout-ms",
        )
        .body(Full::new(Bytes::new()))
        .expect("request");
    let c = http1(gw.addr, preflight).await;
    let allowed = c.headers[header::ACCESS_CONTROL_ALLOW_HEADERS]
        .to_str()
        .unwrap_or("");
    for name in [
        "connect-protocol-version",
        "connect-timeout-ms",
        "content-type",
    ] {
        assert!(allowed.split(',').any(|a| a == name), "{name}: {allowed}");
    }
    // The actual call gets the CORS headers too.
    let mut request = connect_request("/grpc.health.v1.Health/Check", "application/json", "{}");
    request.headers_mut().insert(
        header::ORIGIN,
        "https://console.example.com".parse().expect("v"),
    );
    let c = http1(gw.addr, request).await;
    assert_eq!(c.status, StatusCode::OK);
    assert_eq!(
        c.headers[header::ACCESS_CONTROL_ALLOW_ORIGIN],
        "https://console.example.com"
    );
    gw.stop().await;
}

#[tokio::test]
async fn buf_curl_protocol_connect() {
    let p = platform().await;
    let dir = tempfile::tempdir().expect("dir");
    let Some(buf) = need("buf") else { return };
    let image = dir.path().join("image.binpb");
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut build = Command::new(&buf);
    build.arg("build").arg(&proto).arg("-o").arg(&image);
    let (ok, _, err) = run(build, LIMIT).await;
    assert!(ok, "buf build: {err}");
    for h2 in [false, true] {
        let call = |path: &str, data: String, token: Option<&str>| {
            let mut cmd = Command::new(&buf);
            cmd.args(["curl", "--protocol", "connect", "--reflect=false"])
                .arg("--schema")
                .arg(&image)
                .args(["-d", &data]);
            if let Some(t) = token {
                cmd.args(["-H", &format!("authorization: Bearer {t}")]);
            }
            if h2 {
                cmd.arg("--http2-prior-knowledge");
            }
            cmd.arg(format!("{}{path}", p.gw.url()));
            run(cmd, LIMIT)
        };
        let (ok, out, err) = call(
            "/map.auth.v1.AuthService/Login",
            json!({ "email": EMAIL, "password": PASSWORD }).to_string(),
            None,
        )
        .await;
        assert!(ok, "buf curl (h2 {h2}): {err}");
        let login: Value = serde_json::from_str(&out).expect("json");
        let token = login["accessToken"].as_str().expect("accessToken");
        let (ok, out, err) = call(
            "/map.auth.v1.AuthService/ValidateToken",
            json!({ "token": token }).to_string(),
            None,
        )
        .await;
        assert!(ok, "{err}");
        let valid: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(valid["valid"], true, "{valid}");
        let (ok, out, err) = call(
            "/map.auth.v1.DepartmentService/ListDepartments",
            "{}".into(),
            Some(token),
        )
        .await;
        assert!(ok && out.contains("\"IT\""), "{out}{err}");
        let (ok, out, err) = call("/map.auth.v1.AdminService/ListSystems", "{}".into(), None).await;
        assert!(!ok, "{out}");
        assert!(err.contains("unauthenticated"), "{err}");
    }
    p.gw.stop().await;
}

#[tokio::test]
async fn connect_node_connect_transport() {
    let p = platform().await;
    let dir = tempfile::tempdir().expect("dir");
    let descriptors = descriptor_file(dir.path());
    let Some(mut cmd) = node_script("connect_client.mjs") else {
        return;
    };
    cmd.arg(p.gw.url())
        .arg(&descriptors)
        .arg(EMAIL)
        .arg(PASSWORD);
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok, "node client failed: {err}\n{out}");
    let results: Value = serde_json::from_str(out.trim()).expect("json output");
    for key in ["1.1_json", "1.1_proto", "2_json", "2_proto"] {
        let r = &results[key];
        assert_eq!(
            r["login"],
            json!({ "ok": true, "valid": true, "email": EMAIL }),
            "{key}: {results}"
        );
        assert_eq!(r["departments"], json!(["IT"]), "{key}: {results}");
        assert_eq!(
            r["wrong_password"]["code"], "Unauthenticated",
            "{key}: {results}"
        );
        assert_eq!(
            r["no_credentials"]["code"], "Unauthenticated",
            "{key}: {results}"
        );
        assert_eq!(r["watch"], json!([1]), "{key}: {results}");
        assert_eq!(
            r["watch_ticket"]["code"], "Unimplemented",
            "{key}: {results}"
        );
    }
    p.gw.stop().await;
}
