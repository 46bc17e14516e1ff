//! The platform as deployed, for a benchmark: every system's API and worker
//! as separate `map` processes (`map serve <system>`, `map worker
//! <system>`), children of this one, each system over a fresh PostgreSQL
//! database of its own (`map migrate <system>`), all on RabbitMQ under a
//! fresh `MAP_AMQP_PREFIX`, on ports the OS picks. Auth gets its first
//! administrator from `map admin bootstrap` and every other system its
//! `auth:service` key from `map admin create-api-key`, as an operator would
//! (the chart's README).
//!
//! [`Platform::stop`] kills the children, deletes the prefix's queues and
//! exchanges and drops the databases; [`Platform::start`] does the same
//! itself when it fails half-way. A child is also killed when the platform
//! is dropped without `stop` (a panic): only the databases and queues are
//! then left behind.

use std::{
    collections::BTreeMap,
    fmt::Write as _,
    io::Write as _,
    net::SocketAddr,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use base64::Engine as _;
use map_kit::{System, bus::Bus};
use secrecy::{ExposeSecret as _, SecretString};
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::{Child, Command},
};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

use super::bench_db::BenchDb;

/// Errors of the platform's life.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Longest wait for a one-shot command (`map migrate`, `map admin …`).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(120);
/// Longest wait for a started process to say it runs, and then to serve.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What to start.
#[derive(Debug, Clone)]
pub struct PlatformConfig {
    /// The `map` binary.
    pub map: PathBuf,
    /// A PostgreSQL server (`postgres://…/postgres`) where each system gets
    /// a database of its own.
    pub database_server: String,
    /// RabbitMQ.
    pub amqp_url: SecretString,
    /// The systems besides Auth (which always runs).
    pub systems: Vec<System>,
    /// Whether the APIs get `MAP_AMQP_URL` too, and so relay their own
    /// commits (`map serve`); otherwise only the workers relay.
    pub api_relays: bool,
    /// `MAP_LOG` of the children (their logs go to files of a temp dir,
    /// whose tails an error shows).
    pub log: String,
}

/// A running platform. See the module documentation.
pub struct Platform {
    /// The AMQP prefix of every process (and of [`Self::bus`]).
    pub prefix: String,
    /// Each system's gRPC API.
    pub apis: BTreeMap<System, SocketAddr>,
    /// Each system's database.
    pub databases: BTreeMap<System, BenchDb>,
    /// The first administrator's email and password.
    pub admin: (String, SecretString),
    /// A connection of this process to the platform's broker, under the
    /// prefix (for watches).
    pub bus: Option<Bus>,
    children: Vec<Process>,
    logs: tempfile::TempDir,
}

impl std::fmt::Debug for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Platform")
            .field("prefix", &self.prefix)
            .field("apis", &self.apis)
            .finish_non_exhaustive()
    }
}

/// A started `map` process, killed when dropped.
struct Process {
    name: String,
    child: Child,
}

impl Platform {
    /// Starts Auth and `config.systems`: databases, migrations, the
    /// administrator and service keys, then every API and worker; returns
    /// when every API answers its health check. On failure everything made
    /// so far is removed, and the error carries the tails of the logs.
    pub async fn start(config: &PlatformConfig) -> Result<Platform, BoxError> {
        let mut platform = Platform {
            prefix: format!("bench{}.", &uuid::Uuid::now_v7().simple().to_string()[20..]),
            apis: BTreeMap::new(),
            databases: BTreeMap::new(),
            admin: (
                "bench-admin@example.com".to_owned(),
                SecretString::from(random_base64(24)),
            ),
            bus: None,
            children: Vec::new(),
            logs: tempfile::tempdir()?,
        };
        match platform.boot(config).await {
            Ok(()) => Ok(platform),
            Err(e) => {
                let logs = platform.log_tails();
                platform.stop().await;
                Err(format!("starting the platform: {e}\n{logs}").into())
            }
        }
    }

