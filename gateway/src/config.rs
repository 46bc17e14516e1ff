//! The gateway's configuration: `MAP_*` variables and matching flags
//! ([`GatewayArgs`]), validated as a whole into a [`GatewayConfig`] before
//! any port is bound. Errors name the variable and flag at fault and never
//! quote key material.

use std::{collections::BTreeMap, net::SocketAddr, path::PathBuf, sync::Arc, time::Duration};

use map_kit::{System, config::parse_duration};
use rustls_pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _};

pub use crate::upstream::{TlsFile, UpstreamTls};

/// A configuration error naming the variable (and flag) at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable} (--{flag}): {reason}")]
pub struct ConfigError {
    /// The environment variable, e.g. `MAP_UPSTREAM_TTS`.
    pub variable: String,
    /// The flag without dashes, e.g. `upstream-tts`.
    pub flag: String,
    /// What is wrong.
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &str, flag: &str, reason: impl Into<String>) -> Self {
        ConfigError {
            variable: variable.to_owned(),
            flag: flag.to_owned(),
            reason: reason.into(),
        }
    }
}

/// The raw flags and variables of `map gateway`.
#[derive(Debug, Clone, clap::Args)]
pub struct GatewayArgs {
    /// Listen address (HTTP/1.1 and h2c on one port, or TLS with ALPN).
    #[arg(long, env = "MAP_LISTEN", default_value = "0.0.0.0:8080")]
    pub listen: String,
    /// Auth's endpoints: `http://host:port,…` or `dns://name:port` (re-resolved);
    /// over TLS `https://host:port` or `dns+tls://name:port`, each with an
    /// optional `?server_name=NAME` (the name the certificate must carry
    /// instead of the host).
    #[arg(long, env = "MAP_UPSTREAM_AUTH", value_delimiter = ',')]
    pub upstream_auth: Vec<String>,
    /// AMS's endpoints, like --upstream-auth.
    #[arg(long, env = "MAP_UPSTREAM_AMS", value_delimiter = ',')]
    pub upstream_ams: Vec<String>,
    /// BMS's endpoints, like --upstream-auth.
    #[arg(long, env = "MAP_UPSTREAM_BMS", value_delimiter = ',')]
    pub upstream_bms: Vec<String>,
    /// TTS's endpoints, like --upstream-auth.
    #[arg(long, env = "MAP_UPSTREAM_TTS", value_delimiter = ',')]
    pub upstream_tts: Vec<String>,
    /// HDTS's endpoints, like --upstream-auth.
    #[arg(long, env = "MAP_UPSTREAM_HDTS", value_delimiter = ',')]
    pub upstream_hdts: Vec<String>,
    /// Origins allowed by CORS (`https://console.example.com,…`, or `*`).
    #[arg(long, env = "MAP_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// PEM certificate chain; with --tls-key the port speaks TLS (h2, http/1.1).
    #[arg(long, env = "MAP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of --tls-cert.
    #[arg(long, env = "MAP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle that signed the services' certificates: the only roots
    /// trusted by `https://` and `dns+tls://` upstreams (which require it).
    #[arg(long, env = "MAP_UPSTREAM_TLS_CA")]
    pub upstream_tls_ca: Option<PathBuf>,
    /// PEM client certificate chain the gateway presents to TLS upstreams
    /// (mTLS); with --upstream-tls-key.
    #[arg(long, env = "MAP_UPSTREAM_TLS_CERT")]
    pub upstream_tls_cert: Option<PathBuf>,
    /// PEM private key of --upstream-tls-cert.
    #[arg(long, env = "MAP_UPSTREAM_TLS_KEY")]
    pub upstream_tls_key: Option<PathBuf>,
    /// Directory of static files (the web console), served with SPA fallback.
    #[arg(long, env = "MAP_STATIC_DIR")]
    pub static_dir: Option<PathBuf>,
    /// Largest grpc-web request body, in bytes.
    #[arg(long, env = "MAP_MAX_BODY_BYTES", default_value_t = 4 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most requests in flight at once; more are refused (UNAVAILABLE / 503).
    #[arg(long, env = "MAP_MAX_CONCURRENCY", default_value_t = 2048)]
    pub max_concurrency: usize,
    /// Largest request header block, in bytes (at least 8192).
    #[arg(long, env = "MAP_MAX_HEADER_BYTES", default_value_t = 16 * 1024)]
    pub max_header_bytes: usize,
    /// Longest deadline a call may ask for (`grpc-timeout` is capped to it;
    /// calls without one get it).
    #[arg(long, env = "MAP_MAX_GRPC_TIMEOUT", default_value = "60s")]
    pub max_grpc_timeout: String,
    /// How often each endpoint's `grpc.health.v1` is checked.
    #[arg(long, env = "MAP_HEALTH_INTERVAL", default_value = "5s")]
    pub health_interval: String,
    /// How often `dns://` upstreams are re-resolved.
    #[arg(long, env = "MAP_DNS_INTERVAL", default_value = "10s")]
    pub dns_interval: String,
    /// Longest wait for in-flight calls after SIGTERM.
    #[arg(long, env = "MAP_SHUTDOWN_GRACE", default_value = "25s")]
    pub shutdown_grace: String,
}

