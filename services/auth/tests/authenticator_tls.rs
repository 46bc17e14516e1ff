//! Service → Auth over TLS: map-kit's Auth client (the `Authenticator`
//! every other system validates its callers with), configured the way a
//! service is (`MAP_AUTH_URL=https://…`, `MAP_AUTH_TLS_CA`, the server-name
//! override, `MAP_AUTH_TLS_CERT`/`KEY`), validates a real token against a
//! real Auth server on port 0 serving TLS, and mutual TLS when Auth
//! requires client certificates. Certificates are made by the test; a wrong
//! CA or a missing client certificate is UNAVAILABLE naming the failure.
#![allow(clippy::unwrap_used)]

use std::path::Path;

use clap::Parser as _;
use map_auth::{Auth, AuthSettings, Keyset, users::NewUser};
use map_contracts::auth::v1::{ValidateTokenRequest, auth_service_client::AuthServiceClient};
use map_kit::{
    ApiError, System,
    authn::{AuthTarget, Authenticator, CacheConfig},
    config::{ServiceArgs, TlsConfig},
    testing::{TestCa, TestDb, TestServer},
};
use secrecy::SecretString;

const PASSWORD: &str = "correct horse battery staple";

/// A real Auth serving `tls`, with one signed-in user: the server and the
/// user's access token.
async fn auth_over_tls(tls: TlsConfig) -> (TestDb, TestServer, String) {
    map_kit::install_crypto_provider();
    let db = TestDb::new::<map_migrations::auth::Migrator>().await;
    let auth = Auth::new(db.db.clone(), AuthSettings::with_keys(Keyset::generate().0));
    auth.create_department(None, "IT", "Information Technology")
        .await
        .unwrap();
    auth.create_user(
        None,
        NewUser {
            email: "agent@example.com".into(),
            display_name: "Agent".into(),
            department: "IT".into(),
            password: Some(SecretString::from(PASSWORD)),
            roles: vec![map_kit::authn::RoleRef {
                system: "tts".into(),
                role: "agent".into(),
            }],
        },
    )
    .await
    .unwrap();
    let token = auth
        .login("agent@example.com", &SecretString::from(PASSWORD), None)
        .await
        .unwrap()
        .access_token;
    let server = TestServer::start(map_auth::grpc_server(auth).tls(Some(tls))).await;
    (db, server, token)
}

#[derive(clap::Parser)]
struct Cli {
    #[command(flatten)]
    args: ServiceArgs,
}

/// Where a service reaches Auth, from its flags (as `map serve tts` reads them).
fn target(flags: &[&str]) -> Result<AuthTarget, String> {
    let argv = ["map", "--auth-api-key", "mapk_test"]
        .into_iter()
        .chain(flags.iter().copied());
    let config = Cli::try_parse_from(argv)
        .map_err(|e| e.to_string())?
        .args
        .validate(System::Tts, false)
        .map_err(|e| e.to_string())?;
    Ok(config.auth.expect("MAP_AUTH_URL was given"))
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// ValidateToken through the raw client: Ok(valid) or the status.
async fn validate_raw(target: &AuthTarget, token: &str) -> Result<bool, tonic::Status> {
    AuthServiceClient::new(target.channel())
        .validate_token(ValidateTokenRequest {
            token: token.to_owned(),
        })
        .await
        .map(|r| r.into_inner().valid)
}

/// A status with its causes.
fn causes(status: &tonic::Status) -> String {
    let mut text = status.message().to_owned();
    let mut source = std::error::Error::source(status);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[tokio::test]
async fn the_auth_client_validates_a_token_over_tls() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("map test ca");
    let ca_file = ca.write(&dir.path().join("ca.crt"));
    let (_db, server, token) = auth_over_tls(ca.issue(&["localhost"]).server_tls(None)).await;
    let url = format!("https://localhost:{}", server.addr.port());

    let auth = target(&["--auth-url", &url, "--auth-tls-ca", path(&ca_file)]).unwrap();
    assert!(auth.is_tls());
    let authenticator = Authenticator::connect_lazy(&auth, CacheConfig::default());
    let principal = authenticator
        .check(&token)
        .await
        .unwrap()
        .expect("a valid token");
    assert!(
        principal
            .roles
            .iter()
            .any(|r| r.system == "tts" && r.role == "agent"),
        "{principal:?}"
    );
    assert!(authenticator.check("not-a-token").await.unwrap().is_none());

    // The certificate names "localhost"; dialled by address, the name is
    // given instead of the URL's host.
    let by_address = format!("https://127.0.0.1:{}", server.addr.port());
    let unnamed = target(&["--auth-url", &by_address, "--auth-tls-ca", path(&ca_file)]).unwrap();
    let refused = validate_raw(&unnamed, &token).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("certificate"),
        "the refusal names the certificate: {refused:?}"
    );
    let named = target(&[
        "--auth-url",
        &by_address,
        "--auth-tls-ca",
        path(&ca_file),
        "--auth-tls-server-name",
        "localhost",
    ])
    .unwrap();
    assert!(
        validate_raw(&named, &token).await.unwrap(),
        "validated by name"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_wrong_ca_is_unavailable_naming_the_tls_failure() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("map test ca");
    let other = TestCa::new("someone else's ca");
    let other_file = other.write(&dir.path().join("other.crt"));
    let (_db, server, token) = auth_over_tls(ca.issue(&["localhost"]).server_tls(None)).await;
    let url = format!("https://localhost:{}", server.addr.port());
    let auth = target(&["--auth-url", &url, "--auth-tls-ca", path(&other_file)]).unwrap();

    let refused = validate_raw(&auth, &token).await.unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unavailable, "{refused:?}");
    assert!(
        refused.message().contains("invalid peer certificate")
            && refused.message().contains("UnknownIssuer"),
        "{refused:?}"
    );
    assert!(!refused.message().contains(&token));
    // The authenticator: UNAVAILABLE, never "invalid token".
    let authenticator = Authenticator::connect_lazy(&auth, CacheConfig::default());
    match authenticator.check(&token).await {
        Err(ApiError::Unavailable(what)) => assert_eq!(what, "auth"),
        other => panic!("{other:?}"),
    }
    server.stop().await;
}