    async fn boot(&mut self, config: &PlatformConfig) -> Result<(), BoxError> {
        let mut systems = vec![System::Auth];
        systems.extend(config.systems.iter().filter(|s| **s != System::Auth));
        for system in &systems {
            let db = BenchDb::create(Some(&config.database_server))
                .await
                .map_err(|e| format!("creating the database of {system}: {e}"))?;
            self.databases.insert(*system, db);
        }
        let urls: BTreeMap<System, String> = self
            .databases
            .iter()
            .map(|(s, db)| (*s, db.url.expose_secret().to_owned()))
            .collect();
        let url = |system: System| -> Result<String, BoxError> {
            Ok(urls.get(&system).ok_or("no database")?.clone())
        };
        let migrations = systems.iter().map(|system| {
            let env = url(*system).map(|u| vec![("MAP_DATABASE_URL", u)]);
            async move { run(&config.map, &["migrate", system.name()], &env?).await }
        });
        futures::future::try_join_all(migrations).await?;

        let auth_db = url(System::Auth)?;
        run(
            &config.map,
            &["admin", "bootstrap", "--email", &self.admin.0],
            &[
                ("MAP_DATABASE_URL", auth_db.clone()),
                (
                    "MAP_ADMIN_PASSWORD",
                    self.admin.1.expose_secret().to_owned(),
                ),
            ],
        )
        .await?;
        let mut keys = BTreeMap::new();
        for system in &systems[1..] {
            let key = run(
                &config.map,
                &[
                    "admin",
                    "create-api-key",
                    "--name",
                    system.name(),
                    "--role",
                    "auth:service",
                ],
                &[("MAP_DATABASE_URL", auth_db.clone())],
            )
            .await?;
            keys.insert(*system, key.trim().to_owned());
        }

        // The topology exists before anything publishes (every process
        // declares it too).
        self.bus = Some(Bus::connect(Some(&config.amqp_url), &self.prefix).await?);

        let amqp = config.amqp_url.expose_secret().to_owned();
        let prefix = self.prefix.clone();
        let common = |system: System| -> Result<Vec<(&'static str, String)>, BoxError> {
            Ok(vec![
                ("MAP_DATABASE_URL", url(system)?),
                ("MAP_AMQP_PREFIX", prefix.clone()),
                // Only the lines that say where a process listens, beside
                // the filter asked for.
                (
                    "MAP_LOG",
                    format!("{},map_kit::server=info,map::worker=info", config.log),
                ),
                ("MAP_LOG_FORMAT", "json".to_owned()),
                ("MAP_SHUTDOWN_GRACE", "1s".to_owned()),
            ])
        };
        let page_token_key = random_base64(32);
        let api_env = |system: System| -> Result<Vec<(&'static str, String)>, BoxError> {
            let mut env = common(system)?;
            env.push(("MAP_LISTEN", "127.0.0.1:0".to_owned()));
            env.push(("MAP_PAGE_TOKEN_KEY", page_token_key.clone()));
            if config.api_relays {
                env.push(("MAP_AMQP_URL", amqp.clone()));
            }
            Ok(env)
        };
        let worker_env = |system: System| -> Result<Vec<(&'static str, String)>, BoxError> {
            let mut env = common(system)?;
            env.push(("MAP_AMQP_URL", amqp.clone()));
            env.push(("MAP_HEALTH_LISTEN", "127.0.0.1:0".to_owned()));
            Ok(env)
        };

        // Auth first: the others are given its address.
        let mut env = api_env(System::Auth)?;
        env.push(("MAP_AUTH_SIGNING_KEY", ed25519_pem()));
        // Long enough for any run: the bench signs its callers in once.
        env.push(("MAP_AUTH_ACCESS_TOKEN_TTL", "2h".to_owned()));
        let auth_env = env;
        let auth_worker_env = worker_env(System::Auth)?;
        let mut waits = Vec::new();
        waits.push(self.spawn(config, "serve", System::Auth, auth_env)?);
        let auth = wait_for(waits.remove(0), "serving gRPC").await?;
        let auth_addr = listen_addr(&auth).ok_or("auth did not say where it listens")?;
        self.apis.insert(System::Auth, auth_addr);
        waits.push(self.spawn(config, "worker", System::Auth, auth_worker_env)?);
        let auth_url = format!("http://{auth_addr}");
        for system in &systems[1..] {
            let key = keys.get(system).cloned().unwrap_or_default();
            let with_auth = |mut env: Vec<(&'static str, String)>| {
                env.push(("MAP_AUTH_URL", auth_url.clone()));
                env.push(("MAP_AUTH_API_KEY", key.clone()));
                env
            };
            let api = with_auth(api_env(*system)?);
            let worker = with_auth(worker_env(*system)?);
            let serving = self.spawn(config, "serve", *system, api)?;
            let line = wait_for(serving, "serving gRPC").await?;
            let addr = listen_addr(&line).ok_or("an api did not say where it listens")?;
            self.apis.insert(*system, addr);
            waits.push(self.spawn(config, "worker", *system, worker)?);
        }
        for wait in waits {
            wait_for(wait, "worker running").await?;
        }
        for (system, addr) in &self.apis {
            serving(*addr)
                .await
                .map_err(|e| format!("{system} never served: {e}"))?;
        }
        Ok(())
    }