/// One configured endpoint source of a cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamSpec {
    /// `http://host:port`: one endpoint (a name is resolved at connect time).
    Static {
        /// Host name or IP.
        host: String,
        /// Port.
        port: u16,
    },
    /// `dns://name:port`: one endpoint per address, re-resolved periodically
    /// (a Kubernetes headless Service).
    Dns {
        /// The name to resolve.
        name: String,
        /// Port.
        port: u16,
    },
    /// `https://host:port`: [`UpstreamSpec::Static`] over TLS.
    StaticTls {
        /// Host name or IP.
        host: String,
        /// Port.
        port: u16,
        /// The client configuration and the name the certificate must carry
        /// (the host, unless the URL's `?server_name=` overrides it).
        tls: UpstreamTls,
    },
    /// `dns+tls://name:port`: [`UpstreamSpec::Dns`] over TLS; every address
    /// is checked against the name (unless `?server_name=` overrides it).
    DnsTls {
        /// The name to resolve.
        name: String,
        /// Port.
        port: u16,
        /// The client configuration and the name the certificates must carry.
        tls: UpstreamTls,
    },
}

/// The URL forms, for error messages.
const UPSTREAM_FORMS: &str =
    "http://host:port, https://host:port, dns://name:port or dns+tls://name:port";

impl UpstreamSpec {
    /// Parses `http://host:port` or `dns://name:port` (TLS upstreams need
    /// a client configuration: [`UpstreamSpec::parse_with`]).
    pub fn parse(s: &str) -> Result<UpstreamSpec, String> {
        UpstreamSpec::parse_with(s, None)
    }

