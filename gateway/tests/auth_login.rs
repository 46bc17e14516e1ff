//! Auth's Login through the gateway with third-party clients: Connect's
//! grpc-web transport (Node.js, HTTP/1.1 and HTTP/2), curl in grpc-web-text
//! mode, `buf curl` (grpcweb over HTTP/1.1, and grpc) and grpcurl via
//! reflection, against the real Auth server on its own fresh database
//! (PostgreSQL with MAP_TEST_DATABASE_URL, else SQLite).

mod support;

use std::{path::Path, time::Duration};

use prost::Message as _;
use support::*;
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);
const EMAIL: &str = "agent@example.com";

async fn platform() -> AuthPlatform {
    AuthPlatform::start(&[(EMAIL, Vec::new())]).await
}

fn login_json(password: &str) -> String {
    serde_json::json!({ "email": EMAIL, "password": password }).to_string()
}

map_kit::db_tests! {
#[tokio::test]
async fn login_through_the_gateway_with_connect_node() {
    let p = platform().await;
    let dir = tempfile::tempdir().expect("dir");
    let descriptors = descriptor_file(dir.path());
    let Some(mut cmd) = node_script("grpc_web_client.mjs") else {
        return;
    };
    cmd
        .arg(p.gw.url())
        .arg(&descriptors)
        .arg(EMAIL)
        .arg(PASSWORD);
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok, "node client failed: {err}\n{out}");
    let results: serde_json::Value = serde_json::from_str(out.trim()).expect("json output");
    for v in ["1.1", "2"] {
        assert_eq!(
            results[format!("login_{v}")],
            serde_json::json!({ "ok": true }),
            "Login over grpc-web HTTP/{v}: {results}"
        );
    }
    p.gw.stop().await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn login_through_the_gateway_with_curl_text_mode() {
    let p = platform().await;
    for (password, want) in [(PASSWORD, "0"), ("wrong password!", "16")] {
        let request = map_contracts::auth::v1::LoginRequest {
            email: EMAIL.into(),
            password: password.into(),
        }
        .encode_to_vec();
        let body =
            map_gateway::grpc_web::encode_text(&map_gateway::grpc_web::message_frame(&request));
        let mut cmd = Command::new(match need("curl") { Some(p) => p, None => return });
        cmd.args(["-sS", "--http1.1", "-D", "-"])
            .args(["-H", "content-type: application/grpc-web-text"])
            .args(["-H", "x-grpc-web: 1"])
            .args(["--data-binary", &body])
            .arg(format!("{}/map.auth.v1.AuthService/Login", p.gw.url()));
        let (ok, out, err) = run(cmd, LIMIT).await;
        assert!(ok, "curl: {err}");
        let (head, payload) = out.split_once("\r\n\r\n").expect("head and body");
        let lower = head.to_ascii_lowercase();
        assert!(lower.contains("application/grpc-web-text+proto"), "{head}");
        let raw =
            map_gateway::grpc_web::decode_text_response(payload.trim().as_bytes()).expect("base64");
        let (messages, trailers) = map_gateway::grpc_web::parse_response(&raw).expect("frames");
        // The status is in the trailers frame, or in the headers when the
        // reply was trailers-only.
        let status = trailers
            .get("grpc-status")
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
            .or_else(|| {
                lower
                    .lines()
                    .find_map(|l| l.strip_prefix("grpc-status:").map(|v| v.trim().to_owned()))
            });
        assert_eq!(status.as_deref(), Some(want), "{head}");
        if want == "0" {
            let login = map_contracts::auth::v1::LoginResponse::decode(messages[0].as_ref())
                .expect("LoginResponse");
            assert!(!login.access_token.is_empty() && !login.refresh_token.is_empty());
        }
    }
    p.gw.stop().await;
}
}

map_kit::db_tests! {
#[tokio::test]
async fn login_through_the_gateway_with_buf_curl_and_grpcurl() {
    let p = platform().await;
    let dir = tempfile::tempdir().expect("dir");
    let Some(buf) = need("buf") else { return };
    let image = dir.path().join("image.binpb");
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut build = Command::new(&buf);
    build.arg("build").arg(&proto).arg("-o").arg(&image);
    let (ok, _, err) = run(build, LIMIT).await;
    assert!(ok, "buf build: {err}");
    for protocol in ["grpcweb", "grpc"] {
        let mut cmd = Command::new(&buf);
        cmd.args(["curl", "--protocol", protocol, "--reflect=false"])
            .arg("--schema")
            .arg(&image)
            .args(["-d", &login_json(PASSWORD)]);
        if protocol == "grpc" {
            cmd.arg("--http2-prior-knowledge");
        }
        cmd.arg(format!("{}/map.auth.v1.AuthService/Login", p.gw.url()));
        let (ok, out, err) = run(cmd, LIMIT).await;
        assert!(ok, "buf curl {protocol}: {err}");
        let login: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert!(
            login["accessToken"].as_str().is_some_and(|t| !t.is_empty()),
            "{out}"
        );
    }
    let Some(grpcurl) = need("grpcurl") else { return };
    let addr = p.gw.addr.to_string();
    let mut cmd = Command::new(&grpcurl);
    cmd.args(["-plaintext", "-d", &login_json(PASSWORD), &addr])
        .arg("map.auth.v1.AuthService/Login");
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok && out.contains("accessToken"), "{out}{err}");
    let mut cmd = Command::new(&grpcurl);
    cmd.args(["-plaintext", "-d", &login_json("wrong password!"), &addr])
        .arg("map.auth.v1.AuthService/Login");
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(!ok && err.contains("Unauthenticated"), "{out}{err}");
    p.gw.stop().await;
}
}
