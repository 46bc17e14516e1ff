//! Typed configuration from `MAP_*` environment variables and the matching
//! flags, validated as a whole before any port is bound.
//!
//! Flags and variables arrive as raw strings ([`ServiceArgs`]) and are turned
//! into a [`ServiceConfig`] by [`ServiceArgs::validate`], so every error names
//! the variable and the flag. Secrets are [`SecretString`]s: their `Debug`
//! prints `[REDACTED]` and no error message repeats a value that may hold one.

use std::{convert::Infallible, net::SocketAddr, path::PathBuf, time::Duration};

use secrecy::{ExposeSecret, SecretString};

use crate::{
    System, authn::AuthTarget, client_addr::TrustedProxies, paging::Pager, uploads::UploadLimits,
};

/// A configuration error. It names the variable (and flag) at fault.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration: {variable} (--{flag}): {reason}")]
pub struct ConfigError {
    /// The environment variable, e.g. `MAP_LISTEN`.
    pub variable: &'static str,
    /// The matching flag without dashes, e.g. `listen`.
    pub flag: &'static str,
    /// What is wrong, never quoting a secret.
    pub reason: String,
}

impl ConfigError {
    fn new(variable: &'static str, flag: &'static str, reason: impl Into<String>) -> Self {
        Self {
            variable,
            flag,
            reason: reason.into(),
        }
    }
}

/// Parses a flag or variable into a [`SecretString`] (for clap).
pub fn secret(value: &str) -> Result<SecretString, Infallible> {
    Ok(SecretString::from(value))
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Default)]
pub enum LogFormat {
    /// Human-readable, coloured when the output is a terminal.
    #[default]
    Pretty,
    /// One JSON object per line, for log collectors.
    Json,
}

/// Logging flags, shared by every role of the binary.
#[derive(Debug, Clone, clap::Args)]
pub struct LogArgs {
    /// Log format.
    #[arg(long, env = "MAP_LOG_FORMAT", value_enum, default_value_t = LogFormat::Pretty, global = true)]
    pub log_format: LogFormat,
    /// Log filter in `tracing` EnvFilter syntax, e.g. `info,map_kit=debug`.
    #[arg(long, env = "MAP_LOG", default_value = "info", global = true)]
    pub log: String,
}