    /// Parses `http://host:port`, `dns://name:port`, and with `tls`
    /// `https://host:port` and `dns+tls://name:port`; a TLS URL may end in
    /// `?server_name=NAME`, the name its certificate must carry instead of
    /// the URL's host.
    pub fn parse_with(
        s: &str,
        tls: Option<&Arc<rustls::ClientConfig>>,
    ) -> Result<UpstreamSpec, String> {
        let s = s.trim();
        let (scheme, rest) = s
            .split_once("://")
            .ok_or_else(|| format!("'{s}' must be {UPSTREAM_FORMS}"))?;
        let (rest, query) = match rest.split_once('?') {
            Some((rest, query)) => (rest, Some(query)),
            None => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| format!("'{s}' needs a port"))?;
        let port: u16 = port
            .parse()
            .map_err(|_| format!("'{s}' has an invalid port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') || port == 0 {
            return Err(format!("'{s}' must be {UPSTREAM_FORMS}"));
        }
        let is_tls = matches!(scheme, "https" | "dns+tls");
        let server_name = match query {
            None => None,
            Some(query) if is_tls => Some(
                query
                    .strip_prefix("server_name=")
                    .filter(|n| !n.is_empty() && !n.contains('&'))
                    .ok_or_else(|| {
                        format!("'{s}': the only parameter of a TLS upstream is ?server_name=NAME")
                    })?,
            ),
            Some(_) => return Err(format!("'{s}': only TLS upstreams take ?server_name=")),
        };
        let upstream_tls = |default_name: &str| {
            let config = tls.ok_or_else(|| {
                format!(
                    "'{s}' is a TLS upstream: MAP_UPSTREAM_TLS_CA (--upstream-tls-ca) must name \
                     the CA bundle that signed the services' certificates"
                )
            })?;
            UpstreamTls::new(config.clone(), server_name.unwrap_or(default_name))
                .map_err(|e| format!("'{s}': {e}"))
        };
        match scheme {
            "http" => Ok(UpstreamSpec::Static {
                host: host.to_owned(),
                port,
            }),
            "dns" => Ok(UpstreamSpec::Dns {
                name: host.to_owned(),
                port,
            }),
            "https" => Ok(UpstreamSpec::StaticTls {
                tls: upstream_tls(host)?,
                host: host.to_owned(),
                port,
            }),
            "dns+tls" => Ok(UpstreamSpec::DnsTls {
                tls: upstream_tls(host)?,
                name: host.to_owned(),
                port,
            }),
            _ => Err(format!("'{s}' must be {UPSTREAM_FORMS}")),
        }
    }

    /// The one endpoint of a static source: host, port and TLS.
    pub fn static_target(&self) -> Option<(&str, u16, Option<&UpstreamTls>)> {
        match self {
            UpstreamSpec::Static { host, port } => Some((host, *port, None)),
            UpstreamSpec::StaticTls { host, port, tls } => Some((host, *port, Some(tls))),
            UpstreamSpec::Dns { .. } | UpstreamSpec::DnsTls { .. } => None,
        }
    }

    /// The name, port and TLS of a DNS source.
    pub fn dns_source(&self) -> Option<(&str, u16, Option<&UpstreamTls>)> {
        match self {
            UpstreamSpec::Dns { name, port } => Some((name, *port, None)),
            UpstreamSpec::DnsTls { name, port, tls } => Some((name, *port, Some(tls))),
            UpstreamSpec::Static { .. } | UpstreamSpec::StaticTls { .. } => None,
        }
    }
}

/// CORS policy, like Envoy's `CorsPolicy`.
#[derive(Debug, Clone, Default)]
pub struct CorsConfig {
    /// Exact origins allowed.
    pub origins: Vec<String>,
    /// `*` was configured: every origin is allowed.
    pub any_origin: bool,
}

/// Request limits.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest grpc-web request body.
    pub max_body_bytes: usize,
    /// Most requests in flight.
    pub max_concurrency: usize,
    /// Largest header block.
    pub max_header_bytes: usize,
    /// Cap on `grpc-timeout`.
    pub max_grpc_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 4 * 1024 * 1024,
            max_concurrency: 2048,
            max_header_bytes: 16 * 1024,
            max_grpc_timeout: Duration::from_secs(60),
        }
    }
}

/// The validated configuration.
#[derive(Clone)]
pub struct GatewayConfig {
    /// Where to listen.
    pub listen: SocketAddr,
    /// Endpoint sources per system; a system without any answers UNAVAILABLE.
    pub clusters: BTreeMap<System, Vec<UpstreamSpec>>,
    /// CORS.
    pub cors: CorsConfig,
    /// TLS, when a certificate is configured (ALPN h2 and http/1.1 set).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Static files root.
    pub static_dir: Option<PathBuf>,
    /// Limits.
    pub limits: Limits,
    /// Active health-check period.
    pub health_interval: Duration,
    /// DNS re-resolution period.
    pub dns_interval: Duration,
    /// First ejection of an endpoint that refuses connections (doubles up to 32×).
    pub eject_base: Duration,
    /// Bounded drain on shutdown.
    pub shutdown_grace: Duration,
}