#[tokio::test]
async fn auth_requiring_client_certificates_validates_only_for_services_presenting_one() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("map test ca");
    let ca_file = ca.write(&dir.path().join("ca.crt"));
    let (_db, server, token) = auth_over_tls(ca.issue(&["localhost"]).server_tls(Some(&ca))).await;
    let url = format!("https://localhost:{}", server.addr.port());

    let anonymous = target(&["--auth-url", &url, "--auth-tls-ca", path(&ca_file)]).unwrap();
    // TLS 1.3 lets the client finish its handshake before Auth checks its
    // certificate: tonic sees Auth's alert on the connection (a "transport
    // error", UNKNOWN), whose cause names it.
    let refused = validate_raw(&anonymous, &token).await.unwrap_err();
    assert!(
        causes(&refused).contains("CertificateRequired"),
        "{refused:?}"
    );
    let authenticator = Authenticator::connect_lazy(&anonymous, CacheConfig::default());
    assert!(
        matches!(
            authenticator.check(&token).await,
            Err(ApiError::Unavailable(_))
        ),
        "a service without a client certificate was answered"
    );

    let stranger = TestCa::new("stranger ca")
        .issue(&["tts"])
        .write(dir.path(), "stranger");
    let untrusted = target(&[
        "--auth-url",
        &url,
        "--auth-tls-ca",
        path(&ca_file),
        "--auth-tls-cert",
        path(&stranger.cert),
        "--auth-tls-key",
        path(&stranger.key),
    ])
    .unwrap();
    assert!(validate_raw(&untrusted, &token).await.is_err());

    let tts = ca.issue(&["tts"]).write(dir.path(), "tts");
    let identified = target(&[
        "--auth-url",
        &url,
        "--auth-tls-ca",
        path(&ca_file),
        "--auth-tls-cert",
        path(&tts.cert),
        "--auth-tls-key",
        path(&tts.key),
    ])
    .unwrap();
    let authenticator = Authenticator::connect_lazy(&identified, CacheConfig::default());
    let principal = authenticator.check(&token).await.unwrap();
    assert!(principal.is_some(), "validated over mTLS");
    server.stop().await;
}

#[test]
fn tls_settings_are_checked_with_the_configuration() {
    let dir = tempfile::tempdir().unwrap();
    let ca = TestCa::new("map test ca");
    let ca_file = ca.write(&dir.path().join("ca.crt"));
    let id = ca.issue(&["tts"]).write(dir.path(), "tts");
    let not_pem = dir.path().join("not.pem");
    std::fs::write(&not_pem, "hello").unwrap();
    let (ca_arg, cert, key, junk) = (
        path(&ca_file),
        path(&id.cert),
        path(&id.key),
        path(&not_pem),
    );
    for (flags, variable) in [
        // https:// needs the CA bundle; the CA bundle needs https://.
        (vec!["--auth-url", "https://auth:8000"], "MAP_AUTH_URL"),
        (
            vec!["--auth-url", "http://auth:8000", "--auth-tls-ca", ca_arg],
            "MAP_AUTH_URL",
        ),
        (
            vec!["--auth-url", "https://auth:8000", "--auth-tls-ca", junk],
            "MAP_AUTH_TLS_CA",
        ),
        (
            vec![
                "--auth-url",
                "https://auth:8000",
                "--auth-tls-ca",
                ca_arg,
                "--auth-tls-cert",
                cert,
            ],
            "MAP_AUTH_TLS_KEY",
        ),
        (
            vec![
                "--auth-url",
                "https://auth:8000",
                "--auth-tls-ca",
                ca_arg,
                "--auth-tls-cert",
                cert,
                "--auth-tls-key",
                junk,
            ],
            "MAP_AUTH_TLS_KEY",
        ),
        (
            vec![
                "--auth-url",
                "https://auth:8000",
                "--auth-tls-cert",
                cert,
                "--auth-tls-key",
                key,
            ],
            "MAP_AUTH_TLS_CA",
        ),
        (
            vec![
                "--auth-url",
                "https://auth:8000",
                "--auth-tls-ca",
                ca_arg,
                "--auth-tls-server-name",
                "not a name",
            ],
            "MAP_AUTH_TLS_SERVER_NAME",
        ),
    ] {
        match target(&flags) {
            Ok(t) => panic!("{flags:?} accepted: {t:?}"),
            Err(e) => {
                assert!(e.contains(variable), "{flags:?}: {e}");
                assert!(!e.contains("PRIVATE KEY"), "{e}");
            }
        }
    }
    let ok = target(&[
        "--auth-url",
        "https://auth:8000",
        "--auth-tls-ca",
        ca_arg,
        "--auth-tls-cert",
        cert,
        "--auth-tls-key",
        key,
    ])
    .unwrap();
    assert!(ok.is_tls());
    assert!(!format!("{ok:?}").contains("PRIVATE KEY"));
}