/// The raw flags and variables of one system's process (`map serve`,
/// `map worker`, `map migrate`). See [`ServiceArgs::validate`].
#[derive(Debug, Clone, clap::Args)]
pub struct ServiceArgs {
    /// This system's database: `postgres://…` or `sqlite://path?mode=rwc`.
    #[arg(long, env = "MAP_DATABASE_URL", value_parser = secret, hide_env_values = true)]
    pub database_url: Option<SecretString>,
    /// RabbitMQ (`amqp://…` or `amqps://…`); unset → in-process bus.
    #[arg(long, env = "MAP_AMQP_URL", value_parser = secret, hide_env_values = true)]
    pub amqp_url: Option<SecretString>,
    /// Prefix for exchanges and queues (tests, shared brokers).
    #[arg(long, env = "MAP_AMQP_PREFIX", default_value = "")]
    pub amqp_prefix: String,
    /// gRPC listen address; defaults to the system's port on 0.0.0.0.
    #[arg(long, env = "MAP_LISTEN")]
    pub listen: Option<String>,
    /// Where Auth is, e.g. `http://auth:8000`, or `https://auth:8000` with
    /// `--auth-tls-ca`.
    #[arg(long, env = "MAP_AUTH_URL")]
    pub auth_url: Option<String>,
    /// PEM CA bundle that signed Auth's certificate: the only roots trusted
    /// by an `https://` MAP_AUTH_URL (which requires it).
    #[arg(long, env = "MAP_AUTH_TLS_CA")]
    pub auth_tls_ca: Option<PathBuf>,
    /// The name Auth's certificate must carry, instead of MAP_AUTH_URL's host.
    #[arg(long, env = "MAP_AUTH_TLS_SERVER_NAME")]
    pub auth_tls_server_name: Option<String>,
    /// PEM client certificate chain this service presents to Auth (mTLS);
    /// with `--auth-tls-key`.
    #[arg(long, env = "MAP_AUTH_TLS_CERT")]
    pub auth_tls_cert: Option<PathBuf>,
    /// PEM private key of `--auth-tls-cert`.
    #[arg(long, env = "MAP_AUTH_TLS_KEY")]
    pub auth_tls_key: Option<PathBuf>,
    /// This service's API key for Auth.
    #[arg(long, env = "MAP_AUTH_API_KEY", value_parser = secret, hide_env_values = true)]
    pub auth_api_key: Option<SecretString>,
    /// PEM certificate chain; with `--tls-key`, the port speaks TLS.
    #[arg(long, env = "MAP_TLS_CERT")]
    pub tls_cert: Option<PathBuf>,
    /// PEM private key of `--tls-cert`.
    #[arg(long, env = "MAP_TLS_KEY")]
    pub tls_key: Option<PathBuf>,
    /// PEM CA bundle; when set, clients must present a certificate it signed (mTLS).
    #[arg(long, env = "MAP_TLS_CLIENT_CA")]
    pub tls_client_ca: Option<PathBuf>,
    /// Longest wait for in-flight calls after SIGTERM, e.g. `25s`, `500ms`.
    #[arg(long, env = "MAP_SHUTDOWN_GRACE", default_value = "25s")]
    pub shutdown_grace: String,
    /// Peers whose `x-forwarded-for` is believed (the gateway): addresses or
    /// CIDR ranges such as a pod network, comma-separated.
    #[arg(long, env = "MAP_TRUSTED_PROXIES", value_delimiter = ',')]
    pub trusted_proxies: Vec<String>,
    /// Key of the List RPCs' page tokens: base64 of at least 32 random bytes
    /// (`openssl rand -base64 32`), the same on every replica of the system.
    #[arg(long, env = "MAP_PAGE_TOKEN_KEY", value_parser = secret, hide_env_values = true)]
    pub page_token_key: Option<SecretString>,
    /// The largest file a system that holds files (HDTS, TTS) accepts for
    /// upload, in bytes; default 10 MiB.
    #[arg(long, env = "MAP_UPLOAD_MAX_BYTES", default_value_t = crate::uploads::DEFAULT_MAX_FILE_BYTES)]
    pub upload_max_bytes: u64,
    /// HDTS: how long a resolved ticket waits for its requester before it
    /// closes by itself, e.g. `72h`, `3d`, `90m`; `0` or `off` never.
    #[arg(long, env = "MAP_HDTS_AUTO_CLOSE_AFTER", default_value = DEFAULT_HDTS_AUTO_CLOSE_AFTER)]
    pub hdts_auto_close_after: String,
}

/// The default of `MAP_HDTS_AUTO_CLOSE_AFTER`.
pub const DEFAULT_HDTS_AUTO_CLOSE_AFTER: &str = "72h";

/// TLS material read from disk at validation time.
#[derive(Clone)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert_pem: Vec<u8>,
    /// PEM private key.
    pub key_pem: SecretString,
    /// PEM CA for client certificates (mTLS), if required.
    pub client_ca_pem: Option<Vec<u8>>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsConfig")
            .field("cert_pem", &format_args!("{} bytes", self.cert_pem.len()))
            .field("key_pem", &"[REDACTED]")
            .field("mtls", &self.client_ca_pem.is_some())
            .finish()
    }
}

/// TLS to a service this one calls (Auth), read from disk at validation
/// time: the CA bundle to trust, the server name to expect instead of the
/// URL's host, and the client certificate to present (mTLS).
#[derive(Clone)]
pub struct ClientTls {
    /// PEM CA bundle: the only roots trusted.
    pub ca_pem: Vec<u8>,
    /// The name the server's certificate must carry, when not the URL's host.
    pub server_name: Option<String>,
    /// PEM certificate chain and private key presented to the server.
    pub identity: Option<(Vec<u8>, SecretString)>,
}

impl std::fmt::Debug for ClientTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientTls")
            .field("ca_pem", &format_args!("{} bytes", self.ca_pem.len()))
            .field("server_name", &self.server_name)
            .field("client_certificate", &self.identity.is_some())
            .finish()
    }
}