impl std::fmt::Debug for GatewayConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayConfig")
            .field("listen", &self.listen)
            .field("clusters", &self.clusters)
            .field("cors", &self.cors)
            .field("tls", &self.tls.is_some())
            .field("static_dir", &self.static_dir)
            .field("limits", &self.limits)
            .field("health_interval", &self.health_interval)
            .field("dns_interval", &self.dns_interval)
            .finish_non_exhaustive()
    }
}

impl Default for GatewayConfig {
    fn default() -> Self {
        GatewayConfig {
            listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
            clusters: BTreeMap::new(),
            cors: CorsConfig::default(),
            tls: None,
            static_dir: None,
            limits: Limits::default(),
            health_interval: Duration::from_secs(5),
            dns_interval: Duration::from_secs(10),
            eject_base: Duration::from_secs(1),
            shutdown_grace: Duration::from_secs(25),
        }
    }
}

impl GatewayArgs {
    /// Checks everything and reads the TLS files, before any port is bound.
    pub fn validate(&self) -> Result<GatewayConfig, ConfigError> {
        let listen = self.listen.parse().map_err(|_| {
            ConfigError::new(
                "MAP_LISTEN",
                "listen",
                format!(
                    "'{}' is not a socket address like 0.0.0.0:8080",
                    self.listen
                ),
            )
        })?;
        let upstream_tls = self.upstream_tls()?;
        let mut clusters = BTreeMap::new();
        for (system, raw) in [
            (System::Auth, &self.upstream_auth),
            (System::Ams, &self.upstream_ams),
            (System::Bms, &self.upstream_bms),
            (System::Tts, &self.upstream_tts),
            (System::Hdts, &self.upstream_hdts),
        ] {
            let specs = raw
                .iter()
                .filter(|s| !s.trim().is_empty())
                .map(|s| UpstreamSpec::parse_with(s, upstream_tls.as_ref()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|reason| {
                    let upper = system.name().to_ascii_uppercase();
                    ConfigError::new(
                        &format!("MAP_UPSTREAM_{upper}"),
                        &format!("upstream-{system}"),
                        reason,
                    )
                })?;
            if !specs.is_empty() {
                clusters.insert(system, specs);
            }
        }
        let mut cors = CorsConfig::default();
        for origin in self.cors_origins.iter().map(|o| o.trim()) {
            if origin == "*" {
                cors.any_origin = true;
            } else if origin.starts_with("http://") || origin.starts_with("https://") {
                cors.origins.push(origin.trim_end_matches('/').to_owned());
            } else if !origin.is_empty() {
                return Err(ConfigError::new(
                    "MAP_CORS_ORIGINS",
                    "cors-origins",
                    format!("'{origin}' is not an origin like https://console.example.com or *"),
                ));
            }
        }
        let tls = match (&self.tls_cert, &self.tls_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "MAP_TLS_KEY",
                    "tls-key",
                    "is required with MAP_TLS_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "MAP_TLS_CERT",
                    "tls-cert",
                    "is required with MAP_TLS_KEY",
                ));
            }
            (Some(cert), Some(key)) => Some(tls_server_config(cert, key)?),
        };
        if let Some(dir) = &self.static_dir
            && !dir.is_dir()
        {
            return Err(ConfigError::new(
                "MAP_STATIC_DIR",
                "static-dir",
                format!("{} is not a directory", dir.display()),
            ));
        }
        if self.max_concurrency == 0 {
            return Err(ConfigError::new(
                "MAP_MAX_CONCURRENCY",
                "max-concurrency",
                "must be at least 1",
            ));
        }
        if self.max_header_bytes < 8192 {
            return Err(ConfigError::new(
                "MAP_MAX_HEADER_BYTES",
                "max-header-bytes",
                "must be at least 8192",
            ));
        }
        if self.max_body_bytes == 0 {
            return Err(ConfigError::new(
                "MAP_MAX_BODY_BYTES",
                "max-body-bytes",
                "must be at least 1",
            ));
        }
        let duration = |value: &str, variable: &str, flag: &str| {
            parse_duration(value)
                .and_then(|d| {
                    if d.is_zero() {
                        Err("must be longer than zero".to_owned())
                    } else {
                        Ok(d)
                    }
                })
                .map_err(|reason| ConfigError::new(variable, flag, reason))
        };
        Ok(GatewayConfig {
            listen,
            clusters,
            cors,
            tls,
            static_dir: self.static_dir.clone(),
            limits: Limits {
                max_body_bytes: self.max_body_bytes,
                max_concurrency: self.max_concurrency,
                max_header_bytes: self.max_header_bytes,
                max_grpc_timeout: duration(
                    &self.max_grpc_timeout,
                    "MAP_MAX_GRPC_TIMEOUT",
                    "max-grpc-timeout",
                )?,
            },
            health_interval: duration(
                &self.health_interval,
                "MAP_HEALTH_INTERVAL",
                "health-interval",
            )?,
            dns_interval: duration(&self.dns_interval, "MAP_DNS_INTERVAL", "dns-interval")?,
            eject_base: Duration::from_secs(1),
            shutdown_grace: parse_duration(&self.shutdown_grace).map_err(|reason| {
                ConfigError::new("MAP_SHUTDOWN_GRACE", "shutdown-grace", reason)
            })?,
        })
    }
}

