//! TLS at the edge: with a certificate the port speaks rustls TLS and
//! negotiates h2 or http/1.1 by ALPN; grpc-web and native gRPC both work.

mod support;

use std::time::Duration;

use map_kit::System;
use support::*;
use tokio::process::Command;

#[tokio::test]
async fn tls_with_alpn_h2_and_http1() {
    let dir = tempfile::tempdir().expect("dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let mut openssl = Command::new(tool("openssl").expect("openssl"));
    openssl
        .args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
        ])
        .args(["-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"])
        .args(["-addext", "basicConstraints=critical,CA:FALSE"])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert);
    let (ok, _, err) = run(openssl, Duration::from_secs(30)).await;
    assert!(ok, "openssl: {err}");

    let tts = Replica::start(System::Tts, "tts-a").await;
    let mut cfg = config(vec![(System::Tts, vec![tts.spec()])]);
    cfg.tls = Some(map_gateway::config::tls_server_config(&cert, &key).expect("tls config"));
    let gw = TestGateway::start(cfg).await;
    let gw_addr = gw.addr;
    let url = format!(
        "https://localhost:{}/tts/grpc.health.v1.Health/Check",
        gw.addr.port()
    );
    let body = map_gateway::grpc_web::encode_text(&map_gateway::grpc_web::message_frame(
        &health_request("tts-a"),
    ));
    for (flag, version) in [("--http1.1", "1.1"), ("--http2", "2")] {
        let mut curl = Command::new(tool("curl").expect("curl"));
        curl.args(["-sS", flag, "--cacert"])
            .arg(&cert)
            .args([
                "--resolve",
                &format!("localhost:{}:127.0.0.1", gw.addr.port()),
            ])
            .args(["-H", "content-type: application/grpc-web-text"])
            .args([
                "--data-binary",
                &body,
                "-o",
                "/dev/null",
                "-w",
                "%{http_version} %{http_code}",
            ])
            .arg(&url);
        let (ok, out, err) = run(curl, Duration::from_secs(30)).await;
        assert!(ok, "curl {flag}: {err}");
        assert_eq!(
            out.trim(),
            format!("{version} 200"),
            "ALPN picked HTTP/{version}"
        );
    }
    // Native gRPC over TLS (h2 by ALPN) with tonic.
    let pem = std::fs::read(&cert).expect("cert");
    let channel =
        tonic::transport::Endpoint::from_shared(format!("https://localhost:{}", gw.addr.port()))
            .expect("url")
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(pem))
                    .domain_name("localhost"),
            )
            .expect("tls config")
            .connect_with_connector(tower::service_fn(move |_: http::Uri| {
                let addr = gw_addr;
                async move {
                    tokio::net::TcpStream::connect(addr)
                        .await
                        .map(hyper_util::rt::TokioIo::new)
                }
            }))
            .await
            .expect("tls channel");
    let status = tonic_health::pb::health_client::HealthClient::new(channel)
        .check(tonic_health::pb::HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("check over TLS")
        .into_inner()
        .status;
    assert_eq!(status, 1);
    gw.stop().await;
}
