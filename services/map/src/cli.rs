//! The command line. Every flag has a `MAP_*` variable of the same meaning.

use std::path::PathBuf;

use map_kit::{
    System,
    config::{LogArgs, ServiceArgs},
};

/// The MAP Industry Platform.
#[derive(Debug, clap::Parser)]
#[command(name = "map", version, about)]
pub struct Cli {
    #[command(flatten)]
    pub log: LogArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Serve one system's gRPC API.
    Serve {
        /// auth, ams, bms, tts or hdts.
        system: System,
        #[command(flatten)]
        args: ServiceArgs,
        /// Auth's own settings (used by `map serve auth` only).
        #[command(flatten)]
        auth: Box<map_auth::AuthArgs>,
        /// A plaintext port serving only `grpc.health.v1` (the kubelet's
        /// probes speak no TLS): for an API port that requires TLS or
        /// client certificates. Unset: health on the API's port only.
        #[arg(long, env = "MAP_HEALTH_LISTEN")]
        health_listen: Option<std::net::SocketAddr>,
        #[command(flatten)]
        check: CheckConfig,
    },
    /// Operator commands: the first administrator, API keys.
    Admin {
        #[command(subcommand)]
        command: crate::admin::AdminCommand,
    },
    /// Apply a system's pending database migrations and exit.
    Migrate {
        /// auth, ams, bms, tts or hdts.
        system: System,
        #[command(flatten)]
        args: ServiceArgs,
        #[command(flatten)]
        check: CheckConfig,
    },
    /// Run one system's worker: its outbox relay and event consumers (RabbitMQ).
    Worker {
        /// auth, ams, bms, tts or hdts.
        system: System,
        #[command(flatten)]
        args: ServiceArgs,
        #[command(flatten)]
        worker: crate::worker::WorkerArgs,
        #[command(flatten)]
        check: CheckConfig,
    },
    /// Run the whole platform in one process: SQLite files, in-process bus,
    /// nothing to install.
    Dev(DevArgs),
    /// Run the gateway: grpc-web and gRPC for browsers and clients, routed
    /// and balanced over the systems' replicas (MAP_UPSTREAM_<SYSTEM>).
    Gateway {
        #[command(flatten)]
        args: Box<map_gateway::GatewayArgs>,
        #[command(flatten)]
        check: CheckConfig,
    },
    /// Run a benchmark scenario (see BENCHMARKS.md).
    #[cfg(feature = "bench")]
    Bench {
        #[command(subcommand)]
        scenario: crate::bench::Scenario,
    },
    /// Benchmarks are not in this build (`--features bench`).
    #[cfg(not(feature = "bench"))]
    #[command(hide = true)]
    Bench {
        /// Ignored: the scenarios are not built in.
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

/// `--check-config`: validate the role's whole configuration as at start
/// (TLS files read, keys parsed) without binding a port or connecting, then
/// exit: 0 when it would start, non-zero naming the variable at fault.
#[derive(Debug, Clone, Copy, clap::Args)]
pub struct CheckConfig {
    /// Only validate the configuration, then exit (binds and connects nothing).
    #[arg(long)]
    pub check_config: bool,
}

impl CheckConfig {
    /// `true` (after saying so) when only the check was asked for.
    pub fn done(self, role: &str) -> bool {
        if self.check_config {
            eprintln!("configuration of `map {role}` is valid");
        }
        self.check_config
    }
}

#[derive(Debug, clap::Args)]
pub struct DevArgs {
    /// Where the SQLite files live.
    #[arg(long, env = "MAP_DATA_DIR", default_value = "./.map-data")]
    pub data_dir: PathBuf,
    /// Address the systems bind to (ports are the platform's 8000–8004).
    #[arg(long, env = "MAP_DEV_HOST", default_value = "127.0.0.1")]
    pub host: std::net::IpAddr,
    /// Add this to every port, to run two dev platforms side by side.
    #[arg(long, env = "MAP_DEV_PORT_OFFSET", default_value_t = 0)]
    pub port_offset: u16,
    /// Bind every port to a free one the OS picks (tests running side by
    /// side); the banner says which.
    #[arg(long, conflicts_with = "port_offset")]
    pub any_ports: bool,
    /// How long a resolved help-desk ticket waits for its requester before
    /// it closes by itself, e.g. `72h`, `90m`; `0` or `off` never.
    #[arg(long, env = "MAP_HDTS_AUTO_CLOSE_AFTER", default_value = map_kit::config::DEFAULT_HDTS_AUTO_CLOSE_AFTER)]
    pub hdts_auto_close_after: String,
}