/// Validated configuration of one system's process.
#[derive(Debug, Clone)]
pub struct ServiceConfig {
    /// Which system this process runs.
    pub system: System,
    /// Database URL (may carry a password).
    pub database_url: SecretString,
    /// RabbitMQ URL; `None` → in-process bus.
    pub amqp_url: Option<SecretString>,
    /// Prefix of every exchange and queue name.
    pub amqp_prefix: String,
    /// gRPC listen address.
    pub listen: SocketAddr,
    /// Where Auth is and how it is reached (TLS for `https://`);
    /// [`ServiceConfig::require_auth`] requires it for every system but Auth.
    pub auth: Option<AuthTarget>,
    /// This service's API key for Auth; required with `auth_url`.
    pub auth_api_key: Option<SecretString>,
    /// TLS, when configured.
    pub tls: Option<TlsConfig>,
    /// Bounded drain on shutdown.
    pub shutdown_grace: Duration,
    /// Peers trusted to set `x-forwarded-for`.
    pub trusted_proxies: TrustedProxies,
    /// Mints and opens page tokens with `MAP_PAGE_TOKEN_KEY`, when set;
    /// [`ServiceConfig::pager`] insists on it.
    pub page_tokens: Option<Pager>,
    /// What uploads a system that holds files accepts
    /// (`MAP_UPLOAD_MAX_BYTES`).
    pub uploads: UploadLimits,
    /// HDTS: how long a resolved ticket waits for its requester before it
    /// closes by itself; `None` when it never does
    /// (`MAP_HDTS_AUTO_CLOSE_AFTER`).
    pub hdts_auto_close_after: Option<Duration>,
}

impl ServiceConfig {
    /// For the processes that call Auth — `map serve` and `map worker` of
    /// every system but Auth (validating callers, the directory, look-ups):
    /// both `MAP_AUTH_URL` and `MAP_AUTH_API_KEY`, with one error naming both.
    pub fn require_auth(&self) -> Result<(), ConfigError> {
        if self.system == System::Auth {
            return Ok(());
        }
        require_auth(self.auth.is_some(), self.auth_api_key.is_some())
    }

    /// The page token pager of a serving process: `MAP_PAGE_TOKEN_KEY` is
    /// required there, so that every replica accepts every replica's tokens.
    pub fn pager(&self) -> Result<Pager, ConfigError> {
        self.page_tokens.clone().ok_or_else(|| {
            ConfigError::new(
                PAGE_TOKEN_KEY,
                "page-token-key",
                "is required, the same on every replica (generate one with `openssl rand -base64 32`)",
            )
        })
    }
}

