//! Third-party clients through the gateway, not only our own code:
//! Connect's grpc-web transport for Node.js (binary, HTTP/1.1 and HTTP/2),
//! curl sending a grpc-web-text call, `buf curl` with `--protocol grpcweb`
//! over HTTP/1.1 and `--protocol grpc`, and grpcurl via the gateway's
//! reflection — unary calls and a server-streaming one (`Health/Watch`).
//!
//! The tools are installed by `.ci/run` (node packages under
//! gateway/tests/node, buf under the tools directory, grpcurl on PATH); a
//! missing tool fails the test rather than skipping it.

mod support;

use std::{path::Path, time::Duration};

use map_kit::System;
use support::*;
use tokio::process::Command;

const LIMIT: Duration = Duration::from_secs(60);

async fn platform() -> (Replica, TestGateway) {
    let tts = Replica::start(System::Tts, "tts-a").await;
    let gw = TestGateway::start(config(vec![(System::Tts, vec![tts.spec()])])).await;
    (tts, gw)
}

#[tokio::test]
async fn connect_node_grpc_web_transport() {
    let (_tts, gw) = platform().await;
    let dir = tempfile::tempdir().expect("dir");
    let descriptors = descriptor_file(dir.path());
    let Some(mut cmd) = node_script("grpc_web_client.mjs") else {
        return;
    };
    cmd.arg(gw.url()).arg(&descriptors);
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok, "node client failed: {err}\n{out}");
    let results: serde_json::Value = serde_json::from_str(out.trim()).expect("json output");
    for v in ["1.1", "2"] {
        assert_eq!(
            results[format!("check_{v}")],
            1,
            "SERVING over HTTP/{v}: {results}"
        );
        assert_eq!(
            results[format!("watch_{v}")],
            serde_json::json!([1]),
            "{results}"
        );
        let ticket = &results[format!("get_ticket_{v}")];
        assert_eq!(
            ticket["code"], 12,
            "UNIMPLEMENTED from TTS's scaffold: {results}"
        );
        assert!(
            ticket["message"].as_str().unwrap_or("").contains("tts"),
            "the upstream's message: {results}"
        );
    }
    gw.stop().await;
}

#[tokio::test]
async fn curl_grpc_web_text_call() {
    let (_tts, gw) = platform().await;
    let frame = map_gateway::grpc_web::message_frame(&health_request("tts-a"));
    let body = map_gateway::grpc_web::encode_text(&frame);
    let mut cmd = Command::new(match need("curl") {
        Some(p) => p,
        None => return,
    });
    cmd.args(["-sS", "--http1.1", "-X", "POST"])
        .args(["-H", "content-type: application/grpc-web-text"])
        .args(["-H", "accept: application/grpc-web-text"])
        .args(["-H", "x-grpc-web: 1"])
        .args(["-D", "-", "--data-binary", &body])
        .arg(format!("{}/tts/grpc.health.v1.Health/Check", gw.url()));
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok, "curl failed: {err}");
    let (head, payload) = out.split_once("\r\n\r\n").expect("headers and body");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(
        head.to_ascii_lowercase()
            .contains("content-type: application/grpc-web-text+proto"),
        "{head}"
    );
    let raw = map_gateway::grpc_web::decode_text_response(payload.trim().as_bytes())
        .expect("base64 body");
    let (messages, trailers) = map_gateway::grpc_web::parse_response(&raw).expect("frames");
    assert_eq!(serving_status(&messages[0]), 1);
    assert_eq!(
        trailers.get("grpc-status").map(|v| v.as_bytes()),
        Some(&b"0"[..])
    );
    gw.stop().await;
}

