//! Auth's own settings: the token signing keys, token lifetimes, lockout,
//! login rate limit and the validation cache. Flags and `MAP_AUTH_*`
//! variables, validated (keys parsed) before any port is bound.

use std::{path::PathBuf, sync::Arc, time::Duration};

use map_kit::{
    client_addr::TrustedProxies,
    clock::Clock,
    config::{ConfigError, secret},
    paging::Pager,
};
use secrecy::{ExposeSecret as _, SecretString};

use crate::keys::Keyset;

/// Flags of `map serve auth` (and `map admin`).
#[derive(Debug, Clone, clap::Args)]
#[command(next_help_heading = "Auth")]
pub struct AuthArgs {
    /// PEM (PKCS#8) Ed25519 private key(s) signing access tokens. The first
    /// key signs; every key verifies (list the old key second to rotate).
    #[arg(long, env = "MAP_AUTH_SIGNING_KEY", value_parser = secret, hide_env_values = true)]
    pub auth_signing_key: Option<SecretString>,
    /// File holding MAP_AUTH_SIGNING_KEY, e.g. a mounted Kubernetes secret.
    #[arg(long, env = "MAP_AUTH_SIGNING_KEY_FILE")]
    pub auth_signing_key_file: Option<PathBuf>,
    /// Lifetime of access tokens, e.g. `15m`.
    #[arg(long, env = "MAP_AUTH_ACCESS_TOKEN_TTL", default_value = "15m")]
    pub auth_access_token_ttl: String,
    /// Lifetime of each refresh token, e.g. `30d`.
    #[arg(long, env = "MAP_AUTH_REFRESH_TOKEN_TTL", default_value = "30d")]
    pub auth_refresh_token_ttl: String,
    /// Failed logins of one email before it is locked.
    #[arg(long, env = "MAP_AUTH_LOCKOUT_THRESHOLD", default_value_t = 5)]
    pub auth_lockout_threshold: u32,
    /// How long a locked email stays locked, e.g. `15m`.
    #[arg(long, env = "MAP_AUTH_LOCKOUT_DURATION", default_value = "15m")]
    pub auth_lockout_duration: String,
    /// Logins and refreshes allowed per client address and minute.
    #[arg(long, env = "MAP_AUTH_LOGIN_RATE_PER_MINUTE", default_value_t = 60)]
    pub auth_login_rate_per_minute: u32,
    /// Burst of logins allowed per client address above the rate.
    #[arg(long, env = "MAP_AUTH_LOGIN_BURST", default_value_t = 20)]
    pub auth_login_burst: u32,
    /// How long Auth reuses a verified token before checking it again
    /// (at most 30 s; with the services' own cache a revocation is
    /// everywhere within this plus theirs).
    #[arg(long, env = "MAP_AUTH_VALIDATION_CACHE_TTL", default_value = "5s")]
    pub auth_validation_cache_ttl: String,
}

/// Failed-login lockout.
#[derive(Debug, Clone, Copy)]
pub struct LockoutPolicy {
    /// Failures (within `duration` of each other) that lock the email.
    pub threshold: u32,
    /// How long the lock lasts.
    pub duration: Duration,
}

/// Token bucket per client address for Login and Refresh.
#[derive(Debug, Clone, Copy)]
pub struct RatePolicy {
    /// Sustained requests per minute.
    pub per_minute: u32,
    /// Extra requests allowed at once.
    pub burst: u32,
}

/// Validated settings of the Auth domain.
#[derive(Debug, Clone)]
pub struct AuthSettings {
    /// Signing and verification keys.
    pub keys: Arc<Keyset>,
    /// Access token lifetime.
    pub access_token_ttl: Duration,
    /// Refresh token lifetime.
    pub refresh_token_ttl: Duration,
    /// Lockout policy.
    pub lockout: LockoutPolicy,
    /// Login rate limit.
    pub login_rate: RatePolicy,
    /// Auth-side validation cache TTL.
    pub validation_cache_ttl: Duration,
    /// Peers whose `x-forwarded-for` is believed.
    pub trusted_proxies: TrustedProxies,
    /// The List RPCs' page tokens (`MAP_PAGE_TOKEN_KEY`, shared by replicas).
    pub pager: Pager,
    /// The time of day: token lifetimes, lockouts, stored timestamps. The
    /// system clock, but in tests.
    pub clock: Clock,
}

impl AuthSettings {
    /// Defaults of the flags with the given keys and a random page token key
    /// (tests, `map dev`).
    pub fn with_keys(keys: Keyset) -> AuthSettings {
        AuthSettings {
            keys: Arc::new(keys),
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            lockout: LockoutPolicy {
                threshold: 5,
                duration: Duration::from_secs(15 * 60),
            },
            login_rate: RatePolicy {
                per_minute: 60,
                burst: 20,
            },
            validation_cache_ttl: Duration::from_secs(5),
            trusted_proxies: TrustedProxies::default(),
            pager: Pager::random(),
            clock: Clock::system(),
        }
    }

