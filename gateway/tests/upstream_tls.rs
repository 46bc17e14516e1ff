//! TLS from the gateway to the services: `https://` and `dns+tls://`
//! upstreams over rustls (ALPN h2), trusting only the configured CA, the
//! certificate checked against the URL's host or its `?server_name=`, and a
//! client certificate for services that require one (mTLS). Every
//! certificate is made by the test; the services are real kit servers on
//! port 0 serving TLS. A call the TLS refuses answers UNAVAILABLE naming
//! the failure.

mod support;

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use map_contracts::tts::v1::{GetTicketRequest, ticket_service_client::TicketServiceClient};
use map_gateway::{GatewayArgs, UpstreamSpec, upstream::client_config};
use map_kit::{
    System,
    server::GrpcServer,
    testing::{TestCa, TestServer},
};
use support::*;
use tonic::Code;

/// A TTS replica (the scaffold: every TTS call answers UNIMPLEMENTED naming
/// TTS, which proves the call reached it) serving TLS with a certificate
/// for `names`, requiring client certificates signed by `client_ca`.
async fn tls_replica(ca: &TestCa, names: &[&str], client_ca: Option<&TestCa>) -> TestServer {
    let server = GrpcServer::new("tts-tls")
        .scaffold(System::Tts)
        .tls(Some(ca.issue(names).server_tls(client_ca)))
        .grace(Duration::from_secs(2));
    TestServer::start(server).await
}

/// The gateway's client configuration: trusting `ca`'s file, presenting
/// `identity` (certificate and key files).
fn client(ca: &Path, identity: Option<(&PathBuf, &PathBuf)>) -> Arc<rustls::ClientConfig> {
    map_kit::install_crypto_provider();
    client_config(ca, identity.map(|(c, k)| (c.as_path(), k.as_path())))
        .unwrap_or_else(|(file, e)| panic!("{file:?}: {e}"))
}

fn spec(url: &str, tls: &Arc<rustls::ClientConfig>) -> UpstreamSpec {
    UpstreamSpec::parse_with(url, Some(tls)).unwrap_or_else(|e| panic!("{url}: {e}"))
}

/// A TTS call through the gateway: the upstream's status.
async fn call(gw: &TestGateway) -> tonic::Status {
    let mut tickets = TicketServiceClient::new(gw.channel().await);
    match tickets.get_ticket(GetTicketRequest::default()).await {
        Ok(_) => panic!("the scaffold answered a call"),
        Err(status) => status,
    }
}

/// Reached: the TTS scaffold answered.
fn reached(status: &tonic::Status) -> bool {
    status.code() == Code::Unimplemented && status.message().contains("tts")
}

#[tokio::test]
async fn https_and_dns_tls_upstreams_reach_a_tls_service() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new("map test ca");
    let ca_file = ca.write(&dir.path().join("ca.crt"));
    let tls = client(&ca_file, None);
    let replica = tls_replica(&ca, &["localhost", "127.0.0.1"], None).await;
    let port = replica.addr.port();
    for url in [
        format!("https://127.0.0.1:{port}"),
        format!("https://localhost:{port}"),
        format!("dns+tls://localhost:{port}"),
    ] {
        let gw = TestGateway::start(config(vec![(System::Tts, vec![spec(&url, &tls)])])).await;
        let status = call(&gw).await;
        assert!(reached(&status), "{url}: {status:?}");
        let endpoints = gw.gateway.upstream_status();
        assert!(
            endpoints.iter().all(|e| e.connected),
            "{url}: {endpoints:?}"
        );
        gw.stop().await;
    }
    replica.stop().await;
}