#[tokio::test]
async fn buf_curl_grpcweb_over_http1_and_grpc() {
    let (_tts, gw) = platform().await;
    let dir = tempfile::tempdir().expect("dir");
    let Some(buf) = need("buf") else { return };
    // A buf image of the contracts.
    let image = dir.path().join("image.binpb");
    let proto = Path::new(env!("CARGO_MANIFEST_DIR")).join("../proto");
    let mut build = Command::new(&buf);
    build.arg("build").arg(&proto).arg("-o").arg(&image);
    let (ok, _, err) = run(build, LIMIT).await;
    assert!(ok, "buf build failed: {err}");
    let descriptors = descriptor_file(dir.path());

    for protocol in ["grpcweb", "grpc"] {
        // A platform RPC, schema from the buf image: the upstream's status comes back.
        let mut cmd = Command::new(&buf);
        cmd.args(["curl", "--protocol", protocol, "--reflect=false"])
            .arg("--schema")
            .arg(&image)
            .args(["-d", r#"{"id":"x"}"#]);
        if protocol == "grpc" {
            cmd.arg("--http2-prior-knowledge");
        }
        cmd.arg(format!("{}/map.tts.v1.TicketService/GetTicket", gw.url()));
        let (ok, out, err) = run(cmd, LIMIT).await;
        assert!(!ok, "the scaffold answers an error");
        let text = format!("{out}{err}");
        assert!(text.contains("unimplemented"), "{protocol}: {text}");
        assert!(
            text.contains("tts"),
            "{protocol}: the upstream's message: {text}"
        );

        // A successful unary call (buf curl has no time limit for a
        // never-ending Watch; the Node client and grpcurl cover streaming).
        // Without --http2-prior-knowledge, buf curl speaks HTTP/1.1 to http:// URLs.
        let mut cmd = Command::new(&buf);
        cmd.args(["curl", "--protocol", protocol, "--reflect=false"])
            .arg("--schema")
            .arg(&descriptors)
            .args(["-d", r#"{"service":"tts-a"}"#]);
        if protocol == "grpc" {
            cmd.arg("--http2-prior-knowledge");
        }
        cmd.arg(format!("{}/tts/grpc.health.v1.Health/Check", gw.url()));
        let (ok, out, err) = run(cmd, LIMIT).await;
        assert!(ok, "{protocol}: {err}");
        assert!(out.contains("SERVING"), "{protocol}: {out}");
    }
    gw.stop().await;
}

#[tokio::test]
async fn grpcurl_via_reflection() {
    let (_tts, gw) = platform().await;
    let Some(grpcurl) = need("grpcurl") else {
        return;
    };
    let addr = gw.addr.to_string();
    let mut cmd = Command::new(&grpcurl);
    cmd.args(["-plaintext", &addr, "list"]);
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok, "{err}");
    let listed: Vec<&str> = out.lines().collect();
    for system in System::ALL {
        for name in system.service_names() {
            assert!(
                listed.contains(&name.as_str()),
                "{name} missing from {listed:?}"
            );
        }
    }
    assert!(listed.contains(&"grpc.health.v1.Health"));

    let mut cmd = Command::new(&grpcurl);
    cmd.args(["-plaintext", &addr, "describe", "map.tts.v1.TicketService"]);
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(ok && out.contains("rpc GetTicket"), "{out}{err}");

    // Unary, forwarded to TTS.
    let mut cmd = Command::new(&grpcurl);
    cmd.args([
        "-plaintext",
        "-d",
        r#"{"id":"x"}"#,
        &addr,
        "map.tts.v1.TicketService/GetTicket",
    ]);
    let (ok, out, err) = run(cmd, LIMIT).await;
    assert!(
        !ok && err.contains("Unimplemented") && err.contains("tts"),
        "{out}{err}"
    );

    // Server streaming: the first Watch message arrives while the stream is open.
    let mut cmd = Command::new(&grpcurl);
    cmd.args([
        "-plaintext",
        "-max-time",
        "2",
        "-d",
        r#"{"service":""}"#,
        &addr,
        "grpc.health.v1.Health/Watch",
    ]);
    let (_, out, err) = run(cmd, LIMIT).await;
    assert!(out.contains("SERVING"), "{out}{err}");
    assert!(
        err.contains("DeadlineExceeded"),
        "the stream stays open: {err}"
    );
    gw.stop().await;
}