    /// The same settings on `clock`.
    pub fn with_clock(self, clock: Clock) -> AuthSettings {
        AuthSettings { clock, ..self }
    }
}

fn err(variable: &'static str, flag: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        variable,
        flag,
        reason: reason.into(),
    }
}

/// Parses `15m`, `500ms`, `2h`, `30d` or seconds.
fn duration(s: &str, variable: &'static str, flag: &'static str) -> Result<Duration, ConfigError> {
    let t = s.trim();
    let parsed = if let Some(h) = t.strip_suffix('h') {
        h.parse::<u64>().ok().map(|n| Duration::from_secs(n * 3600))
    } else if let Some(d) = t.strip_suffix('d') {
        d.parse::<u64>()
            .ok()
            .map(|n| Duration::from_secs(n * 86_400))
    } else {
        map_kit::config::parse_duration(t).ok()
    };
    parsed.ok_or_else(|| {
        err(
            variable,
            flag,
            format!("'{s}' is not a duration like 15m or 30d"),
        )
    })
}

impl AuthArgs {
    /// Checks everything and parses the keys. The trusted proxies and the
    /// page token pager come from the service configuration
    /// (`MAP_TRUSTED_PROXIES`, `MAP_PAGE_TOKEN_KEY`).
    pub fn validate(
        &self,
        trusted_proxies: TrustedProxies,
        pager: Pager,
    ) -> Result<AuthSettings, ConfigError> {
        const KEY: &str = "MAP_AUTH_SIGNING_KEY";
        let pem = match (&self.auth_signing_key, &self.auth_signing_key_file) {
            (Some(_), Some(_)) => {
                return Err(err(
                    KEY,
                    "auth-signing-key",
                    "set either MAP_AUTH_SIGNING_KEY or MAP_AUTH_SIGNING_KEY_FILE, not both",
                ));
            }
            (Some(pem), None) => pem.clone(),
            (None, Some(path)) => {
                SecretString::from(std::fs::read_to_string(path).map_err(|e| {
                    err(
                        "MAP_AUTH_SIGNING_KEY_FILE",
                        "auth-signing-key-file",
                        format!("cannot read {}: {e}", path.display()),
                    )
                })?)
            }
            (None, None) => {
                return Err(err(
                    KEY,
                    "auth-signing-key",
                    "is required (generate one with `openssl genpkey -algorithm ed25519`)",
                ));
            }
        };
        let keys = Keyset::from_pem(pem.expose_secret())
            .map_err(|e| err(KEY, "auth-signing-key", e.to_string()))?;
        let access_token_ttl = duration(
            &self.auth_access_token_ttl,
            "MAP_AUTH_ACCESS_TOKEN_TTL",
            "auth-access-token-ttl",
        )?;
        let refresh_token_ttl = duration(
            &self.auth_refresh_token_ttl,
            "MAP_AUTH_REFRESH_TOKEN_TTL",
            "auth-refresh-token-ttl",
        )?;
        let lockout_duration = duration(
            &self.auth_lockout_duration,
            "MAP_AUTH_LOCKOUT_DURATION",
            "auth-lockout-duration",
        )?;
        let validation_cache_ttl = duration(
            &self.auth_validation_cache_ttl,
            "MAP_AUTH_VALIDATION_CACHE_TTL",
            "auth-validation-cache-ttl",
        )?;
        if access_token_ttl.is_zero() {
            return Err(err(
                "MAP_AUTH_ACCESS_TOKEN_TTL",
                "auth-access-token-ttl",
                "must be positive",
            ));
        }
        if refresh_token_ttl <= access_token_ttl {
            return Err(err(
                "MAP_AUTH_REFRESH_TOKEN_TTL",
                "auth-refresh-token-ttl",
                "must be longer than the access token TTL",
            ));
        }
        if validation_cache_ttl > map_kit::authn::MAX_CACHE_TTL {
            return Err(err(
                "MAP_AUTH_VALIDATION_CACHE_TTL",
                "auth-validation-cache-ttl",
                "must be at most 30s",
            ));
        }
        if self.auth_lockout_threshold == 0 {
            return Err(err(
                "MAP_AUTH_LOCKOUT_THRESHOLD",
                "auth-lockout-threshold",
                "must be at least 1",
            ));
        }
        if self.auth_login_rate_per_minute == 0 {
            return Err(err(
                "MAP_AUTH_LOGIN_RATE_PER_MINUTE",
                "auth-login-rate-per-minute",
                "must be at least 1",
            ));
        }
        Ok(AuthSettings {
            keys: Arc::new(keys),
            access_token_ttl,
            refresh_token_ttl,
            lockout: LockoutPolicy {
                threshold: self.auth_lockout_threshold,
                duration: lockout_duration,
            },
            login_rate: RatePolicy {
                per_minute: self.auth_login_rate_per_minute,
                burst: self.auth_login_burst,
            },
            validation_cache_ttl,
            trusted_proxies,
            pager,
            clock: Clock::system(),
        })
    }
}