    /// Starts `map <role> <system>` with exactly `env`; its output goes to
    /// its log file. Returns the line the caller waits for, once printed.
    fn spawn(
        &mut self,
        config: &PlatformConfig,
        role: &str,
        system: System,
        env: Vec<(&'static str, String)>,
    ) -> Result<Started, BoxError> {
        let name = format!("{role}-{system}");
        let log = self.logs.path().join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        let mut child = Command::new(&config.map)
            .args([role, system.name()])
            .env_clear()
            .envs(env)
            .stdout(Stdio::piped())
            .stderr(Stdio::from(file.try_clone()?))
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("starting {}: {e}", config.map.display()))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let (lines_tx, lines_rx) = tokio::sync::mpsc::unbounded_channel();
        // The log is copied to the file; the lines are offered to whoever
        // waits for one (until the receiver is dropped).
        tokio::spawn(async move {
            let mut file = file;
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let _ = writeln!(file, "{line}");
                let _ = lines_tx.send(line);
            }
        });
        self.children.push(Process {
            name: name.clone(),
            child,
        });
        Ok(Started {
            name,
            lines: lines_rx,
        })
    }

    /// The last lines of every child's log, for an error message.
    pub fn log_tails(&self) -> String {
        let mut out = String::new();
        for p in &self.children {
            let text =
                std::fs::read_to_string(log_path(self.logs.path(), &p.name)).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(10)..];
            let _ = writeln!(out, "--- {} (last lines)\n{}", p.name, tail.join("\n"));
        }
        out
    }

    /// Whether every child still runs; the name of the first that ended.
    pub fn exited(&mut self) -> Option<String> {
        self.children
            .iter_mut()
            .find_map(|p| (!matches!(p.child.try_wait(), Ok(None))).then(|| p.name.clone()))
    }

    /// Kills every child, deletes the prefix's queues and exchanges and
    /// drops the databases.
    pub async fn stop(mut self) {
        for p in &mut self.children {
            let _ = p.child.kill().await;
        }
        if let Some(bus) = self.bus.take() {
            let _ = bus.delete_topology().await;
            bus.close().await;
        }
        for (_, db) in std::mem::take(&mut self.databases) {
            db.remove().await;
        }
    }
}

fn log_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!("{name}.log"))
}

/// A process started and the lines of its output.
struct Started {
    name: String,
    lines: tokio::sync::mpsc::UnboundedReceiver<String>,
}

/// The first line of `started`'s output containing `marker`.
async fn wait_for(mut started: Started, marker: &str) -> Result<String, BoxError> {
    let found = tokio::time::timeout(START_TIMEOUT, async {
        while let Some(line) = started.lines.recv().await {
            if line.contains(marker) {
                return Some(line);
            }
        }
        None
    })
    .await;
    match found {
        Ok(Some(line)) => Ok(line),
        Ok(None) => Err(format!("{} ended before it logged {marker:?}", started.name).into()),
        Err(_) => Err(format!(
            "{} did not log {marker:?} within {START_TIMEOUT:?}",
            started.name
        )
        .into()),
    }
}

/// The address in a server's "serving gRPC" line (`"addr":"Some(…)"`).
fn listen_addr(line: &str) -> Option<SocketAddr> {
    let at = line.find("\"addr\":\"Some(")? + "\"addr\":\"Some(".len();
    line[at..].split(')').next()?.parse().ok()
}

/// Waits until the server at `addr` reports SERVING.
async fn serving(addr: SocketAddr) -> Result<(), BoxError> {
    let deadline = tokio::time::Instant::now() + START_TIMEOUT;
    let mut last = String::new();
    while tokio::time::Instant::now() < deadline {
        let check = async {
            let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?
                .connect()
                .await?;
            let status = HealthClient::new(channel)
                .check(HealthCheckRequest::default())
                .await?
                .into_inner()
                .status;
            Ok::<bool, BoxError>(status == ServingStatus::Serving as i32)
        };
        match check.await {
            Ok(true) => return Ok(()),
            Ok(false) => last = "not serving".into(),
            Err(e) => last = e.to_string(),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Err(last.into())
}

/// Runs `map args` with exactly `env` to its end; its standard output.
async fn run(map: &Path, args: &[&str], env: &[(&str, String)]) -> Result<String, BoxError> {
    let out = Command::new(map)
        .args(args)
        .env_clear()
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .env("MAP_LOG", "warn")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(COMMAND_TIMEOUT, out)
        .await
        .map_err(|_| {
            format!(
                "map {} did not end within {COMMAND_TIMEOUT:?}",
                args.join(" ")
            )
        })??;
    if !out.status.success() {
        return Err(format!(
            "map {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into());
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// `len` random bytes in base64 (keys, passwords).
pub(super) fn random_base64(len: usize) -> String {
    let bytes: Vec<u8> = (0..len).map(|_| rand::random::<u8>()).collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// A fresh Ed25519 signing key for Auth, as `openssl genpkey -algorithm
/// ed25519` writes it: PKCS#8 v1 (RFC 8410), the 32-byte seed after a fixed
/// header, in PEM.
fn ed25519_pem() -> String {
    const HEADER: [u8; 16] = [
        0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04,
        0x20,
    ];
    let mut der = HEADER.to_vec();
    der.extend(rand::random::<[u8; 32]>());
    format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::engine::general_purpose::STANDARD.encode(der)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_a_server_logs() {
        let line = r#"{"timestamp":"…","level":"INFO","fields":{"message":"serving gRPC","server":"hdts","addr":"Some(127.0.0.1:43125)","tls":false}}"#;
        assert_eq!(
            listen_addr(line),
            Some(SocketAddr::from(([127, 0, 0, 1], 43125)))
        );
        assert_eq!(listen_addr(r#"{"addr":"None"}"#), None);
    }

    #[test]
    fn the_signing_key_is_pkcs8_pem_of_48_bytes() {
        let pem = ed25519_pem();
        let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let der = base64::engine::general_purpose::STANDARD
            .decode(body)
            .unwrap_or_default();
        assert_eq!(der.len(), 48);
        assert_ne!(ed25519_pem(), pem, "a fresh key each time");
    }
}
