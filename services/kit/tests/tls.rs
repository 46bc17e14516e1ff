//! With a certificate configured, a kit server speaks TLS (rustls, ring):
//! a client trusting the CA gets SERVING, a plaintext client gets nothing,
//! and with a client CA configured a client without a certificate is refused.

use map_kit::{config::TlsConfig, server::GrpcServer, testing::TestServer};
use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
use secrecy::SecretString;
use tonic::transport::{Certificate, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::{HealthCheckRequest, health_client::HealthClient};

struct Pki {
    ca_pem: String,
    server_cert: String,
    server_key: String,
    client_cert: String,
    client_key: String,
}

fn pki() -> Pki {
    let fail = |e: rcgen::Error| -> ! { panic!("{e}") };
    let ca_key = KeyPair::generate().unwrap_or_else(|e| fail(e));
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap_or_else(|e| fail(e));
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap_or_else(|e| fail(e));
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let issue = |names: Vec<String>| {
        let key = KeyPair::generate().unwrap_or_else(|e| fail(e));
        let params = CertificateParams::new(names).unwrap_or_else(|e| fail(e));
        let cert = params.signed_by(&key, &issuer).unwrap_or_else(|e| fail(e));
        (cert.pem(), key.serialize_pem())
    };
    let (server_cert, server_key) = issue(vec!["localhost".into()]);
    let (client_cert, client_key) = issue(vec!["tts.map.internal".into()]);
    Pki {
        ca_pem: ca_cert.pem(),
        server_cert,
        server_key,
        client_cert,
        client_key,
    }
}

fn tls(p: &Pki, mtls: bool) -> TlsConfig {
    TlsConfig {
        cert_pem: p.server_cert.clone().into_bytes(),
        key_pem: SecretString::from(p.server_key.clone()),
        client_ca_pem: mtls.then(|| p.ca_pem.clone().into_bytes()),
    }
}

async fn check(server: &TestServer, client: ClientTlsConfig) -> Result<i32, String> {
    let url = format!("https://localhost:{}", server.addr.port());
    let endpoint = Endpoint::from_shared(url)
        .map_err(|e| e.to_string())?
        .tls_config(client)
        .map_err(|e| e.to_string())?;
    let channel = endpoint.connect().await.map_err(|e| format!("{e:?}"))?;
    let answer = HealthClient::new(channel)
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await;
    answer
        .map(|r| r.into_inner().status)
        .map_err(|s| s.to_string())
}

#[tokio::test]
async fn tls_serves_clients_that_trust_the_ca_and_not_plaintext() {
    map_kit::install_crypto_provider();
    let p = pki();
    let server = TestServer::start(GrpcServer::new("tls").tls(Some(tls(&p, false)))).await;
    let trusted = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(&p.ca_pem))
        .domain_name("localhost");
    assert_eq!(check(&server, trusted).await, Ok(1), "SERVING over TLS");

    let plain = Endpoint::from_shared(server.url())
        .unwrap_or_else(|e| panic!("{e}"))
        .connect()
        .await;
    let plain_answer = match plain {
        Ok(ch) => HealthClient::new(ch)
            .check(HealthCheckRequest::default())
            .await
            .map(|_| ())
            .map_err(|s| s.to_string()),
        Err(e) => Err(e.to_string()),
    };
    assert!(
        plain_answer.is_err(),
        "a plaintext client was served by a TLS port"
    );
    server.stop().await;
}

#[tokio::test]
async fn mtls_requires_a_client_certificate() {
    map_kit::install_crypto_provider();
    let p = pki();
    let server = TestServer::start(GrpcServer::new("mtls").tls(Some(tls(&p, true)))).await;
    let ca = Certificate::from_pem(&p.ca_pem);
    let anonymous = ClientTlsConfig::new()
        .ca_certificate(ca.clone())
        .domain_name("localhost");
    assert!(
        check(&server, anonymous).await.is_err(),
        "a client without a certificate was served"
    );
    let identified = ClientTlsConfig::new()
        .ca_certificate(ca)
        .domain_name("localhost")
        .identity(Identity::from_pem(&p.client_cert, &p.client_key));
    assert_eq!(check(&server, identified).await, Ok(1));
    server.stop().await;
}
