//! TLS to the services: `https://` and `dns+tls://` upstreams. One rustls
//! client configuration (the process's ring provider, ALPN `h2` only, the
//! configured CA bundle as the only trust anchors, and an optional client
//! certificate for mTLS) is shared by every TLS upstream; each upstream
//! checks the certificate against its own server name (the URL's host,
//! unless overridden).

use std::{fmt, path::Path, sync::Arc, time::Duration};

use rustls::{ClientConfig, RootCertStore};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName, pem::PemObject as _};
use tokio::net::TcpStream;
use tokio_rustls::{TlsConnector, client::TlsStream};

/// What the TLS of one upstream is: the shared client configuration and
/// the name its certificate must carry.
#[derive(Clone)]
pub struct UpstreamTls {
    config: Arc<ClientConfig>,
    server_name: ServerName<'static>,
}

impl UpstreamTls {
    /// TLS with `config`, checking certificates against `server_name` (a
    /// DNS name or an IP address).
    pub fn new(config: Arc<ClientConfig>, server_name: &str) -> Result<UpstreamTls, String> {
        let server_name = ServerName::try_from(server_name.to_owned())
            .map_err(|_| format!("'{server_name}' is not a valid TLS server name"))?;
        Ok(UpstreamTls {
            config,
            server_name,
        })
    }

    /// The name the upstream's certificate must carry.
    pub fn server_name(&self) -> String {
        match &self.server_name {
            ServerName::DnsName(name) => name.as_ref().to_owned(),
            ServerName::IpAddress(ip) => std::net::IpAddr::from(*ip).to_string(),
            other => format!("{other:?}"),
        }
    }

    /// Whether a client certificate is presented (mTLS).
    pub fn presents_client_certificate(&self) -> bool {
        self.config.client_auth_cert_resolver.has_certs()
    }

    /// The TLS handshake over `tcp`, within `limit`; the upstream must
    /// agree to HTTP/2 by ALPN. The error says what failed (the
    /// certificate, the name, the client certificate, ALPN) and quotes no
    /// key material.
    pub async fn handshake(
        &self,
        tcp: TcpStream,
        limit: Duration,
    ) -> Result<TlsStream<TcpStream>, String> {
        let connector = TlsConnector::from(self.config.clone());
        let stream = tokio::time::timeout(limit, connector.connect(self.server_name.clone(), tcp))
            .await
            .map_err(|_| "timed out".to_owned())?
            .map_err(|e| e.to_string())?;
        if stream.get_ref().1.alpn_protocol() != Some(b"h2") {
            return Err("the upstream did not agree to HTTP/2 (ALPN h2)".to_owned());
        }
        Ok(stream)
    }
}

impl fmt::Debug for UpstreamTls {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UpstreamTls")
            .field("server_name", &self.server_name())
            .field("client_certificate", &self.presents_client_certificate())
            .finish_non_exhaustive()
    }
}

/// Two upstreams' TLS are the same when they share the configuration and
/// check the same name.
impl PartialEq for UpstreamTls {
    fn eq(&self, other: &Self) -> bool {
        Arc::ptr_eq(&self.config, &other.config) && self.server_name == other.server_name
    }
}

impl Eq for UpstreamTls {}

/// Which of the TLS files a problem is with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsFile {
    /// The CA bundle.
    Ca,
    /// The client certificate chain.
    Cert,
    /// The client certificate's private key.
    Key,
}

/// The client configuration of every TLS upstream: trusting only the
/// certificates of the PEM bundle `ca`, presenting `identity` (a PEM chain
/// and its key) when given, ALPN `h2`, the process's ring provider.
pub fn client_config(
    ca: &Path,
    identity: Option<(&Path, &Path)>,
) -> Result<Arc<ClientConfig>, (TlsFile, String)> {
    let anchors = read_certificates(ca).map_err(|e| (TlsFile::Ca, e))?;
    let mut roots = RootCertStore::empty();
    for anchor in anchors {
        roots.add(anchor).map_err(|e| {
            (
                TlsFile::Ca,
                format!(
                    "{} holds a certificate that cannot be a CA: {e}",
                    ca.display()
                ),
            )
        })?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| (TlsFile::Ca, e.to_string()))?
        .with_root_certificates(roots);
    let mut config = match identity {
        None => builder.with_no_client_auth(),
        Some((cert, key)) => {
            let chain = read_certificates(cert).map_err(|e| (TlsFile::Cert, e))?;
            // A key's parse error may quote nothing of it; still, say only where.
            let key_der = PrivateKeyDer::from_pem_file(key).map_err(|_| {
                (
                    TlsFile::Key,
                    format!("{} is not a readable PEM private key", key.display()),
                )
            })?;
            builder
                .with_client_auth_cert(chain, key_der)
                .map_err(|e| (TlsFile::Key, format!("does not fit the certificate: {e}")))?
        }
    };
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(Arc::new(config))
}

/// The certificates of a PEM file, at least one.
fn read_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if certs.is_empty() {
        return Err(format!("{} holds no PEM certificate", path.display()));
    }
    Ok(certs)
}
