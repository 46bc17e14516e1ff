//! `map`: the one binary of the MAP platform. A thin composition root: it
//! parses the command line, validates configuration before binding anything,
//! and wires the system libraries together.
#![forbid(unsafe_code)]

mod admin;
mod auth;
#[cfg(feature = "bench")]
mod bench;
mod cli;
mod dev;
mod gateway;
mod health_port;
mod serve;
mod systems;
mod worker;

use clap::Parser as _;

/// mimalloc instead of glibc's malloc: the servers allocate per call, and
/// glibc's allocator took ~13% of the gateway benchmark's CPU (BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    map_kit::install_crypto_provider();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run(cli))
}

async fn run(cli: cli::Cli) -> anyhow::Result<()> {
    match cli.command {
        cli::Command::Serve {
            system,
            args,
            auth,
            health_listen,
            check,
        } => serve::serve(system, &args, &auth, health_listen, check, &cli.log).await,
        cli::Command::Admin { command } => admin::run(command, &cli.log).await,
        cli::Command::Migrate {
            system,
            args,
            check,
        } => serve::migrate(system, &args, check, &cli.log).await,
        cli::Command::Worker {
            system,
            args,
            worker,
            check,
        } => worker::run(system, &args, &worker, check, &cli.log).await,
        cli::Command::Dev(args) => dev::run(args, &cli.log).await,
        cli::Command::Gateway { args, check } => gateway::run(&args, check, &cli.log).await,
        #[cfg(feature = "bench")]
        cli::Command::Bench { scenario } => bench::run(scenario).await,
        #[cfg(not(feature = "bench"))]
        cli::Command::Bench { .. } => anyhow::bail!(
            "this map binary is built without benchmarks: build it with \
             `cargo build --release -p map --features bench`"
        ),
    }
}