#[tokio::test]
async fn the_server_name_is_the_hosts_unless_overridden() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new("map test ca");
    let tls = client(&ca.write(&dir.path().join("ca.crt")), None);
    // The certificate names the Service, not the address dialled.
    let replica = tls_replica(&ca, &["tts.map.internal"], None).await;
    let port = replica.addr.port();

    let by_host = spec(&format!("https://127.0.0.1:{port}"), &tls);
    let gw = TestGateway::start(config(vec![(System::Tts, vec![by_host])])).await;
    let status = call(&gw).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("tls handshake") && status.message().contains("certificate"),
        "the refusal names the TLS failure: {status:?}"
    );
    gw.stop().await;

    let overridden = spec(
        &format!("https://127.0.0.1:{port}?server_name=tts.map.internal"),
        &tls,
    );
    let gw = TestGateway::start(config(vec![(System::Tts, vec![overridden])])).await;
    let status = call(&gw).await;
    assert!(reached(&status), "{status:?}");
    gw.stop().await;
    replica.stop().await;
}

#[tokio::test]
async fn a_wrong_ca_answers_unavailable_naming_the_tls_failure() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new("map test ca");
    let other = TestCa::new("someone else's ca");
    let tls = client(&other.write(&dir.path().join("other-ca.crt")), None);
    let replica = tls_replica(&ca, &["localhost"], None).await;
    let url = format!("https://localhost:{}", replica.addr.port());
    let gw = TestGateway::start(config(vec![(System::Tts, vec![spec(&url, &tls)])])).await;
    // The first call meets the failure itself; the next ones find the
    // endpoint ejected and still say why.
    for attempt in 0..3 {
        let status = call(&gw).await;
        assert_eq!(status.code(), Code::Unavailable, "{attempt}: {status:?}");
        let message = status.message();
        assert!(
            message.contains("tls handshake with localhost:")
                && message.contains("invalid peer certificate")
                && message.contains("UnknownIssuer"),
            "{attempt}: {message}"
        );
        assert!(!message.contains("PRIVATE KEY"), "{message}");
    }
    // The gateway itself is unharmed.
    let mut health = tonic_health::pb::health_client::HealthClient::new(gw.channel().await);
    let own = health
        .check(tonic_health::pb::HealthCheckRequest::default())
        .await
        .expect("the gateway's own health");
    assert_eq!(own.into_inner().status, 1);
    gw.stop().await;
    replica.stop().await;
}

#[tokio::test]
async fn a_service_requiring_client_certificates_refuses_the_gateway_without_one() {
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new("map test ca");
    let ca_file = ca.write(&dir.path().join("ca.crt"));
    let replica = tls_replica(&ca, &["localhost"], Some(&ca)).await;
    let url = format!("https://localhost:{}", replica.addr.port());

    let anonymous = client(&ca_file, None);
    let gw = TestGateway::start(config(vec![(System::Tts, vec![spec(&url, &anonymous)])])).await;
    let status = call(&gw).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    assert!(
        status.message().contains("CertificateRequired"),
        "the refusal names the missing certificate: {status:?}"
    );
    gw.stop().await;

    // Signed by another CA: refused too.
    let stranger_ca = TestCa::new("stranger ca");
    let stranger = stranger_ca
        .issue(&["gateway.map.internal"])
        .write(dir.path(), "stranger");
    let untrusted = client(&ca_file, Some((&stranger.cert, &stranger.key)));
    let gw = TestGateway::start(config(vec![(System::Tts, vec![spec(&url, &untrusted)])])).await;
    let status = call(&gw).await;
    assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    gw.stop().await;

    let gateway_cert = ca
        .issue(&["gateway.map.internal"])
        .write(dir.path(), "gateway");
    let identified = client(&ca_file, Some((&gateway_cert.cert, &gateway_cert.key)));
    let gw = TestGateway::start(config(vec![(System::Tts, vec![spec(&url, &identified)])])).await;
    for _ in 0..3 {
        let status = call(&gw).await;
        assert!(reached(&status), "{status:?}");
    }
    // Health checks run over the same mTLS connection.
    let healthy = eventually(Duration::from_secs(5), || {
        let endpoints = gw.gateway.upstream_status();
        async move { endpoints.iter().all(|e| e.healthy && e.connected) }
    })
    .await;
    assert!(healthy, "{:?}", gw.gateway.upstream_status());
    gw.stop().await;
    replica.stop().await;
}

