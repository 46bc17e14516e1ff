//! Where Auth is and how it is reached: plaintext h2c for `http://`, or
//! TLS for `https://` (rustls through tonic's `tls-ring`, the process's one
//! provider; ALPN h2; only the configured CA bundle trusted; the URL's host
//! as the server name unless overridden; a client certificate for mTLS).

use std::time::Duration;

use secrecy::ExposeSecret as _;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::config::ClientTls;

/// How long connecting (TCP and TLS) to Auth may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long one call to Auth may take.
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// Auth's address with everything needed to open channels to it. Built
/// (and its TLS material checked) when the configuration is validated, so
/// opening a channel cannot fail.
#[derive(Debug, Clone)]
pub struct AuthTarget {
    url: http::Uri,
    endpoint: Endpoint,
    tls: bool,
}

impl AuthTarget {
    /// Auth at `url`: `http://` in plaintext, `https://` with `tls` (which
    /// it requires). The error says what is wrong and quotes no key.
    pub fn new(url: http::Uri, tls: Option<&ClientTls>) -> Result<AuthTarget, String> {
        let endpoint = Endpoint::from(url.clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        let endpoint = match (url.scheme_str(), tls) {
            (Some("https"), Some(tls)) => endpoint
                .tls_config(client_tls_config(tls))
                .map_err(|e| format!("tls to auth: {}", error_chain(&e)))?,
            (Some("https"), None) => {
                return Err(format!(
                    "'{url}' is https://: MAP_AUTH_TLS_CA (--auth-tls-ca) must name the CA \
                     bundle that signed Auth's certificate"
                ));
            }
            (_, Some(_)) => {
                return Err(format!(
                    "'{url}' is not https://, but TLS to Auth is configured (MAP_AUTH_TLS_*)"
                ));
            }
            (_, None) => endpoint,
        };
        Ok(AuthTarget {
            tls: tls.is_some(),
            url,
            endpoint,
        })
    }

    /// Auth's URL.
    pub fn url(&self) -> &http::Uri {
        &self.url
    }

    /// Whether Auth is reached over TLS.
    pub fn is_tls(&self) -> bool {
        self.tls
    }

    /// A channel to Auth that connects on first use, with the timeouts
    /// every client of Auth uses (5 s to connect, 10 s per call).
    pub fn channel(&self) -> Channel {
        self.endpoint.clone().connect_lazy()
    }
}

/// A plaintext target (`http://`), for `map dev` and tests; an `https://`
/// URL needs [`AuthTarget::new`] with its TLS.
impl From<http::Uri> for AuthTarget {
    fn from(url: http::Uri) -> AuthTarget {
        let endpoint = Endpoint::from(url.clone())
            .connect_timeout(CONNECT_TIMEOUT)
            .timeout(CALL_TIMEOUT);
        AuthTarget {
            url,
            endpoint,
            tls: false,
        }
    }
}

fn client_tls_config(tls: &ClientTls) -> ClientTlsConfig {
    let mut config = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&tls.ca_pem));
    if let Some(name) = &tls.server_name {
        config = config.domain_name(name.clone());
    }
    if let Some((cert, key)) = &tls.identity {
        config = config.identity(Identity::from_pem(cert, key.expose_secret()));
    }
    config
}

/// An error with its causes (tonic's transport errors say what failed,
/// their sources why).
pub(crate) fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}