impl GatewayArgs {
    /// The client configuration of TLS upstreams, when a CA bundle is given.
    fn upstream_tls(&self) -> Result<Option<Arc<rustls::ClientConfig>>, ConfigError> {
        let identity = match (&self.upstream_tls_cert, &self.upstream_tls_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "MAP_UPSTREAM_TLS_KEY",
                    "upstream-tls-key",
                    "is required with MAP_UPSTREAM_TLS_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "MAP_UPSTREAM_TLS_CERT",
                    "upstream-tls-cert",
                    "is required with MAP_UPSTREAM_TLS_KEY",
                ));
            }
            (Some(cert), Some(key)) => Some((cert.as_path(), key.as_path())),
        };
        let Some(ca) = &self.upstream_tls_ca else {
            if identity.is_some() {
                return Err(ConfigError::new(
                    "MAP_UPSTREAM_TLS_CA",
                    "upstream-tls-ca",
                    "is required with MAP_UPSTREAM_TLS_CERT (a client certificate is for TLS upstreams)",
                ));
            }
            return Ok(None);
        };
        crate::upstream::client_config(ca, identity)
            .map(Some)
            .map_err(|(file, reason)| {
                let (variable, flag) = match file {
                    TlsFile::Ca => ("MAP_UPSTREAM_TLS_CA", "upstream-tls-ca"),
                    TlsFile::Cert => ("MAP_UPSTREAM_TLS_CERT", "upstream-tls-cert"),
                    TlsFile::Key => ("MAP_UPSTREAM_TLS_KEY", "upstream-tls-key"),
                };
                ConfigError::new(variable, flag, reason)
            })
    }
}