#[tokio::test]
async fn tls_flags_are_validated_before_anything_starts() {
    use clap::Parser as _;
    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: GatewayArgs,
    }
    let validate = |flags: &[&str]| {
        let argv = std::iter::once("map").chain(flags.iter().copied());
        Cli::try_parse_from(argv)
            .unwrap_or_else(|e| panic!("{e}"))
            .args
            .validate()
    };
    let dir = tempfile::tempdir().expect("dir");
    let ca = TestCa::new("map test ca");
    let ca_file = ca.write(&dir.path().join("ca.crt"));
    let ca_arg = ca_file.to_str().expect("utf-8 path");
    let id = ca.issue(&["gateway"]).write(dir.path(), "gateway");
    let (cert, key) = (
        id.cert.to_str().expect("utf-8"),
        id.key.to_str().expect("utf-8"),
    );
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").expect("write");
    let not_pem = not_pem.to_str().expect("utf-8");

    let cfg = validate(&[
        "--upstream-tts",
        "dns+tls://tts-headless:8003,https://10.0.0.5:8003?server_name=tts",
        "--upstream-auth",
        "http://auth:8000",
        "--upstream-tls-ca",
        ca_arg,
        "--upstream-tls-cert",
        cert,
        "--upstream-tls-key",
        key,
    ])
    .unwrap_or_else(|e| panic!("{e}"));
    let tts = &cfg.clusters[&System::Tts];
    match &tts[..] {
        [
            UpstreamSpec::DnsTls { name, port, tls },
            UpstreamSpec::StaticTls {
                host,
                tls: overridden,
                ..
            },
        ] => {
            assert_eq!((name.as_str(), *port), ("tts-headless", 8003));
            assert_eq!(tls.server_name(), "tts-headless");
            assert!(tls.presents_client_certificate());
            assert_eq!(host, "10.0.0.5");
            assert_eq!(overridden.server_name(), "tts");
        }
        other => panic!("{other:?}"),
    }
    let shown = format!("{cfg:?}");
    assert!(!shown.contains("PRIVATE KEY"), "{shown}");

    for (flags, variable) in [
        // A TLS upstream needs the CA bundle.
        (
            vec!["--upstream-tts", "https://tts:8003"],
            "MAP_UPSTREAM_TTS",
        ),
        (
            vec!["--upstream-tts", "dns+tls://tts:8003"],
            "MAP_UPSTREAM_TTS",
        ),
        // ?server_name= is for TLS upstreams, and is the only parameter.
        (
            vec!["--upstream-tts", "http://tts:8003?server_name=x"],
            "MAP_UPSTREAM_TTS",
        ),
        (
            vec![
                "--upstream-tts",
                "https://tts:8003?sni=x",
                "--upstream-tls-ca",
                ca_arg,
            ],
            "MAP_UPSTREAM_TTS",
        ),
        (vec!["--upstream-tls-ca", not_pem], "MAP_UPSTREAM_TLS_CA"),
        (
            vec!["--upstream-tls-ca", "/nonexistent.pem"],
            "MAP_UPSTREAM_TLS_CA",
        ),
        (
            vec!["--upstream-tls-ca", ca_arg, "--upstream-tls-cert", cert],
            "MAP_UPSTREAM_TLS_KEY",
        ),
        (
            vec!["--upstream-tls-cert", cert, "--upstream-tls-key", key],
            "MAP_UPSTREAM_TLS_CA",
        ),
        (
            vec![
                "--upstream-tls-ca",
                ca_arg,
                "--upstream-tls-cert",
                cert,
                "--upstream-tls-key",
                not_pem,
            ],
            "MAP_UPSTREAM_TLS_KEY",
        ),
    ] {
        match validate(&flags) {
            Ok(_) => panic!("{flags:?} accepted"),
            Err(e) => {
                assert_eq!(e.variable, variable, "{flags:?}: {e}");
                assert!(!e.to_string().contains("PRIVATE KEY"), "{e}");
            }
        }
    }
}
