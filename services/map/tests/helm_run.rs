//! The chart's own commands run: the chart is rendered with a user's values
//! (real PostgreSQL databases, the real broker, keys made the way its README
//! says), and each container's command, arguments and environment — as the
//! kubelet would resolve them, the cluster's addresses made local — run as
//! local processes in the order Kubernetes runs them: the migrations (init
//! containers), then every API, worker and the gateway (one replica each),
//! then the bootstrap hook Job, twice. A real client (grpcurl) signs in and
//! validates the token through the gateway, publishes a TTS workflow, and
//! submits a help-desk ticket that the TTS worker opens and assigns and the
//! HDTS worker mirrors back, through RabbitMQ, then walks an asset's life in
//! AMS and imports a CSV file uploaded in chunks; every system answers its
//! readiness and liveness probes; SIGTERM ends every process cleanly within
//! its termination grace.
//!
//! Run again with `tls.enabled` (mutual): certificates made by the test
//! play the components' Secrets (one per component, signed by one CA, with
//! the Service names the chart's README asks for), the gateway reaches every
//! system over `dns+tls://` with its client certificate, every system
//! reaches Auth over `https://` with its own, the APIs' ports refuse
//! plaintext, and the kubelet's probes ask the plaintext health ports the
//! chart declares.
#![allow(clippy::unwrap_used)]

mod assets;
mod chart;
mod helpdesk;