impl ServiceArgs {
    /// Checks everything and reads TLS files, before any port is bound.
    /// `require_database`: `false` only for roles that need no database.
    pub fn validate(
        &self,
        system: System,
        require_database: bool,
    ) -> Result<ServiceConfig, ConfigError> {
        let database_url = match &self.database_url {
            Some(url) => {
                validate_database_url(url.expose_secret())?;
                url.clone()
            }
            None if require_database => {
                return Err(ConfigError::new(
                    "MAP_DATABASE_URL",
                    "database-url",
                    "is required",
                ));
            }
            None => SecretString::from(""),
        };
        let amqp_url = match &self.amqp_url {
            Some(url) if url.expose_secret().is_empty() => None,
            Some(url) => {
                let u = url.expose_secret();
                if !(u.starts_with("amqp://") || u.starts_with("amqps://")) {
                    return Err(ConfigError::new(
                        "MAP_AMQP_URL",
                        "amqp-url",
                        "must start with amqp:// or amqps://",
                    ));
                }
                Some(url.clone())
            }
            None => None,
        };
        validate_prefix(&self.amqp_prefix)?;
        let listen = match &self.listen {
            Some(s) => s.parse().map_err(|_| {
                ConfigError::new(
                    "MAP_LISTEN",
                    "listen",
                    format!("'{s}' is not a socket address like 0.0.0.0:8003"),
                )
            })?,
            None => SocketAddr::from(([0, 0, 0, 0], system.default_port())),
        };
        let auth_tls = self.auth_tls()?;
        let auth_url = match &self.auth_url {
            Some(s) => {
                let url = parse_http_url(s)
                    .map_err(|reason| ConfigError::new("MAP_AUTH_URL", "auth-url", reason))?;
                Some(
                    AuthTarget::new(url, auth_tls.as_ref())
                        .map_err(|reason| ConfigError::new("MAP_AUTH_URL", "auth-url", reason))?,
                )
            }
            None if auth_tls.is_some() => {
                return Err(ConfigError::new(
                    "MAP_AUTH_TLS_CA",
                    "auth-tls-ca",
                    "is for an https:// MAP_AUTH_URL, which is not set",
                ));
            }
            None => None,
        };
        let auth_api_key = self
            .auth_api_key
            .clone()
            .filter(|k| !k.expose_secret().is_empty());
        // One without the other is a mistake wherever it is given; neither is
        // fine for roles that never call Auth (`map migrate`), and
        // [`ServiceConfig::require_auth`] insists on both where they do.
        if system != System::Auth && auth_url.is_some() != auth_api_key.is_some() {
            require_auth(auth_url.is_some(), auth_api_key.is_some())?;
        }
        let tls = read_tls(
            self.tls_cert.as_ref(),
            self.tls_key.as_ref(),
            self.tls_client_ca.as_ref(),
        )?;
        let shutdown_grace = parse_duration(&self.shutdown_grace)
            .map_err(|reason| ConfigError::new("MAP_SHUTDOWN_GRACE", "shutdown-grace", reason))?;
        let trusted_proxies = TrustedProxies::parse(
            self.trusted_proxies.iter().map(String::as_str),
        )
        .map_err(|reason| ConfigError::new("MAP_TRUSTED_PROXIES", "trusted-proxies", reason))?;
        let page_tokens = match &self.page_token_key {
            Some(key) => Some(
                Pager::from_base64(key.expose_secret())
                    .map_err(|reason| ConfigError::new(PAGE_TOKEN_KEY, "page-token-key", reason))?,
            ),
            None => None,
        };
        let max = MAX_UPLOAD_LIMIT;
        if self.upload_max_bytes == 0 || self.upload_max_bytes > max {
            return Err(ConfigError::new(
                "MAP_UPLOAD_MAX_BYTES",
                "upload-max-bytes",
                format!("must be from 1 to {max} bytes"),
            ));
        }
        let hdts_auto_close_after = parse_hdts_auto_close_after(&self.hdts_auto_close_after)?;
        Ok(ServiceConfig {
            system,
            database_url,
            amqp_url,
            amqp_prefix: self.amqp_prefix.clone(),
            listen,
            auth: auth_url,
            auth_api_key,
            tls,
            shutdown_grace,
            trusted_proxies,
            page_tokens,
            uploads: UploadLimits {
                max_file_bytes: self.upload_max_bytes,
            },
            hdts_auto_close_after,
        })
    }
}

impl ServiceArgs {
    /// TLS to Auth, when its CA bundle (or any other `MAP_AUTH_TLS_*`) is given.
    fn auth_tls(&self) -> Result<Option<ClientTls>, ConfigError> {
        let identity = match (&self.auth_tls_cert, &self.auth_tls_key) {
            (None, None) => None,
            (Some(_), None) => {
                return Err(ConfigError::new(
                    "MAP_AUTH_TLS_KEY",
                    "auth-tls-key",
                    "is required with MAP_AUTH_TLS_CERT",
                ));
            }
            (None, Some(_)) => {
                return Err(ConfigError::new(
                    "MAP_AUTH_TLS_CERT",
                    "auth-tls-cert",
                    "is required with MAP_AUTH_TLS_KEY",
                ));
            }
            (Some(cert), Some(key)) => Some((
                read_pem_certificates(cert, "MAP_AUTH_TLS_CERT", "auth-tls-cert")?,
                read_pem_key(key, "MAP_AUTH_TLS_KEY", "auth-tls-key")?,
            )),
        };
        let server_name = self
            .auth_tls_server_name
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty());
        let Some(ca) = &self.auth_tls_ca else {
            if identity.is_some() || server_name.is_some() {
                return Err(ConfigError::new(
                    "MAP_AUTH_TLS_CA",
                    "auth-tls-ca",
                    "is required with MAP_AUTH_TLS_CERT or MAP_AUTH_TLS_SERVER_NAME \
                     (they are for an https:// MAP_AUTH_URL)",
                ));
            }
            return Ok(None);
        };
        if let Some(name) = server_name
            && rustls::pki_types::ServerName::try_from(name).is_err()
        {
            return Err(ConfigError::new(
                "MAP_AUTH_TLS_SERVER_NAME",
                "auth-tls-server-name",
                format!("'{name}' is not a DNS name or IP address"),
            ));
        }
        Ok(Some(ClientTls {
            ca_pem: read_pem_certificates(ca, "MAP_AUTH_TLS_CA", "auth-tls-ca")?,
            server_name: server_name.map(str::to_owned),
            identity,
        }))
    }
}