/// Reads a PEM chain and key into a rustls server config advertising
/// `h2` and `http/1.1` over ALPN.
pub fn tls_server_config(
    cert: &PathBuf,
    key: &PathBuf,
) -> Result<Arc<rustls::ServerConfig>, ConfigError> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| {
            ConfigError::new(
                "MAP_TLS_CERT",
                "tls-cert",
                format!("cannot read {}: {e}", cert.display()),
            )
        })?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            "MAP_TLS_CERT",
            "tls-cert",
            "holds no PEM certificate",
        ));
    }
    // The error of a key parse may quote nothing of the key; still, say only where.
    let key = PrivateKeyDer::from_pem_file(key).map_err(|_| {
        ConfigError::new(
            "MAP_TLS_KEY",
            "tls-key",
            format!("{} is not a readable PEM private key", key.display()),
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ConfigError::new("MAP_TLS_CERT", "tls-cert", e.to_string()))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| {
            ConfigError::new(
                "MAP_TLS_KEY",
                "tls-key",
                format!("does not fit the certificate: {e}"),
            )
        })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

#[cfg(test)]
mod tests {
    use clap::Parser as _;

    use super::*;

    #[derive(clap::Parser)]
    struct Cli {
        #[command(flatten)]
        args: GatewayArgs,
    }

    fn validate(flags: &[&str]) -> Result<GatewayConfig, ConfigError> {
        let mut argv = vec!["map"];
        argv.extend_from_slice(flags);
        let cli =
            Cli::try_parse_from(argv).map_err(|e| ConfigError::new("argv", "", e.to_string()))?;
        cli.args.validate()
    }

    #[test]
    fn defaults() {
        let cfg = validate(&[]).map_err(|e| e.to_string());
        let cfg = cfg
            .as_ref()
            .map(|c| (c.listen.port(), c.clusters.len(), c.tls.is_some()));
        assert_eq!(cfg, Ok((8080, 0, false)));
    }

    #[test]
    fn upstreams_parse() {
        let cfg = validate(&[
            "--upstream-tts",
            "http://tts-1:8003,http://10.0.0.2:8003",
            "--upstream-auth",
            "dns://auth-headless:8000",
        ])
        .map_err(|e| e.to_string());
        let tts = cfg
            .as_ref()
            .ok()
            .and_then(|c| c.clusters.get(&System::Tts).cloned());
        assert_eq!(
            tts,
            Some(vec![
                UpstreamSpec::Static {
                    host: "tts-1".into(),
                    port: 8003
                },
                UpstreamSpec::Static {
                    host: "10.0.0.2".into(),
                    port: 8003
                },
            ])
        );
        let auth = cfg
            .as_ref()
            .ok()
            .and_then(|c| c.clusters.get(&System::Auth).cloned());
        assert_eq!(
            auth,
            Some(vec![UpstreamSpec::Dns {
                name: "auth-headless".into(),
                port: 8000
            }])
        );
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (flags, variable) in [
            (vec!["--listen", "nope"], "MAP_LISTEN"),
            (vec!["--upstream-tts", "tts:8003"], "MAP_UPSTREAM_TTS"),
            (vec!["--upstream-hdts", "http://hdts"], "MAP_UPSTREAM_HDTS"),
            (
                vec!["--upstream-ams", "https://ams:8001"],
                "MAP_UPSTREAM_AMS",
            ),
            (vec!["--cors-origins", "console"], "MAP_CORS_ORIGINS"),
            (vec!["--tls-cert", "/nonexistent"], "MAP_TLS_KEY"),
            (
                vec!["--tls-cert", "/nonexistent", "--tls-key", "/nonexistent"],
                "MAP_TLS_CERT",
            ),
            (vec!["--static-dir", "/nonexistent"], "MAP_STATIC_DIR"),
            (vec!["--max-concurrency", "0"], "MAP_MAX_CONCURRENCY"),
            (vec!["--max-header-bytes", "100"], "MAP_MAX_HEADER_BYTES"),
            (vec!["--max-grpc-timeout", "0s"], "MAP_MAX_GRPC_TIMEOUT"),
            (vec!["--health-interval", "soon"], "MAP_HEALTH_INTERVAL"),
        ] {
            match validate(&flags) {
                Ok(_) => panic!("{flags:?} should be rejected"),
                Err(e) => assert_eq!(e.variable, variable, "{flags:?}: {e}"),
            }
        }
    }
}