use std::{
    collections::BTreeMap,
    fs::File,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use chart::{Container, SYSTEMS, Secrets, containers};
use map_kit::testing::{AmqpCleanup, Backend, TestDb, amqp_prefix, amqp_url, expose, poll_until};
use serde_json::{Value, json};
use tokio::process::{Child, Command};
use tonic_health::pb::{
    HealthCheckRequest, health_check_response::ServingStatus, health_client::HealthClient,
};

/// The drain the test installs with (`shutdownGraceSeconds`).
const DRAIN_SECONDS: u64 = 5;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_charts_commands_run_a_platform_that_signs_in_and_drains_cleanly() {
    run_the_chart(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tls_on_every_hop_the_charts_commands_run_the_same_platform() {
    run_the_chart(true).await;
}

/// One platform at a time: two of them (eleven processes and their
/// database pools each) outgrow PostgreSQL's 100 connections.
static ONE_PLATFORM: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn run_the_chart(tls: bool) {
    let _alone = ONE_PLATFORM.lock().await;
    let (Some(helm), Some(_grpcurl)) = (chart::helm(), map_kit::testing::tool("grpcurl")) else {
        return;
    };
    let (Some(_postgres), Some(amqp)) = (map_kit::testing::postgres_url(), amqp_url()) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();

    // What a user prepares: one database per system, Auth's schema, and each
    // system's auth:service key made with `map admin create-api-key`.
    let mut databases = BTreeMap::new();
    for system in SYSTEMS {
        databases.insert(system, TestDb::empty(Backend::Postgres).await);
    }
    let auth_db = expose(&databases["auth"].url).to_owned();
    let migrated = map(&["migrate", "auth"], &[("MAP_DATABASE_URL", &auth_db)]).await;
    assert!(
        migrated.status.success(),
        "{}",
        String::from_utf8_lossy(&migrated.stderr)
    );
    let mut api_keys = BTreeMap::new();
    for system in &SYSTEMS[1..] {
        let made = map(
            &[
                "admin",
                "create-api-key",
                "--name",
                system,
                "--role",
                "auth:service",
            ],
            &[("MAP_DATABASE_URL", &auth_db)],
        )
        .await;
        assert!(
            made.status.success(),
            "{}",
            String::from_utf8_lossy(&made.stderr)
        );
        let key = String::from_utf8(made.stdout).unwrap().trim().to_owned();
        api_keys.insert((*system).to_owned(), key);
    }
    let secrets = Secrets {
        database_urls: databases
            .iter()
            .map(|(s, db)| ((*s).to_owned(), expose(&db.url).to_owned()))
            .collect(),
        amqp_url: expose(&amqp).to_owned(),
        api_keys,
        ..Secrets::well_formed()
    };

    // Ports below the OS's ephemeral range (32768+), which every other test
    // takes its ports from, so nothing else can hold them: APIs, workers
    // (+1000), the APIs' plaintext health ports with TLS on (+2000); the
    // TLS run beside the plaintext one.
    let base =
        20_000 + u16::try_from(std::process::id() % 450).unwrap() * 20 + if tls { 10 } else { 0 };
    let port = |i: u16| base + i;
    let systems: serde_json::Map<String, Value> = SYSTEMS
        .iter()
        .zip(0..)
        .map(|(s, i)| ((*s).to_owned(), json!({"enabled": true, "port": port(i)})))
        .collect();
    let gateway_port = port(8);
    let values = secrets.values_file(
        dir.path(),
        json!({
            "systems": systems,
            "gateway": {"port": gateway_port},
            "shutdownGraceSeconds": DRAIN_SECONDS,
            "log": {"format": "json", "filter": "info"},
            "tls": {"enabled": tls, "mutual": true},
        }),
    );
    let docs = chart::render_ok(&helm, &[&values]);
    let secret = chart::secret_data(&docs);
    let prefix = amqp_prefix();
    let _cleanup = AmqpCleanup::new(&amqp, &prefix);
    let mut platform = Platform {
        dir: dir.path().to_owned(),
        prefix,
        secret,
        tls_secrets: if tls {
            chart::tls_secrets(dir.path())
        } else {
            BTreeMap::new()
        },
        running: Vec::new(),
    };
    let all = containers(&docs);

    // 1. The init containers: each Deployment's migrations, to completion.
    let inits: Vec<&Container<'_>> = all.iter().filter(|c| c.init).collect();
    assert_eq!(
        inits.len(),
        SYSTEMS.len() * 2,
        "one migration init container per Deployment"
    );
    for c in &inits {
        assert_eq!(c.args()[0], "migrate", "{}", c.name());
        let status = platform.start(c).wait().await.unwrap();
        assert!(
            status.success(),
            "{} failed: {}",
            c.name(),
            platform.log_of(c)
        );
    }

    // 2. Every Deployment's container, one replica each.
    for c in all
        .iter()
        .filter(|c| !c.init && c.owner["kind"] == "Deployment")
    {
        let child = platform.start(c);
        platform.running.push((c.name(), child));
    }
    assert_eq!(
        platform.running.len(),
        SYSTEMS.len() * 2 + 1,
        "APIs, workers and the gateway"
    );

    // Each probe the kubelet would make, where the chart points it:
    // readiness ("") and liveness.
    let mut probes: Vec<(String, u16)> = Vec::new();
    for c in all
        .iter()
        .filter(|c| !c.init && c.owner["kind"] == "Deployment")
    {
        let ports = c.probe_ports();
        assert_eq!(ports.len(), 2, "{}: readiness and liveness", c.name());
        assert_eq!(ports[0], ports[1], "{}", c.name());
        probes.push((c.name(), ports[0]));
    }
    for (i, system) in SYSTEMS.iter().enumerate() {
        let api = port(u16::try_from(i).unwrap());
        let expected = if tls { api + 2000 } else { api };
        assert!(
            probes.iter().any(|(_, p)| *p == expected),
            "{system}'s API probes ask port {expected}: {probes:?}"
        );
    }
    for (what, port) in &probes {
        for service in ["", "liveness"] {
            let ok = poll_until(Duration::from_secs(60), || serving(*port, service)).await;
            assert!(
                ok,
                "{what} never answered its {service:?} probe:\n{}",
                platform.logs()
            );
        }
    }

    if tls {
        // Every hop is TLS: the APIs' ports answer no plaintext client, and
        // the gateway and the systems were given TLS URLs.
        for i in 0..SYSTEMS.len() {
            let api = port(u16::try_from(i).unwrap());
            assert!(
                !serving(api, "").await,
                "port {api} answered plaintext with TLS on"
            );
        }
        let gateway = all.iter().find(|c| c.args() == ["gateway"]).unwrap();
        let upstreams: Vec<String> = gateway
            .env(&platform.secret)
            .into_iter()
            .filter(|(k, _)| k.starts_with("MAP_UPSTREAM_") && !k.starts_with("MAP_UPSTREAM_TLS"))
            .map(|(_, v)| v)
            .collect();
        assert_eq!(upstreams.len(), SYSTEMS.len(), "{upstreams:?}");
        assert!(
            upstreams.iter().all(|u| u.starts_with("dns+tls://")),
            "{upstreams:?}"
        );
    }

    // 3. The bootstrap hook Job, run twice: the second changes nothing.
    let job = all.iter().find(|c| c.owner["kind"] == "Job").unwrap();
    assert_eq!(job.args(), ["admin", "bootstrap", "--if-absent"]);
    let first = platform.run_to_end(job).await;
    assert!(first.0, "bootstrap failed: {}", first.1);
    assert!(
        first.1.contains("administrator admin@example.com created"),
        "{}",
        first.1
    );
    let second = platform.run_to_end(job).await;
    assert!(second.0, "bootstrap again failed: {}", second.1);
    assert!(second.1.contains("nothing to do"), "{}", second.1);

    // 4–6. A real client through the gateway: the help desk's whole
    // conversation across processes and the broker.
    let gateway = format!("127.0.0.1:{gateway_port}");
    helpdesk::walk(
        &gateway,
        "admin@example.com",
        &secrets.admin_password,
        &|| platform.logs(),
    )
    .await;
    assets::walk(
        &gateway,
        "admin@example.com",
        &secrets.admin_password,
        &|| platform.logs(),
    )
    .await;

    // 7. SIGTERM: every process drains and exits 0 within its grace.
    let running = std::mem::take(&mut platform.running);
    for (_, child) in &running {
        let pid = child.id().unwrap().to_string();
        let killed = Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await
            .unwrap();
        assert!(killed.success());
    }
    let grace = Duration::from_secs(DRAIN_SECONDS + 10);
    for (name, mut child) in running {
        let status = tokio::time::timeout(grace, child.wait())
            .await
            .unwrap_or_else(|_| panic!("{name} did not exit within {grace:?} of SIGTERM"))
            .unwrap();
        assert!(
            status.success(),
            "{name} exited with {status} after SIGTERM:\n{}",
            platform.logs()
        );
    }
}

/// `map` with exactly `env`, to completion.
async fn map(args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_map"))
        .args(args)
        .env_clear()
        .envs(env.iter().copied())
        .env("MAP_LOG", "warn")
        .output()
        .await
        .unwrap()
}

/// Whether `service` reports SERVING on 127.0.0.1:`port`.
async fn serving(port: u16, service: &str) -> bool {
    let Ok(endpoint) = tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
    else {
        return false;
    };
    let Ok(channel) = endpoint.connect().await else {
        return false;
    };
    let mut client = HealthClient::new(channel);
    client
        .check(HealthCheckRequest {
            service: service.to_owned(),
        })
        .await
        .is_ok_and(|r| r.into_inner().status == ServingStatus::Serving as i32)
}

/// The processes started from the chart's containers; killed on drop, their
/// logs printed when the test failed.
struct Platform {
    dir: PathBuf,
    prefix: String,
    secret: BTreeMap<String, String>,
    /// Where each TLS Secret's files are (TLS on): the kubelet's mounts.
    tls_secrets: BTreeMap<String, PathBuf>,
    running: Vec<(String, Child)>,
}

impl Platform {
    fn log_path(&self, c: &Container<'_>) -> PathBuf {
        self.dir
            .join(format!("{}.log", c.name().replace(['/', ':'], "_")))
    }

    /// Starts `c` as the kubelet would, output appended to its log.
    fn start(&self, c: &Container<'_>) -> Child {
        let log = File::options()
            .create(true)
            .append(true)
            .open(self.log_path(c))
            .unwrap();
        let env = c.local_env(&self.secret, &self.tls_secrets);
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_map"));
        cmd.args(c.args())
            .env_clear()
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::from(log.try_clone().unwrap()))
            .stderr(Stdio::from(log))
            .kill_on_drop(true);
        // The only variable the chart does not set: this test's queues.
        if env.iter().any(|(k, _)| k == "MAP_AMQP_URL") {
            cmd.env("MAP_AMQP_PREFIX", &self.prefix);
        }
        cmd.spawn().unwrap()
    }

    /// Runs `c` to its end: whether it succeeded, and its output.
    async fn run_to_end(&self, c: &Container<'_>) -> (bool, String) {
        let _ = std::fs::remove_file(self.log_path(c));
        let ok = self.start(c).wait().await.unwrap().success();
        (ok, self.log_of(c))
    }

    fn log_of(&self, c: &Container<'_>) -> String {
        std::fs::read_to_string(self.log_path(c)).unwrap_or_default()
    }

    /// The last lines of every process's log.
    fn logs(&self) -> String {
        let mut out = String::new();
        let mut paths: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .into_iter()
            .flatten()
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "log"))
            .collect();
        paths.sort();
        for path in paths {
            let text = std::fs::read_to_string(&path).unwrap_or_default();
            let lines: Vec<&str> = text.lines().collect();
            let tail = &lines[lines.len().saturating_sub(15)..];
            out.push_str(&format!("--- {}\n{}\n", file_name(&path), tail.join("\n")));
        }
        out
    }
}

fn file_name(p: &Path) -> String {
    p.file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned()
}

impl Drop for Platform {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("logs of the chart's processes:\n{}", self.logs());
        }
    }
}