/// A PEM file of at least one certificate, every one of which parses.
fn read_pem_certificates(
    path: &PathBuf,
    variable: &'static str,
    flag: &'static str,
) -> Result<Vec<u8>, ConfigError> {
    use rustls::pki_types::{CertificateDer, pem::PemObject as _};
    let pem = std::fs::read(path).map_err(|e| {
        ConfigError::new(
            variable,
            flag,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let certs = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConfigError::new(variable, flag, format!("{}: {e}", path.display())))?;
    if certs.is_empty() {
        return Err(ConfigError::new(
            variable,
            flag,
            format!("{} holds no PEM certificate", path.display()),
        ));
    }
    Ok(pem)
}

/// A PEM private key file, never quoted in an error.
fn read_pem_key(
    path: &PathBuf,
    variable: &'static str,
    flag: &'static str,
) -> Result<SecretString, ConfigError> {
    use rustls::pki_types::{PrivateKeyDer, pem::PemObject as _};
    let pem = std::fs::read(path).map_err(|e| {
        ConfigError::new(
            variable,
            flag,
            format!("cannot read {}: {e}", path.display()),
        )
    })?;
    let pem = String::from_utf8(pem)
        .ok()
        .filter(|k| PrivateKeyDer::from_pem_slice(k.as_bytes()).is_ok())
        .ok_or_else(|| {
            ConfigError::new(
                variable,
                flag,
                format!("{} is not a PEM private key", path.display()),
            )
        })?;
    Ok(SecretString::from(pem))
}

const PAGE_TOKEN_KEY: &str = "MAP_PAGE_TOKEN_KEY";

/// The largest `MAP_UPLOAD_MAX_BYTES`: files live in the database, as
/// chunks of at most 1 MiB, and are read back whole to be checked.
const MAX_UPLOAD_LIMIT: u64 = 1 << 30;

/// Every system but Auth calls Auth (validating callers, its directory's
/// backfill, user look-ups), so both are required; the error names the
/// first one missing and says that both are needed.
fn require_auth(url: bool, key: bool) -> Result<(), ConfigError> {
    let (variable, flag) = match (url, key) {
        (true, true) => return Ok(()),
        (false, _) => ("MAP_AUTH_URL", "auth-url"),
        (true, false) => ("MAP_AUTH_API_KEY", "auth-api-key"),
    };
    Err(ConfigError::new(
        variable,
        flag,
        "MAP_AUTH_URL (where Auth is) and MAP_AUTH_API_KEY (this service's API key, role \
         auth:service) are both required for every system but auth",
    ))
}

fn validate_database_url(url: &str) -> Result<(), ConfigError> {
    let ok = ["postgres://", "postgresql://", "sqlite:"]
        .iter()
        .any(|p| url.starts_with(p));
    if ok {
        Ok(())
    } else {
        // Never echo the URL: it may carry a password.
        Err(ConfigError::new(
            "MAP_DATABASE_URL",
            "database-url",
            "must start with postgres://, postgresql:// or sqlite:",
        ))
    }
}

/// Checks an AMQP name prefix: empty, or lower-case letters, digits, `.`, `-`, `_`.
pub fn validate_prefix(prefix: &str) -> Result<(), ConfigError> {
    let ok = prefix.len() <= 64
        && prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(ConfigError::new(
            "MAP_AMQP_PREFIX",
            "amqp-prefix",
            "at most 64 characters of a-z, 0-9, '.', '-', '_'",
        ))
    }
}

/// Parses an `http://` or `https://` URL with a host.
pub fn parse_http_url(s: &str) -> Result<http::Uri, String> {
    let uri: http::Uri = s.parse().map_err(|_| format!("'{s}' is not a URL"))?;
    match (uri.scheme_str(), uri.host()) {
        (Some("http" | "https"), Some(_)) => Ok(uri),
        _ => Err(format!(
            "'{s}' must be an http:// or https:// URL with a host"
        )),
    }
}

/// Parses `25s`, `500ms`, `2m`, `72h`, `7d` or a bare number of seconds.
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let (digits, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("'{s}' is not a duration like 25s, 500ms or 72h"))?;
    match unit {
        "" | "s" => Ok(Duration::from_secs(n)),
        "ms" => Ok(Duration::from_millis(n)),
        "m" => Ok(Duration::from_secs(n.saturating_mul(60))),
        "h" => Ok(Duration::from_secs(n.saturating_mul(3600))),
        "d" => Ok(Duration::from_secs(n.saturating_mul(24 * 3600))),
        _ => Err(format!("'{s}' is not a duration like 25s, 500ms or 72h")),
    }
}

