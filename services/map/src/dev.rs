//! `map dev`: every system in one process, SQLite files under the data
//! directory, the in-process bus; nothing to install.

use std::net::SocketAddr;

use anyhow::Context as _;
use map_kit::{System, config::LogArgs, server::shutdown_signal, telemetry};
use secrecy::SecretString;
use tokio::{net::TcpListener, sync::watch};

use crate::{cli::DevArgs, serve};

pub async fn run(args: DevArgs, log: &LogArgs) -> anyhow::Result<()> {
    let guard = telemetry::init("map-dev", log.log_format, &log.log)?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let data_dir = args.data_dir.canonicalize()?;
    let hdts_auto_close_after =
        map_kit::config::parse_hdts_auto_close_after(&args.hdts_auto_close_after)?;

    let (stop_tx, stop_rx) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    let mut started = Vec::new();
    // Every system's relay and consumers, on one in-process bus.
    let bus = map_kit::bus::Bus::in_process("");
    let mut workers = tokio::task::JoinSet::new();
    // Every port is bound before anything starts, so the addresses are known
    // (with --any-ports the OS picks them; the banner says which).
    let port = |default: u16| {
        if args.any_ports {
            0
        } else {
            default + args.port_offset
        }
    };
    let mut listeners = Vec::new();
    // Every registered system (crate::systems), in port order: Auth first.
    for system in System::ALL.map(|s| crate::systems::of(s).system) {
        let addr = SocketAddr::new(args.host, port(system.default_port()));
        let listener = TcpListener::bind(addr)
            .await
            .with_context(|| format!("binding {addr} for {system}"))?;
        listeners.push((system, listener));
    }
    let gateway_addr = SocketAddr::new(args.host, port(8080));
    let gateway_listener = TcpListener::bind(gateway_addr)
        .await
        .with_context(|| format!("binding {gateway_addr} for the gateway"))?;
    let gateway_addr = gateway_listener.local_addr()?;
    // Auth comes first in System::ALL: the others get its URL and their key.
    let auth_addr = listeners
        .first()
        .map(|(_, l)| l.local_addr())
        .context("no auth listener")??;
    let auth_url = map_kit::config::parse_http_url(&format!("http://{auth_addr}"))
        .map_err(|e| anyhow::anyhow!(e))?;
    let auth_target = map_kit::authn::AuthTarget::from(auth_url);
    let mut dev_auth = None;
    for (system, listener) in listeners {
        let addr = listener.local_addr()?;
        let url = SecretString::from(format!(
            "sqlite://{}?mode=rwc",
            data_dir.join(format!("{system}.db")).display()
        ));
        serve::migrate_system(system, &url).await?;
        let db = map_kit::db::Db::connect(&url).await?;
        // Auth: the dev signing key (kept under the data dir so restarts keep
        // tokens valid), the first admin, one service key per other system.
        let auth = match system {
            System::Auth => {
                let keys = crate::auth::dev_keyset(&data_dir)?;
                let auth = crate::auth::open(&db, map_auth::AuthSettings::with_keys(keys)).await;
                dev_auth = Some(crate::auth::dev_setup(&auth).await?);
                Some(auth)
            }
            _ => None,
        };
        let auth_api_key = dev_auth
            .as_ref()
            .and_then(|d| d.service_keys.get(&system).cloned());
        // The worker's part in process: relay, consumers, the directory
        // (which reaches Auth in process with this system's dev key).
        let access = auth_api_key
            .clone()
            .map(|api_key| crate::worker::AuthAccess {
                target: auth_target.clone(),
                api_key,
            });
        let config = map_kit::config::ServiceConfig {
            system,
            database_url: url,
            amqp_url: None,
            amqp_prefix: String::new(),
            listen: addr,
            auth: auth_api_key.as_ref().map(|_| auth_target.clone()),
            auth_api_key,
            tls: None,
            shutdown_grace: std::time::Duration::from_secs(5),
            trusted_proxies: map_kit::client_addr::TrustedProxies::default(),
            // One process mints and opens every token: a fresh key per run.
            page_tokens: Some(map_kit::paging::Pager::random()),
            uploads: map_kit::uploads::UploadLimits::default(),
            hdts_auto_close_after,
        };
        crate::worker::spawn(
            &config,
            &db,
            &bus,
            access.as_ref(),
            Vec::new(),
            &stop_rx,
            &mut workers,
        )?;
        let live = map_kit::bus::live::Feed::of(bus.clone());
        let server = serve::build_server(&config, &db, auth, live)?;
        let mut stop = stop_rx.clone();
        tasks.spawn(server.serve(listener, async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
        started.push((system, addr));
    }

    // The gateway in front of the five, as in production: grpc-web, reflection, routing.
    let gateway_config = map_gateway::GatewayConfig {
        listen: gateway_addr,
        clusters: started
            .iter()
            .map(|(system, addr)| {
                let spec = map_gateway::UpstreamSpec::Static {
                    host: addr.ip().to_string(),
                    port: addr.port(),
                };
                (*system, vec![spec])
            })
            .collect(),
        shutdown_grace: std::time::Duration::from_secs(5),
        ..map_gateway::GatewayConfig::default()
    };
    let mut stop = stop_rx.clone();
    let gateway = tokio::spawn(map_gateway::run(
        gateway_config,
        gateway_listener,
        async move {
            let _ = stop.wait_for(|s| *s).await;
        },
    ));

    print_banner(&data_dir, &started, gateway_addr);
    shutdown_signal().await;
    let _ = stop_tx.send(true);
    while let Some(result) = tasks.join_next().await {
        if let Ok(Err(e)) = result {
            tracing::error!(error = %e, "server failed");
        }
    }
    if let Ok(Err(e)) = gateway.await {
        tracing::error!(error = %e, "gateway failed");
    }
    let _ = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        while workers.join_next().await.is_some() {}
    })
    .await;
    guard.shutdown(std::time::Duration::from_secs(2)).await;
    Ok(())
}

#[allow(clippy::print_stdout)] // the banner is the command's output
fn print_banner(data_dir: &std::path::Path, started: &[(System, SocketAddr)], gateway: SocketAddr) {
    println!("MAP platform (dev) — data in {}", data_dir.display());
    for (system, addr) in started {
        println!(
            "  {:<5} grpc://{addr}  {}",
            system.name(),
            system.service_names().join(", ")
        );
    }
    println!("  gateway http://{gateway}  grpc-web + gRPC for every system (reflection lists all)");
    println!(
        "Try: grpcurl -plaintext {} list    (Ctrl-C stops)",
        started
            .first()
            .map_or_else(String::new, |(_, a)| a.to_string())
    );
}