/// Parses `MAP_HDTS_AUTO_CLOSE_AFTER`: a [`parse_duration`] duration, or
/// `0` or `off` for never (`None`).
pub fn parse_hdts_auto_close_after(s: &str) -> Result<Option<Duration>, ConfigError> {
    if s.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    parse_duration(s)
        .map(|d| Some(d).filter(|d| !d.is_zero()))
        .map_err(|reason| {
            ConfigError::new(
                "MAP_HDTS_AUTO_CLOSE_AFTER",
                "hdts-auto-close-after",
                format!("{reason}, or 0 or off for never"),
            )
        })
}

fn read_tls(
    cert: Option<&PathBuf>,
    key: Option<&PathBuf>,
    client_ca: Option<&PathBuf>,
) -> Result<Option<TlsConfig>, ConfigError> {
    let read = |path: &PathBuf, variable: &'static str, flag: &'static str| {
        std::fs::read(path).map_err(|e| {
            ConfigError::new(
                variable,
                flag,
                format!("cannot read {}: {e}", path.display()),
            )
        })
    };
    match (cert, key) {
        (None, None) => {
            if client_ca.is_some() {
                return Err(ConfigError::new(
                    "MAP_TLS_CLIENT_CA",
                    "tls-client-ca",
                    "needs MAP_TLS_CERT and MAP_TLS_KEY",
                ));
            }
            Ok(None)
        }
        (Some(_), None) => Err(ConfigError::new(
            "MAP_TLS_KEY",
            "tls-key",
            "is required with MAP_TLS_CERT",
        )),
        (None, Some(_)) => Err(ConfigError::new(
            "MAP_TLS_CERT",
            "tls-cert",
            "is required with MAP_TLS_KEY",
        )),
        (Some(cert), Some(key)) => {
            let cert_pem = read(cert, "MAP_TLS_CERT", "tls-cert")?;
            if !String::from_utf8_lossy(&cert_pem).contains("-----BEGIN CERTIFICATE-----") {
                return Err(ConfigError::new(
                    "MAP_TLS_CERT",
                    "tls-cert",
                    "is not a PEM certificate",
                ));
            }
            let key_pem = read(key, "MAP_TLS_KEY", "tls-key")?;
            let key_pem = String::from_utf8(key_pem)
                .ok()
                .filter(|k| k.contains("PRIVATE KEY-----"))
                .ok_or_else(|| {
                    ConfigError::new("MAP_TLS_KEY", "tls-key", "is not a PEM private key")
                })?;
            let client_ca_pem = client_ca
                .map(|p| read(p, "MAP_TLS_CLIENT_CA", "tls-client-ca"))
                .transpose()?;
            Ok(Some(TlsConfig {
                cert_pem,
                key_pem: SecretString::from(key_pem),
                client_ca_pem,
            }))
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ServiceArgs,
    }

    fn args(flags: &[&str]) -> ServiceArgs {
        let mut argv = vec!["map"];
        argv.extend_from_slice(flags);
        Cli::try_parse_from(argv)
            .map(|c| c.args)
            .unwrap_or_else(|e| panic!("{e}"))
    }

    fn err(flags: &[&str], system: System) -> ConfigError {
        match args(flags).validate(system, true) {
            Ok(_) => panic!("{flags:?} should be rejected"),
            Err(e) => e,
        }
    }

    /// What every system but Auth needs besides its database.
    const AUTH: [&str; 4] = [
        "--auth-url",
        "http://auth:8000",
        "--auth-api-key",
        "mapk_test",
    ];

    fn with_auth<'a>(flags: &[&'a str]) -> Vec<&'a str> {
        let mut all = flags.to_vec();
        all.extend_from_slice(&AUTH);
        all
    }

    #[test]
    fn defaults_use_the_systems_port() {
        let cfg = args(&with_auth(&["--database-url", "sqlite://x.db"]))
            .validate(System::Tts, true)
            .map_err(|e| e.to_string());
        let cfg = cfg.unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cfg.listen.port(), 8003);
        assert!(cfg.amqp_url.is_none() && cfg.tls.is_none());
        assert_eq!(cfg.shutdown_grace, Duration::from_secs(25));
        assert_eq!(cfg.uploads.max_file_bytes, 10 * 1024 * 1024);
        let cfg = args(&with_auth(&[
            "--database-url",
            "sqlite://x.db",
            "--upload-max-bytes",
            "2048",
        ]))
        .validate(System::Hdts, true)
        .map_err(|e| e.to_string());
        assert_eq!(cfg.map(|c| c.uploads.max_file_bytes), Ok(2048));
    }

    #[test]
    fn bad_values_name_their_variable() {
        let e = err(
            &["--database-url", "sqlite://x.db", "--listen", "nope"],
            System::Auth,
        );
        assert_eq!(e.variable, "MAP_LISTEN");
        assert!(e.to_string().contains("MAP_LISTEN"), "{e}");

        assert_eq!(err(&[], System::Auth).variable, "MAP_DATABASE_URL");
        let e = err(
            &["--database-url", "mysql://root:hunter2@db/x"],
            System::Auth,
        );
        assert_eq!(e.variable, "MAP_DATABASE_URL");
        assert!(!e.to_string().contains("hunter2"), "a secret leaked: {e}");

        let e = err(
            &[
                "--database-url",
                "sqlite://x.db",
                "--amqp-prefix",
                "Bad Prefix",
            ],
            System::Auth,
        );
        assert_eq!(e.variable, "MAP_AMQP_PREFIX");
        let e = err(
            &[
                "--database-url",
                "sqlite://x.db",
                "--shutdown-grace",
                "soon",
            ],
            System::Auth,
        );
        assert_eq!(e.variable, "MAP_SHUTDOWN_GRACE");
        let e = err(
            &[
                "--database-url",
                "sqlite://x.db",
                "--tls-cert",
                "/nonexistent.pem",
            ],
            System::Auth,
        );
        assert_eq!(e.variable, "MAP_TLS_KEY");
        let e = err(
            &[
                "--database-url",
                "sqlite://x.db",
                "--auth-url",
                "http://auth:8000",
            ],
            System::Tts,
        );
        assert_eq!(e.variable, "MAP_AUTH_API_KEY");
        let e = err(
            &with_auth(&[
                "--database-url",
                "sqlite://x.db",
                "--trusted-proxies",
                "10.0.0.1,gateway",
            ]),
            System::Tts,
        );
        assert_eq!(e.variable, "MAP_TRUSTED_PROXIES");
        for bad in ["0", "1073741825", "ten"] {
            let flags = with_auth(&["--database-url", "sqlite://x.db", "--upload-max-bytes", bad]);
            let cli = Cli::try_parse_from(std::iter::once("map").chain(flags.iter().copied()));
            match cli {
                Ok(c) => match c.args.validate(System::Hdts, true) {
                    Ok(_) => panic!("{bad} accepted as MAP_UPLOAD_MAX_BYTES"),
                    Err(e) => assert_eq!(e.variable, "MAP_UPLOAD_MAX_BYTES", "{bad}"),
                },
                // Not a number: clap refuses it, naming the flag.
                Err(e) => assert!(e.to_string().contains("upload-max-bytes"), "{bad}: {e}"),
            }
        }
    }

    #[test]
    fn every_system_but_auth_needs_auth_url_and_key() {
        for system in [System::Ams, System::Bms, System::Tts, System::Hdts] {
            // Migrations need neither; serving and working need both.
            let migrating = args(&["--database-url", "sqlite://x.db"])
                .validate(system, true)
                .unwrap_or_else(|e| panic!("{system}: {e}"));
            let e = migrating
                .require_auth()
                .err()
                .unwrap_or_else(|| panic!("{system} served without Auth"));
            assert_eq!(e.variable, "MAP_AUTH_URL", "{system}");
            let shown = e.to_string();
            assert!(
                shown.contains("MAP_AUTH_URL") && shown.contains("MAP_AUTH_API_KEY"),
                "{system}: {shown}"
            );
            let e = err(
                &["--database-url", "sqlite://x.db", "--auth-api-key", "k"],
                system,
            );
            assert_eq!(e.variable, "MAP_AUTH_URL", "{system}");
            let e = err(
                &[
                    "--database-url",
                    "sqlite://x.db",
                    "--auth-url",
                    "http://auth:8000",
                    "--auth-api-key",
                    "",
                ],
                system,
            );
            assert_eq!(e.variable, "MAP_AUTH_API_KEY", "{system}");
            let cfg = args(&with_auth(&["--database-url", "sqlite://x.db"]))
                .validate(system, true)
                .map_err(|e| e.to_string())
                .unwrap_or_else(|e| panic!("{system}: {e}"));
            assert!(cfg.auth.is_some() && cfg.auth_api_key.is_some());
        }
        // Auth is the one system that needs neither.
        let cfg = args(&["--database-url", "sqlite://x.db"]).validate(System::Auth, true);
        assert!(cfg.is_ok_and(|c| c.auth.is_none()));
        // The other checks come first: a bad listen address is reported as
        // such, with or without Auth's settings.
        let e = err(
            &["--database-url", "sqlite://x.db", "--listen", "nope"],
            System::Tts,
        );
        assert_eq!(e.variable, "MAP_LISTEN");
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        let a = args(&[
            "--database-url",
            "postgres://u:hunter2@db/x",
            "--auth-api-key",
            "sekrit-key",
        ]);
        let shown = format!("{a:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("sekrit-key"),
            "{shown}"
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert_eq!(parse_duration("72h"), Ok(Duration::from_secs(72 * 3600)));
        assert_eq!(
            parse_duration(" 3d "),
            Ok(Duration::from_secs(3 * 24 * 3600))
        );
        for bad in ["", "7w", "h", "-1h", "1.5h", "72 h"] {
            assert!(parse_duration(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn hdts_auto_close_is_72_hours_unless_configured_and_0_or_off_disables_it() {
        let cfg = |value: Option<&str>| {
            let flag = value.map(|v| format!("--hdts-auto-close-after={v}"));
            let mut all = with_auth(&["--database-url", "sqlite://x.db"]);
            all.extend(flag.as_deref());
            args(&all)
                .validate(System::Hdts, true)
                .map(|c| c.hdts_auto_close_after)
        };
        let hours = |n: u64| Some(Duration::from_secs(n * 3600));
        assert_eq!(cfg(None).ok(), Some(hours(72)));
        assert_eq!(cfg(Some("1h")).ok(), Some(hours(1)));
        assert_eq!(cfg(Some("2d")).ok(), Some(hours(48)));
        for off in ["0", "0h", "off", "OFF"] {
            assert_eq!(cfg(Some(off)).ok(), Some(None), "{off}");
        }
        for bad in ["soon", "-1h", "72 hours", ""] {
            match cfg(Some(bad)) {
                Ok(v) => panic!("{bad:?} accepted as {v:?}"),
                Err(e) => {
                    assert_eq!(e.variable, "MAP_HDTS_AUTO_CLOSE_AFTER", "{bad}");
                    assert!(e.to_string().contains("off"), "{e}");
                }
            }
        }
    }
}
